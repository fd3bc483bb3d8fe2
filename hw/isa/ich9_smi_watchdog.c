/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The SMM watchdog of the ICH9 SMI block (see the header).
 *
 * Nothing runs on the SMI path: vCPUs stamp their SMM entries anyway
 * (target/i386/smi-stats.c), and one virtual-clock timer wakes at the
 * earliest moment a stay it knows of can cross the threshold, or one
 * threshold from now when no vCPU is in SMM (a stay that begins later
 * crosses it later still).  The report itself runs on the vCPU's own
 * thread, where its RIP is exact and the stay is known not to have ended.
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/qapi-events-smi-target.h"
#include "hw/core/cpu.h"
#include "system/hw_accel.h"
#include "system/tcg.h"
#include "hw/isa/ich9_smi_watchdog.h"
#include "target/i386/smi-stats.h"
#include "trace.h"

/*
 * On the vCPU's thread, with the BQL, for the stay the tick marked in
 * watchdog_reported_stay.  Nothing is allocated for it: a report still
 * queued when the vCPU is unplugged goes with the vCPU.
 */
static void ich9_smi_watchdog_report(CPUState *cs, run_on_cpu_data data)
{
    ICH9SMIWatchdog *w = data.host_ptr;
    g_autofree char *path = NULL;
    X86SMMStay stay;
    int64_t ns;

    cpu_synchronize_state(cs);
    if (!x86_cpu_smm_stay(X86_CPU(cs), &stay) || !stay.watchdog_reported) {
        return;         /* RSM came first: the stay ended after all */
    }
    ns = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) - stay.entry_vclock_ns;
    path = object_get_canonical_path(OBJECT(cs));
    trace_ich9_smi_watchdog_report(cs->cpu_index, ns, stay.smbase, stay.eip);
    warn_report("SMM watchdog: CPU %d has been in SMM for %" PRId64
                " ms (threshold %" PRIu32 " ms): SMBASE 0x%" PRIx32
                ", CS base 0x%" PRIx64 ", RIP 0x%" PRIx64,
                cs->cpu_index, ns / SCALE_MS, w->threshold_ms, stay.smbase,
                stay.cs_base, stay.eip);
    qapi_event_send_smm_watchdog(cs->cpu_index, path, stay.smbase,
                                 stay.cs_base, stay.eip, ns,
                                 w->threshold_ms);
}

static void ich9_smi_watchdog_tick(void *opaque)
{
    ICH9SMIWatchdog *w = opaque;
    int64_t threshold = (int64_t)w->threshold_ms * SCALE_MS;
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    int64_t next = now + threshold;
    CPUState *cs;

    CPU_FOREACH(cs) {
        X86SMMStay stay;

        if (!x86_cpu_smm_stay(X86_CPU(cs), &stay) || stay.watchdog_reported) {
            continue;
        }
        if (stay.entry_vclock_ns + threshold > now) {
            next = MIN(next, stay.entry_vclock_ns + threshold);
            continue;
        }
        x86_cpu_smm_stay_reported(X86_CPU(cs), stay.id);
        async_run_on_cpu(cs, ich9_smi_watchdog_report,
                         RUN_ON_CPU_HOST_PTR(w));
    }
    timer_mod(w->timer, next);
}

void ich9_smi_watchdog_start(ICH9SMIWatchdog *w)
{
    if (!w->threshold_ms) {
        return;
    }
    /* Only TCG enters SMM in QEMU, where a stay's start can be seen */
    if (!tcg_enabled()) {
        warn_report("ICH9-LPC.smm-watchdog-ms: the SMM watchdog needs TCG, "
                    "which lets QEMU see SMM entries; it stays off");
        return;
    }
    w->timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, ich9_smi_watchdog_tick, w);
    timer_mod(w->timer, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                        (int64_t)w->threshold_ms * SCALE_MS);
}
