# SPDX-License-Identifier: GPL-2.0-or-later
#
# The end-to-end tests' Linux guest: Debian's cloud kernel and a busybox
# initramfs (guest/make-initramfs), booted by Debian's OVMF SMM build on
# q35,smm=on under TCG, with a shell on its serial console.

import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'fork'))
import forkvm  # noqa: E402

GUEST_DIR = os.path.join(forkvm.BUILD, 'guest')
BOOT_TIMEOUT = 300

# A GUID of our own for the UEFI variables the tests write
VAR_GUID = '3b4a6c2e-8d1f-4e5a-9c7b-1f2e3d4c5b6a'
# EFI_VARIABLE_NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS
VAR_ATTRS = 0x7


def efivar(name):
    """The efivarfs file of our variable name."""
    return '/sys/firmware/efi/efivars/%s-%s' % (name, VAR_GUID)


def build():
    """Make (or reuse) the kernel and initramfs; return their paths."""
    subprocess.run([os.path.join(HERE, 'guest', 'make-initramfs'),
                    GUEST_DIR], check=True)
    return (os.path.join(GUEST_DIR, 'vmlinuz'),
            os.path.join(GUEST_DIR, 'initramfs.cpio.gz'))


class LinuxGuest(forkvm.VM):
    def __init__(self, smp=2, maxcpus=None, extra_args=(), qemu=forkvm.QEMU,
                 machine='q35,smm=on', memory=512, name='linux',
                 firmware='ovmf', qtest=False, accel='tcg'):
        kernel, initrd = build()
        topo = str(smp) + (',maxcpus=%d' % maxcpus if maxcpus else '')
        args = ['-machine', machine, '-accel', accel, '-smp', topo,
                '-m', str(memory), '-kernel', kernel, '-initrd', initrd,
                '-append', 'console=ttyS0 panic=-1 loglevel=4']
        super().__init__(args + list(extra_args), qemu=qemu, name=name,
                         serial='socket', firmware=firmware, qtest=qtest)
        self.markers = 0

    def boot(self):
        self.launch()
        self.wait_console(r'GUEST-READY cpus=(\d+)', BOOT_TIMEOUT)
        return self

    def wait_console(self, pattern, timeout, start=0):
        """Wait for a regex in the console output after offset start."""
        rx = re.compile(pattern)

        def found():
            return rx.search(self.console(), start)
        return self.wait_for('console: %s' % pattern, found, timeout)

    def run(self, command, timeout=60):
        """Run a shell command in the guest; return its output."""
        self.markers += 1
        tag = 'GUEST-DONE-%d' % self.markers
        start = len(self.console())
        self.type('%s; echo %s $?\n' % (command, tag))
        m = self.wait_console(r'%s (\d+)' % tag, timeout, start)
        out = self.console()[start:m.start()]
        # drop the echo of the command: the console may wrap it, and echo it
        # twice when it was typed before the shell started
        echo = out.rfind('echo %s $?' % tag)
        out = out[out.find('\n', echo) + 1:] if echo >= 0 else out
        lines = out.splitlines()
        if m.group(1) != '0':
            raise forkvm.VMError('guest command %r failed (%s): %s'
                                 % (command, m.group(1), '\n'.join(lines)))
        return '\n'.join(lines)

    def write_efivar(self, value, name='ForkMatrix'):
        """Create a variable (efivarfs makes existing ones immutable)."""
        self.run("printf '\\%03o\\000\\000\\000%s' > %s"
                 % (VAR_ATTRS, value, efivar(name)))

    def read_efivar(self, name='ForkMatrix'):
        """The variable's data as Linux reads it, through OVMF's SMM."""
        out = self.run('od -An -tx1 -v %s' % efivar(name))
        data = bytes.fromhex(''.join(out.split()))
        assert data[:4] == VAR_ATTRS.to_bytes(4, 'little'), data
        return data[4:].decode()

    def console_tail(self, n=30):
        return '\n'.join(self.console().splitlines()[-n:])

    def smi_table(self):
        """info smi: counters, and who is in SMM since when (a hang)."""
        try:
            return self.cmd('human-monitor-command',
                            **{'command-line': 'info smi'})
        except forkvm.ERRORS as e:
            return 'info smi failed: %s' % e


# Helpers of the CPU hotplug tests

CPU_TYPE = 'qemu64-x86_64-cpu'
ONLINE_TIMEOUT = 60
# the event follows the CPU's removal within an RCU grace period
DEVICE_DELETED_TIMEOUT = 5


def boot(test, *extra, smp=2, maxcpus=4, accel='tcg', firmware='ovmf',
         qemu=forkvm.QEMU, machine='q35,smm=on'):
    """Boot the guest for a tap test; diagnostics and cleanup in test."""
    why = firmware.startswith('ovmf') and forkvm.ovmf_missing(firmware)
    if why:
        raise unittest.SkipTest(why)
    g = LinuxGuest(smp=smp, maxcpus=maxcpus, extra_args=extra, accel=accel,
                   firmware=firmware, qemu=qemu, machine=machine)
    test.addCleanup(g.shutdown)
    test.diag.append(lambda: 'guest console tail:\n' + g.console_tail())
    test.diag.append(lambda: 'SMI table:\n' + g.smi_table())
    g.boot()
    return g


def free_slot(g):
    """The lowest free CPU slot, so QEMU and Linux number CPUs alike."""
    free = [c['props'] for c in g.cmd('query-hotpluggable-cpus')
            if 'qom-path' not in c]
    assert free, 'no free CPU slot'
    return min(free, key=lambda p: (p.get('socket-id', 0),
                                    p.get('core-id', 0),
                                    p.get('thread-id', 0)))


def smi_by_index(g):
    return {c['cpu-index']: c for c in g.cmd('x-query-smi')['cpus']}


def cpu_add(g, dev_id):
    """device_add a CPU and wait until Linux onlined it; its cpu-index."""
    before = {c['cpu-index'] for c in g.cmd('query-cpus-fast')}
    start = len(g.console())
    g.cmd('device_add', driver=CPU_TYPE, id=dev_id, **free_slot(g))
    new = {c['cpu-index'] for c in g.cmd('query-cpus-fast')} - before
    assert len(new) == 1, new
    index = new.pop()
    m = g.wait_console(r'GUEST-CPU-ONLINE (\d+)', ONLINE_TIMEOUT, start)
    assert int(m.group(1)) == index, 'Linux cpu%s is QEMU cpu-index %d' % (
        m.group(1), index)
    return index


def device_deleted(g, dev_id):
    """The DEVICE_DELETED events of that device id received so far."""
    return [e for e in g.events_named('DEVICE_DELETED')
            if e['data'].get('device') == dev_id]


def cpu_del(g, dev_id, index):
    """
    device_del a CPU; wait until QEMU and Linux both let it go and QEMU
    sent DEVICE_DELETED for it, which management (libvirt) waits for.
    """
    start = len(g.console())
    g.cmd('device_del', id=dev_id)
    g.wait_console(r'GUEST-CPU-REMOVED %d\b' % index, ONLINE_TIMEOUT, start)
    g.wait_for('QEMU to remove the CPU',
               lambda: index not in {c['cpu-index']
                                     for c in g.cmd('query-cpus-fast')},
               ONLINE_TIMEOUT)
    g.wait_for('DEVICE_DELETED for %s' % dev_id,
               lambda: device_deleted(g, dev_id), DEVICE_DELETED_TIMEOUT)


def assert_guest_alive(g, expect_online):
    assert g.run('cat /sys/devices/system/cpu/online').strip() == \
        expect_online
    assert g.cmd('query-status')['status'] == 'running'
