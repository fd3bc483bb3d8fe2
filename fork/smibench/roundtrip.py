# SPDX-License-Identifier: GPL-2.0-or-later
#
# Section roundtrip: microseconds per SMI round trip, the mode switch
# alone.  The micro guests (tests/functional/smm-guest/, assembled here)
# raise SMIs back to back from real mode and from paged protected mode and
# write a byte to the debug console after each batch; the host timestamps
# the bytes as they come out of a FIFO.  smi-roundtrip.s: APM SMIs on one
# vCPU, each handled by a bare RSM.  smi-broadcast.s: SMI IPIs to all N
# vCPUs, each counted by its handler, the next one sent when all N
# counted.  The first batch, which translates the code, is not counted.
#
# Copyright (c) 2026 The Q35 SMM fork authors

import os
import select
import subprocess
import tempfile
import time

from smibench.common import BINARIES, BenchError, log, median, rotate
from smm_guest import build_guest

BATCH = 10000           # SMIs per report, as in smi-roundtrip.s
BROADCAST_BATCH = 1000  # as in smi-broadcast.s
VARIANTS = (('real mode', 0), ('paged', 1))
BATCH_TIMEOUT = 30


def images(tmp, **defsyms):
    return {paged: build_guest(tmp, 'smi-roundtrip', PAGED=paged, **defsyms)
            for _, paged in VARIANTS}


def qemu_argv(binary, img, accel, vcpus=1):
    return [BINARIES[binary], '-machine', 'q35,smm=on', '-accel', accel,
            '-smp', str(vcpus), '-display', 'none', '-nodefaults',
            '-m', '256', '-bios', img]


def batch_seconds(binary, img, accel, batches, tmp, vcpus=1):
    """Seconds of each of batches batches, after the warm-up one."""
    fifo = os.path.join(tmp, 'debugcon')
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)
    # opened before QEMU, which opens it read-write and never blocks
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    proc = subprocess.Popen(qemu_argv(binary, img, accel, vcpus) + [
        '-chardev', 'pipe,id=dbg,path=%s' % fifo,
        '-device', 'isa-debugcon,chardev=dbg,iobase=0x402'],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stamps = []
    try:
        while len(stamps) < batches + 1:
            ready, _, _ = select.select([fd], [], [], BATCH_TIMEOUT)
            if not ready:
                raise BenchError('%s: no batch of SMIs within %d s'
                                 % (binary, BATCH_TIMEOUT))
            data = os.read(fd, 64)
            now = time.monotonic()
            if data.strip(b'B'):
                raise BenchError('%s: the micro guest wrote %r'
                                 % (binary, data))
            stamps += [now] * len(data)
    finally:
        proc.kill()
        proc.wait()
        os.close(fd)
    return [b - a for a, b in zip(stamps, stamps[1:])]


def bench_roundtrip(opts, res):
    tmp = tempfile.mkdtemp(prefix='fork-bench-rt-')
    imgs = images(tmp)
    bcast = {(paged, n): build_guest(tmp, 'smi-broadcast', PAGED=paged,
                                     VCPUS=n)
             for _, paged in VARIANTS for n in opts.rt_vcpus}
    for run in range(opts.runs):
        for name, paged in VARIANTS:
            row = 'SMI round trip from %s, 1 vCPU' % name
            for b in rotate(opts.binaries, run):
                one(opts, res, b, row, imgs[paged], BATCH, 1, paged, tmp)
            for n in opts.rt_vcpus:
                row = 'SMI broadcast from %s to %d vCPUs' % (name, n)
                for b in rotate(opts.binaries, run):
                    one(opts, res, b, row, bcast[(paged, n)],
                        BROADCAST_BATCH, n, paged, tmp)
    res.note('roundtrip', 'median of %d batches per run: %d APM SMIs on '
             'one vCPU, each handled by a bare RSM at the default SMBASE; '
             'broadcast: %d SMI IPIs to all vCPUs, each counted in SMM by '
             'every vCPU before the next, TCG %s'
             % (opts.rt_batches, BATCH, BROADCAST_BATCH, opts.tcg_thread))


def one(opts, res, binary, row, img, batch, vcpus, paged, tmp):
    secs = batch_seconds(binary, img, opts.accel, opts.rt_batches, tmp,
                         vcpus)
    us = median(secs) * 1e6 / batch
    res.add('roundtrip', row, 'us', binary, us, vcpus=vcpus,
            paged=bool(paged))
    log('==> roundtrip: %s, %s: %.2f us per SMI (batches %.2f-%.2f)'
        % (binary, row, us, min(secs) * 1e6 / batch,
           max(secs) * 1e6 / batch))
