/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QTest of SMI delivery by the ICH9 SMI block and of the etc/smi fw_cfg
 * negotiation that decides it: APM_CNT/APM_STS, the SMI_EN gates, unicast
 * to the BSP and broadcast to every vCPU, SMI_LOCK, the negotiation over
 * host configurations and compat machine types by selector I/O and DMA,
 * malformed fw_cfg writes, and the hot(un)plug refusals and SMIs the
 * negotiated features bring.  Each delivery test asserts the SMIs each
 * vCPU received, from the per-vCPU accounting (docs/specs/ich9-smi.rst).
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qobject/qlist.h"
#include "standard-headers/linux/qemu_fw_cfg.h"
#include "hw/acpi/pc-hotplug.h"
#include "ich9-smi-common.h"

/* no RAM and no device there: a DMA read from it fails */
#define UNASSIGNED_ADDR     (1ULL << 44)

/*
 * The ACPI CPU hotplug register block (docs/specs/acpi_cpu_hotplug.rst):
 * its base is in hw/acpi/pc-hotplug.h, its register offsets and flag bits
 * only in hw/acpi/cpu.c, which exports none of them.
 */
#define CPUHP_SELECTOR      (ICH9_CPU_HOTPLUG_IO_BASE + 0)
#define CPUHP_FLAGS         (ICH9_CPU_HOTPLUG_IO_BASE + 4)
#define CPUHP_FLAG_EJECT    (1 << 3)

/*
 * The most vCPUs q35 runs without an x2APIC-capable interrupt remapper:
 * a limit hw/i386/x86-common.c checks against APIC ID 255, no constant.
 */
#define Q35_MAX_XAPIC_CPUS  255

static void assert_smi_delta(Machine *m, const uint64_t *before,
                             const uint64_t *delta_per_cpu)
{
    g_autofree uint64_t *after = smi_snapshot(m);
    int i;

    for (i = 0; i < m->ncpus; i++) {
        g_assert_cmpuint(after[i] - before[i], ==, delta_per_cpu[i]);
    }
}

static void assert_no_smi_since(Machine *m, const uint64_t *before)
{
    g_autofree uint64_t *zero = g_new0(uint64_t, m->ncpus);

    assert_smi_delta(m, before, zero);
}

/* APM_STS is a scratch byte firmware uses to pass an argument to SMM. */
static void test_apm_sts_scratch_byte(void)
{
    Machine *m = machine_start(qtest_init("-machine q35"));
    unsigned v;

    g_assert_cmpuint(qtest_inb(m->qts, ICH9_APM_STS_IOPORT), ==, 0);
    for (v = 0; v <= 0xff; v++) {
        qtest_outb(m->qts, ICH9_APM_STS_IOPORT, v);
        g_assert_cmpuint(qtest_inb(m->qts, ICH9_APM_STS_IOPORT), ==, v);
    }
    machine_stop(m);
}

/*
 * A 32-bit OUT to 0xb2 also covers 0xb4 and 0xb5, which are not APM
 * ports: APM_CNT and APM_STS take their bytes and one SMI is raised.
 */
static void test_apm_wide_write_one_smi(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 -smp 2"));
    g_autofree uint64_t *before = smi_snapshot(m);
    g_autofree uint64_t *delta = g_new0(uint64_t, m->ncpus);

    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN);
    qtest_outl(m->qts, ICH9_APM_CNT_IOPORT, 0x11223344);
    delta[0] = 1;
    assert_smi_delta(m, before, delta);
    g_assert_cmphex(qtest_inb(m->qts, ICH9_APM_CNT_IOPORT), ==, 0x44);
    g_assert_cmphex(qtest_inb(m->qts, ICH9_APM_STS_IOPORT), ==, 0x33);
    g_assert_cmphex(qtest_inl(m->qts, ICH9_APM_CNT_IOPORT), ==, 0xffff3344);

    /* a 16-bit OUT writes both, as firmware passing an argument does */
    qtest_outw(m->qts, ICH9_APM_CNT_IOPORT, 0x5566);
    delta[0] = 2;
    assert_smi_delta(m, before, delta);
    g_assert_cmphex(qtest_inw(m->qts, ICH9_APM_CNT_IOPORT), ==, 0x5566);
    machine_stop(m);
}

/* Without SMI_EN.APMC_EN no APM write raises an SMI; the byte reads back */
static void test_apmc_en_clear_no_smi(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 -smp 2"));
    g_autofree uint64_t *before = smi_snapshot(m);
    unsigned v;

    g_assert_cmphex(qtest_inl(m->qts, SMI_EN), ==, 0);
    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN);
    for (v = 0; v <= 0xff; v++) {
        qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, v);
        g_assert_cmpuint(qtest_inb(m->qts, ICH9_APM_CNT_IOPORT), ==, v);
    }
    assert_no_smi_since(m, before);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    machine_stop(m);
}

/*
 * Upstream QEMU ignores GBL_SMI_EN, and so do we unless asked: APMC_EN
 * alone lets an APM write raise its SMI (here from outside a vCPU: the BSP)
 */
static void test_gbl_smi_en_ignored_by_default(void)
{
    static const uint64_t bsp_only[] = { 1, 0 };
    Machine *m = machine_start(qtest_init("-machine q35 -smp 2"));
    g_autofree uint64_t *before = smi_snapshot(m);

    set_smi_en(m, ICH9_PMIO_SMI_EN_APMC_EN);
    qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, 0x42);
    assert_smi_delta(m, before, bsp_only);
    machine_stop(m);
}

/* x-gbl-smi-en: GBL_SMI_EN gates every SMI, as on ICH9 */
static void test_gbl_smi_en_clear_no_smi(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 -smp 2 "
                                          "-global ICH9-LPC.x-gbl-smi-en=on"));
    g_autofree uint64_t *before = smi_snapshot(m);

    set_smi_en(m, ICH9_PMIO_SMI_EN_APMC_EN);
    qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, 0x42);
    assert_no_smi_since(m, before);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    machine_stop(m);
}

/* ACPI enable/disable flip SCI_EN and raise no SMI */
static void test_acpi_enable_disable_no_smi(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 -smp 2"));
    g_autofree uint64_t *before = smi_snapshot(m);

    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN);
    g_assert_cmphex(qtest_inw(m->qts, PM1_CNT) & ACPI_BITMASK_SCI_ENABLE,
                    ==, 0);
    qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, ICH9_APM_ACPI_ENABLE);
    g_assert_cmphex(qtest_inw(m->qts, PM1_CNT) & ACPI_BITMASK_SCI_ENABLE, ==,
                    ACPI_BITMASK_SCI_ENABLE);
    qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, ICH9_APM_ACPI_DISABLE);
    g_assert_cmphex(qtest_inw(m->qts, PM1_CNT) & ACPI_BITMASK_SCI_ENABLE,
                    ==, 0);
    assert_no_smi_since(m, before);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    machine_stop(m);
}

/*
 * Not negotiated: unicast.  A write from outside any vCPU (here qtest)
 * goes to the BSP; upstream 7.2 crashes on this very write.
 */
static void test_unicast_from_outside_goes_to_bsp(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 -smp 4"));
    g_autofree uint64_t *before = smi_snapshot(m);
    g_autofree uint64_t *delta = g_new0(uint64_t, m->ncpus);

    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN);
    qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, 0x55);
    delta[0] = 1;
    assert_smi_delta(m, before, delta);
    g_assert_cmpuint(smi_count(m, 0, "x-smi-injected-apm-unicast"), ==, 1);
    g_assert_cmpuint(smi_count(m, 0, "x-smi-injected-apm-broadcast"), ==, 0);
    machine_stop(m);
}

/* Broadcast negotiated: every vCPU gets one SMI per write */
static void test_broadcast_reaches_every_cpu(const void *opaque)
{
    int ncpus = GPOINTER_TO_INT(opaque);
    Machine *m = machine_start(qtest_initf("-machine q35 -smp %d", ncpus));
    g_autofree uint64_t *before = NULL;
    g_autofree uint64_t *delta = g_new(uint64_t, ncpus);
    int i, writes = 3;

    g_assert_cmpint(m->ncpus, ==, ncpus);
    negotiate(m, SMI_F_BROADCAST);
    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN);
    before = smi_snapshot(m);
    for (i = 0; i < writes; i++) {
        qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, 0x10 + i);
    }
    for (i = 0; i < ncpus; i++) {
        delta[i] = writes;
    }
    assert_smi_delta(m, before, delta);
    g_assert_cmpuint(smi_count(m, ncpus - 1, "x-smi-injected-apm-broadcast"),
                     ==, writes);
    machine_stop(m);
}

/* GEN_PMCON_1.SMI_LOCK freezes GBL_SMI_EN until reset */
static void test_smi_lock_freezes_gbl_smi_en(void)
{
    Machine *m = machine_start(qtest_init("-machine q35"));

    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN);
    qpci_config_writew(m->lpc, ICH9_LPC_GEN_PMCON_1,
                       ICH9_LPC_GEN_PMCON_1_SMI_LOCK);
    g_assert_cmphex(qpci_config_readw(m->lpc, ICH9_LPC_GEN_PMCON_1) &
                    ICH9_LPC_GEN_PMCON_1_SMI_LOCK, ==,
                    ICH9_LPC_GEN_PMCON_1_SMI_LOCK);
    qtest_outl(m->qts, SMI_EN, 0);
    g_assert_cmphex(qtest_inl(m->qts, SMI_EN), ==,
                    ICH9_PMIO_SMI_EN_GBL_SMI_EN);
    /* the lock itself cannot be cleared */
    qpci_config_writew(m->lpc, ICH9_LPC_GEN_PMCON_1, 0);
    g_assert_cmphex(qpci_config_readw(m->lpc, ICH9_LPC_GEN_PMCON_1) &
                    ICH9_LPC_GEN_PMCON_1_SMI_LOCK, ==,
                    ICH9_LPC_GEN_PMCON_1_SMI_LOCK);

    machine_reset(m);
    g_assert_cmphex(qpci_config_readw(m->lpc, ICH9_LPC_GEN_PMCON_1) &
                    ICH9_LPC_GEN_PMCON_1_SMI_LOCK, ==, 0);
    g_assert_cmphex(qtest_inl(m->qts, SMI_EN), ==, 0);
    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN);
    set_smi_en(m, 0);
    machine_stop(m);
}

typedef struct SupportedFeaturesCase {
    const char *machine;
    uint64_t features;   /* 0: the files do not exist */
} SupportedFeaturesCase;

static const SupportedFeaturesCase supported_features_cases[] = {
    { "q35", SMI_F_ALL },
    { "pc-q35-7.2", SMI_F_ALL },
    { "pc-q35-6.0", SMI_F_ALL },
    { "pc-q35-5.2", SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG },
    { "pc-q35-5.1", SMI_F_BROADCAST },
    { "pc-q35-2.9", SMI_F_BROADCAST },
    { "pc-q35-2.8", 0 },
};

/* etc/smi/supported-features: 8 bytes LE, absent without features */
static void test_supported_features(const void *opaque)
{
    const SupportedFeaturesCase *c = opaque;
    QTestState *qts = qtest_initf("-machine %s", c->machine);
    QFWCFG *fw_cfg = pc_fw_cfg_init(qts);
    uint8_t le[8] = { 0 };
    size_t size;

    size = qfw_cfg_get_file(fw_cfg, "etc/smi/supported-features",
                            le, sizeof(le));
    if (c->features) {
        g_assert_cmpuint(size, ==, sizeof(le));
        g_assert_cmphex(ldq_le_p(le), ==, c->features);
    } else {
        g_assert_cmpuint(size, ==, 0);
        g_assert_cmpuint(qfw_cfg_get_file(fw_cfg, "etc/smi/features-ok",
                                          le, 1), ==, 0);
        g_assert_cmpuint(qfw_cfg_get_file(fw_cfg,
                                          "etc/smi/requested-features",
                                          le, 8), ==, 0);
    }
    pc_fw_cfg_uninit(fw_cfg);
    qtest_quit(qts);
}

/* The validation rule of docs/specs/ich9-smi.rst, written independently */
static bool request_valid(uint64_t host, uint64_t req)
{
    bool bc = req & SMI_F_BROADCAST, hp = req & SMI_F_CPU_HOTPLUG;
    bool hup = req & SMI_F_CPU_HOTUNPLUG;

    return !(req & ~host) && !((hp || hup) && !bc) && !(hup && !hp);
}

typedef struct HostConfig {
    const char *name;
    const char *args;
    uint64_t host;
} HostConfig;

#define G "-global ICH9-LPC."
static const HostConfig host_configs[] = {
    { "all", "-machine q35", SMI_F_ALL },
    { "no-hotunplug", "-machine q35 " G "x-smi-cpu-hotunplug=off",
      SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG },
    { "broadcast-only", "-machine q35 " G "x-smi-cpu-hotunplug=off "
      G "x-smi-cpu-hotplug=off", SMI_F_BROADCAST },
    { "pc-q35-5.2", "-machine pc-q35-5.2",
      SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG },
    { "pc-q35-5.1", "-machine pc-q35-5.1", SMI_F_BROADCAST },
    { "pc-q35-5.1-hotplug-on", "-machine pc-q35-5.1 "
      G "x-smi-cpu-hotplug=on", SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG },
};
#undef G

/*
 * Every request of the three bits, plus unknown bits, against one host
 * configuration: accepted exactly when valid, negotiated value as asked.
 * Alternate selector I/O and DMA for the validating select.
 */
static void test_negotiation_matrix(const void *opaque)
{
    const HostConfig *hc = opaque;
    static const uint64_t extra_requests[] = {
        1ULL << 3, SMI_F_ALL | (1ULL << 3), 1ULL << 63, UINT64_MAX,
    };
    Machine *m = machine_start(qtest_init(hc->args));
    uint64_t req;
    int i;

    g_assert_cmphex(lpc_prop(m, "x-smi-host-features"), ==, hc->host);
    for (i = 0; i < 8 + (int)ARRAY_SIZE(extra_requests); i++) {
        bool valid;
        uint8_t ok;

        req = i < 8 ? i : extra_requests[i - 8];
        valid = request_valid(hc->host, req);
        request_features(m, req);
        g_assert_cmphex(read_requested_features(m), ==, req);
        ok = (i & 1) ? features_ok_by_dma(m) : features_ok_by_io(m);
        g_assert_cmpuint(ok, ==, valid);
        g_assert_cmphex(lpc_prop(m, "x-smi-negotiated-features"), ==,
                        valid ? req : 0);
        g_assert_cmpuint(lpc_prop(m, "x-smi-features-ok"), ==, valid);
        /* reset clears requested, features-ok and negotiated */
        machine_reset(m);
        g_assert_cmphex(read_requested_features(m), ==, 0);
        g_assert_cmpuint(lpc_prop(m, "x-smi-features-ok"), ==, 0);
        g_assert_cmphex(lpc_prop(m, "x-smi-negotiated-features"), ==, 0);
    }
    machine_stop(m);
}

/* A rejected request leaves the negotiation open; an accepted one locks */
static void test_negotiation_lock(void)
{
    Machine *m = machine_start(qtest_init("-machine q35"));

    request_features(m, SMI_F_CPU_HOTPLUG);
    g_assert_cmpuint(features_ok_by_io(m), ==, 0);
    negotiate(m, SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG);

    /* locked: a new request is undone and changes nothing */
    request_features(m, SMI_F_ALL);
    g_assert_cmphex(read_requested_features(m), ==,
                    SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG);
    g_assert_cmpuint(features_ok_by_dma(m), ==, 1);
    request_features(m, 0);
    g_assert_cmpuint(features_ok_by_io(m), ==, 1);
    g_assert_cmphex(lpc_prop(m, "x-smi-negotiated-features"), ==,
                    SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG);

    machine_reset(m);
    g_assert_cmphex(lpc_prop(m, "x-smi-negotiated-features"), ==, 0);
    negotiate(m, SMI_F_ALL);
    machine_stop(m);
}

/* Malformed fw_cfg writes: defined results, no harm to the negotiation */
static void test_fw_cfg_bad_writes(void)
{
    Machine *m = machine_start(qtest_init("-machine q35"));
    uint8_t buf[16];
    uint16_t key;

    /* short write: only the bytes written change */
    request_features(m, 0);
    buf[0] = SMI_F_BROADCAST;
    g_assert_cmphex(fw_cfg_dma_write_file(m, "etc/smi/requested-features",
                                          buf, 1), ==, 0);
    g_assert_cmphex(read_requested_features(m), ==, SMI_F_BROADCAST);

    /* long write: fw_cfg refuses it as a whole */
    memset(buf, 0xff, sizeof(buf));
    g_assert_cmphex(fw_cfg_dma_write_file(m, "etc/smi/requested-features",
                                          buf, sizeof(buf)), ==,
                    FW_CFG_DMA_CTL_ERROR);
    g_assert_cmphex(read_requested_features(m), ==, SMI_F_BROADCAST);

    /* supported-features is read-only */
    g_assert_cmphex(fw_cfg_dma_write_file(m, "etc/smi/supported-features",
                                          buf, 8), ==, FW_CFG_DMA_CTL_ERROR);
    g_assert_cmphex(lpc_prop(m, "x-smi-host-features"), ==, SMI_F_ALL);

    /* a write past the end, after a skip */
    key = fw_cfg_file_key(m, "etc/smi/requested-features", NULL);
    g_assert_cmphex(fw_cfg_dma(m, ((uint32_t)key << 16) |
                               FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_SKIP,
                               NULL, 8), ==, 0);
    g_assert_cmphex(fw_cfg_dma(m, FW_CFG_DMA_CTL_WRITE, buf, 4), ==,
                    FW_CFG_DMA_CTL_ERROR);
    g_assert_cmphex(read_requested_features(m), ==, SMI_F_BROADCAST);

    /*
     * features-ok is read-only too; the DMA write selects it first, and the
     * select validates the request as usual: the written 0xff never lands.
     */
    g_assert_cmphex(fw_cfg_dma_write_file(m, "etc/smi/features-ok",
                                          buf, 1), ==, FW_CFG_DMA_CTL_ERROR);
    g_assert_cmpuint(lpc_prop(m, "x-smi-features-ok"), ==, 1);
    g_assert_cmpuint(features_ok_by_io(m), ==, 1);
    g_assert_cmphex(lpc_prop(m, "x-smi-negotiated-features"), ==,
                    SMI_F_BROADCAST);
    machine_stop(m);
}

/*
 * Each verdict on a rejected request is logged as a guest error, as
 * upstream devices log bad guest input: once per event, with -d
 * guest_errors.
 */
static void test_rejection_logged(void)
{
    g_autofree char *log = g_strdup_printf("%s/ich9-smi-log-XXXXXX",
                                           g_get_tmp_dir());
    int fd = g_mkstemp(log);
    Machine *m;
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    int i, logged = 0;

    g_assert(fd >= 0);
    close(fd);
    m = machine_start(qtest_initf("-machine q35 -d guest_errors -D %s", log));
    request_features(m, SMI_F_CPU_HOTPLUG);
    for (i = 0; i < 20; i++) {
        g_assert_cmpuint(features_ok_by_io(m), ==, 0);
    }
    machine_stop(m);

    g_assert(g_file_get_contents(log, &text, NULL, NULL));
    unlink(log);
    lines = g_strsplit(text, "\n", -1);
    for (i = 0; lines[i]; i++) {
        if (strstr(lines[i], "ICH9 SMI: features 0x2 rejected (host offers "
                   "0x7): CPU hot(un)plug with SMI requires SMI broadcast")) {
            logged++;
        }
    }
    g_assert_cmpint(logged, ==, 20);
}

/*
 * After the negotiation, a DMA write to requested-features whose source
 * cannot be read fails in fw_cfg after it has overwritten the file, with
 * no callback: the file still shows the negotiated set when read.
 */
static void test_failed_write_after_lock_restored(void)
{
    Machine *m = machine_start(qtest_init("-machine q35"));
    uint16_t key;
    uint8_t le[8];

    negotiate(m, SMI_F_BROADCAST);
    key = fw_cfg_file_key(m, "etc/smi/requested-features", NULL);
    g_assert(key);
    g_assert_cmphex(fw_cfg_dma_at(m, ((uint32_t)key << 16) |
                                  FW_CFG_DMA_CTL_SELECT |
                                  FW_CFG_DMA_CTL_WRITE,
                                  UNASSIGNED_ADDR, 8), ==,
                    FW_CFG_DMA_CTL_ERROR);
    g_assert_cmphex(lpc_prop(m, "x-smi-requested-features"), ==,
                    SMI_F_BROADCAST);
    g_assert_cmphex(read_requested_features(m), ==, SMI_F_BROADCAST);

    /* the same by DMA: a partial failed write, then a DMA read */
    g_assert_cmphex(fw_cfg_dma_at(m, ((uint32_t)key << 16) |
                                  FW_CFG_DMA_CTL_SELECT |
                                  FW_CFG_DMA_CTL_WRITE,
                                  UNASSIGNED_ADDR, 3), ==,
                    FW_CFG_DMA_CTL_ERROR);
    g_assert_cmphex(fw_cfg_dma(m, ((uint32_t)key << 16) |
                               FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ,
                               le, sizeof(le)), ==, 0);
    g_assert_cmphex(ldq_le_p(le), ==, SMI_F_BROADCAST);
    g_assert_cmpuint(features_ok_by_dma(m), ==, 1);
    g_assert_cmphex(lpc_prop(m, "x-smi-negotiated-features"), ==,
                    SMI_F_BROADCAST);

    /* before a negotiation the failed write's bytes are the request */
    machine_reset(m);
    g_assert_cmphex(fw_cfg_dma_at(m, ((uint32_t)key << 16) |
                                  FW_CFG_DMA_CTL_SELECT |
                                  FW_CFG_DMA_CTL_WRITE,
                                  UNASSIGNED_ADDR, 8), ==,
                    FW_CFG_DMA_CTL_ERROR);
    g_assert_cmpuint(features_ok_by_io(m), ==, 1);
    g_assert_cmphex(lpc_prop(m, "x-smi-negotiated-features"), ==, 0);
    machine_stop(m);
}

typedef struct HostRefusal {
    const char *name;
    const char *globals[3];     /* ICH9-LPC properties, NULL-terminated */
    const char *error;
    const char *hint;           /* NULL: none */
} HostRefusal;

/* Host feature sets that no firmware can negotiate */
static const HostRefusal host_refusals[] = {
    { "hotunplug-without-hotplug", { "x-smi-cpu-hotplug=off" },
      "x-smi-cpu-hotunplug=on requires x-smi-cpu-hotplug=on", NULL },
    { "hotplug-without-broadcast",
      { "x-smi-broadcast=off", "x-smi-cpu-hotunplug=off" },
      "x-smi-cpu-hotplug=on requires x-smi-broadcast=on",
      "Set x-smi-broadcast=on, or x-smi-cpu-hotplug=off and "
      "x-smi-cpu-hotunplug=off" },
    { "hotplug-hotunplug-without-broadcast", { "x-smi-broadcast=off" },
      "x-smi-cpu-hotplug=on requires x-smi-broadcast=on",
      "Set x-smi-broadcast=on, or x-smi-cpu-hotplug=off and "
      "x-smi-cpu-hotunplug=off" },
};

/*
 * A host feature set that no firmware can negotiate is a startup error
 * naming the properties.  QEMU exits before libqtest's QMP handshake,
 * which qtest_init() cannot expect, so this command line is run with
 * g_spawn_sync() and its exit status and stderr checked.
 */
static void test_host_features_refused(const void *opaque)
{
    const HostRefusal *r = opaque;
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) gerr = NULL;
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    int status;
    size_t i;

    g_assert(qemu);
    g_ptr_array_add(argv, g_strdup(qemu));
    g_ptr_array_add(argv, g_strdup("-machine"));
    g_ptr_array_add(argv, g_strdup("q35"));
    g_ptr_array_add(argv, g_strdup("-accel"));
    g_ptr_array_add(argv, g_strdup("qtest"));
    g_ptr_array_add(argv, g_strdup("-display"));
    g_ptr_array_add(argv, g_strdup("none"));
    g_ptr_array_add(argv, g_strdup("-nodefaults"));
    for (i = 0; i < ARRAY_SIZE(r->globals) && r->globals[i]; i++) {
        g_ptr_array_add(argv, g_strdup("-global"));
        g_ptr_array_add(argv, g_strdup_printf("ICH9-LPC.%s", r->globals[i]));
    }
    g_ptr_array_add(argv, g_strdup("-qtest"));
    g_ptr_array_add(argv, g_strdup("null"));
    g_ptr_array_add(argv, NULL);

    g_assert(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT,
                          NULL, NULL, &out, &err, &status, &gerr));
    g_test_message("QEMU said: %s", err);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    g_assert_nonnull(strstr(err, r->error));
    if (r->hint) {
        g_assert_nonnull(strstr(err, r->hint));
    }
}

/*
 * Without broadcast and without the hotplug features, what pc-q35-2.8
 * offers by default, is a valid configuration: nothing is offered.
 */
static void test_no_broadcast_without_hotplug_accepted(void)
{
    QTestState *qts = qtest_init("-machine q35 "
                                 "-global ICH9-LPC.x-smi-broadcast=off "
                                 "-global ICH9-LPC.x-smi-cpu-hotplug=off "
                                 "-global ICH9-LPC.x-smi-cpu-hotunplug=off");
    QFWCFG *fw_cfg = pc_fw_cfg_init(qts);
    uint8_t le[8];

    g_assert_cmpuint(qfw_cfg_get_file(fw_cfg, "etc/smi/supported-features",
                                      le, sizeof(le)), ==, 0);
    pc_fw_cfg_uninit(fw_cfg);
    qtest_quit(qts);
}

/* A CPU slot's place in topology order, which is cpu-index order */
static uint64_t cpu_slot_order(QDict *props)
{
    static const char *const ids[] = {
        "socket-id", "die-id", "core-id", "thread-id",
    };
    uint64_t order = 0;
    size_t i;

    for (i = 0; i < ARRAY_SIZE(ids); i++) {
        order = order << 16 | qdict_get_try_int(props, ids[i], 0);
    }
    return order;
}

/* device_add into the first free CPU slot; the QMP response, to unref */
static QDict *cpu_plug(Machine *m, const char *id)
{
    QDict *resp = qtest_qmp(m->qts, "{ 'execute': "
                            "'query-hotpluggable-cpus' }");
    QList *slots = qdict_get_qlist(resp, "return");
    QDict *first = NULL, *args;
    QListEntry *e;

    QLIST_FOREACH_ENTRY(slots, e) {
        QDict *slot = qobject_to(QDict, qlist_entry_obj(e));

        if (!qdict_haskey(slot, "qom-path") &&
            (!first || cpu_slot_order(qdict_get_qdict(slot, "props")) <
                       cpu_slot_order(qdict_get_qdict(first, "props")))) {
            first = slot;
        }
    }
    g_assert(first);
    args = qdict_clone_shallow(qdict_get_qdict(first, "props"));
    qdict_put_str(args, "driver", qdict_get_str(first, "type"));
    qdict_put_str(args, "id", id);
    qobject_unref(resp);
    return qtest_qmp(m->qts, "{ 'execute': 'device_add', 'arguments': %p }",
                     args);
}

static QDict *cpu_unplug(Machine *m, const char *id)
{
    return qtest_qmp(m->qts, "{ 'execute': 'device_del', 'arguments': "
                     "{ 'id': %s } }", id);
}

/* The ACPI CPU hotplug block in modern mode, as the firmware's AML sets */
static void cpuhp_modern(Machine *m)
{
    qtest_outb(m->qts, ICH9_CPU_HOTPLUG_IO_BASE, 0);
}

/* What the firmware does for an unplug request: eject the CPU */
static void cpuhp_eject(Machine *m, uint32_t slot)
{
    qtest_outl(m->qts, CPUHP_SELECTOR, slot);
    qtest_outb(m->qts, CPUHP_FLAGS, CPUHP_FLAG_EJECT);
}

/*
 * Firmware that negotiated broadcast without the hotplug features does not
 * get CPUs added or removed behind its back; QMP says which feature.
 * Firmware that negotiated nothing is not SMM-aware: no refusal.
 */
static void test_cpu_hotplug_refused_without_feature(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 -smp 1,maxcpus=3"));

    cpuhp_modern(m);
    assert_qmp_success(cpu_plug(m, "cpu1"));

    negotiate(m, SMI_F_BROADCAST);
    assert_qmp_error(cpu_plug(m, "cpu2"), "CPU hot-plug refused: the "
                     "firmware negotiated SMI broadcast without the "
                     "'cpu-hotplug' SMI feature (bit 1 of "
                     "etc/smi/requested-features)");
    assert_qmp_error(cpu_unplug(m, "cpu1"), "CPU hot-unplug refused: the "
                     "firmware negotiated SMI broadcast without the "
                     "'cpu-hotunplug' SMI feature (bit 2 of "
                     "etc/smi/requested-features)");
    machine_read_cpu_paths(m);
    g_assert_cmpint(m->ncpus, ==, 2);

    machine_reset(m);
    cpuhp_modern(m);
    negotiate(m, SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG);
    assert_qmp_success(cpu_plug(m, "cpu2"));
    assert_qmp_error(cpu_unplug(m, "cpu2"), "'cpu-hotunplug' SMI feature");
    machine_read_cpu_paths(m);
    g_assert_cmpint(m->ncpus, ==, 3);
    machine_stop(m);
}

/*
 * SMIs and the accounting while a CPU goes: until the firmware ejects it
 * the CPU gets every broadcast, afterwards it is gone from the list, and a
 * CPU plugged into the slot again counts from 0.
 */
static void test_smi_during_cpu_unplug(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 -smp 1,maxcpus=2"));
    g_autofree char *out = NULL;
    g_autofree uint64_t *before = NULL;
    QDict *resp;

    cpuhp_modern(m);
    negotiate(m, SMI_F_ALL);
    set_smi_en(m, ICH9_PMIO_SMI_EN_GBL_SMI_EN | ICH9_PMIO_SMI_EN_APMC_EN);
    assert_qmp_success(cpu_plug(m, "cpu1"));
    machine_read_cpu_paths(m);
    g_assert_cmpint(m->ncpus, ==, 2);

    /* unplug requested, twice: the CPU stays until the firmware acts */
    assert_qmp_success(cpu_unplug(m, "cpu1"));
    assert_qmp_success(cpu_unplug(m, "cpu1"));
    qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, 0x04);
    g_assert_cmpuint(smi_count(m, 0, "x-smi-injected"), ==, 1);
    g_assert_cmpuint(smi_count(m, 1, "x-smi-injected"), ==, 1);

    cpuhp_eject(m, 1);
    qtest_qmp_eventwait(m->qts, "DEVICE_DELETED");
    machine_read_cpu_paths(m);
    g_assert_cmpint(m->ncpus, ==, 1);
    before = smi_snapshot(m);
    qtest_outb(m->qts, ICH9_APM_CNT_IOPORT, 0x04);
    g_assert_cmpuint(smi_count(m, 0, "x-smi-injected"), ==, before[0] + 1);
    resp = qtest_qmp(m->qts, "{ 'execute': 'x-query-smi' }");
    g_assert_cmpint(qlist_size(qdict_get_qlist(qdict_get_qdict(resp,
                                                              "return"),
                                               "cpus")), ==, 1);
    qobject_unref(resp);
    out = qtest_hmp(m->qts, "info smi");
    g_assert_true(g_regex_match_simple("^ +0 +2 +2 ", out,
                                       G_REGEX_MULTILINE, 0));
    g_assert_false(g_regex_match_simple("^ +1 ", out, G_REGEX_MULTILINE, 0));

    assert_qmp_success(cpu_plug(m, "cpu1"));
    machine_read_cpu_paths(m);
    g_assert_cmpint(m->ncpus, ==, 2);
    g_assert_cmpuint(smi_count(m, 1, "x-smi-injected"), ==, 0);
    machine_stop(m);
}

int main(int argc, char **argv)
{
    static const int broadcast_cpus[] = { 1, 2, 4, Q35_MAX_XAPIC_CPUS };
    size_t i;

    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/ich9-smi/apm-sts/scratch-byte",
                   test_apm_sts_scratch_byte);
    qtest_add_func("/ich9-smi/apm/wide-write-one-smi",
                   test_apm_wide_write_one_smi);
    qtest_add_func("/ich9-smi/delivery/apmc-en-clear-no-smi",
                   test_apmc_en_clear_no_smi);
    qtest_add_func("/ich9-smi/delivery/gbl-smi-en-ignored-by-default",
                   test_gbl_smi_en_ignored_by_default);
    qtest_add_func("/ich9-smi/delivery/gbl-smi-en-clear-no-smi",
                   test_gbl_smi_en_clear_no_smi);
    qtest_add_func("/ich9-smi/delivery/acpi-enable-disable-no-smi",
                   test_acpi_enable_disable_no_smi);
    qtest_add_func("/ich9-smi/delivery/unicast-from-outside-goes-to-bsp",
                   test_unicast_from_outside_goes_to_bsp);
    for (i = 0; i < ARRAY_SIZE(broadcast_cpus); i++) {
        g_autofree char *path =
            g_strdup_printf("/ich9-smi/delivery/broadcast-reaches-every-cpu/"
                            "%d", broadcast_cpus[i]);
        qtest_add_data_func(path, GINT_TO_POINTER(broadcast_cpus[i]),
                            test_broadcast_reaches_every_cpu);
    }
    qtest_add_func("/ich9-smi/smi-lock/freezes-gbl-smi-en",
                   test_smi_lock_freezes_gbl_smi_en);
    for (i = 0; i < ARRAY_SIZE(supported_features_cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/ich9-smi/fw-cfg/supported-features/%s",
                            supported_features_cases[i].machine);
        qtest_add_data_func(path, &supported_features_cases[i],
                            test_supported_features);
    }
    for (i = 0; i < ARRAY_SIZE(host_configs); i++) {
        g_autofree char *path =
            g_strdup_printf("/ich9-smi/negotiation/matrix/%s",
                            host_configs[i].name);
        qtest_add_data_func(path, &host_configs[i], test_negotiation_matrix);
    }
    qtest_add_func("/ich9-smi/negotiation/lock-until-reset",
                   test_negotiation_lock);
    qtest_add_func("/ich9-smi/negotiation/bad-fw-cfg-writes",
                   test_fw_cfg_bad_writes);
    qtest_add_func("/ich9-smi/negotiation/rejection-logged",
                   test_rejection_logged);
    qtest_add_func("/ich9-smi/negotiation/failed-write-after-lock-restored",
                   test_failed_write_after_lock_restored);
    for (i = 0; i < ARRAY_SIZE(host_refusals); i++) {
        g_autofree char *path =
            g_strdup_printf("/ich9-smi/host/refused/%s",
                            host_refusals[i].name);
        qtest_add_data_func(path, &host_refusals[i],
                            test_host_features_refused);
    }
    qtest_add_func("/ich9-smi/host/no-broadcast-without-hotplug-accepted",
                   test_no_broadcast_without_hotplug_accepted);
    qtest_add_func("/ich9-smi/hotplug/refused-without-feature",
                   test_cpu_hotplug_refused_without_feature);
    qtest_add_func("/ich9-smi/hotplug/smi-during-cpu-unplug",
                   test_smi_during_cpu_unplug);
    return g_test_run();
}
