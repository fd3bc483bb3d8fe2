# SPDX-License-Identifier: GPL-2.0-or-later
#
# Section callgrind: host instructions per SMI round trip, a figure that
# does not depend on what else the host runs.  The micro guest raises
# exactly N SMIs and leaves through isa-debug-exit; valgrind's callgrind
# counts the instructions of the vCPU thread (the main loop's timers tick
# with the host clock, which valgrind slows down unevenly), once for
# N = LOW and once for N = HIGH: the difference over HIGH - LOW is the
# cost of one round trip, with start-up and translation cancelled out.  The same difference per function is the
# profile of where a round trip's time goes.
#
# Copyright (c) 2026 The Q35 SMM fork authors

import glob
import os
import re
import shutil
import subprocess
import tempfile

from smibench.common import BenchError, log
from smibench.roundtrip import VARIANTS, images, qemu_argv

LOW, HIGH = 500, 2500
DEBUG_EXIT_STATUS = (0x5a << 1) | 1     # isa-debug-exit of the APM value
TOP_FUNCTIONS = 12


def count(binary, img, tmp):
    """(total, {function: self instructions}) of the vCPU thread."""
    out = os.path.join(tmp, 'callgrind.out')
    for f in glob.glob(out + '*'):
        os.unlink(f)
    # multi-threaded TCG: no round-robin kick timer
    argv = ['valgrind', '--tool=callgrind', '--callgrind-out-file=' + out,
            '--trace-children=yes', '--separate-threads=yes'] + qemu_argv(
                binary, img, 'tcg,thread=multi') + [
            '-device', 'isa-debug-exit,iobase=0xf4']
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=600)
    if p.returncode != DEBUG_EXIT_STATUS:
        raise BenchError('%s under callgrind exited with %d:\n%s'
                         % (binary, p.returncode, p.stderr[-2000:]))
    # the vCPU thread is the one that executed RSM (helper_rsm is a
    # global symbol: Debian's binary names it too)
    runs = [annotate(f) for f in glob.glob(out + '-*')]
    runs = [r for r in runs if r[1].get('helper_rsm')]
    if len(runs) != 1:
        raise BenchError('%s: %d threads executed RSM under callgrind, '
                         'not one' % (binary, len(runs)))
    return runs[0]


def annotate(path):
    ann = subprocess.run(['callgrind_annotate', '--inclusive=no', '--auto=no',
                          '--threshold=100', path], stdout=subprocess.PIPE,
                         text=True, check=True).stdout
    total, funcs = None, {}
    for line in ann.splitlines():
        m = re.match(r'\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(\S.*)$', line)
        if not m:
            continue
        n = int(m.group(1).replace(',', ''))
        what = m.group(2)
        if 'PROGRAM TOTALS' in what:
            total = n
        elif ':' in what:
            name = what.split(':', 1)[1].split(' [')[0].strip()
            funcs[name] = funcs.get(name, 0) + n
    if total is None:
        raise BenchError('no totals in callgrind_annotate output')
    return total, funcs


def one_difference(binary, low, high, tmp):
    t0, f0 = count(binary, low, tmp)
    t1, f1 = count(binary, high, tmp)
    return (t1 - t0) / (HIGH - LOW), f0, f1


def bench_callgrind(opts, res):
    if not shutil.which('valgrind'):
        raise BenchError('callgrind needs valgrind (Debian package '
                         'valgrind)')
    tmp = tempfile.mkdtemp(prefix='fork-bench-cg-')
    low, high = images(tmp, COUNT=LOW), images(tmp, COUNT=HIGH)
    for name, paged in VARIANTS:
        row = 'host instructions per SMI from %s' % name
        for b in opts.binaries:
            per, f0, f1 = one_difference(b, low[paged], high[paged], tmp)
            res.add('callgrind', row, 'instr', b, per, vcpus=1,
                    paged=bool(paged))
            log('==> callgrind: %s, %s: %.0f instructions per SMI round '
                'trip' % (b, name, per))
            if b == 'fork' or opts.profile_all:
                profile(b, name, f0, f1, per)
    res.note('callgrind', 'valgrind --tool=callgrind, the vCPU thread, '
             '(run of %d SMIs - run of %d) / %d; exact, one run'
             % (HIGH, LOW, HIGH - LOW))


def profile(binary, name, f0, f1, per):
    diff = {f: (f1.get(f, 0) - f0.get(f, 0)) / (HIGH - LOW)
            for f in set(f0) | set(f1)}
    log('    where one round trip from %s goes on %s (self instructions):'
        % (name, binary))
    for f, n in sorted(diff.items(), key=lambda kv: -kv[1])[:TOP_FUNCTIONS]:
        log('    %8.0f  %5.1f%%  %s' % (n, 100 * n / per, f))
