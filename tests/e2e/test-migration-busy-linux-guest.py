#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, real firmware and a real Linux guest: live migration while
# SMM is busy.  The guest (Debian's OVMF SMM build, q35,smm=on, TCG)
# writes a new UEFI variable and reads it back in a loop, each step SMIs
# into OVMF's variable service, while it is
# migrated several times at random moments:
#   - fork -> fork -> fork, and fork -> upstream 10.0.13 -> fork on
#     pc-q35-10.0 (the unpatched base built here);
#   - right after a device_add of a CPU, its hotplug SMI rendezvous in
#     flight: the destination finishes it and Linux onlines the CPU;
#   - with the software SMI timer armed: it expires on the destination.
# Afterwards every value read back was the one written (the loop says
# so on the console otherwise), and the variables are exactly those the
# loop's count says it wrote, each with its value: none lost, none
# doubled.  (The loop keeps them all: efivarfs makes a variable it
# created immutable, and busybox has no chattr; a test's store is a
# fresh copy with room for thousands.)  The seed of the moments is
# printed; FORK_MIGRATION_SEED=N repeats it.
# check-timeout: 900

import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import forkvm  # noqa: E402
import linux_guest  # noqa: E402
from migration_peer import (MACHINE_10, UNPATCHED_10, LPC_DEVFN,  # noqa: E402
                            migrate, require_peer)

MACHINE = '%s,smm=on' % MACHINE_10
BUSY = 'ForkBusy'
EFIVARS = '/sys/firmware/efi/efivars'
# write variable N, read it back, count N; complain on the console
BUSY_LOOP = (
    '(i=0; while :; do i=$((i + 1)); '
    'f=%(dir)s/%(name)s$i-%(guid)s; '
    "printf '\\007\\000\\000\\000busy-%%d' $i > $f || "
    'echo GUEST-EFIVAR-FAILED write $i; '
    'v=$(tail -c +5 $f); [ "$v" = busy-$i ] || '
    'echo GUEST-EFIVAR-FAILED read $i "$v"; '
    'echo $i > /tmp/busy-count; done) >/dev/console 2>&1 & true'
    % {'dir': EFIVARS, 'name': BUSY, 'guid': linux_guest.VAR_GUID})
# migrations run while the loop makes progress: this many steps at least
STEPS_BETWEEN = 3
# SMI_EN.SWSMI_TMR_EN; GEN_PMCON_3.SWSMI_RATE_SEL = 64 ms
SWSMI_TMR_EN = 1 << 6
GEN_PMCON_3 = 0xa4
SWSMI_RATE_64MS = 3 << 6


def seed():
    value = os.environ.get('FORK_MIGRATION_SEED')
    return int(value) if value else random.randrange(1 << 32)


class Busy:
    """One guest's life across QEMU processes: the current one in .vm."""

    def __init__(self, test, maxcpus=None):
        self.test = test
        self.seed = seed()
        self.rng = random.Random(self.seed)
        self.maxcpus = maxcpus
        self.hops = []
        self.consoles = []
        test.diag.append(lambda: 'seed %d, hops %s' % (self.seed, self.hops))
        self.vm = self.guest(forkvm.QEMU, 'src')
        self.vm.boot()
        self.vm.run(BUSY_LOOP)

    def guest(self, qemu, name, extra=()):
        g = linux_guest.LinuxGuest(qemu=qemu, machine=MACHINE, name=name,
                                   maxcpus=self.maxcpus, qtest=True,
                                   extra_args=list(extra))
        self.test.addCleanup(g.shutdown)
        self.test.diag.append(lambda: '%s console tail:\n%s'
                              % (name, g.console_tail(12)))
        return g

    def count(self):
        return int(self.vm.run('cat /tmp/busy-count').strip() or 0)

    def wait_steps(self, steps):
        start = self.count()
        self.vm.wait_for('%d variable round trips' % steps,
                         lambda: self.count() >= start + steps, 120, 0.5)

    def hop(self, qemu, name, extra=(), before_migrate=None):
        """Migrate, after a random moment, to a new QEMU process."""
        self.wait_steps(STEPS_BETWEEN)
        # the moment of the migration, chosen at random: not a wait
        time.sleep(self.rng.uniform(0, 2))
        dst = self.guest(qemu, name, list(extra) + ['-incoming', 'defer'])
        dst.launch()
        if before_migrate:
            before_migrate(self.vm)
        migrate(self.vm, dst)
        self.consoles.append(self.vm.console())
        self.vm.shutdown()
        self.vm = dst
        self.hops.append(name)
        if dst.cmd('query-status')['status'] != 'running':
            dst.cmd('cont')
        return dst

    def finish(self):
        """The loop went on; stop it; nothing lost, nothing doubled."""
        self.wait_steps(STEPS_BETWEEN)
        self.vm.run('kill %1')
        count = self.count()
        # name and value of each, one line each
        listing = self.vm.run(
            'for f in %s/%s*; do echo "${f##*/} $(tail -c +5 $f)"; done'
            % (EFIVARS, BUSY), timeout=300)
        found = {}
        for line in listing.splitlines():
            name, _, value = line.partition(' ')
            n = int(name[len(BUSY):].split('-', 1)[0])
            assert n not in found, line
            found[n] = value
        # the loop stopped before or after its last write's count
        assert set(found) in (set(range(1, count + 1)),
                              set(range(1, count + 2))), (count,
                                                          sorted(found))
        for n, value in found.items():
            # killed between the file's creation and its write, the last
            # one is an empty efivarfs file, not a variable
            assert value == 'busy-%d' % n or (n == count + 1 and
                                               value == ''), (n, value)
        console = ''.join(self.consoles) + self.vm.console()
        # (the loop's own text, echoed, has '$i' where a failure has N)
        failed = re.search(r'GUEST-EFIVAR-FAILED \w+ \d+.*', console)
        assert not failed, failed.group(0)
        return count


class MigrationBusyLinuxGuest(e2e.Test):
    def test_fork_to_fork_three_times(self):
        b = Busy(self)
        for n in range(3):
            b.hop(forkvm.QEMU, 'fork-%d' % (n + 1))
        print('seed %d: %d variable round trips' % (b.seed, b.finish()))

    def test_through_upstream_10_0(self):
        require_peer(UNPATCHED_10, 'make build-unpatched')
        b = Busy(self)
        b.hop(UNPATCHED_10, 'upstream-10.0.13')
        b.hop(forkvm.QEMU, 'fork')
        print('seed %d: %d variable round trips' % (b.seed, b.finish()))

    def test_during_cpu_hotplug_rendezvous(self):
        b = Busy(self, maxcpus=4)
        slot = linux_guest.free_slot(b.vm)
        device = ['-device', ','.join(
            ['%s,id=hotcpu' % linux_guest.CPU_TYPE] +
            ['%s=%d' % kv for kv in sorted(slot.items())])]

        def plug(vm):
            vm.cmd('device_add', driver=linux_guest.CPU_TYPE, id='hotcpu',
                   **slot)
        dst = b.hop(forkvm.QEMU, 'fork', device, before_migrate=plug)
        dst.wait_for('Linux to online the new CPU', lambda: dst.run(
            'cat /sys/devices/system/cpu/online').strip() == '0-2',
            linux_guest.ONLINE_TIMEOUT, 1)
        # OVMF relocated the new CPU's SMBASE, on one side or the other
        smbases = [c['smbase'] for c in dst.cmd('x-query-smi')['cpus']]
        assert len(set(smbases)) == 3, ['0x%x' % s for s in smbases]
        b.finish()

    def test_with_swsmi_timer_armed(self):
        b = Busy(self)

        def arm(vm):
            vm.cmd('stop')
            pmbase = vm.pci_cfg_readl(LPC_DEVFN, 0x40) & 0xff80
            vm.qtest('outl 0xcf8 0x%x' % (0x80000000 | LPC_DEVFN << 8 |
                                          GEN_PMCON_3))
            vm.qtest('outb 0xcfc 0x%x' % SWSMI_RATE_64MS)
            vm.qtest('outl 0x%x 0x%x' % (pmbase + 0x30,
                                         vm.inl(pmbase + 0x30) |
                                         SWSMI_TMR_EN))
            chip = vm.cmd('x-query-smi')['chipset']
            assert 'SWSMI_TMR_EN' in chip['smi-en-bits'], chip
            assert chip.get('swsmi-timer-deadline') is not None, chip
        dst = b.hop(forkvm.QEMU, 'fork', before_migrate=arm)
        dst.wait_for('a software SMI timer expiry on the destination',
                     lambda: sum(c['timer'] for c in
                                 dst.cmd('x-query-smi')['cpus']), 30)
        pmbase = dst.pci_cfg_readl(LPC_DEVFN, 0x40) & 0xff80
        dst.cmd('stop')
        dst.qtest('outl 0x%x 0x%x' % (pmbase + 0x30,
                                      dst.inl(pmbase + 0x30) &
                                      ~SWSMI_TMR_EN))
        dst.cmd('cont')
        b.finish()


if __name__ == '__main__':
    e2e.main()
