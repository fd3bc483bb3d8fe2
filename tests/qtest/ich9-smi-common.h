/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Helpers shared by the ich9-smi-*-test qtests: a q35 machine set up as
 * firmware leaves it (PMBASE and ACPI enable in the LPC config space),
 * the etc/smi fw_cfg files by selector I/O and by DMA, and readers of the
 * per-vCPU SMI accounting and of x-query-smi (docs/specs/ich9-smi.rst).
 * The register constants come from the hw headers.
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#ifndef TESTS_QTEST_ICH9_SMI_COMMON_H
#define TESTS_QTEST_ICH9_SMI_COMMON_H

#include "libqtest.h"
#include "libqos/fw_cfg.h"
#include "libqos/pci.h"
#include "libqos/pci-pc.h"
#include "qobject/qdict.h"
#include "hw/southbridge/ich9.h"
#include "hw/isa/ich9_smi.h"

/*
 * Where the tests put PMBASE, as OVMF does: a firmware choice, which no
 * header holds.  The registers below are at their offsets from it.
 */
#define PMBASE              0x600
#define PM1_CNT             (PMBASE + ICH9_PMIO_PM1_CNT)
#define SMI_EN              (PMBASE + ICH9_PMIO_SMI_EN)
#define SMI_STS             (PMBASE + ICH9_PMIO_SMI_STS)

/* The etc/smi feature bits, from their positions in hw/isa/ich9_smi.h */
#define SMI_F_BROADCAST     BIT_ULL(ICH9_LPC_SMI_F_BROADCAST_BIT)
#define SMI_F_CPU_HOTPLUG   BIT_ULL(ICH9_LPC_SMI_F_CPU_HOTPLUG_BIT)
#define SMI_F_CPU_HOTUNPLUG BIT_ULL(ICH9_LPC_SMI_F_CPU_HOT_UNPLUG_BIT)
#define SMI_F_ALL (SMI_F_BROADCAST | SMI_F_CPU_HOTPLUG | SMI_F_CPU_HOTUNPLUG)

typedef struct Machine {
    QTestState *qts;
    QPCIBus *pcibus;
    QPCIDevice *lpc;
    QFWCFG *fw_cfg;
    int ncpus;
    char **cpu_paths;
} Machine;

/* The machine: started, reset, stopped */
Machine *machine_start(QTestState *qts);
void machine_stop(Machine *m);
void machine_reset(Machine *m);
void machine_read_cpu_paths(Machine *m);

/* QOM: the per-vCPU accounting and the LPC device's SMI state */
uint64_t qom_get_uint(QTestState *qts, const char *path, const char *prop);
uint64_t smi_count(Machine *m, int cpu, const char *prop);
uint64_t lpc_prop(Machine *m, const char *prop);
uint64_t *smi_snapshot(Machine *m);

/* x-query-smi: a timer's next expiry; the virtual clock */
int64_t timer_deadline(Machine *m, const char *member);
int64_t clock_now(Machine *m);
uint64_t timer_smis(Machine *m, int cpu);

/* fw_cfg and the etc/smi negotiation */
uint16_t fw_cfg_file_key(Machine *m, const char *name, uint32_t *size);
uint32_t fw_cfg_dma_at(Machine *m, uint32_t control, uint64_t addr,
                       uint32_t len);
uint32_t fw_cfg_dma(Machine *m, uint32_t control, void *buf, uint32_t len);
uint32_t fw_cfg_dma_write_file(Machine *m, const char *name,
                               const void *data, uint32_t len);
void request_features(Machine *m, uint64_t features);
uint64_t read_requested_features(Machine *m);
uint8_t features_ok_by_io(Machine *m);
uint8_t features_ok_by_dma(Machine *m);
void negotiate(Machine *m, uint64_t features);

void set_smi_en(Machine *m, uint32_t val);

/* QMP responses, unref'd */
void assert_qmp_error(QDict *resp, const char *text);
void assert_qmp_success(QDict *resp);

#endif
