/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Per-vCPU SMI accounting and SMM state, and the x-query-smi / info smi
 * commands that show them next to the chipset's SMI state.
 *
 * Why here and not in the chipset: SMIs reach a vCPU from several devices
 * (ICH9 APM, the local APIC, TCO, PIIX4), and a test of SMI delivery needs
 * to know what each vCPU received whoever raised it.  Counting where the
 * interrupt is raised keeps one owner for the counters.  Stat64 keeps the
 * counts exact when vCPU threads of multi-threaded TCG count SMM entries
 * while the main loop raises SMIs.
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qapi/qapi-commands-smi-target.h"
#include "qom/object.h"
#include "monitor/hmp.h"
#include "monitor/hmp-target.h"
#include "monitor/monitor.h"
#include "hw/core/cpu.h"
#include "hw/i386/apic.h"
#include "system/hw_accel.h"
#include "system/kvm.h"
#include "system/qtest.h"
#include "system/tcg.h"
#include "cpu.h"
#include "trace.h"
#ifdef CONFIG_KVM
#include <linux/kvm.h>
#endif

static const char *const smi_source_name[X86_SMI_SOURCE__MAX] = {
    [X86_SMI_SOURCE_APM_BROADCAST] = "apm-broadcast",
    [X86_SMI_SOURCE_APM_UNICAST] = "apm-unicast",
    [X86_SMI_SOURCE_APIC] = "apic",
    [X86_SMI_SOURCE_TIMER] = "timer",
    [X86_SMI_SOURCE_OTHER] = "other",
};

void x86_cpu_raise_smi(X86CPU *cpu, X86SMISource source)
{
    CPUState *cs = CPU(cpu);

    /*
     * A vCPU being unplugged takes no more interrupts: cpu_remove_sync()
     * sets ->unplug and then drops the BQL while it joins the vCPU thread,
     * so an SMI broadcast by another vCPU can still find it on the CPU
     * list, and must not kick a thread that is being joined.  Every caller
     * holds the BQL, under which ->unplug is set.
     */
    if (cs->unplug) {
        return;
    }
    stat64_add(&cpu->smi_stats.injected[source], 1);
    trace_x86_cpu_smi_raise(cs->cpu_index, smi_source_name[source]);
    cpu_interrupt(cs, CPU_INTERRUPT_SMI);
}

/* TCG enters SMM from cpu_handle_interrupt(), under the BQL */
void x86_cpu_smm_entered(X86CPU *cpu)
{
    X86SMIStats *s = &cpu->smi_stats;

    stat64_add(&s->smm_entries, 1);
    s->smm_stay = stat64_get(&s->smm_entries);
    s->smm_stay_vclock_ns = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    s->smm_stay_host_ns = qemu_clock_get_ns(QEMU_CLOCK_HOST);
    trace_x86_cpu_smm_enter(CPU(cpu)->cpu_index, s->smm_stay);
}

void x86_cpu_smm_left(X86CPU *cpu)
{
    trace_x86_cpu_smm_exit(CPU(cpu)->cpu_index);
}

void x86_cpu_smm_left_by_reset(X86CPU *cpu)
{
    trace_x86_cpu_smm_reset(CPU(cpu)->cpu_index);
}

bool x86_cpu_in_smm(X86CPU *cpu)
{
    return qatomic_read(&cpu->env.hflags) & HF_SMM_MASK;
}

bool x86_cpu_smm_stay(X86CPU *cpu, X86SMMStay *stay)
{
    const X86SMIStats *s = &cpu->smi_stats;

    if (!x86_cpu_in_smm(cpu) || !s->smm_stay) {
        return false;
    }
    stay->id = s->smm_stay;
    stay->entry_vclock_ns = s->smm_stay_vclock_ns;
    stay->entry_host_ns = s->smm_stay_host_ns;
    stay->watchdog_reported = s->watchdog_reported_stay == s->smm_stay;
    stay->smbase = cpu->env.smbase;
    stay->cs_base = cpu->env.segs[R_CS].base;
    stay->eip = cpu->env.eip;
    return true;
}

void x86_cpu_smm_stay_reported(X86CPU *cpu, uint64_t id)
{
    cpu->smi_stats.watchdog_reported_stay = id;
}

uint64_t x86_cpu_smi_injected(X86CPU *cpu, X86SMISource source)
{
    return stat64_get(&cpu->smi_stats.injected[source]);
}

uint64_t x86_cpu_smi_injected_total(X86CPU *cpu)
{
    uint64_t total = 0;
    int i;

    for (i = 0; i < X86_SMI_SOURCE__MAX; i++) {
        total += x86_cpu_smi_injected(cpu, i);
    }
    return total;
}

uint64_t x86_cpu_smm_entries(X86CPU *cpu)
{
    return stat64_get(&cpu->smi_stats.smm_entries);
}

/*
 * With the local APICs in the kernel, an SMI IPI goes from vCPU to vCPU
 * without QEMU seeing it.
 */
static bool smi_apic_source_seen(void)
{
    return !kvm_irqchip_in_kernel();
}

/*
 * SMM entries as far as the accelerator tells them.  TCG enters SMM in
 * QEMU, which counts; KVM counts in the kernel and shows the count as
 * MSR_SMI_COUNT, in env once the vCPU's state was synchronized.
 */
static bool smm_entries_known(X86CPU *cpu, uint64_t *entries)
{
    if (kvm_enabled()) {
        *entries = cpu->env.msr_smi_count;
        return true;
    }
    if (tcg_enabled() || qtest_enabled()) {
        *entries = x86_cpu_smm_entries(cpu);
        return true;
    }
    return false;
}

/*
 * Whether an AP sits in wait-for-SIPI, in the model that knows it.  KVM
 * keeps an AP that saw no INIT since power-on UNINITIALIZED; it waits for
 * INIT-SIPI-SIPI, which is what the wait-for-SIPI state is to firmware.
 */
static bool waits_for_sipi(X86CPU *cpu)
{
#ifdef CONFIG_KVM
    if (kvm_enabled()) {
        return cpu->env.mp_state == KVM_MP_STATE_INIT_RECEIVED ||
               cpu->env.mp_state == KVM_MP_STATE_UNINITIALIZED;
    }
#endif
    return cpu->apic_state && apic_waiting_for_sipi(cpu->apic_state);
}

/* QOM properties */

static void get_smi_injected_total(Object *obj, Visitor *v, const char *name,
                                   void *opaque, Error **errp)
{
    uint64_t val = x86_cpu_smi_injected_total(X86_CPU(obj));

    visit_type_uint64(v, name, &val, errp);
}

static void get_smi_injected_source(Object *obj, Visitor *v,
                                    const char *name, void *opaque,
                                    Error **errp)
{
    X86SMISource source = (uintptr_t)opaque;
    uint64_t val;

    if (source == X86_SMI_SOURCE_APIC && !smi_apic_source_seen()) {
        error_setg(errp, "%s: the local APICs are in the kernel, which "
                   "delivers their SMIs without QEMU seeing them", name);
        return;
    }
    val = x86_cpu_smi_injected(X86_CPU(obj), source);
    visit_type_uint64(v, name, &val, errp);
}

static void get_smm_entries(Object *obj, Visitor *v, const char *name,
                            void *opaque, Error **errp)
{
    X86CPU *cpu = X86_CPU(obj);
    uint64_t val;

    cpu_synchronize_state(CPU(cpu));
    if (!smm_entries_known(cpu, &val)) {
        error_setg(errp, "%s: the accelerator does not report SMM entries",
                   name);
        return;
    }
    visit_type_uint64(v, name, &val, errp);
}

void x86_cpu_class_add_smi_stats_properties(ObjectClass *oc)
{
    uintptr_t i;

    object_class_property_add(oc, "x-smi-injected", "uint64",
                              get_smi_injected_total, NULL, NULL, NULL);
    object_class_property_set_description(oc, "x-smi-injected",
        "SMIs raised for this vCPU by any source since it was created");
    for (i = 0; i < X86_SMI_SOURCE__MAX; i++) {
        g_autofree char *name =
            g_strdup_printf("x-smi-injected-%s", smi_source_name[i]);

        object_class_property_add(oc, name, "uint64",
                                  get_smi_injected_source, NULL, NULL,
                                  (void *)i);
    }
    object_class_property_add(oc, "x-smm-entries", "uint64",
                              get_smm_entries, NULL, NULL, NULL);
    object_class_property_set_description(oc, "x-smm-entries",
        "Times this vCPU entered SMM (TCG's count, KVM's MSR_SMI_COUNT)");
}

/* x-query-smi, info smi */

/*
 * What a vCPU is doing as far as SMM is concerned.  Read from the main
 * loop while the vCPU may run: each value is one consistent read, the set
 * is a snapshot of a moment, which is what a hang shows anyway.
 */
static void query_smm_state(X86CPU *cpu, int64_t now, SmiCpuInfo *c)
{
    CPUState *cs = CPU(cpu);
    int pending = qatomic_read(&cs->interrupt_request);
    X86SMMStay stay;

    c->in_smm = x86_cpu_in_smm(cpu);
    if (x86_cpu_smm_stay(cpu, &stay)) {
        c->has_smm_entered_ns = true;
        c->smm_entered_ns = stay.entry_vclock_ns;
        c->has_smm_entered_host_ns = true;
        c->smm_entered_host_ns = stay.entry_host_ns;
        c->has_smm_duration_ns = true;
        c->smm_duration_ns = now - stay.entry_vclock_ns;
    }
    c->smbase = qatomic_read(&cpu->env.smbase);
    c->smi_pending = pending & CPU_INTERRUPT_SMI;
    /* KVM keeps a latched NMI in its vCPU events, not in the request */
    c->nmi_pending = (pending & CPU_INTERRUPT_NMI) ||
                     (kvm_enabled() && cpu->env.nmi_pending);
    /* TCG latches an INIT taken in SMM in hflags2, KVM's stays a request */
    c->init_held = c->in_smm &&
                   ((pending & CPU_INTERRUPT_INIT) ||
                    (qatomic_read(&cpu->env.hflags2) & HF2_INIT_LATCHED_MASK));
    c->wait_for_sipi = waits_for_sipi(cpu);
    /* TCG halts a vCPU that waits for SIPI, KVM only tells its mp_state */
    c->halted = qatomic_read(&cs->halted) || c->wait_for_sipi;
}

SmiInfo *qmp_x_query_smi(Error **errp)
{
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    Object *chip;
    SmiInfo *info;
    SmiCpuInfoList **tail;
    CPUState *cs;

    chip = object_resolve_path_type("", TYPE_SMI_CHIPSET, NULL);
    info = g_new0(SmiInfo, 1);
    if (chip) {
        info->chipset = SMI_CHIPSET_GET_CLASS(chip)->query(chip);
    }
    info->vclock_ns = now;
    tail = &info->cpus;
    CPU_FOREACH(cs) {
        X86CPU *cpu = X86_CPU(cs);
        SmiCpuInfo *c = g_new0(SmiCpuInfo, 1);

        c->cpu_index = cs->cpu_index;
        c->qom_path = object_get_canonical_path(OBJECT(cs));
        c->injected = x86_cpu_smi_injected_total(cpu);
        c->apm_broadcast =
            x86_cpu_smi_injected(cpu, X86_SMI_SOURCE_APM_BROADCAST);
        c->apm_unicast = x86_cpu_smi_injected(cpu, X86_SMI_SOURCE_APM_UNICAST);
        c->has_apic = smi_apic_source_seen();
        c->apic = x86_cpu_smi_injected(cpu, X86_SMI_SOURCE_APIC);
        c->timer = x86_cpu_smi_injected(cpu, X86_SMI_SOURCE_TIMER);
        c->other = x86_cpu_smi_injected(cpu, X86_SMI_SOURCE_OTHER);
        /* KVM's SMM state is in the kernel until it is fetched */
        cpu_synchronize_state(cs);
        c->has_smm_entries = smm_entries_known(cpu, &c->smm_entries);
        query_smm_state(cpu, now, c);
        QAPI_LIST_APPEND(tail, c);
    }
    return info;
}

static void hmp_print_bits(Monitor *mon, const char *reg, uint32_t val,
                           strList *names)
{
    monitor_printf(mon, "          %-7s 0x%08" PRIx32 " (", reg, val);
    if (!names) {
        monitor_printf(mon, "none");
    }
    for (; names; names = names->next) {
        monitor_printf(mon, "%s%s", names->value, names->next ? " " : "");
    }
    monitor_printf(mon, ")\n");
}

static void hmp_print_chipset(Monitor *mon, SmiChipsetInfo *c)
{
    monitor_printf(mon, "ICH9 SMI: host features 0x%" PRIx64
                   ", requested 0x%" PRIx64 ", negotiated 0x%" PRIx64
                   " (features-ok %s)\n",
                   c->host_features, c->requested_features,
                   c->negotiated_features, c->features_ok ? "yes" : "no");
    monitor_printf(mon, "          APM_CNT 0x%02x (last command), "
                   "APM_STS 0x%02x\n", c->apm_cnt, c->apm_sts);
    hmp_print_bits(mon, "SMI_EN", c->smi_en, c->smi_en_bits);
    hmp_print_bits(mon, "SMI_STS", c->smi_sts, c->smi_sts_bits);
    if (c->has_swsmi_timer_deadline) {
        monitor_printf(mon, "          software SMI timer expires at "
                       "%" PRId64 " ns (virtual clock)\n",
                       c->swsmi_timer_deadline);
    }
    if (c->has_periodic_timer_deadline) {
        monitor_printf(mon, "          periodic SMI timer expires at "
                       "%" PRId64 " ns (virtual clock)\n",
                       c->periodic_timer_deadline);
    }
}

static const char *yes_or_dash(bool b)
{
    return b ? "yes" : "-";
}

static void hmp_print_smm_state(Monitor *mon, SmiInfo *info)
{
    g_autoptr(GString) in_smm = g_string_new(NULL);
    SmiCpuInfoList *l;

    monitor_printf(mon, "%4s %4s %12s %10s %4s %4s %5s %10s %7s\n", "CPU",
                   "SMM", "for (ms)", "SMBASE", "SMI", "NMI", "INIT",
                   "wait-SIPI", "halted");
    for (l = info->cpus; l; l = l->next) {
        SmiCpuInfo *c = l->value;
        g_autofree char *since = c->has_smm_duration_ns ?
            g_strdup_printf("%.3f", c->smm_duration_ns / 1e6) :
            g_strdup("-");

        monitor_printf(mon, "%4" PRId64 " %4s %12s 0x%08" PRIx32
                       " %4s %4s %5s %10s %7s\n",
                       c->cpu_index, yes_or_dash(c->in_smm), since, c->smbase,
                       yes_or_dash(c->smi_pending),
                       yes_or_dash(c->nmi_pending),
                       yes_or_dash(c->init_held),
                       yes_or_dash(c->wait_for_sipi),
                       yes_or_dash(c->halted));
        if (!c->in_smm) {
            continue;
        }
        g_string_append_printf(in_smm, "%sCPU %" PRId64,
                               in_smm->len ? ", " : "", c->cpu_index);
        if (c->has_smm_duration_ns) {
            int64_t host_ms = c->smm_entered_host_ns / SCALE_MS;
            g_autoptr(GDateTime) t =
                g_date_time_new_from_unix_utc(host_ms / 1000);
            g_autofree char *hms = g_date_time_format(t, "%H:%M:%S");

            g_string_append_printf(in_smm, " for %" PRId64
                                   " ms (since %s.%03d UTC)",
                                   c->smm_duration_ns / SCALE_MS, hms,
                                   (int)(host_ms % 1000));
        } else {
            g_string_append(in_smm, " (entry not seen)");
        }
    }
    monitor_printf(mon, "in SMM now: %s\n", in_smm->len ? in_smm->str : "none");
}

void hmp_info_smi(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    g_autoptr(SmiInfo) info = qmp_x_query_smi(&err);
    SmiCpuInfoList *l;

    if (hmp_handle_error(mon, err)) {
        return;
    }
    if (info->chipset) {
        hmp_print_chipset(mon, info->chipset);
    } else {
        monitor_printf(mon, "no ICH9 SMI block on this machine\n");
    }
    monitor_printf(mon, "%4s %10s %14s %12s %8s %8s %8s %12s\n", "CPU",
                   "injected", "apm-broadcast", "apm-unicast", "apic",
                   "timer", "other", "smm-entries");
    for (l = info->cpus; l; l = l->next) {
        SmiCpuInfo *c = l->value;
        g_autofree char *apic = c->has_apic ?
            g_strdup_printf("%" PRIu64, c->apic) : g_strdup("n/a");
        g_autofree char *entries = c->has_smm_entries ?
            g_strdup_printf("%" PRIu64, c->smm_entries) : g_strdup("n/a");

        monitor_printf(mon, "%4" PRId64 " %10" PRIu64 " %14" PRIu64
                       " %12" PRIu64 " %8s %8" PRIu64 " %8" PRIu64
                       " %12s\n",
                       c->cpu_index, c->injected, c->apm_broadcast,
                       c->apm_unicast, apic, c->timer, c->other, entries);
    }
    if (info->cpus && !info->cpus->value->has_apic) {
        monitor_printf(mon, "apic n/a: the local APICs are in the kernel, "
                       "which delivers their SMIs unseen\n");
    }
    hmp_print_smm_state(mon, info);
}

static const TypeInfo smi_chipset_info = {
    .name = TYPE_SMI_CHIPSET,
    .parent = TYPE_INTERFACE,
    .class_size = sizeof(SMIChipsetClass),
};

static void smi_chipset_register_types(void)
{
    type_register_static(&smi_chipset_info);
}

type_init(smi_chipset_register_types)
