/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QTest of SMI_STS and of the two SMI timers of the ICH9 SMI block: the
 * software SMI timer (SWSMI_RATE_SEL) and the periodic SMI timer
 * (PER_SMI_SEL) on the virtual clock, their write-1-to-clear status bits,
 * the GBL_SMI_EN gate (x-gbl-smi-en), delivery to the BSP or every vCPU,
 * reset, and the pc-q35-9.1 compat machine without timers.  Their
 * migration is in ich9-smi-migration-test.c.
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#include "qemu/osdep.h"
#include "qemu/timer.h"
#include "ich9-smi-common.h"

/*
 * GEN_PMCON_3.SWSMI_RATE_SEL, bits 7:6: hw/isa/ich9_smi_timer.c decodes
 * it and no header exports the field.
 */
#define GEN_PMCON_3_SWSMI_RATE_SEL_SHIFT 6

/*
 * By default SMI_STS does not report APM SMIs: upstream's never does, and
 * SMI handlers written for QEMU take any bit there for a timer's.
 */
static void test_smi_sts_apm_not_reported_by_default(void)
{
    Machine *m = machine_start(qtest_init("-machine q35"));

    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN);
    qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, 0x77);
    g_assert_cmpuint(smi_count(m, 0, "x-smi-injected"), ==, 1);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    /* and the bit cannot be set from the guest either */
    qtest_outl(m->qts, SMI_STS, ICH9_PMIO_SMI_STS_APM_STS);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    machine_stop(m);
}

/*
 * With x-smi-sts-apm=on, SMI_STS.APM_STS is set by an APM SMI and cleared
 * by writing 1, as on ICH9.
 */
static void test_smi_sts_apm_set_and_clear(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 "
                                          "-global ICH9-LPC.x-smi-sts-apm=on"));

    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, 0x77);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, ICH9_PMIO_SMI_STS_APM_STS);
    qtest_outl(m->qts, SMI_STS, ~ICH9_PMIO_SMI_STS_APM_STS);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, ICH9_PMIO_SMI_STS_APM_STS);
    qtest_outl(m->qts, SMI_STS, ICH9_PMIO_SMI_STS_APM_STS);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    /* ACPI enable raises no SMI, so no status either */
    qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, ICH9_APM_ACPI_ENABLE);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    machine_stop(m);
}

/* Every SWSMI_RATE_SEL: silent one ns before the rate, one SMI at it */
static void test_swsmi_timer_rates(void)
{
    static const int64_t rate_ns[] = { 1500000, 16000000, 32000000,
                                       64000000 };
    Machine *m = machine_start(qtest_init("-machine q35"));
    int sel;

    for (sel = 0; sel < ARRAY_SIZE(rate_ns); sel++) {
        uint64_t before = timer_smis(m, 0);

        qpci_config_writeb(m->lpc, ICH9_LPC_GEN_PMCON_3,
                           sel << GEN_PMCON_3_SWSMI_RATE_SEL_SHIFT);
        set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN |
                      ICH9_PMIO_SMI_EN_SWSMI_EN);
        qtest_clock_step(m->qts, rate_ns[sel] - 1);
        g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
        g_assert_cmpuint(timer_smis(m, 0), ==, before);
        qtest_clock_step(m->qts, 1);
        g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==,
                        ICH9_PMIO_SMI_STS_SWSMI_STS);
        g_assert_cmpuint(timer_smis(m, 0), ==, before + 1);
        /* it keeps expiring every period while enabled */
        qtest_clock_step(m->qts, rate_ns[sel]);
        g_assert_cmpuint(timer_smis(m, 0), ==, before + 2);
        /* clearing the enable stops it */
        set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN);
        g_assert_cmpint(timer_deadline(m, "swsmi-timer-deadline"), ==, -1);
        qtest_clock_step(m->qts, 2 * rate_ns[sel]);
        g_assert_cmpuint(timer_smis(m, 0), ==, before + 2);
        qtest_outl(m->qts, SMI_STS, ICH9_PMIO_SMI_STS_SWSMI_STS);
    }
    machine_stop(m);
}

/*
 * Every PER_SMI_SEL: the periodic timer expires at multiples of its
 * period on the virtual clock, one SMI each.
 */
static void test_periodic_timer_periods(void)
{
    static const int64_t period_s[] = { 64, 32, 16, 8 };
    Machine *m = machine_start(qtest_init("-machine q35"));
    int sel;

    for (sel = 0; sel < ARRAY_SIZE(period_s); sel++) {
        int64_t period = period_s[sel] * NANOSECONDS_PER_SECOND;
        uint64_t before = timer_smis(m, 0);
        int64_t deadline;

        qpci_config_writew(m->lpc, ICH9_LPC_GEN_PMCON_1, sel);
        set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN |
                      ICH9_PMIO_SMI_EN_PERIODIC_EN);
        deadline = timer_deadline(m, "periodic-timer-deadline");
        g_assert_cmpint(deadline % period, ==, 0);
        g_assert_cmpint(deadline - clock_now(m), >, 0);
        g_assert_cmpint(deadline - clock_now(m), <=, period);
        qtest_clock_step(m->qts, deadline - clock_now(m) - 1);
        g_assert_cmpuint(timer_smis(m, 0), ==, before);
        qtest_clock_step(m->qts, 1);
        g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==,
                        ICH9_PMIO_SMI_STS_PERIODIC_STS);
        g_assert_cmpuint(timer_smis(m, 0), ==, before + 1);
        g_assert_cmpint(timer_deadline(m, "periodic-timer-deadline"), ==,
                        deadline + period);
        set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN);
        qtest_outl(m->qts, SMI_STS, ICH9_PMIO_SMI_STS_PERIODIC_STS);
    }
    machine_stop(m);
}

/*
 * Status bits are write-1-to-clear, and an expiry only adds its own bit
 * (upstream 10.0: plain read/write, and the periodic expiry overwrote the
 * whole register).
 */
static void test_timer_sts_write_1_to_clear(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 "
                                          "-global ICH9-LPC.x-smi-sts-apm=on"));
    int64_t deadline;

    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN |
                  ICH9_PMIO_SMI_EN_SWSMI_EN |
                  ICH9_PMIO_SMI_EN_PERIODIC_EN);
    qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, 0x01);
    qtest_clock_step(m->qts, 1500000);
    deadline = timer_deadline(m, "periodic-timer-deadline");
    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_PERIODIC_EN);
    qtest_clock_step(m->qts, deadline - clock_now(m));
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==,
                    ICH9_PMIO_SMI_STS_APM_STS |
                    ICH9_PMIO_SMI_STS_SWSMI_STS |
                    ICH9_PMIO_SMI_STS_PERIODIC_STS);
    qtest_outl(m->qts, SMI_STS, 0);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==,
                    ICH9_PMIO_SMI_STS_APM_STS |
                    ICH9_PMIO_SMI_STS_SWSMI_STS |
                    ICH9_PMIO_SMI_STS_PERIODIC_STS);
    qtest_outl(m->qts, SMI_STS, ICH9_PMIO_SMI_STS_SWSMI_STS);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==,
                    ICH9_PMIO_SMI_STS_APM_STS | ICH9_PMIO_SMI_STS_PERIODIC_STS);
    qtest_outl(m->qts, SMI_STS,
               ICH9_PMIO_SMI_STS_PERIODIC_STS | ICH9_PMIO_SMI_STS_APM_STS);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    machine_stop(m);
}

/*
 * Rewriting SMI_EN with a timer's enable still set does not restart it
 * (upstream 10.0 re-armed both timers on every write: firmware that keeps
 * writing SMI_EN never saw them expire).
 */
static void test_timer_smi_en_rewrite_does_not_postpone(void)
{
    Machine *m = machine_start(qtest_init("-machine q35"));
    uint32_t en = ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_SWSMI_EN |
                  ICH9_PMIO_SMI_EN_PERIODIC_EN;
    int64_t swsmi, periodic;
    int i;

    /* 64 ms */
    qpci_config_writeb(m->lpc, ICH9_LPC_GEN_PMCON_3,
                       3 << GEN_PMCON_3_SWSMI_RATE_SEL_SHIFT);
    qpci_config_writew(m->lpc, ICH9_LPC_GEN_PMCON_1, 3);        /* 8 s */
    set_smi_en(m, en);
    swsmi = timer_deadline(m, "swsmi-timer-deadline");
    periodic = timer_deadline(m, "periodic-timer-deadline");
    for (i = 0; i < 4; i++) {
        qtest_clock_step(m->qts, 10000000);
        set_smi_en(m, en ^ (i & 1 ? ICH9_PMIO_SMI_EN_APMC_EN : 0));
        g_assert_cmpint(timer_deadline(m, "swsmi-timer-deadline"), ==,
                        swsmi);
        g_assert_cmpint(timer_deadline(m, "periodic-timer-deadline"), ==,
                        periodic);
    }
    qtest_clock_step(m->qts, swsmi - clock_now(m));
    g_assert_cmpuint(timer_smis(m, 0), ==, 1);
    machine_stop(m);
}

/* By default, as upstream, a timer SMI does not wait for GBL_SMI_EN */
static void test_timer_gbl_smi_en_ignored_by_default(void)
{
    Machine *m = machine_start(qtest_init("-machine q35"));

    set_smi_en(m, ICH9_PMIO_SMI_EN_SWSMI_EN);
    qtest_clock_step(m->qts, 1500000);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==,
                    ICH9_PMIO_SMI_STS_SWSMI_STS);
    g_assert_cmpuint(timer_smis(m, 0), ==, 1);
    machine_stop(m);
}

/* x-gbl-smi-en: no SMI without GBL_SMI_EN; the status bit is still set */
static void test_timer_gbl_smi_en_gates(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 "
                                          "-global ICH9-LPC.x-gbl-smi-en=on"));

    set_smi_en(m, ICH9_PMIO_SMI_EN_SWSMI_EN);
    qtest_clock_step(m->qts, 1500000);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==,
                    ICH9_PMIO_SMI_STS_SWSMI_STS);
    g_assert_cmpuint(timer_smis(m, 0), ==, 0);
    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_SWSMI_EN);
    qtest_clock_step(m->qts, 1500000);
    g_assert_cmpuint(timer_smis(m, 0), ==, 1);
    machine_stop(m);
}

enum {
    TIMER_SMI_NOT_NEGOTIATED,
    TIMER_SMI_NEGOTIATED,
    TIMER_SMI_NEGOTIATED_BROADCAST_ON,
};

/*
 * A timer SMI goes to the BSP, also once broadcast was negotiated (the
 * feature speaks of APM SMIs), unless x-smi-timer-broadcast=on, which
 * sends it to every vCPU then (docs/specs/ich9-smi.rst says why).
 */
static void test_timer_delivery(const void *opaque)
{
    int mode = GPOINTER_TO_INT(opaque);
    bool everyone = mode == TIMER_SMI_NEGOTIATED_BROADCAST_ON;
    Machine *m = machine_start(qtest_initf(
        "-machine q35 -smp 3 -global ICH9-LPC.x-smi-timer-broadcast=%s",
        everyone ? "on" : "off"));
    int i;

    if (mode != TIMER_SMI_NOT_NEGOTIATED) {
        negotiate(m, SMI_F_BROADCAST);
    }
    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_SWSMI_EN);
    qtest_clock_step(m->qts, 1500000);
    for (i = 0; i < m->ncpus; i++) {
        g_assert_cmpuint(timer_smis(m, i), ==, everyone || i == 0);
        g_assert_cmpuint(smi_count(m, i, "x-smi-injected"), ==,
                         everyone || i == 0);
    }
    machine_stop(m);
}

/* Without a negotiated broadcast, x-smi-timer-broadcast=on changes nothing */
static void test_timer_broadcast_needs_negotiation(void)
{
    Machine *m = machine_start(qtest_init(
        "-machine q35 -smp 3 -global ICH9-LPC.x-smi-timer-broadcast=on"));
    int i;

    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_SWSMI_EN);
    qtest_clock_step(m->qts, 1500000);
    for (i = 0; i < m->ncpus; i++) {
        g_assert_cmpuint(timer_smis(m, i), ==, i == 0);
    }
    machine_stop(m);
}

/* Reset stops both timers */
static void test_timer_reset_stops(void)
{
    Machine *m = machine_start(qtest_init("-machine q35"));

    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_SWSMI_EN |
                  ICH9_PMIO_SMI_EN_PERIODIC_EN);
    machine_reset(m);
    g_assert_cmpint(timer_deadline(m, "swsmi-timer-deadline"), ==, -1);
    g_assert_cmpint(timer_deadline(m, "periodic-timer-deadline"), ==, -1);
    qtest_clock_step(m->qts, 65 * NANOSECONDS_PER_SECOND);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    g_assert_cmpuint(timer_smis(m, 0), ==, 0);
    machine_stop(m);
}

/* pc-q35-9.1 and older have no timers: the enable bits are plain bits */
static void test_timer_compat_pc_q35_9_1(void)
{
    Machine *m = machine_start(qtest_init("-machine pc-q35-9.1"));

    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_SWSMI_EN |
                  ICH9_PMIO_SMI_EN_PERIODIC_EN);
    g_assert_cmpint(timer_deadline(m, "swsmi-timer-deadline"), ==, -1);
    g_assert_cmpint(timer_deadline(m, "periodic-timer-deadline"), ==, -1);
    qtest_clock_step(m->qts, 65 * NANOSECONDS_PER_SECOND);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    g_assert_cmpuint(timer_smis(m, 0), ==, 0);
    machine_stop(m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/ich9-smi/smi-sts/apm-not-reported-by-default",
                   test_smi_sts_apm_not_reported_by_default);
    qtest_add_func("/ich9-smi/smi-sts/apm-set-and-clear",
                   test_smi_sts_apm_set_and_clear);
    qtest_add_func("/ich9-smi/timer/swsmi-rates", test_swsmi_timer_rates);
    qtest_add_func("/ich9-smi/timer/periodic-periods",
                   test_periodic_timer_periods);
    qtest_add_func("/ich9-smi/timer/sts-write-1-to-clear",
                   test_timer_sts_write_1_to_clear);
    qtest_add_func("/ich9-smi/timer/smi-en-rewrite-does-not-postpone",
                   test_timer_smi_en_rewrite_does_not_postpone);
    qtest_add_func("/ich9-smi/timer/gbl-smi-en-ignored-by-default",
                   test_timer_gbl_smi_en_ignored_by_default);
    qtest_add_func("/ich9-smi/timer/gbl-smi-en-gates",
                   test_timer_gbl_smi_en_gates);
    qtest_add_data_func("/ich9-smi/timer/delivery/bsp",
                        GINT_TO_POINTER(TIMER_SMI_NOT_NEGOTIATED),
                        test_timer_delivery);
    qtest_add_data_func("/ich9-smi/timer/delivery/bsp-when-negotiated",
                        GINT_TO_POINTER(TIMER_SMI_NEGOTIATED),
                        test_timer_delivery);
    qtest_add_data_func("/ich9-smi/timer/delivery/broadcast",
                        GINT_TO_POINTER(TIMER_SMI_NEGOTIATED_BROADCAST_ON),
                        test_timer_delivery);
    qtest_add_func("/ich9-smi/timer/delivery/broadcast-needs-negotiation",
                   test_timer_broadcast_needs_negotiation);
    qtest_add_func("/ich9-smi/timer/reset-stops", test_timer_reset_stops);
    qtest_add_func("/ich9-smi/timer/compat-pc-q35-9.1",
                   test_timer_compat_pc_q35_9_1);
    return g_test_run();
}
