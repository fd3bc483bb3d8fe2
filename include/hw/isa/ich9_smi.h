/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * ICH9 SMI block: APM_CNT/APM_STS, SMI_EN/SMI_STS, the etc/smi fw_cfg
 * feature negotiation and SMI delivery.  docs/specs/ich9-smi.rst is the
 * guest interface.
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#ifndef HW_ISA_ICH9_SMI_H
#define HW_ISA_ICH9_SMI_H

#include "exec/memory.h"
#include "hw/acpi/acpi.h"
#include "hw/acpi/ich9_tco.h"
#include "hw/nvram/fw_cfg.h"
#include "hw/isa/ich9_smi_timer.h"
#include "hw/isa/ich9_smi_watchdog.h"

#define ICH9_APM_CNT_IOPORT                     0xb2
#define ICH9_APM_STS_IOPORT                     0xb3

/*
 * The register offsets and bits, the APM_CNT commands the chipset acts on
 * and the etc/smi feature bits are hw/southbridge/ich9.h's.
 */

typedef struct ICH9SMIState {
    /* guest registers, migrated */
    uint8_t apm_cnt;
    uint8_t apm_sts;
    uint32_t smi_en;
    uint32_t smi_sts;

    /* SMI feature negotiation */
    uint64_t host_features;             /* properties, host endian */
    uint8_t host_features_le[8];        /* etc/smi/supported-features */
    uint8_t requested_features_le[8];   /* etc/smi/requested-features */
    uint8_t features_ok;                /* etc/smi/features-ok */
    uint64_t negotiated_features;       /* host endian */

    /* derived from LPC config GEN_PMCON_1.SMI_LOCK, recomputed on load */
    bool gbl_smi_en_locked;

    /*
     * Property x-gbl-smi-en: no SMI while SMI_EN.GBL_SMI_EN is clear, as
     * on ICH9.  Off by default, as upstream QEMU ignores the bit: a guest
     * that sets only APMC_EN, as older SeaBIOS releases do, gets its SMIs.
     */
    bool gbl_smi_en_gates;

    /*
     * Property x-smi-sts-apm: an APM SMI sets SMI_STS.APM_STS, as on ICH9.
     * Off by default: upstream QEMU's SMI_STS never shows it, and SMI
     * handlers written for QEMU may take any set bit for a timer's.
     */
    bool apm_sts_in_smi_sts;

    /*
     * Property x-smi-timer-broadcast: once broadcast is negotiated, timer
     * SMIs reach every vCPU, as SMI# does on ICH9.  Off by default: the
     * negotiated feature covers APM SMIs, and upstream QEMU gives timer
     * SMIs to the BSP whatever was negotiated.
     */
    bool timer_smi_broadcast;

    /* SWSMI_TMR_EN and PERIODIC_EN run these */
    ICH9SMITimers timers;

    /* not a chipset function: reports vCPUs that stay in SMM too long */
    ICH9SMIWatchdog watchdog;

    /* wiring */
    bool smm_enabled;
    ACPIREGS *acpi_regs;                /* PM1_CNT.SCI_EN for ACPI enable */
    const TCOIORegs *tco;               /* TCO1_CNT.TCO_LOCK locks TCO_EN */
    MemoryRegion apm_io;
    MemoryRegion smi_io;
} ICH9SMIState;

/*
 * Map APM_CNT/APM_STS into @io_space at 0xb2 and SMI_EN/SMI_STS into
 * @pm_io (the PMBASE window) at 0x30.  @lpc_config is the LPC bridge's
 * config space, whose GEN_PMCON_1/3 select the SMI timer rates.
 */
void ich9_smi_init(ICH9SMIState *s, Object *owner, MemoryRegion *io_space,
                   MemoryRegion *pm_io, const uint8_t *lpc_config,
                   ACPIREGS *acpi_regs, const TCOIORegs *tco,
                   bool smm_enabled);

/* GEN_PMCON_1/3 changed (guest write): the timer rates may have. */
void ich9_smi_pmcon_written(ICH9SMIState *s);

/* After an incoming migration has loaded SMI_EN/SMI_STS. */
void ich9_smi_post_load(ICH9SMIState *s);

/* Offer the etc/smi files; nothing is offered without host features. */
void ich9_smi_add_fw_cfg(ICH9SMIState *s, FWCfgState *fw_cfg);

/* Check the host feature properties; false with @errp set if invalid. */
bool ich9_smi_check_host_features(ICH9SMIState *s, Error **errp);

void ich9_smi_reset(ICH9SMIState *s);

/* Read-only QOM properties x-smi-* of the state, on @obj. */
void ich9_smi_add_properties(ICH9SMIState *s, Object *obj);

/* The block's state, for the SMI_CHIPSET interface (x-query-smi) */
struct SmiChipsetInfo *ich9_smi_query(const ICH9SMIState *s);

/* GEN_PMCON_1.SMI_LOCK: GBL_SMI_EN keeps its value until reset. */
void ich9_smi_set_gbl_smi_en_lock(ICH9SMIState *s, bool locked);

bool ich9_smi_feature_negotiated(const ICH9SMIState *s, int feature_bit);

/*
 * May a CPU be hot-plugged (@unplug: hot-unplugged) with what the firmware
 * negotiated?  If not, false with @errp naming the missing SMI feature.
 */
bool ich9_smi_cpu_hotplug_allowed(const ICH9SMIState *s, bool unplug,
                                  Error **errp);

/* For the ICH9LPC/smi_feat migration subsection. */
bool ich9_smi_negotiation_needed(const ICH9SMIState *s);

extern const VMStateDescription vmstate_ich9_apm;
extern const VMStateDescription vmstate_ich9_smi_negotiation;

#endif /* HW_ISA_ICH9_SMI_H */
