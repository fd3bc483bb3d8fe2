/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Q35 host bridge: 128 KiB of SMRAM at the default SMBASE.
 *
 * A hot-added CPU starts with SMBASE 0x30000, so its first SMI saves state
 * and runs code at 0x38000 in ordinary RAM that the OS owns.  Firmware that
 * supports CPU hotplug with SMM asks the host bridge (config 0x9c) whether
 * this range can be SMRAM, and locks it as SMRAM before the OS runs: from
 * then on only SMM sees RAM there, everyone else reads all-ones and writes
 * nothing.  This is QEMU's interface, not Intel's; docs/specs/q35-smram.rst
 * describes it.
 *
 * The state is the register value alone (0, IN_RAM after a query, LCK),
 * kept in the host bridge's config space, which migration carries.  The
 * write mask of the register is always 0 and the protocol is decoded here,
 * so nothing outside the migrated byte decides what a locked window is:
 * the write mask is not migrated, and a state derived from it would unlock
 * the window on the destination of a migration.
 *
 * Copyright (c) 2026 The Q35 SMM fork authors
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/range.h"
#include "hw/pci/pci_device.h"
#include "hw/pci-host/q35_smbase.h"
#include "trace.h"

void q35_smbase_init(Q35SMBaseWindow *w, Object *owner,
                     MemoryRegion *system_memory, MemoryRegion *smram,
                     MemoryRegion *ram, const MemoryRegionOps *blackhole_ops)
{
    memory_region_init_io(&w->blackhole, owner, blackhole_ops,
                          w, "smbase-blackhole", MCH_HOST_BRIDGE_SMBASE_SIZE);
    memory_region_set_enabled(&w->blackhole, false);
    memory_region_add_subregion_overlap(system_memory,
                                        MCH_HOST_BRIDGE_SMBASE_ADDR,
                                        &w->blackhole, 1);

    memory_region_init_alias(&w->smram_window, owner, "smbase-window", ram,
                             MCH_HOST_BRIDGE_SMBASE_ADDR,
                             MCH_HOST_BRIDGE_SMBASE_SIZE);
    memory_region_set_enabled(&w->smram_window, false);
    memory_region_add_subregion(smram, MCH_HOST_BRIDGE_SMBASE_ADDR,
                                &w->smram_window);
}

static bool q35_smbase_locked(PCIDevice *host)
{
    return host->config[MCH_HOST_BRIDGE_F_SMBASE] ==
           MCH_HOST_BRIDGE_F_SMBASE_LCK;
}

void q35_smbase_update(Q35SMBaseWindow *w, PCIDevice *host)
{
    uint8_t *reg = &host->config[MCH_HOST_BRIDGE_F_SMBASE];
    bool locked;

    if (!w->enabled) {
        return;
    }
    /*
     * Only 0, IN_RAM and LCK can be reached here, but upstream QEMU lets a
     * guest leave other values (0xfe is locked there, 0xfd is not), so
     * its migration stream may carry one.  Refusing that stream, as the
     * SMI block refuses a negotiation no host could reach, would fail a
     * migration from upstream: take the state upstream gives the value.
     */
    if (*reg != MCH_HOST_BRIDGE_F_SMBASE_IN_RAM) {
        *reg &= MCH_HOST_BRIDGE_F_SMBASE_LCK;
    }
    locked = q35_smbase_locked(host);
    memory_region_transaction_begin();
    memory_region_set_enabled(&w->blackhole, locked);
    memory_region_set_enabled(&w->smram_window, locked);
    memory_region_transaction_commit();
}

void q35_smbase_config_write(Q35SMBaseWindow *w, PCIDevice *host,
                             uint32_t addr, uint32_t val, int len)
{
    uint8_t *reg = &host->config[MCH_HOST_BRIDGE_F_SMBASE];
    uint8_t written;

    if (!w->enabled ||
        !range_covers_byte(addr, len, MCH_HOST_BRIDGE_F_SMBASE)) {
        return;
    }
    written = val >> ((MCH_HOST_BRIDGE_F_SMBASE - addr) * 8);

    switch (*reg) {
    case 0:
        /* before a query every other write is discarded */
        if (written == MCH_HOST_BRIDGE_F_SMBASE_QUERY) {
            *reg = MCH_HOST_BRIDGE_F_SMBASE_IN_RAM;
            trace_q35_smbase_query();
        }
        break;
    case MCH_HOST_BRIDGE_F_SMBASE_IN_RAM:
        if (written & MCH_HOST_BRIDGE_F_SMBASE_LCK) {
            *reg = MCH_HOST_BRIDGE_F_SMBASE_LCK;
            q35_smbase_update(w, host);
            trace_q35_smbase_lock();
        }
        break;
    default:
        /* locked until reset */
        break;
    }
}

void q35_smbase_reset(Q35SMBaseWindow *w, PCIDevice *host)
{
    host->config[MCH_HOST_BRIDGE_F_SMBASE] = 0;
    /*
     * Disabled (old machine types): a plain read/write byte, as it was
     * before the feature existed.  Enabled: decoded above, never written
     * by the default config write.
     */
    host->wmask[MCH_HOST_BRIDGE_F_SMBASE] = w->enabled ? 0 : 0xff;
    q35_smbase_update(w, host);
}
