# SPDX-License-Identifier: GPL-2.0-or-later
#
# The benchmark's output, drawn only from the samples: the table with
# medians, ranges and the fork's ratios to each peer, results.json and
# results.csv, and the plots.
#
# Copyright (c) 2026 The Q35 SMM fork authors

import csv
import json
import os

from smibench.common import REFERENCES, log, median

# a ratio at most this far above 1 is no slowdown
SAME = 1.03


def verdict(row, ref):
    """ok: median ratio <= SAME; noise: above, but the ranges overlap."""
    f, r = row['samples'].get('fork'), row['samples'].get(ref)
    if not f or not r or not median(r):
        return None, ''
    ratio = median(f) / median(r)
    if ratio <= SAME:
        return ratio, 'ok'
    return ratio, 'noise' if min(f) <= max(r) else 'SLOWER'


def fmt(x):
    if x is None:
        return '-'
    if abs(x) >= 100:
        return '%.0f' % x
    return '%.3g' % x


def print_table(res, binaries):
    log('')
    head = '%-44s %-10s' % ('row', 'unit')
    for b in binaries:
        head += ' %-24s' % ('%s median [min-max]' % b)
    head += ''.join(' %-13s' % ('fork/' + ref) for ref in REFERENCES)
    log(head)
    log('-' * len(head))
    for row in res.rows:
        line = '%-44s %-10s' % (row['name'][:44], row['unit'])
        for b in binaries:
            xs = row['samples'].get(b)
            line += ' %-24s' % ('%s [%s-%s]' % (fmt(median(xs)), fmt(min(xs)),
                                                fmt(max(xs))) if xs else '-')
        for ref in REFERENCES:
            ratio, v = verdict(row, ref)
            line += ' %-13s' % ('%.3f %s' % (ratio, v) if ratio else '-')
        log(line.rstrip())
    for row in res.rows:
        for n in row['notes']:
            log('note: %s: %s' % (row['name'], n))
    for name, fails in res.failed.items():
        for b, reason in fails.items():
            log('NOT MEASURED: %s on %s: %s' % (name, b, reason))


def write_data(out, res, meta):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'results.json'), 'w') as f:
        json.dump({'meta': meta, 'rows': [
            dict(r, median={b: median(x) for b, x in r['samples'].items()},
                 ratio={ref: verdict(r, ref)[0] for ref in REFERENCES})
            for r in res.rows]}, f, indent=1)
    with open(os.path.join(out, 'results.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['section', 'row', 'unit', 'vcpus', 'pin', 'broadcast',
                    'tcg', 'binary', 'run', 'value'])
        for r in res.rows:
            p = r['params']
            for b, xs in r['samples'].items():
                for i, x in enumerate(xs):
                    w.writerow([r['section'], r['name'], r['unit'],
                                p.get('vcpus', ''), p.get('pin', ''),
                                p.get('broadcast', ''), p.get('tcg', ''),
                                b, i + 1, '%.6g' % x])


def series(res, unit, key):
    """{label: [(vcpus, median, min, max)]} of the rows in unit."""
    lines = {}
    for r in res.rows:
        if r['unit'] != unit:
            continue
        for b, xs in r['samples'].items():
            lines.setdefault(key(b, r['params']), []).append(
                (r['params']['vcpus'], median(xs), min(xs), max(xs)))
    return {k: sorted(v) for k, v in lines.items()}


def draw(path, title, ylabel, lines, hline=None, logy=False):
    """
    One line per series with min-max error bars, against vCPUs; logy for
    ratios whose series lie orders of magnitude apart.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(12, 6))
    # each series a little to the side, so that equal x do not hide
    # each other's points and ranges
    n = len(lines)
    for i, (label, pts) in enumerate(sorted(lines.items())):
        dodge = 2 ** (0.04 * (i - (n - 1) / 2))
        xs, ys = [p[0] * dodge for p in pts], [p[1] for p in pts]
        err = [[p[1] - p[2] for p in pts], [p[3] - p[1] for p in pts]]
        ax.errorbar(xs, ys, yerr=err, marker='o', capsize=3, label=label)
    if hline:
        ax.axhline(hline[0], color='grey', linestyle='--', label=hline[1])
    ax.set_xscale('log', base=2)
    if logy:
        from matplotlib.ticker import ScalarFormatter
        ax.set_yscale('log')
        top = max(p[3] for pts in lines.values() for p in pts)
        ax.set_yticks([t for t in (0.8, 1, 1.3, 2, 4, 8, 16, 32, 64)
                       if t <= top * 1.5])
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(ScalarFormatter())
        ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ticks = sorted({p[0] for pts in lines.values() for p in pts})
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks])
    ax.set_xlabel('vCPUs')
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    # beside the axes: inside, it covered the points of a corner
    ax.legend(fontsize='small', loc='upper left', bbox_to_anchor=(1.01, 1),
              borderaxespad=0)
    fig.savefig(path, dpi=100, bbox_inches='tight')
    plt.close(fig)
    log('plot: %s' % path)


def plot(out, res):
    os.makedirs(out, exist_ok=True)
    efi = series(res, 'us/read', lambda b, p: '%s %s %s' % (
        b, p['pin'], 'bcast' if p['broadcast'] else 'no-bcast'))
    if efi:
        draw(os.path.join(out, 'smi-cost.png'),
             'efivarfs read: SMM cost per read (median, min-max)',
             'us per read', efi)
    tax = series(res, 'x', lambda b, p: '%s, TCG %s' % (b, p['tcg']))
    if tax:
        draw(os.path.join(out, 'boot-tax.png'),
             'SMM boot tax: OVMF SMM build / non-SMM build, time to Linux '
             'init (median, min-max)', 'SMM boot / non-SMM boot (log scale)',
             tax, hline=(1.3, 'target 1.3x'), logy=True)
