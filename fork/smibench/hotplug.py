# SPDX-License-Identifier: GPL-2.0-or-later
#
# Section hotplug: device_add to CPU online in Linux (fork only: upstream
# 10.0 freezes on the first hot-add with SMM).
#
# Copyright (c) 2026 The Q35 SMM fork authors

import time

from smibench.common import BenchError, log
from smibench.linux import boot_linux
import linux_guest
import forkvm


def bench_hotplug(opts, res):
    """fork/bench-hotplug's measurement: upstream 10.0 freezes, fork only."""
    if 'fork' not in opts.binaries:
        return
    vcpus = 2
    log('==> hotplug: fork, %d vCPUs + 1 hotpluggable' % vcpus)
    g, _ = boot_linux(opts, 'fork', vcpus, maxcpus=vcpus + 1)
    try:
        for n in range(opts.runs):
            t = time.monotonic()
            index = linux_guest.cpu_add(g, 'bench-%d' % n)
            secs = time.monotonic() - t
            res.add('hotplug', 'CPU hotplug, device_add to online', 's',
                    'fork', secs, vcpus=vcpus)
            log('    run %d: CPU %d online after %.2f s' % (n + 1, index,
                                                            secs))
            linux_guest.cpu_del(g, 'bench-%d' % n, index)
    except forkvm.ERRORS + (AssertionError,) as e:
        raise BenchError('hotplug: %s\n%s' % (e, g.console_tail(15)))
    finally:
        g.shutdown()
    res.index[('hotplug', 'CPU hotplug, device_add to online', 's')][
        'notes'].append('resolution 0.2 s (the guest polls sysfs); '
                        'upstream 10.0 freezes, fork only')
