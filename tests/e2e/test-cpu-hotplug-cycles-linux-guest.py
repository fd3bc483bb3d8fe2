#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, real firmware and a real guest, the slow one: 20 CPU
# plug/unplug cycles in a row with SMM under TCG (OVMF, Linux), without a
# hang or a lost CPU.  Each cycle waits, bounded, for Linux to online the
# new CPU and for QEMU and Linux to let it go again.
# check-timeout: 900

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
from linux_guest import (assert_guest_alive, boot, cpu_add,  # noqa: E402
                         cpu_del, smi_by_index)

CYCLES = 20


def test_twenty_plug_unplug_cycles(diag):
    g = boot(diag, smp=2, maxcpus=3)
    for n in range(CYCLES):
        diag_cycle = 'cycle %d of %d' % (n + 1, CYCLES)
        diag.append(diag_cycle)
        index = cpu_add(g, 'cycle-%d' % n)
        assert index == 2, (diag_cycle, index)
        cpu_del(g, 'cycle-%d' % n, index)
        diag.remove(diag_cycle)
    assert_guest_alive(g, '0-1')
    free = [c for c in g.cmd('query-hotpluggable-cpus')
            if 'qom-path' not in c]
    assert len(free) == 1, free
    # the hotplug SMIs of every cycle reached the CPUs that stayed
    assert all(c['apm-broadcast'] >= CYCLES
               for c in smi_by_index(g).values())


if __name__ == '__main__':
    tap.run([('cpu-hotplug/ovmf-linux/twenty-plug-unplug-cycles',
              test_twenty_plug_unplug_cycles)])
