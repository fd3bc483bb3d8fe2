/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QTest of the per-vCPU SMI accounting and the SMM diagnosis that come
 * with the ICH9 SMI block: x-query-smi and HMP 'info smi' (counters, the
 * chipset's registers with their bits named, each vCPU's SMM state),
 * counters across reset, machines without the block, and read-only QOM
 * properties.  What the SMM watchdog reports of a vCPU stuck in SMM needs
 * guest code to run, which qtest has not: tests/e2e covers it.
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#include "qemu/osdep.h"
#include "qobject/qlist.h"
#include "qobject/qstring.h"
#include "hw/pci-host/q35.h"
#include "ich9-smi-common.h"

/* x-query-smi reports the chipset and every vCPU */
static void test_query_smi(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 -smp 2 -global "
                                          "ICH9-LPC.x-smi-sts-apm=on"));
    QDict *resp, *ret, *chipset, *cpu;
    QList *cpus;

    negotiate(m, SMI_F_BROADCAST);
    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN);
    qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, 0x99);

    resp = qtest_qmp(m->qts, "{ 'execute': 'x-query-smi' }");
    ret = qdict_get_qdict(resp, "return");
    g_assert(ret);
    chipset = qdict_get_qdict(ret, "chipset");
    g_assert_cmpuint(qdict_get_int(chipset, "host-features"), ==, SMI_F_ALL);
    g_assert_cmpuint(qdict_get_int(chipset, "requested-features"), ==,
                     SMI_F_BROADCAST);
    g_assert_cmpuint(qdict_get_int(chipset, "negotiated-features"), ==,
                     SMI_F_BROADCAST);
    g_assert_true(qdict_get_bool(chipset, "features-ok"));
    g_assert_cmphex(qdict_get_int(chipset, "smi-en"), ==,
                    ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN);
    g_assert_cmphex(qdict_get_int(chipset, "smi-sts"), ==,
                    ICH9_PMIO_SMI_STS_APM_STS);
    cpus = qdict_get_qlist(ret, "cpus");
    g_assert_cmpint(qlist_size(cpus), ==, 2);
    cpu = qobject_to(QDict, qlist_peek(cpus));
    g_assert_cmpint(qdict_get_int(cpu, "cpu-index"), ==, 0);
    g_assert_cmpint(qdict_get_int(cpu, "injected"), ==, 1);
    g_assert_cmpint(qdict_get_int(cpu, "apm-broadcast"), ==, 1);
    g_assert_cmpint(qdict_get_int(cpu, "apm-unicast"), ==, 0);
    g_assert_cmpint(qdict_get_int(cpu, "smm-entries"), ==, 0);
    qobject_unref(resp);
    machine_stop(m);
}

static void assert_bit_names(QDict *chipset, const char *key,
                             const char *const *want)
{
    QList *names = qdict_get_qlist(chipset, key);
    QListEntry *e;
    int i = 0;

    g_assert(names);
    QLIST_FOREACH_ENTRY(names, e) {
        g_assert_nonnull(want[i]);
        g_assert_cmpstr(qstring_get_str(qobject_to(QString, e->value)), ==,
                        want[i]);
        i++;
    }
    g_assert_null(want[i]);
}

/*
 * The diagnosis fields: the chipset's last APM command and named bits;
 * per vCPU the SMM state.  The qtest accelerator runs no guest code, so
 * an SMI raised here stays latched, which is exactly what x-query-smi
 * must show; the application processor waits for SIPI.
 */
static void test_query_smi_diagnosis(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 -smp 2 -global "
                                          "ICH9-LPC.x-smi-sts-apm=on"));
    static const char *const en_bits[] = {
        "GBL_SMI_EN", "APMC_EN", "SWSMI_TMR_EN", "bit 9", "PERIODIC_EN",
        NULL
    };
    static const char *const sts_bits[] = { "APM_STS", NULL };
    static const char *const none[] = { NULL };
    QDict *resp, *ret, *chipset, *cpu;
    QListEntry *e;
    int i = 0;

    resp = qtest_qmp(m->qts, "{ 'execute': 'x-query-smi' }");
    chipset = qdict_get_qdict(qdict_get_qdict(resp, "return"), "chipset");
    assert_bit_names(chipset, "smi-en-bits", none);
    assert_bit_names(chipset, "smi-sts-bits", none);
    qobject_unref(resp);

    negotiate(m, SMI_F_BROADCAST);
    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN |
               ICH9_PMIO_SMI_EN_SWSMI_EN | BIT(9) |
               ICH9_PMIO_SMI_EN_PERIODIC_EN);
    qtest_outb(m->qts, ICH9_APM_STS_IOPORT, 0x42);
    qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, 0x99);

    resp = qtest_qmp(m->qts, "{ 'execute': 'x-query-smi' }");
    ret = qdict_get_qdict(resp, "return");
    g_assert_cmpint(qdict_get_int(ret, "vclock-ns"), >=, 0);
    chipset = qdict_get_qdict(ret, "chipset");
    g_assert_cmphex(qdict_get_int(chipset, "apm-cnt"), ==, 0x99);
    g_assert_cmphex(qdict_get_int(chipset, "apm-sts"), ==, 0x42);
    assert_bit_names(chipset, "smi-en-bits", en_bits);
    assert_bit_names(chipset, "smi-sts-bits", sts_bits);
    QLIST_FOREACH_ENTRY(qdict_get_qlist(ret, "cpus"), e) {
        cpu = qobject_to(QDict, e->value);
        g_assert_false(qdict_get_bool(cpu, "in-smm"));
        g_assert_false(qdict_haskey(cpu, "smm-entered-ns"));
        g_assert_false(qdict_haskey(cpu, "smm-entered-host-ns"));
        g_assert_false(qdict_haskey(cpu, "smm-duration-ns"));
        g_assert_cmphex(qdict_get_int(cpu, "smbase"), ==,
                        MCH_HOST_BRIDGE_SMBASE_ADDR);
        g_assert_true(qdict_get_bool(cpu, "smi-pending"));
        g_assert_false(qdict_get_bool(cpu, "nmi-pending"));
        g_assert_false(qdict_get_bool(cpu, "init-held"));
        /* the BSP runs; the AP waits for SIPI, halted */
        g_assert_cmpint(qdict_get_bool(cpu, "wait-for-sipi"), ==, i == 1);
        g_assert_cmpint(qdict_get_bool(cpu, "halted"), ==, i == 1);
        i++;
    }
    g_assert_cmpint(i, ==, 2);
    qobject_unref(resp);
    machine_stop(m);
}

/* HMP 'info smi' prints the same as a table */
static void test_hmp_info_smi(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 -smp 2 -global "
                                          "ICH9-LPC.x-smi-sts-apm=on"));
    g_autofree char *out = NULL;

    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN);
    qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, 0x99);
    out = qtest_hmp(m->qts, "info smi");
    g_assert_nonnull(strstr(out, "APM_CNT 0x99 (last command), "
                                 "APM_STS 0x00"));
    g_assert_nonnull(strstr(out, "SMI_EN  0x00000021 (GBL_SMI_EN APMC_EN)"));
    g_assert_nonnull(strstr(out, "SMI_STS 0x00000020 (APM_STS)"));
    g_assert_nonnull(strstr(out, "smm-entries"));
    g_assert_true(g_regex_match_simple("^ +0 +1 +0 +1 +0 +0 +0 +0\\r?$",
                                          out, G_REGEX_MULTILINE, 0));
    g_assert_true(g_regex_match_simple("^ +1 +0 +0 +0 +0 +0 +0 +0\\r?$",
                                          out, G_REGEX_MULTILINE, 0));
    /* SMM state: nobody in SMM, the SMI latched, the AP waits for SIPI */
    g_assert_true(g_regex_match_simple("^ +0 +- +- 0x00030000 +yes +- +- +- "
                                       "+-\\r?$", out, G_REGEX_MULTILINE, 0));
    g_assert_true(g_regex_match_simple("^ +1 +- +- 0x00030000 +- +- +- +yes "
                                       "+yes\\r?$", out, G_REGEX_MULTILINE, 0));
    g_assert_nonnull(strstr(out, "in SMM now: none"));
    machine_stop(m);
}

/* Counters belong to the vCPU: a guest reset does not clear them */
static void test_counters_survive_reset(void)
{
    Machine *m = machine_start(qtest_init("-machine q35"));

    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN);
    qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, 0x11);
    machine_reset(m);
    g_assert_cmpuint(smi_count(m, 0, "x-smi-injected"), ==, 1);
    machine_stop(m);
}

/* Machines without the ICH9 SMI block, or without any vCPU */
static void test_query_smi_without_ich9(void)
{
    static const struct {
        const char *args;
        int ncpus;
    } cases[] = {
        { "-machine none", 0 },
        { "-machine pc -smp 2", 2 },
    };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        QTestState *qts = qtest_init(cases[i].args);
        QDict *resp = qtest_qmp(qts, "{ 'execute': 'x-query-smi' }");
        QDict *ret = qdict_get_qdict(resp, "return");
        g_autofree char *out = NULL;

        g_assert_nonnull(ret);
        g_assert_false(qdict_haskey(ret, "chipset"));
        g_assert_cmpint(qlist_size(qdict_get_qlist(ret, "cpus")), ==,
                        cases[i].ncpus);
        qobject_unref(resp);
        out = qtest_hmp(qts, "info smi");
        g_assert_nonnull(strstr(out, "no ICH9 SMI block on this machine"));
        g_assert_nonnull(strstr(out, "smm-entries"));
        qtest_quit(qts);
    }
}

/* Every SMI property is read-only: qom-set fails and changes nothing */
static void test_smi_properties_read_only(void)
{
    static const char *const lpc_props[] = {
        "x-smi-host-features", "x-smi-requested-features",
        "x-smi-features-ok", "x-smi-negotiated-features", "x-smi-en",
        "x-smi-sts",
    };
    static const char *const cpu_props[] = {
        "x-smi-injected", "x-smi-injected-apm-broadcast",
        "x-smi-injected-apm-unicast", "x-smi-injected-apic",
        "x-smi-injected-other", "x-smm-entries",
    };
    Machine *m = machine_start(qtest_init("-machine q35"));
    size_t i;

    negotiate(m, SMI_F_BROADCAST);
    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN);
    qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, 0x42);
    for (i = 0; i < ARRAY_SIZE(lpc_props) + ARRAY_SIZE(cpu_props); i++) {
        bool lpc = i < ARRAY_SIZE(lpc_props);
        const char *path = lpc ? "/machine/acpi-device" : m->cpu_paths[0];
        const char *prop = lpc ? lpc_props[i]
                               : cpu_props[i - ARRAY_SIZE(lpc_props)];
        uint64_t val = qom_get_uint(m->qts, path, prop);

        assert_qmp_error(qtest_qmp(m->qts, "{ 'execute': 'qom-set', "
                                   "'arguments': { 'path': %s, "
                                   "'property': %s, 'value': 0 } }",
                                   path, prop), "is not writable");
        assert_qmp_error(qtest_qmp(m->qts, "{ 'execute': 'qom-set', "
                                   "'arguments': { 'path': %s, "
                                   "'property': %s, 'value': 'x' } }",
                                   path, prop), "is not writable");
        g_assert_cmphex(qom_get_uint(m->qts, path, prop), ==, val);
    }
    machine_stop(m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/ich9-smi/accounting/x-query-smi-diagnosis",
                   test_query_smi_diagnosis);
    qtest_add_func("/ich9-smi/accounting/x-query-smi", test_query_smi);
    qtest_add_func("/ich9-smi/accounting/hmp-info-smi", test_hmp_info_smi);
    qtest_add_func("/ich9-smi/accounting/counters-survive-reset",
                   test_counters_survive_reset);
    qtest_add_func("/ich9-smi/accounting/x-query-smi-without-ich9",
                   test_query_smi_without_ich9);
    qtest_add_func("/ich9-smi/accounting/properties-read-only",
                   test_smi_properties_read_only);
    return g_test_run();
}
