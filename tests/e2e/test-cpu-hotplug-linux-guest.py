#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, real firmware and a real guest: CPU hotplug and hot-unplug
# with SMM under TCG.  Debian's OVMF SMM build boots the Debian cloud
# kernel with a busybox initramfs (guest/) on q35,smm=on; CPUs are added
# and removed over QMP, the firmware relocates and ejects them in SMM, and
# Linux onlines and releases them.  The per-vCPU SMI counters show the
# hotplug SMI reached every vCPU, the new one included, with bookworm's
# OVMF 2022.11 and trixie's 2025.02; every unplug ends with the
# DEVICE_DELETED event management waits for.  With the hotplug features
# switched off, QMP refuses with an error naming the feature; with the
# SMI/INIT fix switched off, the hang's signature shows in query-smi.
# check-timeout: 900

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qmp  # noqa: E402
import tap  # noqa: E402
from linux_guest import (CPU_TYPE, DEVICE_DELETED_TIMEOUT,  # noqa: E402
                         assert_guest_alive, boot, cpu_add, cpu_del,
                         device_deleted, free_slot, smi_by_index)
from migration_peer import DEBIAN_10, UNPATCHED_10  # noqa: E402

# ICH9's ACPI CPU hotplug block (docs/specs/acpi_cpu_hotplug.rst)
CPUHP_BASE = 0xcd8
# the fork onlines a hot-added CPU in under a second (make bench-hotplug)
FREEZE_TIMEOUT = 30
# OVMF's SMIs take milliseconds; a hang is for ever
HEALTHY_WATCHDOG_MS = 5000
HANG_WATCHDOG_MS = 2000


def watchdog(ms):
    return ('-global', 'ICH9-LPC.smm-watchdog-ms=%d' % ms)


def hotplug_two_then_unplug_one(firmware):
    return lambda diag: test_hotplug_two_then_unplug_one(diag, firmware)


def test_hotplug_two_then_unplug_one(diag, firmware='ovmf'):
    g = boot(diag, *watchdog(HEALTHY_WATCHDOG_MS), firmware=firmware)
    chip = g.cmd('query-smi')['chipset']
    assert chip['negotiated-features'] == 0x7, chip

    for dev_id in ('hotcpu-a', 'hotcpu-b'):
        before = smi_by_index(g)
        index = cpu_add(g, dev_id)
        after = smi_by_index(g)
        # the hotplug SMI (an APM broadcast) reached every vCPU,
        # including the new one, and the new one entered SMM
        for i, c in after.items():
            old = before.get(i, {'apm-broadcast': 0})
            assert c['apm-broadcast'] > old['apm-broadcast'], (i, c)
        assert after[index]['smm-entries'] >= 1, after[index]
    assert_guest_alive(g, '0-3')

    cpu_del(g, 'hotcpu-b', 3)
    assert_guest_alive(g, '0-2')
    assert sorted(smi_by_index(g)) == [0, 1, 2]
    # a healthy boot and hotplug never stays in SMM for long
    assert g.events_named('SMM_WATCHDOG') == [], g.events


def test_hang_signature_without_the_fix(diag):
    """
    The hang patch 0007 fixes, brought back with its test-only switch,
    as query-smi and the SMM watchdog show it: after device_add, CPUs 0
    and 1 stay in SMM (OVMF waits for the new CPU), each reported once;
    the new CPU is out of SMM at the default SMBASE, never relocated: it
    got two SMIs (the hotplug broadcast, the relocation IPI), entered SMM
    once, and nothing is latched: the relocation SMI was lost.
    """
    g = boot(diag, '-global', CPU_TYPE + '.x-latch-smi-across-init=off',
             *watchdog(HANG_WATCHDOG_MS))
    g.cmd('device_add', driver=CPU_TYPE, id='lost', **free_slot(g))
    g.wait_for('both boot CPUs reported by the SMM watchdog',
               lambda: len(g.events_named('SMM_WATCHDOG')) >= 2,
               FREEZE_TIMEOUT)
    info = g.cmd('query-smi')
    diag.append(lambda: 'query-smi: %r' % info)
    cpus = {c['cpu-index']: c for c in info['cpus']}
    for i in (0, 1):
        assert cpus[i]['in-smm'], cpus[i]
        assert cpus[i]['smm-duration-ns'] >= HANG_WATCHDOG_MS * 1000000, \
            cpus[i]
    new = cpus[2]
    assert not new['in-smm'] and new['smbase'] == 0x30000, new
    assert new['apm-broadcast'] == 1 and new['apic'] == 1, new
    assert new['smm-entries'] == 1 and not new['smi-pending'], new
    reported = sorted(e['data']['cpu-index']
                      for e in g.events_named('SMM_WATCHDOG'))
    assert reported == [0, 1], reported
    for e in g.events_named('SMM_WATCHDOG'):
        assert e['data']['smbase'] == cpus[e['data']['cpu-index']]['smbase']
    # still there later, each stay reported once
    later = {c['cpu-index']: c for c in g.cmd('query-smi')['cpus']}
    for i in (0, 1):
        assert later[i]['smm-entered-ns'] == cpus[i]['smm-entered-ns']
        assert later[i]['smm-duration-ns'] > cpus[i]['smm-duration-ns']
    assert len(g.events_named('SMM_WATCHDOG')) == 2


def test_plug_refused_without_hotplug_feature(diag):
    g = boot(diag, '-global', 'ICH9-LPC.x-smi-cpu-hotplug=off',
             '-global', 'ICH9-LPC.x-smi-cpu-hotunplug=off')
    chip = g.cmd('query-smi')['chipset']
    assert chip['negotiated-features'] == 0x1, chip
    try:
        g.cmd('device_add', driver=CPU_TYPE, id='refused',
              **free_slot(g))
    except qmp.QMPError as e:
        assert "the firmware negotiated SMI broadcast without the " \
               "'cpu-hotplug' SMI feature" in str(e), e
    else:
        raise AssertionError('device_add was not refused')
    assert len(g.cmd('query-cpus-fast')) == 2
    assert_guest_alive(g, '0-1')


def test_unplug_refused_without_hotunplug_feature(diag):
    g = boot(diag, '-global', 'ICH9-LPC.x-smi-cpu-hotunplug=off')
    chip = g.cmd('query-smi')['chipset']
    assert chip['negotiated-features'] == 0x3, chip
    index = cpu_add(g, 'stays')
    try:
        g.cmd('device_del', id='stays')
    except qmp.QMPError as e:
        assert "the firmware negotiated SMI broadcast without the " \
               "'cpu-hotunplug' SMI feature" in str(e), e
    else:
        raise AssertionError('device_del was not refused')
    assert index in {c['cpu-index'] for c in g.cmd('query-cpus-fast')}
    assert_guest_alive(g, '0-2')


def test_plug_unplug_single_threaded_tcg(diag):
    """
    With one TCG thread for all vCPUs, the guest's eject runs on the
    thread of the vCPU being removed (upstream 7.2 aborts: the thread
    joins itself).
    """
    g = boot(diag, accel='tcg,thread=single')
    for n in range(2):
        index = cpu_add(g, 'rr-%d' % n)
        assert index == 2, index
        cpu_del(g, 'rr-%d' % n, index)
        assert_guest_alive(g, '0-1')


def test_cpu_cannot_eject_itself(diag):
    """
    CPU 1 selects itself in the ACPI CPU hotplug block and writes the
    eject bit: refused (upstream 7.2 aborts: the vCPU thread joins
    itself), both CPUs stay, the guest runs on.
    """
    g = boot(diag, '-d', 'guest_errors')
    # modern mode, select CPU 1, eject -- all from CPU 1
    g.run("taskset -c 1 sh -c 'outb 0x%x 0 && outb 0x%x 1 && "
          "outb 0x%x 8'" % (CPUHP_BASE, CPUHP_BASE, CPUHP_BASE + 4))
    assert 'CPU 0x1 cannot eject itself; ignored' in g.qemu_log()
    assert len(g.cmd('query-cpus-fast')) == 2
    assert_guest_alive(g, '0-1')


def test_canary_debian_10_freezes_on_hot_add(diag):
    """
    Canary: Debian's upstream 10.0.2 freezes the guest on the first CPU
    hot-add with SMM (the hotplug SMI is taken from wait-for-SIPI, then
    lost across INIT: patch 0007).  The CPU never comes online and the
    guest stops answering; the same steps pass on the fork above.
    """
    if not os.access(DEBIAN_10, os.X_OK):
        raise tap.Skip('%s missing (fork/fetch-peer)' % DEBIAN_10)
    g = boot(diag, qemu=DEBIAN_10)
    start = len(g.console())
    g.cmd('device_add', driver=CPU_TYPE, id='frozen', **free_slot(g))
    try:
        g.wait_console(r'GUEST-CPU-ONLINE (\d+)', FREEZE_TIMEOUT, start)
    except qmp.QMPError:
        pass
    else:
        raise AssertionError('upstream 10.0.2 onlined the CPU: revisit '
                             'patch 0007 and this canary')
    try:
        g.run('true', timeout=FREEZE_TIMEOUT)
    except qmp.QMPError:
        return
    raise AssertionError('the guest still answers on upstream 10.0.2')


def unplug_without_smm(diag, qemu):
    """SeaBIOS, smm=off: Linux releases the CPU, QEMU removes it."""
    g = boot(diag, machine='q35,smm=off', firmware='seabios', qemu=qemu)
    index = cpu_add(g, 'plain')
    start = len(g.console())
    g.cmd('device_del', id='plain')
    g.wait_console(r'GUEST-CPU-REMOVED %d\b' % index, 60, start)
    g.wait_for('QEMU to remove the CPU',
               lambda: index not in {c['cpu-index']
                                     for c in g.cmd('query-cpus-fast')}, 60)
    return g


def test_device_deleted_without_smm(diag):
    """
    Patch 0013 is not about SMM: without it no unplugged CPU sends
    DEVICE_DELETED under TCG.  Here it does, SMM or not.
    """
    g = unplug_without_smm(diag, qmp.QEMU)
    g.wait_for('DEVICE_DELETED for the CPU',
               lambda: device_deleted(g, 'plain'), DEVICE_DELETED_TIMEOUT)


def test_canary_unpatched_10_no_device_deleted(diag):
    """
    Canary: the unpatched 10.0.13 base removes the CPU but never sends
    DEVICE_DELETED for it (only for its lapic child): the CPU holds a
    reference to itself through its SMM address space (patch 0013).
    """
    if not os.access(UNPATCHED_10, os.X_OK):
        raise tap.Skip('%s missing (make build-unpatched)' % UNPATCHED_10)
    g = unplug_without_smm(diag, UNPATCHED_10)
    # the lapic child's event comes when the CPU's would
    g.wait_for('DEVICE_DELETED for the lapic',
               lambda: [e for e in g.events_named('DEVICE_DELETED')
                        if e['data']['path'].endswith('/plain/lapic')],
               DEVICE_DELETED_TIMEOUT)
    try:
        g.wait_for('DEVICE_DELETED for the CPU',
                   lambda: device_deleted(g, 'plain'),
                   DEVICE_DELETED_TIMEOUT)
    except qmp.QMPError:
        return
    raise AssertionError('upstream sent DEVICE_DELETED for the CPU: '
                         'revisit patch 0013 and this canary')


if __name__ == '__main__':
    tap.run([
        ('cpu-hotplug/ovmf-linux/hotplug-two-then-unplug-one',
         hotplug_two_then_unplug_one('ovmf')),
        ('cpu-hotplug/ovmf-trixie-linux/hotplug-two-then-unplug-one',
         hotplug_two_then_unplug_one('ovmf-trixie')),
        ('cpu-hotplug/canary/debian-10.0.2-freezes-on-hot-add',
         test_canary_debian_10_freezes_on_hot_add),
        ('cpu-hotplug/ovmf-linux/hang-signature-without-the-fix',
         test_hang_signature_without_the_fix),
        ('cpu-hotplug/seabios-linux/device-deleted-without-smm',
         test_device_deleted_without_smm),
        ('cpu-hotplug/canary/unpatched-10.0.13-no-device-deleted',
         test_canary_unpatched_10_no_device_deleted),
        ('cpu-hotplug/ovmf-linux/plug-refused-without-hotplug-feature',
         test_plug_refused_without_hotplug_feature),
        ('cpu-hotplug/ovmf-linux/unplug-refused-without-hotunplug-feature',
         test_unplug_refused_without_hotunplug_feature),
        ('cpu-hotplug/ovmf-linux/single-threaded-tcg-plug-unplug',
         test_plug_unplug_single_threaded_tcg),
        ('cpu-hotplug/ovmf-linux/cpu-cannot-eject-itself',
         test_cpu_cannot_eject_itself),
    ])
