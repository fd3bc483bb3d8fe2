# SPDX-License-Identifier: GPL-2.0-or-later
#
# Sections boot and shell: seconds from launch to the Linux guest's init,
# and to the UEFI shell (OVMF, no kernel).
#
# Copyright (c) 2026 The Q35 SMM fork authors

import time

from smibench.common import BINARIES, BenchError, log, rotate
from smibench.linux import boot_linux, wait_text
import forkvm


def bench_boot(opts, res):
    """Boots not already measured by the smi section, interleaved."""
    for run in range(opts.runs):
        for vcpus in opts.boot_vcpus:
            name = 'boot to Linux init, %d vCPUs' % vcpus
            for b in rotate(opts.binaries, run):
                if res.count('boot', name, 's', b) > run:
                    continue
                g, secs = boot_linux(opts, b, vcpus)
                g.shutdown()
                res.add('boot', name, 's', b, secs, vcpus=vcpus)
                log('==> boot: %s, %d vCPUs: Linux init after %.1f s'
                    % (b, vcpus, secs))


def bench_shell(opts, res):
    for run in range(opts.runs):
        for vcpus in opts.boot_vcpus:
            for b in rotate(opts.binaries, run):
                vm = forkvm.VM(['-machine', 'q35,smm=on', '-accel', opts.accel,
                                '-smp', str(vcpus), '-m', '512'],
                               qemu=BINARIES[b], name='bench-shell')
                try:
                    t = time.monotonic()
                    vm.launch()
                    wait_text(vm, 'UEFI Interactive Shell', 300)
                    secs = time.monotonic() - t
                except forkvm.ERRORS as e:
                    raise BenchError('%s, %d vCPUs: no UEFI shell: %s\n%s'
                                     % (b, vcpus, e, vm.console()[-500:]))
                finally:
                    vm.shutdown()
                res.add('shell', 'boot to UEFI shell, %d vCPUs' % vcpus, 's',
                        b, secs, vcpus=vcpus)
                log('==> shell: %s, %d vCPUs: UEFI shell after %.1f s'
                    % (b, vcpus, secs))
