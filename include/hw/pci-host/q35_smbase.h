/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Q35 host bridge: 128 KiB of SMRAM at the default SMBASE (0x30000), for
 * firmware that relocates the SMBASE of hot-added CPUs.  The register
 * protocol (config 0x9c) is docs/specs/q35-smram.rst.
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#ifndef HW_PCI_HOST_Q35_SMBASE_H
#define HW_PCI_HOST_Q35_SMBASE_H

#include "qemu/units.h"
#include "exec/memory.h"
#include "hw/pci/pci.h"

#define MCH_HOST_BRIDGE_SMBASE_ADDR            0x30000
#define MCH_HOST_BRIDGE_SMBASE_SIZE            (128 * KiB)

/* Host bridge config register and its values */
#define MCH_HOST_BRIDGE_F_SMBASE               0x9c
#define MCH_HOST_BRIDGE_F_SMBASE_QUERY         0xff    /* written: there? */
#define MCH_HOST_BRIDGE_F_SMBASE_IN_RAM        0x01    /* read: yes */
#define MCH_HOST_BRIDGE_F_SMBASE_LCK           0x02    /* locked */

typedef struct Q35SMBaseWindow {
    /* host bridge property "smbase-smram" (machine-type compat) */
    bool enabled;

    /*
     * The register value in the host bridge's config space is the only
     * state: these regions follow it.
     */
    MemoryRegion blackhole;     /* non-SMM view once locked */
    MemoryRegion smram_window;  /* SMM view once locked: RAM */
} Q35SMBaseWindow;

/*
 * Create the regions: @system_memory gets the blackhole, @smram (the SMM
 * address space overlay) the window onto @ram.
 */
/* @blackhole_ops: the host bridge's, for TSEG's and SMRAM's holes too */
void q35_smbase_init(Q35SMBaseWindow *w, Object *owner,
                     MemoryRegion *system_memory, MemoryRegion *smram,
                     MemoryRegion *ram, const MemoryRegionOps *blackhole_ops);

void q35_smbase_reset(Q35SMBaseWindow *w, PCIDevice *host);

/*
 * The guest wrote @val (@len bytes) at config @addr; call before the
 * default config write, which must leave 0x9c alone (write mask 0).
 */
void q35_smbase_config_write(Q35SMBaseWindow *w, PCIDevice *host,
                             uint32_t addr, uint32_t val, int len);

/* Map the regions from the register value (after reset and load). */
void q35_smbase_update(Q35SMBaseWindow *w, PCIDevice *host);

#endif /* HW_PCI_HOST_Q35_SMBASE_H */
