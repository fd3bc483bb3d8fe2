# SPDX-License-Identifier: GPL-2.0-or-later
#
# Section roundtrip: microseconds per SMI round trip on one vCPU, the mode
# switch alone.  The micro guest (tests/e2e/smm-guest/smi-roundtrip.s,
# assembled here) raises APM SMIs back to back, each handled by a bare RSM,
# from real mode and from paged protected mode, and writes a byte to the
# debug console after each batch; the host timestamps the bytes as they
# come out of a FIFO.  The first batch, which translates the code, is not
# counted.
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
VARIANTS = (('real mode', 0), ('paged', 1))
BATCH_TIMEOUT = 30


def images(tmp, **defsyms):
    return {paged: build_guest(tmp, 'smi-roundtrip', PAGED=paged, **defsyms)
            for _, paged in VARIANTS}


def qemu_argv(binary, img, accel):
    return [BINARIES[binary], '-machine', 'q35,smm=on', '-accel', accel,
            '-display', 'none', '-nodefaults', '-m', '256', '-bios', img]


def batch_seconds(binary, img, accel, batches, tmp):
    """Seconds of each of batches batches, after the warm-up one."""
    fifo = os.path.join(tmp, 'debugcon')
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)
    # opened before QEMU, which opens it read-write and never blocks
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    proc = subprocess.Popen(qemu_argv(binary, img, accel) + [
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
    for run in range(opts.runs):
        for name, paged in VARIANTS:
            row = 'SMI round trip from %s, 1 vCPU' % name
            for b in rotate(opts.binaries, run):
                secs = batch_seconds(b, imgs[paged], opts.accel,
                                     opts.rt_batches, tmp)
                us = median(secs) * 1e6 / BATCH
                res.add('roundtrip', row, 'us', b, us, vcpus=1,
                        paged=bool(paged))
                log('==> roundtrip: %s, %s: %.2f us per SMI (batches '
                    '%.2f-%.2f)' % (b, name, us, min(secs) * 1e6 / BATCH,
                                    max(secs) * 1e6 / BATCH))
    res.note('roundtrip', 'median of %d batches of %d APM SMIs per run, '
             'each handled by a bare RSM at the default SMBASE'
             % (opts.rt_batches, BATCH))
