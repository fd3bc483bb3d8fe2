/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The ICH9 SMI block's software SMI timer and periodic SMI timer.
 *
 * The software SMI timer starts when SWSMI_TMR_EN goes from 0 to 1 and
 * expires every SWSMI_RATE_SEL period while the bit stays set (firmware
 * uses it to come back into SMM shortly after RSM); clearing the bit
 * stops it, and setting it again starts a full period.  Rewriting SMI_EN
 * with the bit still set leaves the count alone.
 *
 * The periodic SMI timer is free running on ICH9: PERIODIC_EN only gates
 * whether its expiry raises an SMI.  The model keeps it aligned to the
 * virtual clock, expiring at every multiple of the PER_SMI_SEL period.
 * Nothing the guest writes postpones it, and a migration destination,
 * whose virtual clock continues the source's, expires at the same
 * instant as the source would have without any new migration state.
 *
 * Replaces hw/acpi/ich9_timer.c, which added both timers to QEMU:
 * Copyright (c) 2024 Dominic Prinz <git@dprinz.de>
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "hw/isa/ich9_smi.h"
#include "hw/isa/ich9_smi_timer.h"
#include "hw/southbridge/ich9.h"
#include "trace.h"

/* GEN_PMCON_3 bits 7:6: 1.5 ms, 16 ms, 32 ms, 64 ms */
#define GEN_PMCON_3_SWSMI_RATE_SEL_SHIFT 6
#define GEN_PMCON_3_SWSMI_RATE_SEL_MASK  (3 << 6)
/* GEN_PMCON_1 bits 1:0: 64 s, 32 s, 16 s, 8 s */
#define GEN_PMCON_1_PER_SMI_SEL_MASK     3

static int64_t ich9_smi_swsmi_period_ns(const ICH9SMITimers *t)
{
    static const int64_t rate_ns[] = {
        1500 * SCALE_US, 16 * SCALE_MS, 32 * SCALE_MS, 64 * SCALE_MS,
    };
    uint16_t pmcon3 = lduw_le_p(t->lpc_config + ICH9_LPC_GEN_PMCON_3);

    return rate_ns[(pmcon3 & GEN_PMCON_3_SWSMI_RATE_SEL_MASK) >>
                   GEN_PMCON_3_SWSMI_RATE_SEL_SHIFT];
}

static int64_t ich9_smi_periodic_period_ns(const ICH9SMITimers *t)
{
    uint16_t pmcon1 = lduw_le_p(t->lpc_config + ICH9_LPC_GEN_PMCON_1);

    return (64 >> (pmcon1 & GEN_PMCON_1_PER_SMI_SEL_MASK)) *
           NANOSECONDS_PER_SECOND;
}

static void ich9_smi_swsmi_start(ICH9SMITimers *t)
{
    int64_t period = ich9_smi_swsmi_period_ns(t);

    timer_mod(t->swsmi, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) + period);
    trace_ich9_smi_timer_start("swsmi", period, timer_expire_time_ns(t->swsmi));
}

/* The next multiple of the period on the virtual clock, strictly after now */
static void ich9_smi_periodic_align(ICH9SMITimers *t)
{
    int64_t period = ich9_smi_periodic_period_ns(t);
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);

    timer_mod(t->periodic, (now / period + 1) * period);
    trace_ich9_smi_timer_start("periodic", period,
                               timer_expire_time_ns(t->periodic));
}

static void ich9_smi_swsmi_expired(void *opaque)
{
    ICH9SMITimers *t = opaque;

    ich9_smi_swsmi_start(t);
    t->expired(t->opaque, ICH9_PMIO_SMI_STS_SWSMI_STS);
}

static void ich9_smi_periodic_expired(void *opaque)
{
    ICH9SMITimers *t = opaque;

    ich9_smi_periodic_align(t);
    t->expired(t->opaque, ICH9_PMIO_SMI_STS_PERIODIC_STS);
}

uint32_t ich9_smi_timers_smi_en_bits(const ICH9SMITimers *t)
{
    return (t->swsmi_present ? ICH9_PMIO_SMI_EN_SWSMI_EN : 0) |
           (t->periodic_present ? ICH9_PMIO_SMI_EN_PERIODIC_EN : 0);
}

void ich9_smi_timers_smi_en_written(ICH9SMITimers *t, uint32_t old,
                                    uint32_t new)
{
    uint32_t changed = (old ^ new) & ich9_smi_timers_smi_en_bits(t);

    if (changed & ICH9_PMIO_SMI_EN_SWSMI_EN) {
        if (new & ICH9_PMIO_SMI_EN_SWSMI_EN) {
            ich9_smi_swsmi_start(t);
        } else {
            timer_del(t->swsmi);
        }
    }
    if (changed & ICH9_PMIO_SMI_EN_PERIODIC_EN) {
        if (new & ICH9_PMIO_SMI_EN_PERIODIC_EN) {
            ich9_smi_periodic_align(t);
        } else {
            timer_del(t->periodic);
        }
    }
}

void ich9_smi_timers_rate_written(ICH9SMITimers *t, uint32_t smi_en)
{
    /*
     * A free-running counter with a new period: the next multiple of the
     * new period.  The software SMI timer keeps its count; the new rate
     * applies from its next period.
     */
    if (t->periodic && (smi_en & ICH9_PMIO_SMI_EN_PERIODIC_EN)) {
        ich9_smi_periodic_align(t);
    }
}

void ich9_smi_timers_load(ICH9SMITimers *t, uint32_t smi_en)
{
    ich9_smi_timers_reset(t);
    /*
     * The stream (upstream's layout) has no deadline: the software SMI
     * timer restarts a full period (at most 64 ms late); the periodic one
     * is aligned to the migrated virtual clock, so it is exact.
     */
    ich9_smi_timers_smi_en_written(t, 0, smi_en);
}

void ich9_smi_timers_reset(ICH9SMITimers *t)
{
    if (t->swsmi) {
        timer_del(t->swsmi);
    }
    if (t->periodic) {
        timer_del(t->periodic);
    }
}

static int64_t ich9_smi_timer_deadline(QEMUTimer *timer)
{
    return timer && timer_pending(timer) ? timer_expire_time_ns(timer) : -1;
}

int64_t ich9_smi_timers_swsmi_deadline(const ICH9SMITimers *t)
{
    return ich9_smi_timer_deadline(t->swsmi);
}

int64_t ich9_smi_timers_periodic_deadline(const ICH9SMITimers *t)
{
    return ich9_smi_timer_deadline(t->periodic);
}

void ich9_smi_timers_init(ICH9SMITimers *t, const uint8_t *lpc_config,
                          ICH9SMITimerExpired *expired, void *opaque)
{
    t->lpc_config = lpc_config;
    t->expired = expired;
    t->opaque = opaque;
    if (t->swsmi_present) {
        t->swsmi = timer_new_ns(QEMU_CLOCK_VIRTUAL, ich9_smi_swsmi_expired, t);
    }
    if (t->periodic_present) {
        t->periodic = timer_new_ns(QEMU_CLOCK_VIRTUAL,
                                   ich9_smi_periodic_expired, t);
    }
}
