/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * ICH9 SMI block: the APM control/status ports, SMI_EN/SMI_STS in the PM
 * I/O space, the etc/smi fw_cfg feature negotiation, and the delivery of
 * the SMIs they raise.  The guest interface is docs/specs/ich9-smi.rst;
 * the LPC device (lpc_ich9.c) owns the state and wires this block in.
 *
 * Replaces the APM SMI delivery and etc/smi negotiation of
 * hw/isa/lpc_ich9.c (MIT license) and the SMI_EN handling of
 * hw/acpi/ich9.c (LGPL 2.1, later contributions GPL 2 or later), which
 * carry:
 * Copyright (c) 2006 Fabrice Bellard
 * Copyright (c) 2009, 2010, 2011
 *               Isaku Yamahata <yamahata at valinux co jp>
 *               VA Linux Systems Japan K.K.
 * Copyright (C) 2012 Jason Baron <jbaron@redhat.com>
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#include "qemu/osdep.h"
#include "qemu/bitops.h"
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "qapi/util.h"
#include "qapi/visitor.h"
#include "qapi/qapi-types-smi-target.h"
#include "hw/core/cpu.h"
#include "hw/isa/ich9_smi.h"
#include "hw/southbridge/ich9.h"
#include "migration/vmstate.h"
#include "target/i386/smi-stats.h"
#include "trace.h"

#define SMI_KNOWN_FEATURES (BIT_ULL(ICH9_LPC_SMI_F_BROADCAST_BIT) | \
                            BIT_ULL(ICH9_LPC_SMI_F_CPU_HOTPLUG_BIT) | \
                            BIT_ULL(ICH9_LPC_SMI_F_CPU_HOT_UNPLUG_BIT))

/*
 * The SMI_STS bits this model can set, and so the ones a write can clear.
 * The timer status bits share their position with their enable bit.
 */
static uint32_t ich9_smi_sts_implemented(const ICH9SMIState *s)
{
    return (s->apm_sts_in_smi_sts ? ICH9_PMIO_SMI_STS_APM_STS : 0) |
           ich9_smi_timers_smi_en_bits(&s->timers);
}

/* APM_CNT and APM_STS: the bytes at 0xb2 and 0xb3 */
#define APM_BLOCK_SIZE 2

/* SMI delivery */

void ich9_generate_smi(void)
{
    if (first_cpu) {
        x86_cpu_raise_smi(X86_CPU(first_cpu), X86_SMI_SOURCE_OTHER);
    }
}

static bool ich9_smi_globally_enabled(const ICH9SMIState *s)
{
    return !s->gbl_smi_en_gates || (s->smi_en & ICH9_PMIO_SMI_EN_GBL_SMI_EN);
}

/*
 * An SMI of the chipset's timers.  SMI# is one platform signal that every
 * processor sees, but QEMU gives timer SMIs to the BSP unless asked
 * (x-smi-timer-broadcast): the negotiated broadcast feature speaks of APM
 * SMIs only, and a guest may rely on that.
 */
static void ich9_smi_timer_expired(void *opaque, uint32_t smi_sts_bit)
{
    ICH9SMIState *s = opaque;
    CPUState *cs;

    s->smi_sts |= smi_sts_bit;
    if (!ich9_smi_globally_enabled(s)) {
        trace_ich9_smi_timer_expired(smi_sts_bit, "GBL_SMI_EN clear");
        return;
    }
    if (s->timer_smi_broadcast &&
        ich9_smi_feature_negotiated(s, ICH9_LPC_SMI_F_BROADCAST_BIT)) {
        trace_ich9_smi_timer_expired(smi_sts_bit, "broadcast");
        CPU_FOREACH(cs) {
            x86_cpu_raise_smi(X86_CPU(cs), X86_SMI_SOURCE_TIMER);
        }
    } else if (first_cpu) {
        trace_ich9_smi_timer_expired(smi_sts_bit, "BSP");
        x86_cpu_raise_smi(X86_CPU(first_cpu), X86_SMI_SOURCE_TIMER);
    }
}

static void ich9_smi_raise_apm(ICH9SMIState *s)
{
    CPUState *cs;

    if (s->apm_sts_in_smi_sts) {
        s->smi_sts |= ICH9_PMIO_SMI_STS_APM_STS;
    }
    if (ich9_smi_feature_negotiated(s, ICH9_LPC_SMI_F_BROADCAST_BIT)) {
        trace_ich9_smi_raise(s->apm_cnt, "broadcast", -1);
        CPU_FOREACH(cs) {
            x86_cpu_raise_smi(X86_CPU(cs), X86_SMI_SOURCE_APM_BROADCAST);
        }
        return;
    }
    /*
     * Unicast goes to the vCPU that executed the OUT.  A write from
     * outside any vCPU (qtest, DMA) has no such vCPU: the BSP takes it,
     * as it does for the chipset's other SMI sources.
     */
    cs = current_cpu ? current_cpu : first_cpu;
    if (!cs) {
        return;
    }
    trace_ich9_smi_raise(s->apm_cnt, "unicast", cs->cpu_index);
    x86_cpu_raise_smi(X86_CPU(cs), X86_SMI_SOURCE_APM_UNICAST);
}

/* APM_CNT / APM_STS */

static void ich9_apm_write(void *opaque, hwaddr addr, uint64_t val,
                           unsigned size)
{
    ICH9SMIState *s = opaque;

    /*
     * A 32-bit OUT to 0xb2 reaches here a byte at a time, its last two
     * bytes at offsets 2 and 3: ports 0xb4 and 0xb5, which are not ours.
     * They go nowhere, as on ICH9; they must not land in APM_CNT.
     */
    if (addr >= APM_BLOCK_SIZE) {
        qemu_log_mask(LOG_GUEST_ERROR, "ICH9 SMI: APM write to port 0x%"
                      HWADDR_PRIx " (past APM_STS) ignored\n",
                      ICH9_APM_CNT_IOPORT + addr);
        return;
    }
    trace_ich9_smi_apm_write(ICH9_APM_CNT_IOPORT + addr, val);
    if (addr == ICH9_APM_STS_IOPORT - ICH9_APM_CNT_IOPORT) {
        s->apm_sts = val;
        return;
    }

    s->apm_cnt = val;
    if (val == ICH9_APM_ACPI_ENABLE || val == ICH9_APM_ACPI_DISABLE) {
        acpi_pm1_cnt_update(s->acpi_regs, val == ICH9_APM_ACPI_ENABLE,
                            val == ICH9_APM_ACPI_DISABLE);
        return;
    }
    if (ich9_smi_globally_enabled(s) &&
        (s->smi_en & ICH9_PMIO_SMI_EN_APMC_EN)) {
        ich9_smi_raise_apm(s);
    }
}

static uint64_t ich9_apm_read(void *opaque, hwaddr addr, unsigned size)
{
    ICH9SMIState *s = opaque;
    uint8_t val;

    if (addr >= APM_BLOCK_SIZE) {
        return UINT8_MAX;   /* nothing decodes 0xb4/0xb5: all-ones */
    }
    val = addr == 0 ? s->apm_cnt : s->apm_sts;
    trace_ich9_smi_apm_read(ICH9_APM_CNT_IOPORT + addr, val);
    return val;
}

static const MemoryRegionOps ich9_apm_ops = {
    .read = ich9_apm_read,
    .write = ich9_apm_write,
    .impl.min_access_size = 1,
    .impl.max_access_size = 1,
    .endianness = DEVICE_LITTLE_ENDIAN,
};

/* SMI_EN / SMI_STS */

/*
 * Only implemented bits are ever set here, but an incoming migration
 * stream carries the whole register: other bits read 0.
 */
static uint32_t ich9_smi_sts(const ICH9SMIState *s)
{
    return s->smi_sts & ich9_smi_sts_implemented(s);
}

static uint32_t ich9_smi_en_wmask(const ICH9SMIState *s)
{
    uint32_t wmask = UINT32_MAX;

    if (s->gbl_smi_en_locked) {
        wmask &= ~ICH9_PMIO_SMI_EN_GBL_SMI_EN;
    }
    if (s->tco && (s->tco->tco.cnt1 & TCO_LOCK)) {
        wmask &= ~ICH9_PMIO_SMI_EN_TCO_EN;
    }
    return wmask;
}

static uint64_t ich9_smi_regs_read(void *opaque, hwaddr addr, unsigned size)
{
    ICH9SMIState *s = opaque;

    switch (addr) {
    case 0:
        return s->smi_en;
    case ICH9_PMIO_SMI_STS - ICH9_PMIO_SMI_EN:
        return ich9_smi_sts(s);
    default:
        return 0;
    }
}

static void ich9_smi_regs_write(void *opaque, hwaddr addr, uint64_t val,
                                unsigned size)
{
    ICH9SMIState *s = opaque;
    uint32_t wmask, old;

    switch (addr) {
    case 0:
        wmask = ich9_smi_en_wmask(s);
        old = s->smi_en;
        s->smi_en = (old & ~wmask) | (val & wmask);
        trace_ich9_smi_en_write(val, s->smi_en);
        ich9_smi_timers_smi_en_written(&s->timers, old, s->smi_en);
        break;
    case ICH9_PMIO_SMI_STS - ICH9_PMIO_SMI_EN:
        s->smi_sts = ich9_smi_sts(s) & ~val;
        break;
    }
}

static const MemoryRegionOps ich9_smi_regs_ops = {
    .read = ich9_smi_regs_read,
    .write = ich9_smi_regs_write,
    .valid.min_access_size = 4,
    .valid.max_access_size = 4,
    .endianness = DEVICE_LITTLE_ENDIAN,
};

void ich9_smi_set_gbl_smi_en_lock(ICH9SMIState *s, bool locked)
{
    s->gbl_smi_en_locked = locked;
}

/* Feature negotiation */

bool ich9_smi_feature_negotiated(const ICH9SMIState *s, int feature_bit)
{
    return s->negotiated_features & BIT_ULL(feature_bit);
}

/* NULL if @requested may be negotiated, else why not. */
static const char *ich9_smi_negotiation_error(uint64_t host,
                                              uint64_t requested)
{
    bool broadcast = requested & BIT_ULL(ICH9_LPC_SMI_F_BROADCAST_BIT);
    bool hotplug = requested & BIT_ULL(ICH9_LPC_SMI_F_CPU_HOTPLUG_BIT);
    bool hotunplug = requested & BIT_ULL(ICH9_LPC_SMI_F_CPU_HOT_UNPLUG_BIT);

    if (requested & ~SMI_KNOWN_FEATURES) {
        return "unknown feature bits requested";
    }
    if (requested & ~host) {
        return "a requested feature is not offered by the host";
    }
    if ((hotplug || hotunplug) && !broadcast) {
        return "CPU hot(un)plug with SMI requires SMI broadcast";
    }
    if (hotunplug && !hotplug) {
        return "CPU hot-unplug with SMI requires CPU hotplug with SMI";
    }
    return NULL;
}

/* Selecting etc/smi/features-ok: firmware reads the verdict next. */
static void ich9_smi_features_ok_select(void *opaque)
{
    ICH9SMIState *s = opaque;
    uint64_t requested = ldq_le_p(s->requested_features_le);
    const char *error;

    if (s->features_ok) {
        return;     /* negotiated already: locked until reset */
    }
    error = ich9_smi_negotiation_error(s->host_features, requested);
    if (error) {
        trace_ich9_smi_negotiation_rejected(requested, s->host_features,
                                            error);
        qemu_log_mask(LOG_GUEST_ERROR, "ICH9 SMI: features 0x%" PRIx64
                      " rejected (host offers 0x%" PRIx64 "): %s\n",
                      requested, s->host_features, error);
        return;
    }
    s->negotiated_features = requested;
    s->features_ok = 1;
    trace_ich9_smi_negotiation_accepted(requested);
}

/*
 * fw_cfg lets the guest write etc/smi/requested-features at any time; after
 * the negotiation succeeded, the file must keep showing the negotiated set,
 * not a request that has no effect.  Put it back if it is not there; true
 * if it was not.
 */
static bool ich9_smi_restore_requested(ICH9SMIState *s)
{
    if (!s->features_ok ||
        ldq_le_p(s->requested_features_le) == s->negotiated_features) {
        return false;
    }
    stq_le_p(s->requested_features_le, s->negotiated_features);
    return true;
}

/* What etc/smi/requested-features shows the guest when it selects it. */
static uint64_t ich9_smi_requested(const ICH9SMIState *s)
{
    return s->features_ok ? s->negotiated_features
                          : ldq_le_p(s->requested_features_le);
}

/* fw_cfg calls this after a complete, successful write only... */
static void ich9_smi_requested_written(void *opaque, off_t offset,
                                       size_t len)
{
    ICH9SMIState *s = opaque;

    if (s->features_ok) {
        qemu_log_mask(LOG_GUEST_ERROR, "ICH9 SMI: etc/smi/requested-features "
                      "written after the negotiation completed; ignored\n");
        ich9_smi_restore_requested(s);
    }
}

/*
 * ...but a DMA write whose source the DMA read cannot read (unassigned
 * address) has already overwritten the file when fw_cfg reports the error,
 * and there is no callback.  Every read of the file selects it first.
 */
static void ich9_smi_requested_select(void *opaque)
{
    ICH9SMIState *s = opaque;

    if (ich9_smi_restore_requested(s)) {
        qemu_log_mask(LOG_GUEST_ERROR, "ICH9 SMI: etc/smi/requested-features "
                      "overwritten by a failed write after the negotiation "
                      "completed; restored\n");
    }
}

/*
 * Offering a feature set that no firmware can negotiate leaves firmware
 * that asks for the hotplug features (OVMF) to spin before it prints a
 * line: refuse it when the machine is created, naming what to set.
 */
bool ich9_smi_check_host_features(ICH9SMIState *s, Error **errp)
{
    ERRP_GUARD();
    bool broadcast = s->host_features &
                     BIT_ULL(ICH9_LPC_SMI_F_BROADCAST_BIT);
    bool hotplug = s->host_features &
                   BIT_ULL(ICH9_LPC_SMI_F_CPU_HOTPLUG_BIT);
    bool hotunplug = s->host_features &
                     BIT_ULL(ICH9_LPC_SMI_F_CPU_HOT_UNPLUG_BIT);

    if (hotunplug && !hotplug) {
        error_setg(errp, "x-smi-cpu-hotunplug=on requires "
                   "x-smi-cpu-hotplug=on: firmware cannot negotiate CPU "
                   "hot-unplug with SMI without CPU hotplug with SMI");
        return false;
    }
    if (hotplug && !broadcast) {
        error_setg(errp, "x-smi-cpu-hotplug=on requires "
                   "x-smi-broadcast=on: firmware cannot negotiate CPU "
                   "hot(un)plug with SMI without SMI broadcast");
        error_append_hint(errp, "Set x-smi-broadcast=on, or "
                          "x-smi-cpu-hotplug=off and x-smi-cpu-hotunplug=off "
                          "(-global ICH9-LPC.PROPERTY=VALUE).\n");
        return false;
    }
    return true;
}

void ich9_smi_add_fw_cfg(ICH9SMIState *s, FWCfgState *fw_cfg)
{
    if (!s->host_features || !fw_cfg) {
        return;
    }
    stq_le_p(s->host_features_le, s->host_features);
    fw_cfg_add_file(fw_cfg, "etc/smi/supported-features",
                    s->host_features_le, sizeof(s->host_features_le));
    fw_cfg_add_file_callback(fw_cfg, "etc/smi/requested-features",
                             ich9_smi_requested_select,
                             ich9_smi_requested_written, s,
                             s->requested_features_le,
                             sizeof(s->requested_features_le), false);
    fw_cfg_add_file_callback(fw_cfg, "etc/smi/features-ok",
                             ich9_smi_features_ok_select, NULL, s,
                             &s->features_ok, sizeof(s->features_ok), true);
}

bool ich9_smi_negotiation_needed(const ICH9SMIState *s)
{
    return !buffer_is_zero(s->requested_features_le,
                           sizeof(s->requested_features_le)) ||
           s->features_ok;
}

/* CPU hot(un)plug */

/*
 * Firmware that negotiated SMI broadcast keeps SMM state per CPU; a CPU
 * added or removed behind its back breaks SMM (an SMI broadcast then
 * reaches a CPU whose SMBASE was never relocated, or waits for one that
 * is gone).  Such firmware must have negotiated the hotplug feature too.
 * Firmware that negotiated nothing is not SMM-aware and does not mind.
 */
bool ich9_smi_cpu_hotplug_allowed(const ICH9SMIState *s, bool unplug,
                                  Error **errp)
{
    ERRP_GUARD();
    int bit = unplug ? ICH9_LPC_SMI_F_CPU_HOT_UNPLUG_BIT
                     : ICH9_LPC_SMI_F_CPU_HOTPLUG_BIT;
    const char *feature = unplug ? "cpu-hotunplug" : "cpu-hotplug";

    if (!ich9_smi_feature_negotiated(s, ICH9_LPC_SMI_F_BROADCAST_BIT) ||
        ich9_smi_feature_negotiated(s, bit)) {
        return true;
    }
    error_setg(errp, "CPU hot-%s refused: the firmware negotiated SMI "
               "broadcast without the '%s' SMI feature (bit %d of "
               "etc/smi/requested-features)", unplug ? "unplug" : "plug",
               feature, bit);
    if (s->host_features & BIT_ULL(bit)) {
        error_append_hint(errp, "The host offers it; the firmware does not "
                          "support CPU hot-%s with SMM.\n",
                          unplug ? "unplug" : "plug");
    } else {
        error_append_hint(errp, "The host does not offer it: use a machine "
                          "type and ICH9-LPC.x-smi-%s=on that do.\n",
                          unplug ? "cpu-hotunplug" : "cpu-hotplug");
    }
    return false;
}

/* The chipset half of x-query-smi and info smi */

/*
 * Bit names of the ICH9 datasheet (82801I, PMBASE + 0x30 and + 0x34), for
 * x-query-smi and info smi.  SMI_EN stores every bit; SMI_STS reads back
 * only the bits this model sets.
 */
static const char *const smi_en_bit_names[32] = {
    [0] = "GBL_SMI_EN", [1] = "EOS", [2] = "BIOS_EN",
    [3] = "LEGACY_USB_EN", [4] = "SLP_SMI_EN", [5] = "APMC_EN",
    [6] = "SWSMI_TMR_EN", [7] = "BIOS_RLS", [11] = "MCSMI_EN",
    [13] = "TCO_EN", [14] = "PERIODIC_EN", [17] = "LEGACY_USB2_EN",
    [18] = "INTEL_USB2_EN", [27] = "GPIO_UNLOCK_SMI_EN",
};

static const char *const smi_sts_bit_names[32] = {
    [5] = "APM_STS", [6] = "SWSMI_TMR_STS", [14] = "PERIODIC_STS",
};

static strList *bit_names(uint32_t val, const char *const names[32])
{
    strList *list = NULL, **tail = &list;
    int bit;

    for (bit = 0; bit < 32; bit++) {
        if (val & BIT(bit)) {
            QAPI_LIST_APPEND(tail, names[bit] ? g_strdup(names[bit]) :
                                   g_strdup_printf("bit %d", bit));
        }
    }
    return list;
}

SmiChipsetInfo *ich9_smi_query(const ICH9SMIState *s)
{
    SmiChipsetInfo *info = g_new0(SmiChipsetInfo, 1);
    int64_t deadline;

    info->host_features = s->host_features;
    info->requested_features = ich9_smi_requested(s);
    info->features_ok = s->features_ok;
    info->negotiated_features = s->negotiated_features;
    info->apm_cnt = s->apm_cnt;
    info->apm_sts = s->apm_sts;
    info->smi_en = s->smi_en;
    info->smi_en_bits = bit_names(s->smi_en, smi_en_bit_names);
    info->smi_sts = ich9_smi_sts(s);
    info->smi_sts_bits = bit_names(info->smi_sts, smi_sts_bit_names);
    deadline = ich9_smi_timers_swsmi_deadline(&s->timers);
    info->has_swsmi_timer_deadline = deadline >= 0;
    info->swsmi_timer_deadline = deadline;
    deadline = ich9_smi_timers_periodic_deadline(&s->timers);
    info->has_periodic_timer_deadline = deadline >= 0;
    info->periodic_timer_deadline = deadline;
    return info;
}

/* Read-only QOM view of the state, for tests */

static void ich9_smi_get_requested(Object *obj, Visitor *v, const char *name,
                                   void *opaque, Error **errp)
{
    ICH9SMIState *s = opaque;
    uint64_t val = ich9_smi_requested(s);

    visit_type_uint64(v, name, &val, errp);
}

static void ich9_smi_get_sts(Object *obj, Visitor *v, const char *name,
                             void *opaque, Error **errp)
{
    ICH9SMIState *s = opaque;
    uint32_t val = ich9_smi_sts(s);

    visit_type_uint32(v, name, &val, errp);
}

void ich9_smi_add_properties(ICH9SMIState *s, Object *obj)
{
    object_property_add_uint64_ptr(obj, "x-smi-host-features",
                                   &s->host_features, OBJ_PROP_FLAG_READ);
    object_property_add(obj, "x-smi-requested-features", "uint64",
                        ich9_smi_get_requested, NULL, NULL, s);
    object_property_add_uint8_ptr(obj, "x-smi-features-ok",
                                  &s->features_ok, OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(obj, ICH9_LPC_SMI_NEGOTIATED_FEAT_PROP,
                                   &s->negotiated_features,
                                   OBJ_PROP_FLAG_READ);
    object_property_add_uint32_ptr(obj, "x-smi-en", &s->smi_en,
                                   OBJ_PROP_FLAG_READ);
    object_property_add(obj, "x-smi-sts", "uint32", ich9_smi_get_sts, NULL,
                        NULL, s);
}

/* Life cycle */

void ich9_smi_reset(ICH9SMIState *s)
{
    /*
     * Without SMM, APMC_EN starts set: SeaBIOS reads it as "SMM already
     * set up" and leaves SMM alone.
     */
    s->smi_en = s->smm_enabled ? 0 : ICH9_PMIO_SMI_EN_APMC_EN;
    s->smi_sts = 0;
    ich9_smi_timers_reset(&s->timers);
    s->gbl_smi_en_locked = false;
    memset(s->requested_features_le, 0, sizeof(s->requested_features_le));
    s->features_ok = 0;
    s->negotiated_features = 0;
}

void ich9_smi_pmcon_written(ICH9SMIState *s)
{
    ich9_smi_timers_rate_written(&s->timers, s->smi_en);
}

void ich9_smi_post_load(ICH9SMIState *s)
{
    ich9_smi_timers_load(&s->timers, s->smi_en);
}

void ich9_smi_init(ICH9SMIState *s, Object *owner, MemoryRegion *io_space,
                   MemoryRegion *pm_io, const uint8_t *lpc_config,
                   ACPIREGS *acpi_regs, const TCOIORegs *tco,
                   bool smm_enabled)
{
    s->acpi_regs = acpi_regs;
    s->tco = tco;
    s->smm_enabled = smm_enabled;
    ich9_smi_timers_init(&s->timers, lpc_config, ich9_smi_timer_expired, s);
    ich9_smi_watchdog_start(&s->watchdog);

    memory_region_init_io(&s->apm_io, owner, &ich9_apm_ops, s, "ich9-apm",
                          2);
    memory_region_add_subregion(io_space, ICH9_APM_CNT_IOPORT, &s->apm_io);
    memory_region_init_io(&s->smi_io, owner, &ich9_smi_regs_ops, s,
                          "ich9-smi", 8);
    memory_region_add_subregion(pm_io, ICH9_PMIO_SMI_EN, &s->smi_io);
    ich9_smi_reset(s);
}

/* Migration: upstream's layout, field for field. */

const VMStateDescription vmstate_ich9_apm = {
    .name = "APM State",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8(apm_cnt, ICH9SMIState),
        VMSTATE_UINT8(apm_sts, ICH9SMIState),
        VMSTATE_END_OF_LIST()
    }
};

static int ich9_smi_negotiation_pre_save(void *opaque)
{
    ich9_smi_restore_requested(opaque);
    return 0;
}

/*
 * The stream comes from elsewhere: take only a state this host could have
 * reached, else fail the migration (the source learns it over the return
 * path, when there is one, and keeps running).  A source that let
 * requested-features change after the negotiation (upstream does) sends
 * the changed value: restore it.
 */
static int ich9_smi_negotiation_post_load(void *opaque, int version_id)
{
    ICH9SMIState *s = opaque;
    const char *error;

    if (s->features_ok > 1) {
        error_report("ICH9 SMI: incoming features-ok %u is not 0 or 1",
                     s->features_ok);
        return -EINVAL;
    }
    if (!s->features_ok) {
        if (s->negotiated_features) {
            error_report("ICH9 SMI: incoming negotiated features 0x%" PRIx64
                         " without features-ok", s->negotiated_features);
            return -EINVAL;
        }
        return 0;
    }
    error = ich9_smi_negotiation_error(s->host_features,
                                       s->negotiated_features);
    if (error) {
        error_report("ICH9 SMI: incoming negotiated features 0x%" PRIx64
                     " invalid here (host offers 0x%" PRIx64 "): %s",
                     s->negotiated_features, s->host_features, error);
        error_printf("Start the destination with the source's machine type "
                     "and ICH9-LPC x-smi-* properties.\n");
        return -EINVAL;
    }
    ich9_smi_restore_requested(s);
    return 0;
}

const VMStateDescription vmstate_ich9_smi_negotiation = {
    .name = "ICH9 SMI negotiation",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = ich9_smi_negotiation_pre_save,
    .post_load = ich9_smi_negotiation_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8_ARRAY(requested_features_le, ICH9SMIState, 8),
        VMSTATE_UINT8(features_ok, ICH9SMIState),
        VMSTATE_UINT64(negotiated_features, ICH9SMIState),
        VMSTATE_END_OF_LIST()
    }
};
