#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, real firmware and a real guest: what the fork's own
# interfaces show of CPU hotplug with SMM under TCG (the hotplug itself,
# unplug, DEVICE_DELETED and the upstream fixes are the functional test
# tests/functional/test_x86_64_smm_cpu_hotplug.py).  Debian's OVMF SMM
# build boots the Debian cloud kernel with a busybox initramfs (guest/) on
# q35,smm=on.  The per-vCPU SMI counters show the hotplug SMI reached
# every vCPU, the new one included; with the hotplug features switched
# off, QMP refuses with an error naming the feature.  (The hang that
# patch 0007 fixes is the canary test_hot_add_ovmf_2022_11 of
# test-functional-on-upstream.py on the unpatched binaries.)
# check-timeout: 600

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import forkvm  # noqa: E402
from linux_guest import (CPU_TYPE, assert_guest_alive, boot,  # noqa: E402
                         cpu_add, cpu_del, free_slot, smi_by_index)

# OVMF's SMIs take milliseconds; a hang is for ever
HEALTHY_WATCHDOG_MS = 5000


def watchdog(ms):
    return ('-global', 'ICH9-LPC.smm-watchdog-ms=%d' % ms)


class CpuHotplugLinuxGuest(e2e.Test):
    def test_hotplug_smi_counted_on_every_vcpu(self):
        g = boot(self, *watchdog(HEALTHY_WATCHDOG_MS))
        chip = g.cmd('x-query-smi')['chipset']
        assert chip['negotiated-features'] == 0x7, chip

        before = smi_by_index(g)
        index = cpu_add(g, 'hotcpu')
        after = smi_by_index(g)
        # the hotplug SMI (an APM broadcast) reached every vCPU, including
        # the new one, and the new one entered SMM
        for i, c in after.items():
            old = before.get(i, {'apm-broadcast': 0})
            assert c['apm-broadcast'] > old['apm-broadcast'], (i, c)
        assert after[index]['smm-entries'] >= 1, after[index]

        cpu_del(g, 'hotcpu', index)
        assert sorted(smi_by_index(g)) == [0, 1]
        assert_guest_alive(g, '0-1')
        # a healthy boot and hotplug never stays in SMM for long
        assert g.events_named('SMM_WATCHDOG') == [], g.events

    def test_plug_refused_without_hotplug_feature(self):
        g = boot(self, '-global', 'ICH9-LPC.x-smi-cpu-hotplug=off',
                 '-global', 'ICH9-LPC.x-smi-cpu-hotunplug=off')
        chip = g.cmd('x-query-smi')['chipset']
        assert chip['negotiated-features'] == 0x1, chip
        try:
            g.cmd('device_add', driver=CPU_TYPE, id='refused',
                  **free_slot(g))
        except forkvm.ERRORS as e:
            assert "the firmware negotiated SMI broadcast without the " \
                   "'cpu-hotplug' SMI feature" in str(e), e
        else:
            raise AssertionError('device_add was not refused')
        assert len(g.cmd('query-cpus-fast')) == 2
        assert_guest_alive(g, '0-1')

    def test_unplug_refused_without_hotunplug_feature(self):
        g = boot(self, '-global', 'ICH9-LPC.x-smi-cpu-hotunplug=off')
        chip = g.cmd('x-query-smi')['chipset']
        assert chip['negotiated-features'] == 0x3, chip
        index = cpu_add(g, 'stays')
        try:
            g.cmd('device_del', id='stays')
        except forkvm.ERRORS as e:
            assert "the firmware negotiated SMI broadcast without the " \
                   "'cpu-hotunplug' SMI feature" in str(e), e
        else:
            raise AssertionError('device_del was not refused')
        assert index in {c['cpu-index'] for c in g.cmd('query-cpus-fast')}
        assert_guest_alive(g, '0-2')


if __name__ == '__main__':
    e2e.main()
