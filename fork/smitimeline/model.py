# SPDX-License-Identifier: GPL-2.0-or-later
#
# From SMI events to what a firmware engineer asks of them: each vCPU's
# stays in SMM, and the rendezvous -- a maximal stretch of time in which
# at least one vCPU is in SMM, from its first entry to its last RSM, which
# is what every vCPU waits for when firmware gathers them all for an SMI.

import collections
import statistics

# how: 'rsm'; 'reset' (a reset or INIT left SMM); 'open' (still in SMM
# when the window ends, or the trace lost the stay's end)
Stay = collections.namedtuple('Stay', 'cpu start end how')


class Timeline:
    def __init__(self, events, start=None, end=None):
        """
        Events from trace.parse(); keep those in [start, end] (Unix
        seconds).  Times are microseconds, as the trace has them.  A stay
        still open at the end lasts until end if given (a hang goes on
        after its last event), else until the last event.
        """
        events = [e for e in events
                  if (start is None or e.t >= start * 1e6) and
                  (end is None or e.t <= end * 1e6)]
        self.events = events
        self.t0 = events[0].t if events else 0
        self.t1 = events[-1].t if events else 0
        if events and end is not None:
            self.t1 = max(self.t1, int(end * 1e6))
        self.cpus = sorted({e.cpu for e in events})
        self.raises = collections.defaultdict(list)   # cpu -> [(t, source)]
        self.stays = collections.defaultdict(list)    # cpu -> [Stay]
        self._build()
        self.rendezvous = self._group()

    def _build(self):
        open_at = {}
        for e in self.events:
            if e.kind == 'raise':
                self.raises[e.cpu].append((e.t, e.source))
            elif e.kind == 'enter':
                if e.cpu in open_at:        # the trace lost its end
                    self.stays[e.cpu].append(
                        Stay(e.cpu, open_at[e.cpu], e.t, 'open'))
                open_at[e.cpu] = e.t
            elif e.cpu in open_at:
                self.stays[e.cpu].append(
                    Stay(e.cpu, open_at.pop(e.cpu), e.t,
                         'rsm' if e.kind == 'exit' else 'reset'))
            # an end whose entry came before the window: skipped
        for cpu, t in open_at.items():      # still in SMM at the end
            self.stays[cpu].append(Stay(cpu, t, self.t1, 'open'))

    def _group(self):
        stays = sorted((s for ss in self.stays.values() for s in ss),
                       key=lambda s: s.start)
        groups = []
        for s in stays:
            if groups and s.start <= groups[-1]['end']:
                g = groups[-1]
                g['end'] = max(g['end'], s.end)
                g['stays'].append(s)
            else:
                groups.append({'start': s.start, 'end': s.end,
                               'stays': [s]})
        raises = sorted((t, src) for rr in self.raises.values()
                        for t, src in rr)
        out = []
        prev_end = float('-inf')
        for g in groups:
            sources = collections.Counter(
                src for t, src in raises if prev_end < t <= g['end'])
            out.append(Rendezvous(g['start'], g['end'],
                                  sorted({s.cpu for s in g['stays']}),
                                  dict(sources),
                                  all(s.how != 'open'
                                      for s in g['stays'])))
            prev_end = g['end']
        return out

    def slowest(self):
        done = [r for r in self.rendezvous if r.complete]
        return max(done, key=lambda r: r.latency) if done else None

    def per_cpu(self):
        """What each vCPU received and did, as x-query-smi counts it."""
        out = {}
        for cpu in self.cpus:
            stays = self.stays.get(cpu, [])
            raised = collections.Counter(src for t, src in
                                         self.raises.get(cpu, []))
            out[cpu] = {
                'raised': dict(raised),
                'injected': sum(raised.values()),
                'smm-entries': sum(1 for e in self.events
                                   if e.cpu == cpu and e.kind == 'enter'),
                'rsm': sum(1 for s in stays if s.how == 'rsm'),
                'reset': sum(1 for s in stays if s.how == 'reset'),
                'open': sum(1 for s in stays if s.how == 'open'),
                'smm-ms': sum(s.end - s.start for s in stays) / 1e3,
                'longest-stay-ms': max((s.end - s.start for s in stays),
                                       default=0) / 1e3,
            }
        return out

    def summary(self):
        lat = [r.latency_ms for r in self.rendezvous if r.complete]
        slow = self.slowest()
        return {
            'start': self.t0 / 1e6, 'end': self.t1 / 1e6,
            'cpus': {str(k): v for k, v in self.per_cpu().items()},
            'rendezvous': [r.as_dict() for r in self.rendezvous],
            'latency-ms': {
                'count': len(lat),
                'median': statistics.median(lat) if lat else None,
                'max': max(lat) if lat else None,
            },
            'slowest': slow.as_dict() if slow else None,
        }


class Rendezvous(collections.namedtuple(
        'Rendezvous', 'start end cpus sources complete')):
    """complete: every stay in it ended (RSM or reset) in the window."""

    @property
    def latency(self):
        """First entry to last RSM, in microseconds"""
        return self.end - self.start

    @property
    def latency_ms(self):
        return self.latency / 1e3

    def as_dict(self):
        return {'start': self.start / 1e6, 'end': self.end / 1e6,
                'latency-ms': self.latency_ms, 'cpus': self.cpus,
                'sources': self.sources, 'complete': self.complete}
