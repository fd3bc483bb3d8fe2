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
 * previous one, not counting the time the vCPU gave away.  Once a spin in
 * SMM lasts spin_us, the vCPU thread yields the host CPU at every PAUSE:
 * the host runs another thread if one is ready, and returns at once if
 * not.  A vCPU that waits for a running one is usually released within
 * spin_us and never yields; one that waits for a preempted one lets it
 * run.  Once the spin lasts sleep_after_us, the vCPU sleeps sleep_us at
 * every PAUSE instead: a long wait (the monarch handling a variable
 * write, or a handler that hangs) should not keep a host CPU busy.
 *
 * Yielding first matters because firmware hands work back and forth
 * between CPUs inside one SMI: edk2 flushes every CPU's TLB after each
 * change of SMRAM page attributes, by starting a procedure on each AP and
 * waiting for it, hundreds of times at the end of DXE.  With 8 vCPU
 * threads on 2 host CPUs, every hand-over that waits for a fixed sleep
 * costs tens of microseconds; that single SMI took 1.5 s that way, against
 * 45 ms with one vCPU.  Sleeps that grew with the wait were slower still.
 *
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
    CPUX86State *env = &cpu->env;
    int64_t now, spun_ns;
    bool sleep;

    if (!(env->hflags & HF_SMM_MASK) || !pl->spin_us ||
        !qemu_tcg_mttcg_enabled()) {
        return;
    }
    now = get_clock();
    if (now - pl->last_pause_ns > SPIN_GAP_NS) {
        pl->spin_start_ns = now;
        pl->given_ns = 0;
    }
    pl->last_pause_ns = now;
    spun_ns = now - pl->spin_start_ns - pl->given_ns;
    if (spun_ns < (int64_t)pl->spin_us * SCALE_US) {
        return;
    }
    sleep = spun_ns >= (int64_t)pl->sleep_after_us * SCALE_US;
    trace_x86_cpu_smm_pause_yield(CPU(cpu)->cpu_index,
                                  env->segs[R_CS].base + env->eip,
                                  spun_ns / SCALE_US,
                                  sleep ? pl->sleep_us : 0);
    if (sleep) {
        stat64_add(&pl->sleeps, 1);
        g_usleep(pl->sleep_us);
    } else {
        stat64_add(&pl->yields, 1);
        g_thread_yield();
    }
    pl->last_pause_ns = get_clock();
    pl->given_ns += pl->last_pause_ns - now;
}

/* opaque: the offset of the count in X86SMMPauseLoop */
static void get_count(Object *obj, Visitor *v, const char *name,
                      void *opaque, Error **errp)
{
    X86SMMPauseLoop *pl = &X86_CPU(obj)->smm_pause_loop;
    uint64_t count = stat64_get((Stat64 *)((char *)pl + (uintptr_t)opaque));

    visit_type_uint64(v, name, &count, errp);
}

static const struct {
    const char *name;
    size_t offset;
    const char *description;
} counts[] = {
    { "x-smm-pause-yields", offsetof(X86SMMPauseLoop, yields),
      "Times the vCPU yielded its host CPU in a PAUSE loop in SMM "
      "(multi-threaded TCG)" },
    { "x-smm-pause-sleeps", offsetof(X86SMMPauseLoop, sleeps),
      "Times the vCPU slept in a long PAUSE loop in SMM "
      "(multi-threaded TCG)" },
};

void x86_cpu_class_add_smm_pause_loop_properties(ObjectClass *oc)
{
    for (size_t i = 0; i < ARRAY_SIZE(counts); i++) {
        object_class_property_add(oc, counts[i].name, "uint64", get_count,
                                  NULL, NULL, (void *)counts[i].offset);
        object_class_property_set_description(oc, counts[i].name,
                                              counts[i].description);
    }
}
