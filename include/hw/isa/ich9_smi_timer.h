/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The ICH9 SMI block's two timers: the software SMI timer (SMI_EN
 * SWSMI_TMR_EN, rate GEN_PMCON_3 SWSMI_RATE_SEL) and the periodic SMI
 * timer (SMI_EN PERIODIC_EN, period GEN_PMCON_1 PER_SMI_SEL).  They own
 * their QEMUTimers and nothing else: SMI_EN/SMI_STS and SMI delivery stay
 * with the SMI block (ich9_smi.c), which this module tells of an expiry.
 * docs/specs/ich9-smi.rst is the guest interface.
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#ifndef HW_ISA_ICH9_SMI_TIMER_H
#define HW_ISA_ICH9_SMI_TIMER_H

#include "qemu/timer.h"

/* An expiry: @smi_sts_bit is the SMI_STS bit the timer sets. */
typedef void ICH9SMITimerExpired(void *opaque, uint32_t smi_sts_bit);

typedef struct ICH9SMITimers {
    /* properties: pc-q35-9.1 and older machines have no timers */
    bool swsmi_present;
    bool periodic_present;

    /* wiring */
    const uint8_t *lpc_config;          /* GEN_PMCON_1/3 select the rates */
    ICH9SMITimerExpired *expired;
    void *opaque;

    QEMUTimer *swsmi;
    QEMUTimer *periodic;
} ICH9SMITimers;

void ich9_smi_timers_init(ICH9SMITimers *t, const uint8_t *lpc_config,
                          ICH9SMITimerExpired *expired, void *opaque);

/* The SMI_EN bits that have a timer behind them on this machine. */
uint32_t ich9_smi_timers_smi_en_bits(const ICH9SMITimers *t);

/* SMI_EN went from @old to @new: start and stop what changed. */
void ich9_smi_timers_smi_en_written(ICH9SMITimers *t, uint32_t old,
                                    uint32_t new);

/* GEN_PMCON_1 or GEN_PMCON_3 was written; @smi_en is the current SMI_EN. */
void ich9_smi_timers_rate_written(ICH9SMITimers *t, uint32_t smi_en);

/* After an incoming migration: run what @smi_en enables. */
void ich9_smi_timers_load(ICH9SMITimers *t, uint32_t smi_en);

void ich9_smi_timers_reset(ICH9SMITimers *t);

/* The next expiry on QEMU_CLOCK_VIRTUAL in ns, or -1 when stopped. */
int64_t ich9_smi_timers_swsmi_deadline(const ICH9SMITimers *t);
int64_t ich9_smi_timers_periodic_deadline(const ICH9SMITimers *t);

#endif /* HW_ISA_ICH9_SMI_TIMER_H */
