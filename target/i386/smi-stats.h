/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Per-vCPU SMI accounting: every SMI raised for a vCPU goes through
 * x86_cpu_raise_smi(), which counts it by source before it becomes a
 * pending interrupt; TCG counts the vCPU's SMM entries and stamps each
 * stay in SMM with the time it began, for hang diagnosis.
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#ifndef TARGET_I386_SMI_STATS_H
#define TARGET_I386_SMI_STATS_H

#include "qemu/stats64.h"
#include "qom/object.h"
#include "cpu-qom.h"

typedef enum X86SMISource {
    X86_SMI_SOURCE_APM_BROADCAST,   /* APM_CNT write, SMI to every vCPU */
    X86_SMI_SOURCE_APM_UNICAST,     /* APM_CNT write, SMI to one vCPU */
    X86_SMI_SOURCE_APIC,            /* SMI IPI or LVT entry of an APIC */
    X86_SMI_SOURCE_TIMER,           /* ICH9 software or periodic SMI timer */
    X86_SMI_SOURCE_OTHER,           /* TCO watchdog, PIIX4 APM, ... */
    X86_SMI_SOURCE__MAX,
} X86SMISource;

/*
 * Cumulative since the vCPU was created: guest resets leave it alone (it
 * lives outside CPUX86State), and it is not migrated.
 */
typedef struct X86SMIStats {
    Stat64 injected[X86_SMI_SOURCE__MAX];
    Stat64 smm_entries;

    /*
     * The latest SMM stay: written on SMM entry, read by the monitor and
     * the SMM watchdog, all under the BQL.  0 while no entry was seen
     * (other accelerators, or a stay begun before an incoming migration).
     */
    uint64_t smm_stay;                  /* the smm_entries count it began */
    int64_t smm_stay_vclock_ns;         /* QEMU_CLOCK_VIRTUAL at entry */
    int64_t smm_stay_host_ns;           /* QEMU_CLOCK_HOST at entry */

    /* The SMM watchdog's: the last stay it reported (smm_stay value) */
    uint64_t watchdog_reported_stay;
} X86SMIStats;

/* The vCPU's current stay in SMM, as far as it is known */
typedef struct X86SMMStay {
    uint64_t id;                        /* X86SMIStats.smm_stay */
    int64_t entry_vclock_ns;
    int64_t entry_host_ns;
    bool watchdog_reported;             /* the SMM watchdog reported it */
    /* where the vCPU is: exact on its own thread, else as last synced */
    uint32_t smbase;
    uint64_t cs_base;
    uint64_t eip;
} X86SMMStay;

/*
 * Count and raise an SMI for @cpu; the only way SMIs are raised.  Call
 * with the BQL held.  Nothing happens for a vCPU being unplugged.
 */
void x86_cpu_raise_smi(X86CPU *cpu, X86SMISource source);

/*
 * A chipset with an SMI block implements this interface to show its SMI
 * state in x-query-smi and info smi.
 */
#define TYPE_SMI_CHIPSET "smi-chipset"
typedef struct SMIChipsetClass SMIChipsetClass;
DECLARE_CLASS_CHECKERS(SMIChipsetClass, SMI_CHIPSET, TYPE_SMI_CHIPSET)

struct SMIChipsetClass {
    InterfaceClass parent_class;

    struct SmiChipsetInfo *(*query)(Object *obj);
};

/* Called by the accelerator each time @cpu enters / leaves SMM. */
void x86_cpu_smm_entered(X86CPU *cpu);
void x86_cpu_smm_left(X86CPU *cpu);
/* A reset or INIT takes @cpu out of SMM without RSM. */
void x86_cpu_smm_left_by_reset(X86CPU *cpu);

/*
 * Whether @cpu is in SMM now; if so and the entry was seen, fill @stay
 * and return true.  Call with the BQL held.
 */
bool x86_cpu_in_smm(X86CPU *cpu);
bool x86_cpu_smm_stay(X86CPU *cpu, X86SMMStay *stay);
/* The SMM watchdog reported stay @id of @cpu (X86SMMStay.watchdog_reported) */
void x86_cpu_smm_stay_reported(X86CPU *cpu, uint64_t id);

uint64_t x86_cpu_smi_injected(X86CPU *cpu, X86SMISource source);
uint64_t x86_cpu_smi_injected_total(X86CPU *cpu);
uint64_t x86_cpu_smm_entries(X86CPU *cpu);

/* The x-smi-injected* and x-smm-entries QOM properties. */
void x86_cpu_class_add_smi_stats_properties(ObjectClass *oc);

#endif /* TARGET_I386_SMI_STATS_H */
