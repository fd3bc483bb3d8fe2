# SPDX-License-Identifier: GPL-2.0-or-later
#
# --profile: perf (cpu-clock) over one efivarfs loop on the fork, by
# category and by function.
#
# Copyright (c) 2026 The Q35 SMM fork authors

import os
import re
import shutil
import signal
import subprocess
import time

from smibench.common import BenchError, log
from smibench.efivarfs import calibrate
from smibench.linux import VAR_PATH, boot_linux, prepare_variable, read_loop

PROFILE_CATEGORIES = [
    ('SMM entry/exit (do_smm_enter, helper_rsm)',
     re.compile(r'^(do_smm_enter|helper_rsm)$')),
    ('TLB flushes (tlb_flush*)', re.compile(r'^tlb_flush')),
    ('memory map / address-space updates',
     re.compile(r'^(memory_region_transaction_commit|address_space_update|'
                r'flatview_|tcg_commit|cpu_reloading_memory_map)')),
    ('TCG translation', re.compile(r'^(tb_gen_code|tcg_gen_code|'
                                   r'gen_intermediate_code|translator_loop|'
                                   r'tcg_optimize|disas_insn)')),
    ('cpu_exec loop (outside generated code)',
     re.compile(r'^(cpu_exec|cpu_tb_exec|tb_lookup|tb_htable_lookup|'
                r'helper_lookup_tb_ptr|cpu_handle_)')),
]


def profile(opts):
    perf = shutil.which('perf')
    if not perf:
        raise BenchError('--profile needs perf (Debian package linux-perf)')
    os.makedirs(opts.out, exist_ok=True)
    data = os.path.join(opts.out, 'perf.data')
    vcpus = opts.vcpus[0]
    g, _ = boot_linux(opts, 'fork', vcpus)
    try:
        prepare_variable(g)
        n = calibrate(opts, g)
        n *= 3
        rec = subprocess.Popen([perf, 'record', '-q', '-e', 'cpu-clock',
                                '-F', '999', '-g', '-p', str(g.get_pid()),
                                '-o', data], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        t = time.monotonic()
        raw = read_loop(g, VAR_PATH, n, 0)
        wall = time.monotonic() - t
        rec.send_signal(signal.SIGINT)
        rec.wait()
    finally:
        g.shutdown()
    out = subprocess.run([perf, 'script', '-i', data, '-F', 'tid,ip,sym'],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    samples, incl, leaf, threads = 0, {}, {}, {}
    for block in out.split('\n\n'):
        lines = [ln.strip() for ln in block.strip().splitlines()]
        if not lines:
            continue
        samples += 1
        frames = [ln.split(None, 1) for ln in lines[1:] if ' ' in ln]
        # the host kernel: syscalls, scheduling, waiting
        where = ('host kernel' if frames and frames[0][0].startswith('ffff')
                 else 'QEMU (user space)')
        threads[where] = threads.get(where, 0) + 1
        syms = [f[1].split('+')[0] for f in frames]
        seen = set()
        for cat, rx in PROFILE_CATEGORIES:
            if any(rx.match(s) for s in syms):
                seen.add(cat)
        for cat in seen:
            incl[cat] = incl.get(cat, 0) + 1
        top = syms[0] if syms else '[unknown]'
        if top == '[unknown]' and where != 'host kernel':
            top = '[unknown: TCG generated code]'
        leaf[top] = leaf.get(top, 0) + 1
    if not samples:
        raise BenchError('perf recorded no samples')
    log('')
    log('==> profile: fork, %d vCPUs, %d efivarfs reads on the BSP, %.0f us '
        'per raw read, %.1f s wall, %d samples at 999 Hz (%.1f CPU-s, '
        '%.0f%% of %d host cores; the rest is idle)'
        % (vcpus, n, raw, wall, samples, samples / 999,
           100 * samples / 999 / wall / os.cpu_count(), os.cpu_count()))
    log('    by category (inclusive; categories can overlap):')
    for cat, _ in PROFILE_CATEGORIES:
        log('    %6.1f%%  %s' % (100 * incl.get(cat, 0) / samples, cat))
    log('    by address space:')
    for t, c in sorted(threads.items(), key=lambda x: -x[1])[:6]:
        log('    %6.1f%%  %s' % (100 * c / samples, t))
    log('    top functions (self):')
    for s, c in sorted(leaf.items(), key=lambda x: -x[1])[:15]:
        log('    %6.1f%%  %s' % (100 * c / samples, s))
    log('    perf data: %s (perf report -i %s)' % (data, data))
