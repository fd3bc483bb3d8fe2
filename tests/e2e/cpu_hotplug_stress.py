# SPDX-License-Identifier: GPL-2.0-or-later
#
# Randomized CPU hotplug and hot-unplug with SMM, as management does it:
# one CPU into a random free slot, a burst of up to three device_add back
# to back, device_del of a random hot-added CPU, of the newest or of the
# oldest.  The Linux guest (linux_guest.py) onlines what arrives; OVMF
# relocates every new CPU's SMBASE and ejects removed ones in SMM.
#
# After every operation the state must be coherent, or the run stops
# there with the seed that reproduces it:
#   - the CPUs Linux has present and online are the CPUs QEMU has (by
#     APIC ID: slots are random, so Linux's numbers are not QEMU's);
#   - every unplug ended with DEVICE_DELETED (what libvirt waits for);
#   - no vCPU stays in SMM, and present CPUs have distinct SMBASEs;
#   - the guest's heartbeat, a counter a background loop bumps, moved.
#
# The test (test-cpu-hotplug-stress-linux-guest.py) runs a short run;
# fork/stress (make stress) a long one and prints its summary.

import random
import re
import time

import linux_guest

OPS = ('add', 'burst', 'del-random', 'del-newest', 'del-oldest')
# how often each operation is drawn among those possible
WEIGHTS = {'add': 3, 'burst': 2, 'del-random': 3, 'del-newest': 1,
           'del-oldest': 1}
BURST_MAX = 3
# an SMI handler takes milliseconds: this long in SMM is a hang
SMM_SETTLE_S = 5
# written aside and renamed into place: a reader between the truncation
# and the write of 'echo > file' reads nothing (seen at operation 189 of
# a 200-operation run)
HEARTBEAT = ('(n=0; while :; do n=$((n + 1)); echo $n > /tmp/heartbeat.new; '
             'mv /tmp/heartbeat.new /tmp/heartbeat; sleep 0.2; done) '
             '>/dev/null 2>&1 & true')


class StressError(AssertionError):
    pass


def parse_cpulist(text):
    """'0-2,5' -> {0, 1, 2, 5}"""
    cpus = set()
    for part in text.strip().split(','):
        if part:
            lo, _, hi = part.partition('-')
            cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


class Stress:
    def __init__(self, guest, seed):
        self.g = guest
        self.seed = seed
        self.rng = random.Random(seed)
        self.plugged = []           # dev_ids of hot-added CPUs, oldest first
        self.apic_id = {}           # dev_id -> APIC ID
        self.serial = 0
        self.heartbeat = -1
        self.counts = {op: 0 for op in OPS}
        self.history = []
        self.g.run(HEARTBEAT)

    # QEMU's view

    def free_slots(self):
        return [c['props'] for c in self.g.cmd('query-hotpluggable-cpus')
                if 'qom-path' not in c]

    def qemu_apic_ids(self):
        return {self.g.qom_get(c['qom-path'], 'apic-id')
                for c in self.g.cmd('query-cpus-fast')}

    # the guest's view

    def guest_cpus(self):
        """(present, online) Linux CPU numbers, and {number: APIC ID}"""
        out = self.g.run('cat /sys/devices/system/cpu/present '
                         '/sys/devices/system/cpu/online; '
                         "grep -E '^(processor|apicid)' /proc/cpuinfo")
        lines = out.splitlines()
        present, online = parse_cpulist(lines[0]), parse_cpulist(lines[1])
        numbers = [int(v) for v in re.findall(r'processor\s*:\s*(\d+)', out)]
        apics = [int(v) for v in re.findall(r'apicid\s*:\s*(\d+)', out)]
        return present, online, dict(zip(numbers, apics))

    # operations

    def add(self, count):
        slots = self.rng.sample(self.free_slots(), count)
        start = len(self.g.console())
        new = []
        for props in slots:
            self.serial += 1
            dev_id = 'stress-%d' % self.serial
            self.g.cmd('device_add', driver=linux_guest.CPU_TYPE, id=dev_id,
                       **props)
            new.append(dev_id)
        rx = re.compile(r'GUEST-CPU-ONLINE (\d+)')
        self.g.wait_for(
            '%d CPU(s) online in Linux' % count,
            lambda: len(rx.findall(self.g.console(), start)) >= count,
            linux_guest.ONLINE_TIMEOUT)
        for dev_id in new:
            self.apic_id[dev_id] = self.g.qom_get(
                '/machine/peripheral/' + dev_id, 'apic-id')
            self.plugged.append(dev_id)
        return new

    def delete(self, dev_id):
        _, _, by_number = self.guest_cpus()
        number = next((n for n, a in by_number.items()
                       if a == self.apic_id[dev_id]), None)
        if number is None:
            raise StressError('%s (APIC ID %d) is not online in Linux'
                              % (dev_id, self.apic_id[dev_id]))
        start = len(self.g.console())
        self.g.cmd('device_del', id=dev_id)
        self.g.wait_console(r'GUEST-CPU-REMOVED %d\b' % number,
                            linux_guest.ONLINE_TIMEOUT, start)
        self.g.wait_for('DEVICE_DELETED for %s' % dev_id,
                        lambda: linux_guest.device_deleted(self.g, dev_id),
                        linux_guest.DEVICE_DELETED_TIMEOUT)
        self.plugged.remove(dev_id)
        del self.apic_id[dev_id]
        return [dev_id]

    def possible_ops(self):
        ops = []
        free = len(self.free_slots())
        if free:
            ops += ['add'] + (['burst'] if free >= 2 else [])
        if self.plugged:
            ops += ['del-random', 'del-newest', 'del-oldest']
        return ops

    def step(self):
        ops = self.possible_ops()
        op = self.rng.choices(ops, [WEIGHTS[o] for o in ops])[0]
        if op == 'add':
            devs = self.add(1)
        elif op == 'burst':
            devs = self.add(self.rng.randint(
                2, min(BURST_MAX, len(self.free_slots()))))
        else:
            dev_id = {'del-random': lambda: self.rng.choice(self.plugged),
                      'del-newest': lambda: self.plugged[-1],
                      'del-oldest': lambda: self.plugged[0]}[op]()
            devs = self.delete(dev_id)
        self.counts[op] += 1
        self.history.append('%s %s' % (op, ' '.join(devs)))
        self.check()

    # the invariants

    def check(self):
        qemu = self.qemu_apic_ids()
        present, online, by_number = self.guest_cpus()
        if present != online or set(by_number) != online:
            raise StressError('Linux has CPUs %s present, %s online'
                              % (sorted(present), sorted(online)))
        if set(by_number.values()) != qemu:
            raise StressError('Linux has APIC IDs %s, QEMU %s'
                              % (sorted(by_number.values()), sorted(qemu)))
        expected = {self.apic_id[d] for d in self.plugged}
        if not expected <= qemu:
            raise StressError('hot-added APIC IDs %s, QEMU has %s'
                              % (sorted(expected), sorted(qemu)))
        deadline = time.monotonic() + SMM_SETTLE_S
        while True:
            cpus = self.g.cmd('x-query-smi')['cpus']
            in_smm = [c['cpu-index'] for c in cpus if c['in-smm']]
            if not in_smm:
                break
            if time.monotonic() > deadline:
                raise StressError('CPUs %s stay in SMM' % in_smm)
            time.sleep(0.1)
        smbases = [c['smbase'] for c in cpus]
        if len(set(smbases)) != len(smbases):
            raise StressError('SMBASEs not distinct: %s'
                              % ['0x%x' % s for s in smbases])
        beat = int(self.g.run('cat /tmp/heartbeat').strip())
        if beat <= self.heartbeat:
            raise StressError('heartbeat stopped at %d' % beat)
        self.heartbeat = beat

    def run(self, ops, on_step=None):
        self.check()
        for n in range(ops):
            try:
                self.step()
            except Exception as e:
                e.add_note('stress seed %d, operation %d of %d; so far: %s'
                           % (self.seed, n + 1, ops,
                              '; '.join(self.history[-8:])))
                raise
            if on_step:
                on_step(n + 1, self)
        return self.counts


def boot(test_or_none, firmware, maxcpus, smp=2):
    """The guest, booted; with a test, cleaned up and diagnosed by it."""
    g = linux_guest.LinuxGuest(smp=smp, maxcpus=maxcpus, firmware=firmware,
                               name='stress-%s' % firmware)
    if test_or_none is not None:
        test_or_none.addCleanup(g.shutdown)
        test_or_none.diag.append(lambda: 'guest console tail:\n' +
                                 g.console_tail())
        test_or_none.diag.append(lambda: 'SMI table:\n' + g.smi_table())
    g.boot()
    return g
