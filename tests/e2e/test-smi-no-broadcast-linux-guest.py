#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, real firmware and a real Linux guest: the firmware matrix
# cells without SMI broadcast -- pc-q35-2.8, which offers no SMI feature,
# and q35 with x-smi-broadcast, x-smi-cpu-hotplug and x-smi-cpu-hotunplug
# off -- with OVMF 2022.11 and 2025.02 on two vCPUs, on the fork and on
# upstream 10.0.13.  OVMF boots.  UEFI variable services work when the
# BSP calls them and fail when an AP does: OVMF lets only the BSP be the
# SMM monarch (edk2 43df61878d, edk2-stable202005), and an SMI that an AP
# raises alone waits for the BSP, which no broadcast brings, until
# PcdCpuSmmApSyncTimeout, then gives up.  The fork's per-vCPU counters
# show it: the AP enters SMM, the BSP never does.  Linux calls runtime
# services from an unbound workqueue, so which CPU calls them is chosen
# here by taking the other one offline: CPU 0 too, which Linux 6.1 lets
# go with cpu0_hotplug on an Intel CPU model.
# docs/devel/smm-firmware-matrix.rst explains the cells.
# check-timeout: 600

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import forkvm  # noqa: E402
import linux_guest  # noqa: E402
from migration_peer import UNPATCHED_10, require_peer  # noqa: E402

CONFIGS = {
    'pc_q35_2_8': ('pc-q35-2.8', []),
    'q35_broadcast_off': ('q35', ['-global', 'ICH9-LPC.x-smi-broadcast=off',
                                  '-global', 'ICH9-LPC.x-smi-cpu-hotplug=off',
                                  '-global',
                                  'ICH9-LPC.x-smi-cpu-hotunplug=off']),
}
FIRMWARES = {'ovmf_2022_11': 'ovmf', 'ovmf_2025_02': 'ovmf-trixie'}
# Linux 6.1 offlines CPU 0 only with cpu0_hotplug, and only on Intel
GUEST_ARGS = ['-append', 'console=ttyS0 panic=-1 loglevel=4 cpu0_hotplug',
              '-cpu', 'qemu64,vendor=GenuineIntel']


def only_online(g, cpu):
    """Take the other of the two CPUs offline (the guest keeps it so)."""
    other = 1 - cpu
    g.run('rm -f /tmp/keep-offline-%d; echo 1 > '
          '/sys/devices/system/cpu/cpu%d/online' % (cpu, cpu))
    g.run('touch /tmp/keep-offline-%d; echo 0 > '
          '/sys/devices/system/cpu/cpu%d/online' % (other, other))
    assert g.run('cat /sys/devices/system/cpu/online').strip() == str(cpu)


def smm_entries(g, fork):
    if not fork:
        return None
    return [c['smm-entries'] for c in g.cmd('x-query-smi')['cpus']]


def variable_round_trip(g, name):
    """Write a variable, read it back: True if the value came back."""
    try:
        g.write_efivar(name, name=name)
        return g.read_efivar(name=name) == name
    except forkvm.VMError:
        return False


def round_trip_from(g, cpu, fork):
    """
    With only cpu online: whether a variable came back, and how many
    times each of CPU 0 and CPU 1 entered SMM meanwhile (fork only).
    """
    only_online(g, cpu)
    before = smm_entries(g, fork)
    came_back = variable_round_trip(g, 'NoBroadcastCpu%d' % cpu)
    after = smm_entries(g, fork)
    return came_back, fork and [a - b for a, b in zip(after, before)]


def cell(config, firmware, qemu):
    def run(test):
        why = forkvm.ovmf_missing(firmware)
        if why:
            raise unittest.SkipTest(why)
        if qemu != forkvm.QEMU:
            require_peer(qemu, 'make build-unpatched')
        fork = qemu == forkvm.QEMU
        machine, extra = CONFIGS[config]
        g = linux_guest.LinuxGuest(qemu=qemu, firmware=firmware,
                                   machine=machine + ',smm=on',
                                   extra_args=extra + GUEST_ARGS,
                                   name='nobroadcast')
        test.addCleanup(g.shutdown)
        test.diag.append(lambda: 'guest console tail:\n' + g.console_tail())
        g.boot()
        assert g.qom_get(forkvm.LPC_PATH, 'x-smi-negotiated-features') == 0

        came_back, entered = round_trip_from(g, 0, fork)
        assert came_back, 'variable services fail from the BSP'
        assert not fork or (entered[0] > 0 and entered[1] == 0), entered

        came_back, entered = round_trip_from(g, 1, fork)
        assert not came_back, 'variable services work from an AP ' \
            'without broadcast: revisit docs/devel/smm-firmware-matrix.rst'
        # the AP entered SMM alone, the BSP never did
        assert not fork or (entered[1] > 0 and entered[0] == 0), entered

        # the firmware did not stay broken: the BSP's calls work again
        only_online(g, 0)
        assert variable_round_trip(g, 'NoBroadcastBspAgain')
    return run


class SmiNoBroadcastLinuxGuest(e2e.Test):
    """UEFI variables without SMI broadcast: from the BSP, from an AP."""


for _config in CONFIGS:
    for _fw_name, _fw in FIRMWARES.items():
        e2e.add_test(SmiNoBroadcastLinuxGuest, 'fork_%s_%s' % (_config,
                                                               _fw_name),
                     cell(_config, _fw, forkvm.QEMU))
    e2e.add_test(SmiNoBroadcastLinuxGuest, 'upstream_10_0_13_%s_ovmf_2022_11'
                 % _config, cell(_config, 'ovmf', UNPATCHED_10))


if __name__ == '__main__':
    e2e.main()
