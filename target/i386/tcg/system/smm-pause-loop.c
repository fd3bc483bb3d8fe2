/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pause-loop yield for TCG in SMM.
 *
 * Firmware handles an SMI in a rendezvous: every CPU enters SMM, and the
 * ones that arrived spin on PAUSE until the others do, then until the
 * monarch has done the work.  Under multi-threaded TCG each vCPU is a host
 * thread; with more vCPU threads than host CPUs, the vCPUs being waited
 * for are often not running, and the spinners burn the host CPU they
 * need until the host scheduler preempts them.  KVM solves this with
 * pause-loop exiting: the processor reports a vCPU that executes PAUSE in
 * a tight loop, and KVM yields it.
 *
 * Here a spin is a run of PAUSEs each less than SPIN_GAP_NS after the
 * previous one; once a spin in SMM lasts spin_us, the vCPU thread sleeps
 * yield_us, then spins spin_us again, and so on.  A vCPU that waits for
 * a running one is usually released within spin_us and never sleeps; one
 * that waits for a preempted one sleeps, and the host runs the preempted
 * thread.  Sleeps that grew with the wait were measured slower: the
 * release of a rendezvous then waits for the longest sleep.
 * Only SMM: the rendezvous is where every vCPU waits for every other one,
 * and everything else keeps upstream's timing.  Only multi-threaded TCG:
 * with one thread for all vCPUs, PAUSE already hands over to the next
 * vCPU, and sleeping would stop them all.
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#include "qemu/osdep.h"
#include "qemu/timer.h"
#include "qapi/visitor.h"
#include "cpu.h"
#include "smm-pause-loop.h"
#include "trace.h"

/*
 * Two PAUSEs of one wait loop are a few guest instructions apart, plus the
 * return to the cpu_exec loop that each PAUSE makes: well below a
 * microsecond.  A longer gap means the vCPU did something else.
 */
#define SPIN_GAP_NS (20 * SCALE_US)

void x86_cpu_smm_pause(X86CPU *cpu)
{
    X86SMMPauseLoop *pl = &cpu->smm_pause_loop;
    int64_t now;

    if (!(cpu->env.hflags & HF_SMM_MASK) || !pl->spin_us ||
        !qemu_tcg_mttcg_enabled()) {
        return;
    }
    now = get_clock();
    if (now - pl->last_pause_ns > SPIN_GAP_NS) {
        pl->spin_start_ns = now;
    }
    pl->last_pause_ns = now;
    if (now - pl->spin_start_ns < (int64_t)pl->spin_us * SCALE_US) {
        return;
    }
    stat64_add(&pl->yields, 1);
    trace_x86_cpu_smm_pause_yield(CPU(cpu)->cpu_index,
                                  (now - pl->spin_start_ns) / SCALE_US,
                                  pl->yield_us);
    g_usleep(pl->yield_us);
    pl->spin_start_ns = pl->last_pause_ns = get_clock();
}

static void get_yields(Object *obj, Visitor *v, const char *name,
                       void *opaque, Error **errp)
{
    uint64_t yields = stat64_get(&X86_CPU(obj)->smm_pause_loop.yields);

    visit_type_uint64(v, name, &yields, errp);
}

void x86_cpu_class_add_smm_pause_loop_properties(ObjectClass *oc)
{
    object_class_property_add(oc, "x-smm-pause-yields", "uint64",
                              get_yields, NULL, NULL, NULL);
    object_class_property_set_description(oc, "x-smm-pause-yields",
        "Times the vCPU slept in a PAUSE loop in SMM (multi-threaded TCG)");
}
