# SPDX-License-Identifier: GPL-2.0-or-later
#
# Section smi: a guest loop reading one UEFI variable through efivarfs
# (OVMF serves it in SMM), minus the same loop over a tmpfs copy: us per
# read and per SMI, pinned to the BSP and to an AP, with broadcast SMIs
# negotiated and switched off.
#
# Copyright (c) 2026 The Q35 SMM fork authors

from smibench.common import BenchError, ReadError, log, median, rotate
from smibench.linux import (VAR_PATH, boot_linux, prepare_variable,
                            read_loop, smi_counts, smi_delta)

LOOP_REPS = 2


def bench_smi(opts, res):
    pins = [(0, 'BSP'), (1, 'AP')]
    for vcpus in opts.vcpus:
        for bcast in (True, False):
            mode = 'broadcast' if bcast else 'no-broadcast'
            log('==> smi: %d vCPUs, %s: booting %s' % (
                vcpus, mode, ', '.join(opts.binaries)))
            names = ['smi read %d vCPUs %s %s' % (vcpus, pin, mode)
                     for _, pin in pins[:min(vcpus, 2)]]
            guests, n = {}, None
            try:
                for b in opts.binaries:
                    g, secs = boot_linux(opts, b, vcpus, bcast)
                    guests[b] = g
                    log('    %s: Linux init after %.1f s' % (b, secs))
                    if bcast and 'boot' in opts.only:
                        res.add('boot', 'boot to Linux init, %d vCPUs' % vcpus,
                                's', b, secs, vcpus=vcpus)
                    try:
                        prepare_variable(g)
                        n = n or calibrate(opts, g)
                    except ReadError as e:
                        failed(res, names, b, e)
                for run in range(opts.runs):
                    for b in rotate(opts.binaries, run):
                        for (cpu, pin), name in zip(pins, names):
                            if b in res.failed.get(name, {}):
                                continue
                            try:
                                smi_run(opts, res, guests[b], b, name, cpu,
                                        n, dict(vcpus=vcpus, pin=pin,
                                                broadcast=bcast))
                            except ReadError as e:
                                failed(res, names, b, e)
            finally:
                for g in guests.values():
                    g.shutdown()


def failed(res, names, b, e):
    log('    %s: %s: NOT MEASURED (read errors are never timed)' % (b, e))
    for name in names:
        res.fail(name, b, str(e))


def calibrate(opts, g):
    """
    Reads per loop so that one loop takes about --loop-seconds; the
    calibration loop also warms the translation cache up.
    """
    per = read_loop(g, VAR_PATH, 100, 0)
    n = max(5, min(20000, int(opts.loop_seconds * 1e6 / per)))
    log('    %d reads per loop (%.0f us per raw read)' % (n, per))
    return n


def smi_run(opts, res, g, b, name, cpu, n, params):
    """
    LOOP_REPS loops over the variable alternating with loops over the tmpfs
    copy; the fastest of each kind is the least disturbed by the host.
    """
    counted = b == 'fork'
    raw, copy, raised, entries = [], [], 0, 0
    for _ in range(LOOP_REPS):
        c0 = smi_counts(g) if counted else None
        raw.append(read_loop(g, VAR_PATH, n, cpu))
        c1 = smi_counts(g) if counted else None
        copy.append(read_loop(g, '/tmp/var-copy', n, cpu))
        if counted:
            r, e = smi_delta(c0, c1)
            if r < n:
                raise ReadError('%d reads raised only %d SMIs: efivarfs '
                                'does not reach SMM' % (n, r))
            if smi_delta(c1, smi_counts(g))[0]:
                raise BenchError('%s: the tmpfs loop raised SMIs' % name)
            raised, entries = raised + r, entries + e
    raw, copy = min(raw), min(copy)
    reads = n * LOOP_REPS
    if counted:
        res.add('smi', name, 'SMI/read', b, raised / reads, **params)
        res.add('smi', name, 'entry/read', b, entries / reads, **params)
    res.add('smi', name, 'us/read', b, raw - copy, **params)
    log('    %-6s %s: %.0f us/read (raw %.0f, tmpfs %.0f)%s'
        % (b, name, raw - copy, raw, copy,
           ', %.2f SMIs and %.1f SMM entries per read' % (
               raised / reads, entries / reads) if counted else ''))


def per_smi_rows(res):
    """us per SMI: every binary's us/read over the fork's SMIs per read."""
    for row in list(res.rows):
        if row['unit'] != 'us/read':
            continue
        counts = res.index.get(('smi', row['name'], 'SMI/read'))
        if not counts:
            continue
        spr = median(counts['samples']['fork'])
        for b, xs in row['samples'].items():
            for x in xs:
                res.add('smi', row['name'], 'us/SMI', b, x / spr,
                        **row['params'])
        res.index[('smi', row['name'], 'us/SMI')]['notes'].append(
            'per SMI with the fork\'s count for every binary (%.2f SMIs '
            'per read; upstream has no counters)' % spr)
    if any(r['section'] == 'smi' for r in res.rows):
        res.rows[[r['section'] for r in res.rows].index('smi')][
            'notes'].append('BSP/AP pin the reading process; Linux calls '
                            'EFI runtime services from its efi_rts_wq '
                            'workqueue, on any vCPU')
