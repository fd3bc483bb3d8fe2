/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pause-loop yield for TCG in SMM: a vCPU that spins on PAUSE inside
 * SMM gives its host CPU away for a moment, as KVM's pause-loop exiting
 * does in hardware.
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#ifndef TARGET_I386_SMM_PAUSE_LOOP_H
#define TARGET_I386_SMM_PAUSE_LOOP_H

#include "qemu/stats64.h"
#include "cpu-qom.h"

/*
 * Owned by the vCPU's own thread: only helper_pause() writes it, so it
 * needs no lock; the monitor reads the count.  Not migrated, not reset:
 * a spin is a moment.
 */
typedef struct X86SMMPauseLoop {
    int64_t spin_start_ns;      /* host clock, first PAUSE of this spin */
    int64_t last_pause_ns;      /* host clock, latest PAUSE or its return */
    int64_t given_ns;           /* of this spin, time given to the host */
    Stat64 yields;              /* times the vCPU yielded its host CPU */
    Stat64 sleeps;              /* times it slept */

    /* properties */
    uint32_t spin_us;           /* x-smm-pause-spin-us, 0: never yield */
    uint32_t sleep_after_us;    /* x-smm-pause-sleep-after-us */
    uint32_t sleep_us;          /* x-smm-pause-sleep-us */
} X86SMMPauseLoop;

/* The PAUSE instruction of a vCPU running TCG, in system emulation. */
void x86_cpu_smm_pause(X86CPU *cpu);

/* x-smm-pause-yields and -sleeps, read-only: for tests and tools */
void x86_cpu_class_add_smm_pause_loop_properties(ObjectClass *oc);

#endif
