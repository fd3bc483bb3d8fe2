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
# off, QMP refuses with an error naming the feature; with the SMI/INIT fix
# switched off, the hang's signature shows in x-query-smi and the SMM
# watchdog.
# check-timeout: 600

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import forkvm  # noqa: E402
from linux_guest import (CPU_TYPE, assert_guest_alive, boot,  # noqa: E402
                         cpu_add, cpu_del, free_slot, smi_by_index)

# the fork onlines a hot-added CPU in under a second (make bench-hotplug)
FREEZE_TIMEOUT = 30
# OVMF's SMIs take milliseconds; a hang is for ever
HEALTHY_WATCHDOG_MS = 5000
HANG_WATCHDOG_MS = 2000


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

    def test_hang_signature_without_the_fix(self):
        """
        The hang patch 0007 fixes, brought back with its test-only switch,
        as x-query-smi and the SMM watchdog show it: after device_add, CPUs 0
        and 1 stay in SMM (OVMF waits for the new CPU), each reported once;
        the new CPU is out of SMM at the default SMBASE, never relocated: it
        got two SMIs (the hotplug broadcast, the relocation IPI), entered SMM
        for fewer of them, and nothing is latched: SMIs were lost.  (Which
        ones depends on where the new CPU's INIT-SIPI-SIPI stood when they
        came: on a loaded host both were lost, 0 entries; usually the
        relocation SMI alone, 1 entry.)
        """
        g = boot(self, '-global', CPU_TYPE + '.x-latch-smi-across-init=off',
                 *watchdog(HANG_WATCHDOG_MS))
        g.cmd('device_add', driver=CPU_TYPE, id='lost', **free_slot(g))
        g.wait_for('both boot CPUs reported by the SMM watchdog',
                   lambda: len(g.events_named('SMM_WATCHDOG')) >= 2,
                   FREEZE_TIMEOUT)
        info = g.cmd('x-query-smi')
        self.diag.append(lambda: 'x-query-smi: %r' % info)
        cpus = {c['cpu-index']: c for c in info['cpus']}
        for i in (0, 1):
            assert cpus[i]['in-smm'], cpus[i]
            assert cpus[i]['smm-duration-ns'] >= HANG_WATCHDOG_MS * 1000000, \
                cpus[i]
        new = cpus[2]
        assert not new['in-smm'] and new['smbase'] == 0x30000, new
        assert new['apm-broadcast'] == 1 and new['apic'] == 1, new
        assert new['smm-entries'] < new['injected'] == 2, new
        assert not new['smi-pending'], new
        reported = sorted(e['data']['cpu-index']
                          for e in g.events_named('SMM_WATCHDOG'))
        assert reported == [0, 1], reported
        for e in g.events_named('SMM_WATCHDOG'):
            cpu = cpus[e['data']['cpu-index']]
            assert e['data']['smbase'] == cpu['smbase'], (e, cpu)
        # still there later, each stay reported once
        later = {c['cpu-index']: c for c in g.cmd('x-query-smi')['cpus']}
        for i in (0, 1):
            assert later[i]['smm-entered-ns'] == cpus[i]['smm-entered-ns']
            assert later[i]['smm-duration-ns'] > cpus[i]['smm-duration-ns']
        assert len(g.events_named('SMM_WATCHDOG')) == 2

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
