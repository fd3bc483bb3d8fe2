/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Helpers shared by the ich9-smi-*-test qtests (ich9-smi-common.h).
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "standard-headers/linux/qemu_fw_cfg.h"
#include "hw/i386/fw_cfg.h"
#include "ich9-smi-common.h"

/*
 * The fw_cfg DMA address register: hw/i386/fw_cfg.c places it at
 * FW_CFG_IO_BASE + 4 and no header names that offset.
 */
#define FW_CFG_DMA_IO       (FW_CFG_IO_BASE + 4)
/* guest RAM the fw_cfg DMA operations use for descriptors and data */
#define DMA_DESC_ADDR       0x100000
#define DMA_DATA_ADDR       0x101000

void machine_read_cpu_paths(Machine *m)
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
    qpci_config_writel(m->lpc, ICH9_LPC_PMBASE, PMBASE | ICH9_LPC_PMBASE_RTE);
    qpci_config_writeb(m->lpc, ICH9_LPC_ACPI_CTRL, ICH9_LPC_ACPI_CTRL_ACPI_EN);
}

/* Take over a started QEMU: qtest_initf() gives the command line. */
Machine *machine_start(QTestState *qts)
{
    Machine *m = g_new0(Machine, 1);

    m->qts = qts;
    m->pcibus = qpci_new_pc(m->qts, NULL);
    m->lpc = qpci_device_find(m->pcibus,
                              QPCI_DEVFN(ICH9_LPC_DEV, ICH9_LPC_FUNC));
    g_assert(m->lpc);
    m->fw_cfg = pc_fw_cfg_init(m->qts);
    machine_read_cpu_paths(m);
    machine_enable_pmio(m);
    return m;
}

void machine_stop(Machine *m)
{
    g_strfreev(m->cpu_paths);
    pc_fw_cfg_uninit(m->fw_cfg);
    g_free(m->lpc);
    qpci_free_pc(m->pcibus);
    qtest_quit(m->qts);
    g_free(m);
}

void machine_reset(Machine *m)
{
    qtest_qmp_assert_success(m->qts, "{ 'execute': 'system_reset' }");
    qtest_qmp_eventwait(m->qts, "RESET");
    machine_enable_pmio(m);
}

uint64_t qom_get_uint(QTestState *qts, const char *path, const char *prop)
{
    QDict *resp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': "
                            "{ 'path': %s, 'property': %s } }", path, prop);
    uint64_t val;

    g_assert(qdict_haskey(resp, "return"));
    val = qnum_get_uint(qobject_to(QNum, qdict_get(resp, "return")));
    qobject_unref(resp);
    return val;
}

uint64_t smi_count(Machine *m, int cpu, const char *prop)
{
    return qom_get_uint(m->qts, m->cpu_paths[cpu], prop);
}

uint64_t lpc_prop(Machine *m, const char *prop)
{
    return qom_get_uint(m->qts, "/machine/acpi-device", prop);
}

/* Every vCPU's x-smi-injected, in one array the caller frees. */
uint64_t *smi_snapshot(Machine *m)
{
    uint64_t *counts = g_new(uint64_t, m->ncpus);
    int i;

    for (i = 0; i < m->ncpus; i++) {
        counts[i] = smi_count(m, i, "x-smi-injected");
    }
    return counts;
}

/* The virtual clock, read by moving it 1 ns: qtest cannot step by 0 */
int64_t clock_now(Machine *m)
{
    return qtest_clock_step(m->qts, 1);
}

/* The timer's next expiry from x-query-smi, -1 when stopped */
int64_t timer_deadline(Machine *m, const char *member)
{
    QDict *resp = qtest_qmp(m->qts, "{ 'execute': 'x-query-smi' }");
    QDict *chipset = qdict_get_qdict(qdict_get_qdict(resp, "return"),
                                     "chipset");
    int64_t deadline = qdict_haskey(chipset, member) ?
                       qdict_get_int(chipset, member) : -1;

    qobject_unref(resp);
    return deadline;
}

uint64_t timer_smis(Machine *m, int cpu)
{
    return smi_count(m, cpu, "x-smi-injected-timer");
}

uint16_t fw_cfg_file_key(Machine *m, const char *name, uint32_t *size)
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
uint32_t fw_cfg_dma_at(Machine *m, uint32_t control, uint64_t addr,
                       uint32_t len)
{
    struct fw_cfg_dma_access desc = {
        .control = cpu_to_be32(control),
        .length = cpu_to_be32(len),
        .address = cpu_to_be64(addr),
    };

    qtest_memwrite(m->qts, DMA_DESC_ADDR, &desc, sizeof(desc));
    /* big endian register: high half first, the low half starts it */
    qtest_outl(m->qts, FW_CFG_DMA_IO, cpu_to_be32(0));
    qtest_outl(m->qts, FW_CFG_DMA_IO + 4, cpu_to_be32(DMA_DESC_ADDR));
    qtest_memread(m->qts, DMA_DESC_ADDR, &desc, sizeof(desc));
    return be32_to_cpu(desc.control);
}

/* One fw_cfg DMA operation; returns the control word it ends with. */
uint32_t fw_cfg_dma(Machine *m, uint32_t control, void *buf, uint32_t len)
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

uint32_t fw_cfg_dma_write_file(Machine *m, const char *name,
                               const void *data, uint32_t len)
{
    uint16_t key = fw_cfg_file_key(m, name, NULL);
    g_autofree void *copy = g_memdup2(data, len);

    g_assert(key);
    return fw_cfg_dma(m, ((uint32_t)key << 16) | FW_CFG_DMA_CTL_SELECT |
                      FW_CFG_DMA_CTL_WRITE, copy, len);
}

void request_features(Machine *m, uint64_t features)
{
    uint8_t le[8];

    stq_le_p(le, features);
    g_assert_cmphex(fw_cfg_dma_write_file(m, "etc/smi/requested-features",
                                          le, sizeof(le)), ==, 0);
}

uint64_t read_requested_features(Machine *m)
{
    uint8_t le[8];
    uint32_t size;
    uint16_t key = fw_cfg_file_key(m, "etc/smi/requested-features", &size);

    g_assert_cmpuint(size, ==, sizeof(le));
    qfw_cfg_get(m->fw_cfg, key, le, sizeof(le));
    return ldq_le_p(le);
}

/* Select features-ok (that validates) and read the verdict. */
uint8_t features_ok_by_io(Machine *m)
{
    uint16_t key = fw_cfg_file_key(m, "etc/smi/features-ok", NULL);
    uint8_t ok = 0xff;

    g_assert(key);
    qfw_cfg_get(m->fw_cfg, key, &ok, 1);
    return ok;
}

uint8_t features_ok_by_dma(Machine *m)
{
    uint16_t key = fw_cfg_file_key(m, "etc/smi/features-ok", NULL);
    uint8_t ok = 0xff;

    g_assert(key);
    g_assert_cmphex(fw_cfg_dma(m, ((uint32_t)key << 16) |
                               FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ,
                               &ok, 1), ==, 0);
    return ok;
}

void negotiate(Machine *m, uint64_t features)
{
    request_features(m, features);
    g_assert_cmpuint(features_ok_by_io(m), ==, 1);
    g_assert_cmphex(lpc_prop(m, "x-smi-negotiated-features"), ==, features);
}

void set_smi_en(Machine *m, uint32_t val)
{
    qtest_outl(m->qts, SMI_EN, val);
    g_assert_cmphex(qtest_inl(m->qts, SMI_EN), ==, val);
}

void assert_qmp_error(QDict *resp, const char *text)
{
    QDict *error = qdict_get_qdict(resp, "error");

    g_assert_nonnull(error);
    g_assert_nonnull(strstr(qdict_get_str(error, "desc"), text));
    qobject_unref(resp);
}

void assert_qmp_success(QDict *resp)
{
    g_assert(qdict_haskey(resp, "return"));
    qobject_unref(resp);
}
