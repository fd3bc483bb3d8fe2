#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, real firmware and a real Linux guest: a short randomized CPU
# plug/unplug run with SMM (cpu_hotplug_stress.py) on 8 CPU slots, with
# OVMF 2022.11 and 2025.02: after every operation Linux, QEMU and SMM
# agree, every unplug sent DEVICE_DELETED and the guest is alive.  The
# seed is new each run and printed; FORK_STRESS_SEED=N repeats one.
# 'make stress' runs 200 operations and more.
# check-timeout: 600

import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpu_hotplug_stress as stress  # noqa: E402
import e2e  # noqa: E402
import forkvm  # noqa: E402

OPERATIONS = 30
MAXCPUS = 8


def seed():
    value = os.environ.get('FORK_STRESS_SEED')
    return int(value) if value else random.randrange(1 << 32)


def short_run(firmware):
    def run(test):
        why = forkvm.ovmf_missing(firmware)
        if why:
            raise unittest.SkipTest(why)
        g = stress.boot(test, firmware, MAXCPUS)
        s = stress.Stress(g, seed())
        test.diag.append(lambda: 'stress seed %d; operations: %s'
                         % (s.seed, '; '.join(s.history)))
        counts = s.run(OPERATIONS)
        print('seed %d: %s' % (s.seed, ', '.join('%s %d' % kv
                                                 for kv in counts.items())))
    return run


class CpuHotplugStressLinuxGuest(e2e.Test):
    """30 random plug/unplug operations, invariants after each."""


e2e.add_test(CpuHotplugStressLinuxGuest, 'random_ops_ovmf_2022_11',
             short_run('ovmf'))
e2e.add_test(CpuHotplugStressLinuxGuest, 'random_ops_ovmf_2025_02',
             short_run('ovmf-trixie'))


if __name__ == '__main__':
    e2e.main()
