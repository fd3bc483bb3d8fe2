/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The SMM watchdog of the ICH9 SMI block: an opt-in diagnosis for CI,
 * not an ICH9 function.  When a vCPU stays in SMM longer than the
 * threshold (virtual clock), it logs a line and raises the QMP event
 * SMM_WATCHDOG naming the vCPU, its SMBASE and RIP, once per stay.
 * docs/devel/smm-hang-diagnosis.rst is the user's side.
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#ifndef HW_ISA_ICH9_SMI_WATCHDOG_H
#define HW_ISA_ICH9_SMI_WATCHDOG_H

#include "qemu/timer.h"

typedef struct ICH9SMIWatchdog {
    uint32_t threshold_ms;              /* property; 0 switches it off */
    QEMUTimer *timer;
} ICH9SMIWatchdog;

/* Start watching every vCPU, if a threshold is set; it runs for good. */
void ich9_smi_watchdog_start(ICH9SMIWatchdog *w);

#endif /* HW_ISA_ICH9_SMI_WATCHDOG_H */
