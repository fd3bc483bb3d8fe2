# SPDX-License-Identifier: GPL-2.0-or-later
#
# Draw a Timeline: one lane per vCPU with its stays in SMM and the SMIs
# raised for it, the rendezvous shaded, the slowest one marked, and below
# the latency of every rendezvous (first entry to last RSM).  Debian's
# python3-matplotlib, no display needed.

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

SOURCE_COLORS = {
    'apm-broadcast': 'tab:orange',
    'apm-unicast': 'tab:green',
    'apic': 'tab:purple',
    'timer': 'tab:brown',
    'other': 'tab:gray',
}
STAY = 'tab:blue'
NO_RSM = 'tab:red'
RESET = 'tab:olive'
HOW_COLORS = {'rsm': STAY, 'reset': RESET, 'open': NO_RSM}


def _cpu_list(cpus):
    return ', '.join(str(c) for c in cpus)


def draw(tl, paths, title='SMI timeline'):
    """Write the picture of tl to every path (.png, .svg)."""
    ms = lambda t: (t - tl.t0) / 1e3  # noqa: E731
    n = max(len(tl.cpus), 1)
    fig, (ax, lat) = plt.subplots(
        2, 1, sharex=True, figsize=(12, 2.4 + 0.5 * n + 1.8),
        gridspec_kw={'height_ratios': [max(1.5, 0.5 * n), 1.6]})
    lane = {cpu: i for i, cpu in enumerate(tl.cpus)}
    slow = tl.slowest()

    for r in tl.rendezvous:
        ax.axvspan(ms(r.start), ms(r.end), color='0.88', zorder=0, lw=0)
    if slow:
        ax.axvspan(ms(slow.start), ms(slow.end), color=NO_RSM, alpha=0.18,
                   zorder=0, lw=0)
    for cpu in tl.cpus:
        y = lane[cpu]
        for s in tl.stays.get(cpu, []):
            color = HOW_COLORS[s.how]
            # an edge as wide as a line keeps 50 us stays visible
            ax.broken_barh([(ms(s.start), ms(s.end) - ms(s.start))],
                           (y - 0.28, 0.56), facecolors=color,
                           edgecolors=color, linewidth=0.8, zorder=2)
        for t, src in tl.raises.get(cpu, []):
            ax.plot(ms(t), y - 0.42, marker='v', markersize=5, zorder=3,
                    color=SOURCE_COLORS.get(src, 'black'), linestyle='')
    per_cpu = tl.per_cpu()
    ax.set_yticks(range(n))
    ax.set_yticklabels(['CPU %d\n%d SMIs, %d in SMM' %
                        (c, per_cpu[c]['injected'], per_cpu[c]['smm-entries'])
                        for c in tl.cpus] or ['no SMI'])
    ax.set_ylim(n - 0.4, -0.7)
    ax.grid(axis='x', color='0.8', lw=0.5)

    lat_ms = [r.latency_ms for r in tl.rendezvous if r.complete]
    s = tl.summary()['latency-ms']
    head = '%s: %d SMIs raised, %d rendezvous' % (
        title, sum(p['injected'] for p in per_cpu.values()),
        len(tl.rendezvous))
    if lat_ms:
        head += ', latency median %.3f ms, slowest %.3f ms' % (s['median'],
                                                              s['max'])
    ax.set_title(head, loc='left', fontsize=11)

    hows = {s.how for ss in tl.stays.values() for s in ss}
    handles = [Patch(color=HOW_COLORS[how], label=label)
               for how, label in (('rsm', 'in SMM, left by RSM'),
                                  ('reset', 'in SMM, left by reset/INIT'),
                                  ('open', 'in SMM, still there'))
               if how in hows or how == 'rsm']
    handles.append(Patch(color='0.88', label='rendezvous'))
    seen = {src for rr in tl.raises.values() for t, src in rr}
    handles += [Line2D([], [], marker='v', linestyle='', color=c,
                       label='SMI raised: %s' % src)
                for src, c in SOURCE_COLORS.items() if src in seen]
    ax.legend(handles=handles, loc='upper left', bbox_to_anchor=(1.01, 1),
              fontsize=8, frameon=False)

    done = [r for r in tl.rendezvous if r.complete]
    lat.vlines([ms(r.start) for r in done], 0, lat_ms, color=STAY, lw=1)
    lat.plot([ms(r.start) for r in done], lat_ms, 'o', color=STAY,
             markersize=3)
    if slow:
        lat.plot(ms(slow.start), slow.latency_ms, 'o', color=NO_RSM,
                 markersize=6)
        lat.annotate('  slowest: %.3f ms, CPUs %s'
                     % (slow.latency_ms, _cpu_list(slow.cpus)),
                     xy=(ms(slow.start), slow.latency_ms), fontsize=9,
                     color='darkred', va='top')
    if lat_ms and max(lat_ms) > 100 * max(min(lat_ms), 1e-3):
        lat.set_yscale('log')
    else:
        lat.set_ylim(bottom=0)
    open_cpus = sorted({c for r in tl.rendezvous if not r.complete
                        for c in r.cpus})
    if open_cpus:
        lat.text(0.01, 0.92, 'not ended when the trace ends: the rendezvous '
                 'of CPUs %s' % _cpu_list(open_cpus), color='darkred',
                 transform=lat.transAxes, fontsize=9, va='top')
    lat.set_ylabel('rendezvous\nlatency (ms)')
    lat.set_xlabel('ms since the first SMI event (host clock)')
    lat.grid(color='0.85', lw=0.5)
    fig.tight_layout()
    for p in paths:
        fig.savefig(p, dpi=110)
    plt.close(fig)
