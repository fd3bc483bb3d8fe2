/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QTest of the ICH9 SMI block as firmware drives it: PMBASE and ACPI
 * enable in the LPC config space, SMI_EN/SMI_STS, the APM ports, and the
 * etc/smi fw_cfg negotiation by selector I/O and by DMA.  Every delivery
 * test asserts the SMIs each vCPU received, read from the per-vCPU
 * accounting (docs/specs/ich9-smi.rst).
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/timer.h"
#include "libqtest.h"
#include "libqos/fw_cfg.h"
#include "libqos/pci.h"
#include "libqos/pci-pc.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qstring.h"
#include "qobject/qnum.h"
#include "standard-headers/linux/qemu_fw_cfg.h"
#include "migration/migration-qmp.h"
#include "migration/migration-util.h"

#define APM_CNT_PORT 0xb2
#define APM_STS_PORT 0xb3

#define LPC_DEVFN           QPCI_DEVFN(0x1f, 0)
#define LPC_PMBASE          0x40
#define LPC_ACPI_CTRL       0x44
#define LPC_ACPI_CTRL_EN    0x80
#define LPC_GEN_PMCON_1     0xa0
#define GEN_PMCON_1_SMI_LOCK (1 << 4)

#define PMBASE              0x600
#define PM1_CNT             (PMBASE + 0x04)
#define PM1_CNT_SCI_EN      (1 << 0)
#define SMI_EN              (PMBASE + 0x30)
#define SMI_EN_GBL_SMI_EN   (1 << 0)
#define SMI_EN_APMC_EN      (1 << 5)
#define SMI_STS             (PMBASE + 0x34)
#define SMI_STS_APM_STS     (1 << 5)
#define SMI_EN_SWSMI_TMR_EN (1 << 6)
#define SMI_EN_PERIODIC_EN  (1 << 14)
#define SMI_STS_SWSMI_TMR_STS (1 << 6)
#define SMI_STS_PERIODIC_STS  (1 << 14)
#define LPC_GEN_PMCON_3     0xa4
#define SMI_STS_IMPLEMENTED (SMI_STS_APM_STS | SMI_STS_SWSMI_TMR_STS | \
                             SMI_STS_PERIODIC_STS)

#define APM_ACPI_ENABLE     0x02
#define APM_ACPI_DISABLE    0x03

#define SMI_F_BROADCAST     (1ULL << 0)
#define SMI_F_CPU_HOTPLUG   (1ULL << 1)
#define SMI_F_CPU_HOTUNPLUG (1ULL << 2)
#define SMI_F_ALL (SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG | SMI_F_CPU_HOTUNPLUG)

#define FW_CFG_IO_DMA_ADDR  0x514
/* guest RAM the fw_cfg DMA tests use for descriptors and data */
#define DMA_DESC_ADDR       0x100000
#define DMA_DATA_ADDR       0x101000
/* no RAM and no device there: a DMA read from it fails */
#define UNASSIGNED_ADDR     (1ULL << 44)

/* ACPI CPU hotplug register block (docs/specs/acpi_cpu_hotplug.rst) */
#define CPUHP_IO            0x0cd8
#define CPUHP_SELECTOR      (CPUHP_IO + 0)
#define CPUHP_FLAGS         (CPUHP_IO + 4)
#define CPUHP_FLAG_EJECT    (1 << 3)

/* The most vCPUs q35 runs without an x2APIC-capable interrupt remapper */
#define Q35_MAX_XAPIC_CPUS  255

typedef struct Machine {
    QTestState *qts;
    QPCIBus *pcibus;
    QPCIDevice *lpc;
    QFWCFG *fw_cfg;
    int ncpus;
    char **cpu_paths;
} Machine;

static void machine_read_cpu_paths(Machine *m)
{
    QDict *resp = qtest_qmp(m->qts, "{ 'execute': 'query-cpus-fast' }");
    QList *cpus = qdict_get_qlist(resp, "return");
    QListEntry *e;
    int i = 0;

    g_strfreev(m->cpu_paths);
    m->ncpus = qlist_size(cpus);
    m->cpu_paths = g_new0(char *, m->ncpus + 1);
    QLIST_FOREACH_ENTRY(cpus, e) {
        QDict *cpu = qobject_to(QDict, qlist_entry_obj(e));

        g_assert_cmpint(qdict_get_int(cpu, "cpu-index"), ==, i);
        m->cpu_paths[i++] = g_strdup(qdict_get_str(cpu, "qom-path"));
    }
    qobject_unref(resp);
}

/* PMBASE and ACPI enable, as firmware programs them first. */
static void machine_enable_pmio(Machine *m)
{
    qpci_config_writel(m->lpc, LPC_PMBASE, PMBASE | 1);
    qpci_config_writeb(m->lpc, LPC_ACPI_CTRL, LPC_ACPI_CTRL_EN);
}

/* Take over a started QEMU: qtest_initf() gives the command line. */
static Machine *machine_start(QTestState *qts)
{
    Machine *m = g_new0(Machine, 1);

    m->qts = qts;
    m->pcibus = qpci_new_pc(m->qts, NULL);
    m->lpc = qpci_device_find(m->pcibus, LPC_DEVFN);
    g_assert(m->lpc);
    m->fw_cfg = pc_fw_cfg_init(m->qts);
    machine_read_cpu_paths(m);
    machine_enable_pmio(m);
    return m;
}

static void machine_stop(Machine *m)
{
    g_strfreev(m->cpu_paths);
    pc_fw_cfg_uninit(m->fw_cfg);
    g_free(m->lpc);
    qpci_free_pc(m->pcibus);
    qtest_quit(m->qts);
    g_free(m);
}

static void machine_reset(Machine *m)
{
    qtest_qmp_assert_success(m->qts, "{ 'execute': 'system_reset' }");
    qtest_qmp_eventwait(m->qts, "RESET");
    machine_enable_pmio(m);
}

static uint64_t qom_get_uint(QTestState *qts, const char *path,
                             const char *prop)
{
    QDict *resp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': "
                            "{ 'path': %s, 'property': %s } }", path, prop);
    uint64_t val;

    g_assert(qdict_haskey(resp, "return"));
    val = qnum_get_uint(qobject_to(QNum, qdict_get(resp, "return")));
    qobject_unref(resp);
    return val;
}

static uint64_t smi_count(Machine *m, int cpu, const char *prop)
{
    return qom_get_uint(m->qts, m->cpu_paths[cpu], prop);
}

static uint64_t lpc_prop(Machine *m, const char *prop)
{
    return qom_get_uint(m->qts, "/machine/acpi-device", prop);
}

/* Every vCPU's x-smi-injected, in one array the caller frees. */
static uint64_t *smi_snapshot(Machine *m)
{
    uint64_t *counts = g_new(uint64_t, m->ncpus);
    int i;

    for (i = 0; i < m->ncpus; i++) {
        counts[i] = smi_count(m, i, "x-smi-injected");
    }
    return counts;
}

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

/* fw_cfg: the directory, selector I/O and DMA as firmware uses them */

static uint16_t fw_cfg_file_key(Machine *m, const char *name, uint32_t *size)
{
    uint32_t count, i;
    struct fw_cfg_file f;

    qfw_cfg_select(m->fw_cfg, FW_CFG_FILE_DIR);
    qfw_cfg_read_data(m->fw_cfg, &count, sizeof(count));
    count = be32_to_cpu(count);
    for (i = 0; i < count; i++) {
        qfw_cfg_read_data(m->fw_cfg, &f, sizeof(f));
        if (!strcmp(f.name, name)) {
            if (size) {
                *size = be32_to_cpu(f.size);
            }
            return be16_to_cpu(f.select);
        }
    }
    return 0;
}

/* One fw_cfg DMA operation on guest memory at @addr; the end control. */
static uint32_t fw_cfg_dma_at(Machine *m, uint32_t control, uint64_t addr,
                              uint32_t len)
{
    struct fw_cfg_dma_access desc = {
        .control = cpu_to_be32(control),
        .length = cpu_to_be32(len),
        .address = cpu_to_be64(addr),
    };

    qtest_memwrite(m->qts, DMA_DESC_ADDR, &desc, sizeof(desc));
    /* big endian register: high half first, the low half starts it */
    qtest_outl(m->qts, FW_CFG_IO_DMA_ADDR, cpu_to_be32(0));
    qtest_outl(m->qts, FW_CFG_IO_DMA_ADDR + 4, cpu_to_be32(DMA_DESC_ADDR));
    qtest_memread(m->qts, DMA_DESC_ADDR, &desc, sizeof(desc));
    return be32_to_cpu(desc.control);
}

/* One fw_cfg DMA operation; returns the control word it ends with. */
static uint32_t fw_cfg_dma(Machine *m, uint32_t control, void *buf,
                           uint32_t len)
{
    uint32_t end;

    if (buf && (control & FW_CFG_DMA_CTL_WRITE)) {
        qtest_memwrite(m->qts, DMA_DATA_ADDR, buf, len);
    }
    end = fw_cfg_dma_at(m, control, DMA_DATA_ADDR, len);
    if (buf && (control & FW_CFG_DMA_CTL_READ)) {
        qtest_memread(m->qts, DMA_DATA_ADDR, buf, len);
    }
    return end;
}

static uint32_t fw_cfg_dma_write_file(Machine *m, const char *name,
                                      const void *data, uint32_t len)
{
    uint16_t key = fw_cfg_file_key(m, name, NULL);
    g_autofree void *copy = g_memdup2(data, len);

    g_assert(key);
    return fw_cfg_dma(m, ((uint32_t)key << 16) | FW_CFG_DMA_CTL_SELECT |
                      FW_CFG_DMA_CTL_WRITE, copy, len);
}

static void request_features(Machine *m, uint64_t features)
{
    uint8_t le[8];

    stq_le_p(le, features);
    g_assert_cmphex(fw_cfg_dma_write_file(m, "etc/smi/requested-features",
                                          le, sizeof(le)), ==, 0);
}

static uint64_t read_requested_features(Machine *m)
{
    uint8_t le[8];
    uint32_t size;
    uint16_t key = fw_cfg_file_key(m, "etc/smi/requested-features", &size);

    g_assert_cmpuint(size, ==, sizeof(le));
    qfw_cfg_get(m->fw_cfg, key, le, sizeof(le));
    return ldq_le_p(le);
}

/* Select features-ok (that validates) and read the verdict. */
static uint8_t features_ok_by_io(Machine *m)
{
    uint16_t key = fw_cfg_file_key(m, "etc/smi/features-ok", NULL);
    uint8_t ok = 0xff;

    g_assert(key);
    qfw_cfg_get(m->fw_cfg, key, &ok, 1);
    return ok;
}

static uint8_t features_ok_by_dma(Machine *m)
{
    uint16_t key = fw_cfg_file_key(m, "etc/smi/features-ok", NULL);
    uint8_t ok = 0xff;

    g_assert(key);
    g_assert_cmphex(fw_cfg_dma(m, ((uint32_t)key << 16) |
                               FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ,
                               &ok, 1), ==, 0);
    return ok;
}

static void negotiate(Machine *m, uint64_t features)
{
    request_features(m, features);
    g_assert_cmpuint(features_ok_by_io(m), ==, 1);
    g_assert_cmphex(lpc_prop(m, "x-smi-negotiated-features"), ==, features);
}

static void set_smi_en(Machine *m, uint32_t val)
{
    qtest_outl(m->qts, SMI_EN, val);
    g_assert_cmphex(qtest_inl(m->qts, SMI_EN), ==, val);
}

/* Tests */

/* APM_STS is a scratch byte firmware uses to pass an argument to SMM. */
static void test_apm_sts_scratch_byte(void)
{
    Machine *m = machine_start(qtest_init("-machine q35"));
    unsigned v;

    g_assert_cmpuint(qtest_inb(m->qts, APM_STS_PORT), ==, 0);
    for (v = 0; v <= 0xff; v++) {
        qtest_outb(m->qts, APM_STS_PORT, v);
        g_assert_cmpuint(qtest_inb(m->qts, APM_STS_PORT), ==, v);
    }
    machine_stop(m);
}

/* Without SMI_EN.APMC_EN no APM write raises an SMI; the byte reads back */
static void test_apmc_en_clear_no_smi(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 -smp 2"));
    g_autofree uint64_t *before = smi_snapshot(m);
    unsigned v;

    g_assert_cmphex(qtest_inl(m->qts, SMI_EN), ==, 0);
    set_smi_en(m, SMI_EN_GBL_SMI_EN);
    for (v = 0; v <= 0xff; v++) {
        qtest_outb(m->qts, APM_CNT_PORT, v);
        g_assert_cmpuint(qtest_inb(m->qts, APM_CNT_PORT), ==, v);
    }
    assert_no_smi_since(m, before);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    machine_stop(m);
}

/* GBL_SMI_EN gates every SMI, as on ICH9 (docs/specs/ich9-smi.rst) */
static void test_gbl_smi_en_clear_no_smi(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 -smp 2"));
    g_autofree uint64_t *before = smi_snapshot(m);

    set_smi_en(m, SMI_EN_APMC_EN);
    qtest_outb(m->qts, APM_CNT_PORT, 0x42);
    assert_no_smi_since(m, before);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    machine_stop(m);
}

/* ACPI enable/disable flip SCI_EN and raise no SMI */
static void test_acpi_enable_disable_no_smi(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 -smp 2"));
    g_autofree uint64_t *before = smi_snapshot(m);

    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN);
    g_assert_cmphex(qtest_inw(m->qts, PM1_CNT) & PM1_CNT_SCI_EN, ==, 0);
    qtest_outb(m->qts, APM_CNT_PORT, APM_ACPI_ENABLE);
    g_assert_cmphex(qtest_inw(m->qts, PM1_CNT) & PM1_CNT_SCI_EN, ==,
                    PM1_CNT_SCI_EN);
    qtest_outb(m->qts, APM_CNT_PORT, APM_ACPI_DISABLE);
    g_assert_cmphex(qtest_inw(m->qts, PM1_CNT) & PM1_CNT_SCI_EN, ==, 0);
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

    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN);
    qtest_outb(m->qts, APM_CNT_PORT, 0x55);
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
    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN);
    before = smi_snapshot(m);
    for (i = 0; i < writes; i++) {
        qtest_outb(m->qts, APM_CNT_PORT, 0x10 + i);
    }
    for (i = 0; i < ncpus; i++) {
        delta[i] = writes;
    }
    assert_smi_delta(m, before, delta);
    g_assert_cmpuint(smi_count(m, ncpus - 1, "x-smi-injected-apm-broadcast"),
                     ==, writes);
    machine_stop(m);
}

/* SMI_STS.APM_STS: set by an APM SMI, cleared by writing 1 */
static void test_smi_sts_apm_set_and_clear(void)
{
    Machine *m = machine_start(qtest_init("-machine q35"));

    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    qtest_outb(m->qts, APM_CNT_PORT, 0x77);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, SMI_STS_APM_STS);
    qtest_outl(m->qts, SMI_STS, ~SMI_STS_APM_STS);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, SMI_STS_APM_STS);
    qtest_outl(m->qts, SMI_STS, SMI_STS_APM_STS);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    /* ACPI enable raises no SMI, so no status either */
    qtest_outb(m->qts, APM_CNT_PORT, APM_ACPI_ENABLE);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    machine_stop(m);
}

/* GEN_PMCON_1.SMI_LOCK freezes GBL_SMI_EN until reset */
static void test_smi_lock_freezes_gbl_smi_en(void)
{
    Machine *m = machine_start(qtest_init("-machine q35"));

    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN);
    qpci_config_writew(m->lpc, LPC_GEN_PMCON_1, GEN_PMCON_1_SMI_LOCK);
    g_assert_cmphex(qpci_config_readw(m->lpc, LPC_GEN_PMCON_1) &
                    GEN_PMCON_1_SMI_LOCK, ==, GEN_PMCON_1_SMI_LOCK);
    qtest_outl(m->qts, SMI_EN, 0);
    g_assert_cmphex(qtest_inl(m->qts, SMI_EN), ==, SMI_EN_GBL_SMI_EN);
    /* the lock itself cannot be cleared */
    qpci_config_writew(m->lpc, LPC_GEN_PMCON_1, 0);
    g_assert_cmphex(qpci_config_readw(m->lpc, LPC_GEN_PMCON_1) &
                    GEN_PMCON_1_SMI_LOCK, ==, GEN_PMCON_1_SMI_LOCK);

    machine_reset(m);
    g_assert_cmphex(qpci_config_readw(m->lpc, LPC_GEN_PMCON_1) &
                    GEN_PMCON_1_SMI_LOCK, ==, 0);
    g_assert_cmphex(qtest_inl(m->qts, SMI_EN), ==, 0);
    set_smi_en(m, SMI_EN_GBL_SMI_EN);
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
    { "hotplug-no-broadcast", "-machine q35 " G "x-smi-broadcast=off "
      G "x-smi-cpu-hotunplug=off", SMI_F_CPU_HOTPLUG },
    { "hotplug-hotunplug-no-broadcast", "-machine q35 "
      G "x-smi-broadcast=off", SMI_F_CPU_HOTPLUG | SMI_F_CPU_HOTUNPLUG },
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

/* A rejected request is logged as a guest error, at most once a second */
static void test_rejection_logged_rate_limited(void)
{
    g_autofree char *log = g_strdup_printf("%s/ich9-smi-log-XXXXXX",
                                           g_get_tmp_dir());
    int fd = g_mkstemp(log);
    Machine *m;
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    int64_t start, elapsed_ms;
    int i, logged = 0;

    g_assert(fd >= 0);
    close(fd);
    m = machine_start(qtest_initf("-machine q35 -d guest_errors -D %s", log));
    request_features(m, SMI_F_CPU_HOTPLUG);
    start = g_get_monotonic_time();
    for (i = 0; i < 20; i++) {
        g_assert_cmpuint(features_ok_by_io(m), ==, 0);
    }
    elapsed_ms = (g_get_monotonic_time() - start) / 1000;
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
    g_assert_cmpint(logged, >=, 1);
    g_assert_cmpint(logged, <=, 1 + elapsed_ms / 1000);
}

/* x-smi-cpu-hotunplug without x-smi-cpu-hotplug: a clear startup error */
static void test_hotunplug_without_hotplug_refused(void)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) gerr = NULL;
    const char *argv[] = {
        qemu, "-machine", "q35", "-accel", "qtest", "-display", "none",
        "-nodefaults", "-global", "ICH9-LPC.x-smi-cpu-hotplug=off",
        "-qtest", "null", NULL
    };
    int status;

    g_assert(qemu);
    g_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL,
                          NULL, &out, &err, &status, &gerr));
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    g_assert_nonnull(strstr(err, "x-smi-cpu-hotunplug=on requires "
                                 "x-smi-cpu-hotplug=on"));
}

/* query-smi reports the chipset and every vCPU */
static void test_query_smi(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 -smp 2"));
    QDict *resp, *ret, *chipset, *cpu;
    QList *cpus;

    negotiate(m, SMI_F_BROADCAST);
    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN);
    qtest_outb(m->qts, APM_CNT_PORT, 0x99);

    resp = qtest_qmp(m->qts, "{ 'execute': 'query-smi' }");
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
                    SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN);
    g_assert_cmphex(qdict_get_int(chipset, "smi-sts"), ==, SMI_STS_APM_STS);
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
 * an SMI raised here stays latched, which is exactly what query-smi
 * must show; the application processor waits for SIPI.
 */
static void test_query_smi_diagnosis(void)
{
    Machine *m = machine_start(qtest_init("-machine q35 -smp 2"));
    static const char *const en_bits[] = {
        "GBL_SMI_EN", "APMC_EN", "SWSMI_TMR_EN", "bit 9", "PERIODIC_EN",
        NULL
    };
    static const char *const sts_bits[] = { "APM_STS", NULL };
    static const char *const none[] = { NULL };
    QDict *resp, *ret, *chipset, *cpu;
    QListEntry *e;
    int i = 0;

    resp = qtest_qmp(m->qts, "{ 'execute': 'query-smi' }");
    chipset = qdict_get_qdict(qdict_get_qdict(resp, "return"), "chipset");
    assert_bit_names(chipset, "smi-en-bits", none);
    assert_bit_names(chipset, "smi-sts-bits", none);
    qobject_unref(resp);

    negotiate(m, SMI_F_BROADCAST);
    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN | SMI_EN_SWSMI_TMR_EN |
               BIT(9) | SMI_EN_PERIODIC_EN);
    qtest_outb(m->qts, APM_STS_PORT, 0x42);
    qtest_outb(m->qts, APM_CNT_PORT, 0x99);

    resp = qtest_qmp(m->qts, "{ 'execute': 'query-smi' }");
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
        g_assert_cmphex(qdict_get_int(cpu, "smbase"), ==, 0x30000);
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
    Machine *m = machine_start(qtest_init("-machine q35 -smp 2"));
    g_autofree char *out = NULL;

    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN);
    qtest_outb(m->qts, APM_CNT_PORT, 0x99);
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

    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN);
    qtest_outb(m->qts, APM_CNT_PORT, 0x11);
    machine_reset(m);
    g_assert_cmpuint(smi_count(m, 0, "x-smi-injected"), ==, 1);
    machine_stop(m);
}

/* Negotiated state, SMI_EN and SMI_STS survive migration */
static void test_migration_keeps_smi_state(void)
{
    g_autofree char *tmp = g_dir_make_tmp("ich9-smi-XXXXXX", NULL);
    g_autofree char *sock = g_strdup_printf("%s/migsock", tmp);
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    Machine *src = machine_start(qtest_init("-machine q35 -smp 2"));
    Machine *dst;

    dst = machine_start(qtest_initf("-machine q35 -smp 2 -incoming %s", uri));
    negotiate(src, SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG);
    set_smi_en(src, SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN);
    qtest_outb(src->qts, APM_CNT_PORT, 0x42);
    qtest_outb(src->qts, APM_STS_PORT, 0x5a);

    migrate_qmp(src->qts, NULL, uri, NULL, "{}");
    wait_for_migration_complete(src->qts);
    qtest_qmp_eventwait(dst->qts, "RESUME");

    g_assert_cmphex(lpc_prop(dst, "x-smi-negotiated-features"), ==,
                    SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG);
    g_assert_cmpuint(features_ok_by_io(dst), ==, 1);
    g_assert_cmphex(read_requested_features(dst), ==,
                    SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG);
    g_assert_cmphex(qtest_inl(dst->qts, SMI_EN), ==,
                    SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN);
    g_assert_cmphex(qtest_inl(dst->qts, SMI_STS), ==, SMI_STS_APM_STS);
    g_assert_cmpuint(qtest_inb(dst->qts, APM_CNT_PORT), ==, 0x42);
    g_assert_cmpuint(qtest_inb(dst->qts, APM_STS_PORT), ==, 0x5a);
    /* still locked, still broadcasting on the destination */
    request_features(dst, 0);
    g_assert_cmpuint(features_ok_by_io(dst), ==, 1);
    qtest_outb(dst->qts, APM_CNT_PORT, 0x43);
    g_assert_cmpuint(smi_count(dst, 1, "x-smi-injected-apm-broadcast"),
                     ==, 1);

    machine_stop(src);
    machine_stop(dst);
    unlink(sock);
    rmdir(tmp);
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

    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN);
    qtest_outl(m->qts, APM_CNT_PORT, 0x11223344);
    delta[0] = 1;
    assert_smi_delta(m, before, delta);
    g_assert_cmphex(qtest_inb(m->qts, APM_CNT_PORT), ==, 0x44);
    g_assert_cmphex(qtest_inb(m->qts, APM_STS_PORT), ==, 0x33);
    g_assert_cmphex(qtest_inl(m->qts, APM_CNT_PORT), ==, 0xffff3344);

    /* a 16-bit OUT writes both, as firmware passing an argument does */
    qtest_outw(m->qts, APM_CNT_PORT, 0x5566);
    delta[0] = 2;
    assert_smi_delta(m, before, delta);
    g_assert_cmphex(qtest_inw(m->qts, APM_CNT_PORT), ==, 0x5566);
    machine_stop(m);
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

/* Migration streams changed on their way: saved to a file, then edited */

static void save_state(Machine *m, const char *path)
{
    g_autofree char *uri = g_strdup_printf("exec:cat > '%s'", path);

    migrate_qmp(m->qts, NULL, uri, NULL, "{}");
    wait_for_migration_complete(m->qts);
}

/* The bytes after @marker in the stream, which has it exactly once */
static uint8_t *stream_find(uint8_t *data, size_t len, const void *marker,
                            size_t marker_len, size_t field_len)
{
    uint8_t *p = memmem(data, len, marker, marker_len);
    size_t rest;

    g_assert_nonnull(p);
    rest = len - (p - data) - 1;
    g_assert_null(memmem(p + 1, rest, marker, marker_len));
    p += marker_len;
    g_assert(p + field_len <= data + len);
    return p;
}

typedef struct NegotiationStream {
    const char *name;
    const char *dst_args;       /* NULL: the source's */
    uint64_t requested;
    uint8_t features_ok;
    uint64_t negotiated;
    const char *error;          /* NULL: the destination takes it */
} NegotiationStream;

/*
 * The ICH9LPC/smi_feat subsection: QEMU_VM_SUBSECTION, the name's length
 * and the name, its version, then requested-features (8 bytes LE),
 * features-ok, the negotiated set (be64).
 */
static void stream_set_negotiation(const char *path,
                                   const NegotiationStream *n)
{
    static const char marker[] = "\x05\x10" "ICH9LPC/smi_feat";
    g_autofree char *text = NULL;
    gsize len;
    uint8_t *p;

    g_assert(g_file_get_contents(path, &text, &len, NULL));
    p = stream_find((uint8_t *)text, len, marker, sizeof(marker) - 1,
                    4 + 8 + 1 + 8);
    p += 4;
    stq_le_p(p, n->requested);
    p[8] = n->features_ok;
    stq_be_p(p + 9, n->negotiated);
    g_assert(g_file_set_contents(path, text, len, NULL));
}

/* Load @path into a new QEMU, which must refuse it, saying @error. */
static void assert_load_refused(const char *args, const char *path,
                                const char *error)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *cmd = NULL;
    g_auto(GStrv) argv = NULL;
    g_autoptr(GError) gerr = NULL;
    g_autoptr(GString) err = g_string_new(NULL);
    char buf[512];
    ssize_t n;
    GPid pid;
    int err_fd, status, waited_ms = 0;

    g_assert(qemu);
    cmd = g_strdup_printf("%s %s -accel qtest -display none -qtest null "
                          "-incoming 'exec:cat %s'", qemu, args, path);
    g_assert(g_shell_parse_argv(cmd, NULL, &argv, &gerr));
    g_assert(g_spawn_async_with_pipes(NULL, argv, NULL,
                                      G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                      &pid, NULL, NULL, &err_fd, &gerr));
    /* a destination that took the stream would run for ever */
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (waited_ms >= 60 * 1000) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            g_assert_not_reached();
        }
        g_usleep(10 * 1000);
        waited_ms += 10;
    }
    while ((n = read(err_fd, buf, sizeof(buf))) > 0) {
        g_string_append_len(err, buf, n);
    }
    close(err_fd);
    g_spawn_close_pid(pid);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == EXIT_FAILURE);
    if (!strstr(err->str, error)) {
        g_test_message("destination said: %s", err->str);
        g_assert_nonnull(strstr(err->str, error));
    }
}

#define SRC_ARGS "-machine q35 -nodefaults"

static const NegotiationStream invalid_negotiation_streams[] = {
    { "features-ok-2", NULL, SMI_F_BROADCAST, 2, SMI_F_BROADCAST,
      "ICH9 SMI: incoming features-ok 2 is not 0 or 1" },
    { "negotiated-without-features-ok", NULL, SMI_F_BROADCAST, 0,
      SMI_F_BROADCAST, "ICH9 SMI: incoming negotiated features 0x1 without "
      "features-ok" },
    { "unknown-bit", NULL, SMI_F_ALL | (1ULL << 3), 1,
      SMI_F_ALL | (1ULL << 3), "unknown feature bits requested" },
    { "hotplug-without-broadcast", NULL, SMI_F_CPU_HOTPLUG, 1,
      SMI_F_CPU_HOTPLUG, "requires SMI broadcast" },
    { "not-offered-here", SRC_ARGS " -global ICH9-LPC.x-smi-cpu-hotunplug=off",
      SMI_F_ALL, 1, SMI_F_ALL, "ICH9 SMI: incoming negotiated features 0x7 "
      "invalid here (host offers 0x3): a requested feature is not offered "
      "by the host" },
};

/*
 * A stream whose negotiation this destination could not have reached is
 * refused: the destination fails the migration (and the source, which
 * would keep running, is not involved here).
 */
static void test_migration_refuses_invalid_negotiation(void)
{
    g_autofree char *tmp = g_dir_make_tmp("ich9-smi-XXXXXX", NULL);
    g_autofree char *saved = g_strdup_printf("%s/saved", tmp);
    g_autofree char *text = NULL;
    Machine *src = machine_start(qtest_init(SRC_ARGS));
    gsize len;
    size_t i;

    negotiate(src, SMI_F_ALL);
    save_state(src, saved);
    machine_stop(src);
    g_assert(g_file_get_contents(saved, &text, &len, NULL));

    for (i = 0; i < ARRAY_SIZE(invalid_negotiation_streams); i++) {
        const NegotiationStream *n = &invalid_negotiation_streams[i];
        g_autofree char *path = g_strdup_printf("%s/%s", tmp, n->name);

        g_test_message("stream %s", n->name);
        g_assert(g_file_set_contents(path, text, len, NULL));
        stream_set_negotiation(path, n);
        assert_load_refused(n->dst_args ?: SRC_ARGS, path, n->error);
        unlink(path);
    }
    unlink(saved);
    rmdir(tmp);
}

/*
 * What the destination fixes as it loads: requested-features that changed
 * after the negotiation (upstream 7.2 keeps such a write) shows the
 * negotiated set again, and SMI_STS bits this model never sets read 0.
 */
static void test_migration_normalizes_on_load(void)
{
    static const NegotiationStream late_request = {
        "late-request", NULL, SMI_F_ALL, 1,
        SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG, NULL
    };
    /* SMI_EN (unusual, to find it) then SMI_STS, in ich9_pm */
    const uint32_t smi_en = 0x5ac38400 | SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN;
    g_autofree char *tmp = g_dir_make_tmp("ich9-smi-XXXXXX", NULL);
    g_autofree char *path = g_strdup_printf("%s/state", tmp);
    g_autofree char *uri = g_strdup_printf("exec:cat '%s'", path);
    g_autofree char *text = NULL;
    Machine *src = machine_start(qtest_init(SRC_ARGS));
    Machine *dst;
    uint8_t marker[8];
    uint8_t *p;
    gsize len;

    negotiate(src, late_request.negotiated);
    set_smi_en(src, smi_en);
    qtest_outb(src->qts, APM_CNT_PORT, 0x42);
    g_assert_cmphex(qtest_inl(src->qts, SMI_STS), ==, SMI_STS_APM_STS);
    save_state(src, path);
    machine_stop(src);

    stream_set_negotiation(path, &late_request);
    g_assert(g_file_get_contents(path, &text, &len, NULL));
    stl_be_p(marker, smi_en);
    stl_be_p(marker + 4, SMI_STS_APM_STS);
    p = stream_find((uint8_t *)text, len, marker, sizeof(marker), 0);
    stl_be_p(p - 4, UINT32_MAX);
    g_assert(g_file_set_contents(path, text, len, NULL));

    dst = machine_start(qtest_init(SRC_ARGS " -incoming defer"));
    qtest_qmp_assert_success(dst->qts, "{ 'execute': 'migrate-incoming', "
                             "'arguments': { 'uri': %s } }", uri);
    qtest_qmp_eventwait(dst->qts, "RESUME");

    g_assert_cmphex(read_requested_features(dst), ==,
                    late_request.negotiated);
    g_assert_cmphex(lpc_prop(dst, "x-smi-requested-features"), ==,
                    late_request.negotiated);
    g_assert_cmphex(lpc_prop(dst, "x-smi-negotiated-features"), ==,
                    late_request.negotiated);
    g_assert_cmpuint(features_ok_by_io(dst), ==, 1);
    g_assert_cmphex(qtest_inl(dst->qts, SMI_EN), ==, smi_en);
    /* the bits this model sets on this machine type: APM and the timers */
    g_assert_cmphex(qtest_inl(dst->qts, SMI_STS), ==, SMI_STS_IMPLEMENTED);
    g_assert_cmphex(lpc_prop(dst, "x-smi-sts"), ==, SMI_STS_IMPLEMENTED);
    qtest_outl(dst->qts, SMI_STS, SMI_STS_IMPLEMENTED);
    g_assert_cmphex(qtest_inl(dst->qts, SMI_STS), ==, 0);
    machine_stop(dst);
    unlink(path);
    rmdir(tmp);
}

/* CPU hot(un)plug */

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

static void assert_qmp_error(QDict *resp, const char *text)
{
    QDict *error = qdict_get_qdict(resp, "error");

    g_assert_nonnull(error);
    g_assert_nonnull(strstr(qdict_get_str(error, "desc"), text));
    qobject_unref(resp);
}

static void assert_qmp_success(QDict *resp)
{
    g_assert(qdict_haskey(resp, "return"));
    qobject_unref(resp);
}

/* The ACPI CPU hotplug block in modern mode, as the firmware's AML sets */
static void cpuhp_modern(Machine *m)
{
    qtest_outb(m->qts, CPUHP_IO, 0);
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
    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN);
    assert_qmp_success(cpu_plug(m, "cpu1"));
    machine_read_cpu_paths(m);
    g_assert_cmpint(m->ncpus, ==, 2);

    /* unplug requested, twice: the CPU stays until the firmware acts */
    assert_qmp_success(cpu_unplug(m, "cpu1"));
    assert_qmp_success(cpu_unplug(m, "cpu1"));
    qtest_outb(m->qts, APM_CNT_PORT, 0x04);
    g_assert_cmpuint(smi_count(m, 0, "x-smi-injected"), ==, 1);
    g_assert_cmpuint(smi_count(m, 1, "x-smi-injected"), ==, 1);

    cpuhp_eject(m, 1);
    qtest_qmp_eventwait(m->qts, "DEVICE_DELETED");
    machine_read_cpu_paths(m);
    g_assert_cmpint(m->ncpus, ==, 1);
    before = smi_snapshot(m);
    qtest_outb(m->qts, APM_CNT_PORT, 0x04);
    g_assert_cmpuint(smi_count(m, 0, "x-smi-injected"), ==, before[0] + 1);
    resp = qtest_qmp(m->qts, "{ 'execute': 'query-smi' }");
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
        QDict *resp = qtest_qmp(qts, "{ 'execute': 'query-smi' }");
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
    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN);
    qtest_outb(m->qts, APM_CNT_PORT, 0x42);
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

/* The software SMI timer and the periodic SMI timer */

/* The virtual clock, read by moving it 1 ns: qtest cannot step by 0 */
static int64_t clock_now(Machine *m)
{
    return qtest_clock_step(m->qts, 1);
}

/* The timer's next expiry from query-smi, -1 when stopped */
static int64_t timer_deadline(Machine *m, const char *member)
{
    QDict *resp = qtest_qmp(m->qts, "{ 'execute': 'query-smi' }");
    QDict *chipset = qdict_get_qdict(qdict_get_qdict(resp, "return"),
                                     "chipset");
    int64_t deadline = qdict_haskey(chipset, member) ?
                       qdict_get_int(chipset, member) : -1;

    qobject_unref(resp);
    return deadline;
}

static uint64_t timer_smis(Machine *m, int cpu)
{
    return smi_count(m, cpu, "x-smi-injected-timer");
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

        qpci_config_writeb(m->lpc, LPC_GEN_PMCON_3, sel << 6);
        set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_SWSMI_TMR_EN);
        qtest_clock_step(m->qts, rate_ns[sel] - 1);
        g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
        g_assert_cmpuint(timer_smis(m, 0), ==, before);
        qtest_clock_step(m->qts, 1);
        g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==,
                        SMI_STS_SWSMI_TMR_STS);
        g_assert_cmpuint(timer_smis(m, 0), ==, before + 1);
        /* it keeps expiring every period while enabled */
        qtest_clock_step(m->qts, rate_ns[sel]);
        g_assert_cmpuint(timer_smis(m, 0), ==, before + 2);
        /* clearing the enable stops it */
        set_smi_en(m, SMI_EN_GBL_SMI_EN);
        g_assert_cmpint(timer_deadline(m, "swsmi-timer-deadline"), ==, -1);
        qtest_clock_step(m->qts, 2 * rate_ns[sel]);
        g_assert_cmpuint(timer_smis(m, 0), ==, before + 2);
        qtest_outl(m->qts, SMI_STS, SMI_STS_SWSMI_TMR_STS);
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

        qpci_config_writew(m->lpc, LPC_GEN_PMCON_1, sel);
        set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_PERIODIC_EN);
        deadline = timer_deadline(m, "periodic-timer-deadline");
        g_assert_cmpint(deadline % period, ==, 0);
        g_assert_cmpint(deadline - clock_now(m), >, 0);
        g_assert_cmpint(deadline - clock_now(m), <=, period);
        qtest_clock_step(m->qts, deadline - clock_now(m) - 1);
        g_assert_cmpuint(timer_smis(m, 0), ==, before);
        qtest_clock_step(m->qts, 1);
        g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==,
                        SMI_STS_PERIODIC_STS);
        g_assert_cmpuint(timer_smis(m, 0), ==, before + 1);
        g_assert_cmpint(timer_deadline(m, "periodic-timer-deadline"), ==,
                        deadline + period);
        set_smi_en(m, SMI_EN_GBL_SMI_EN);
        qtest_outl(m->qts, SMI_STS, SMI_STS_PERIODIC_STS);
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
    Machine *m = machine_start(qtest_init("-machine q35"));
    int64_t deadline;

    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_APMC_EN | SMI_EN_SWSMI_TMR_EN |
                  SMI_EN_PERIODIC_EN);
    qtest_outb(m->qts, APM_CNT_PORT, 0x01);
    qtest_clock_step(m->qts, 1500000);
    deadline = timer_deadline(m, "periodic-timer-deadline");
    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_PERIODIC_EN);
    qtest_clock_step(m->qts, deadline - clock_now(m));
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==,
                    SMI_STS_APM_STS | SMI_STS_SWSMI_TMR_STS |
                    SMI_STS_PERIODIC_STS);
    qtest_outl(m->qts, SMI_STS, 0);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==,
                    SMI_STS_APM_STS | SMI_STS_SWSMI_TMR_STS |
                    SMI_STS_PERIODIC_STS);
    qtest_outl(m->qts, SMI_STS, SMI_STS_SWSMI_TMR_STS);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==,
                    SMI_STS_APM_STS | SMI_STS_PERIODIC_STS);
    qtest_outl(m->qts, SMI_STS, SMI_STS_PERIODIC_STS | SMI_STS_APM_STS);
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
    uint32_t en = SMI_EN_GBL_SMI_EN | SMI_EN_SWSMI_TMR_EN |
                  SMI_EN_PERIODIC_EN;
    int64_t swsmi, periodic;
    int i;

    qpci_config_writeb(m->lpc, LPC_GEN_PMCON_3, 3 << 6);   /* 64 ms */
    qpci_config_writew(m->lpc, LPC_GEN_PMCON_1, 3);        /* 8 s */
    set_smi_en(m, en);
    swsmi = timer_deadline(m, "swsmi-timer-deadline");
    periodic = timer_deadline(m, "periodic-timer-deadline");
    for (i = 0; i < 4; i++) {
        qtest_clock_step(m->qts, 10000000);
        set_smi_en(m, en ^ (i & 1 ? SMI_EN_APMC_EN : 0));
        g_assert_cmpint(timer_deadline(m, "swsmi-timer-deadline"), ==,
                        swsmi);
        g_assert_cmpint(timer_deadline(m, "periodic-timer-deadline"), ==,
                        periodic);
    }
    qtest_clock_step(m->qts, swsmi - clock_now(m));
    g_assert_cmpuint(timer_smis(m, 0), ==, 1);
    machine_stop(m);
}

/* No SMI without GBL_SMI_EN: the status bit is still set */
static void test_timer_gbl_smi_en_gates(void)
{
    Machine *m = machine_start(qtest_init("-machine q35"));

    set_smi_en(m, SMI_EN_SWSMI_TMR_EN);
    qtest_clock_step(m->qts, 1500000);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, SMI_STS_SWSMI_TMR_STS);
    g_assert_cmpuint(timer_smis(m, 0), ==, 0);
    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_SWSMI_TMR_EN);
    qtest_clock_step(m->qts, 1500000);
    g_assert_cmpuint(timer_smis(m, 0), ==, 1);
    machine_stop(m);
}

/*
 * Without negotiated broadcast a timer SMI goes to the BSP; with it, to
 * every vCPU, as APM SMIs do (docs/specs/ich9-smi.rst says why).
 */
static void test_timer_delivery(const void *opaque)
{
    bool broadcast = GPOINTER_TO_INT(opaque);
    Machine *m = machine_start(qtest_init("-machine q35 -smp 3"));
    int i;

    if (broadcast) {
        negotiate(m, SMI_F_BROADCAST);
    }
    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_SWSMI_TMR_EN);
    qtest_clock_step(m->qts, 1500000);
    for (i = 0; i < m->ncpus; i++) {
        g_assert_cmpuint(timer_smis(m, i), ==, broadcast || i == 0);
        g_assert_cmpuint(smi_count(m, i, "x-smi-injected"), ==,
                         broadcast || i == 0);
    }
    machine_stop(m);
}

/* Reset stops both timers */
static void test_timer_reset_stops(void)
{
    Machine *m = machine_start(qtest_init("-machine q35"));

    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_SWSMI_TMR_EN |
                  SMI_EN_PERIODIC_EN);
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

    set_smi_en(m, SMI_EN_GBL_SMI_EN | SMI_EN_SWSMI_TMR_EN |
                  SMI_EN_PERIODIC_EN);
    g_assert_cmpint(timer_deadline(m, "swsmi-timer-deadline"), ==, -1);
    g_assert_cmpint(timer_deadline(m, "periodic-timer-deadline"), ==, -1);
    qtest_clock_step(m->qts, 65 * NANOSECONDS_PER_SECOND);
    g_assert_cmphex(qtest_inl(m->qts, SMI_STS), ==, 0);
    g_assert_cmpuint(timer_smis(m, 0), ==, 0);
    machine_stop(m);
}

/*
 * Across migration the periodic timer keeps its deadline (it follows the
 * migrated virtual clock) and the software SMI timer runs again, from a
 * full period: the stream, upstream's, has no deadline for it.
 */
static void test_timer_migration(void)
{
    g_autofree char *tmp = g_dir_make_tmp("ich9-smi-XXXXXX", NULL);
    g_autofree char *sock = g_strdup_printf("%s/migsock", tmp);
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    Machine *src = machine_start(qtest_init("-machine q35"));
    Machine *dst;
    int64_t periodic;

    dst = machine_start(qtest_initf("-machine q35 -incoming %s", uri));
    qpci_config_writew(src->lpc, LPC_GEN_PMCON_1, 3);       /* 8 s */
    set_smi_en(src, SMI_EN_GBL_SMI_EN | SMI_EN_SWSMI_TMR_EN |
                    SMI_EN_PERIODIC_EN);
    periodic = timer_deadline(src, "periodic-timer-deadline");

    migrate_qmp(src->qts, NULL, uri, NULL, "{}");
    wait_for_migration_complete(src->qts);
    qtest_qmp_eventwait(dst->qts, "RESUME");

    g_assert_cmpint(timer_deadline(dst, "periodic-timer-deadline"), ==,
                    periodic);
    g_assert_cmpint(timer_deadline(dst, "swsmi-timer-deadline"), ==,
                    clock_now(dst) - 1 + 1500000);
    qtest_clock_step(dst->qts, periodic - clock_now(dst));
    g_assert_cmphex(qtest_inl(dst->qts, SMI_STS), ==,
                    SMI_STS_SWSMI_TMR_STS | SMI_STS_PERIODIC_STS);
    g_assert_cmpuint(timer_smis(dst, 0), >, 1);

    machine_stop(src);
    machine_stop(dst);
    unlink(sock);
    rmdir(tmp);
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
    qtest_add_func("/ich9-smi/smi-sts/apm-set-and-clear",
                   test_smi_sts_apm_set_and_clear);
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
    qtest_add_func("/ich9-smi/negotiation/rejection-logged-rate-limited",
                   test_rejection_logged_rate_limited);
    qtest_add_func("/ich9-smi/negotiation/failed-write-after-lock-restored",
                   test_failed_write_after_lock_restored);
    qtest_add_func("/ich9-smi/host/hotunplug-without-hotplug-refused",
                   test_hotunplug_without_hotplug_refused);
    qtest_add_func("/ich9-smi/accounting/query-smi-diagnosis",
                   test_query_smi_diagnosis);
    qtest_add_func("/ich9-smi/accounting/query-smi", test_query_smi);
    qtest_add_func("/ich9-smi/accounting/hmp-info-smi", test_hmp_info_smi);
    qtest_add_func("/ich9-smi/accounting/counters-survive-reset",
                   test_counters_survive_reset);
    qtest_add_func("/ich9-smi/accounting/query-smi-without-ich9",
                   test_query_smi_without_ich9);
    qtest_add_func("/ich9-smi/accounting/properties-read-only",
                   test_smi_properties_read_only);
    qtest_add_func("/ich9-smi/migration/keeps-smi-state",
                   test_migration_keeps_smi_state);
    qtest_add_func("/ich9-smi/migration/refuses-invalid-negotiation",
                   test_migration_refuses_invalid_negotiation);
    qtest_add_func("/ich9-smi/migration/normalizes-on-load",
                   test_migration_normalizes_on_load);
    qtest_add_func("/ich9-smi/hotplug/refused-without-feature",
                   test_cpu_hotplug_refused_without_feature);
    qtest_add_func("/ich9-smi/hotplug/smi-during-cpu-unplug",
                   test_smi_during_cpu_unplug);
    qtest_add_func("/ich9-smi/timer/swsmi-rates", test_swsmi_timer_rates);
    qtest_add_func("/ich9-smi/timer/periodic-periods",
                   test_periodic_timer_periods);
    qtest_add_func("/ich9-smi/timer/sts-write-1-to-clear",
                   test_timer_sts_write_1_to_clear);
    qtest_add_func("/ich9-smi/timer/smi-en-rewrite-does-not-postpone",
                   test_timer_smi_en_rewrite_does_not_postpone);
    qtest_add_func("/ich9-smi/timer/gbl-smi-en-gates",
                   test_timer_gbl_smi_en_gates);
    qtest_add_data_func("/ich9-smi/timer/delivery/bsp", GINT_TO_POINTER(0),
                        test_timer_delivery);
    qtest_add_data_func("/ich9-smi/timer/delivery/broadcast",
                        GINT_TO_POINTER(1), test_timer_delivery);
    qtest_add_func("/ich9-smi/timer/reset-stops", test_timer_reset_stops);
    qtest_add_func("/ich9-smi/timer/compat-pc-q35-9.1",
                   test_timer_compat_pc_q35_9_1);
    qtest_add_func("/ich9-smi/timer/migration", test_timer_migration);
    return g_test_run();
}
