#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# fork/smi-timeline on traces written by hand: what a stay and a
# rendezvous are, the slowest one, a vCPU still in SMM, a reset in SMM,
# the time window, the summary the picture is drawn from, and the
# command's errors for traces it cannot use.

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..'))
import e2e  # noqa: E402
from smitimeline import model, trace  # noqa: E402

CLI = os.path.join(HERE, '..', 'smi-timeline')
T = 1795000000


def line(dt_us, what):
    t = T * 1000000 + dt_us
    return '4242@%d.%06d:x86_cpu_%s' % (t // 1000000, t % 1000000, what)


# A broadcast to CPUs 0 and 1 (CPU 1 is late: 300 us of rendezvous), an
# APIC SMI to CPU 1 alone, then CPU 0 enters SMM and never leaves.
TRACE = [
    'some other log line',
    line(0, 'smi_raise cpu 0 source apm-broadcast'),
    line(0, 'smi_raise cpu 1 source apm-broadcast'),
    line(10, 'smm_enter cpu 0 entries 1'),
    line(300, 'smm_enter cpu 1 entries 1'),
    line(350, 'smm_exit cpu 1'),
    line(310, 'smm_exit cpu 0'),
    line(1000, 'smi_raise cpu 1 source apic'),
    line(1020, 'smm_enter cpu 1 entries 2'),
    line(1100, 'smm_exit cpu 1'),
    line(5000, 'smi_raise cpu 0 source apm-unicast'),
    line(5010, 'smm_enter cpu 0 entries 2'),
    line(9000, 'smi_raise cpu 1 source timer'),
]


def timeline(lines=TRACE, **kw):
    return model.Timeline(trace.parse(lines), **kw)


class SmiTimeline(e2e.Test):
    def test_parse(self):
        ev = trace.parse(TRACE)
        assert len(ev) == 12, ev
        assert [e.t for e in ev] == sorted(e.t for e in ev)
        assert ev[0] == trace.Event(T * 1000000, 0, 'raise',
                                    'apm-broadcast'), ev[0]
        assert ev[-1].kind == 'raise' and ev[-1].source == 'timer', ev[-1]
        assert {e.kind for e in ev} == {'raise', 'enter', 'exit'}

    def test_unstamped_trace_refused(self):
        try:
            trace.parse(['x86_cpu_smm_enter cpu 0 entries 1'])
        except trace.TraceError as e:
            assert '-msg timestamp=on' in str(e), e
        else:
            raise AssertionError('an unstamped trace was accepted')

    def test_stays_and_counts(self):
        per = timeline().per_cpu()
        assert per[0]['raised'] == {'apm-broadcast': 1, 'apm-unicast': 1}, per
        assert per[1]['raised'] == {'apm-broadcast': 1, 'apic': 1,
                                    'timer': 1}, per
        assert per[0]['smm-entries'] == 2 and per[0]['rsm'] == 1, per
        assert per[1]['smm-entries'] == 2 and per[1]['rsm'] == 2, per
        assert per[1]['longest-stay-ms'] == 0.080, per

    def test_rendezvous(self):
        tl = timeline()
        r = tl.rendezvous
        assert len(r) == 3, r
        # first entry (CPU 0, +10 us) to last RSM (CPU 1, +350 us)
        assert r[0].cpus == [0, 1] and r[0].complete, r[0]
        assert r[0].latency == 340, r[0]
        assert r[0].sources == {'apm-broadcast': 2}, r[0]
        assert r[1].cpus == [1] and r[1].sources == {'apic': 1}, r[1]
        # CPU 0 is still in SMM when the trace ends: not complete, and so
        # never the slowest, however long
        assert r[2].cpus == [0] and not r[2].complete, r[2]
        assert tl.slowest() == r[0], tl.slowest()

    def test_reset_in_smm_ends_the_stay(self):
        tl = timeline([line(0, 'smm_enter cpu 0 entries 1'),
                       line(40, 'smm_reset cpu 0'),
                       line(50, 'smm_enter cpu 0 entries 2'),
                       line(60, 'smm_exit cpu 0'),
                       line(70, 'smm_enter cpu 0 entries 3'),
                       line(80, 'smm_enter cpu 0 entries 4')])
        stays = tl.stays[0]
        # the third stay's end was lost: open, as is the fourth
        assert [(s.how, s.end) for s in stays] == [
            ('reset', T * 1000000 + 40), ('rsm', T * 1000000 + 60),
            ('open', T * 1000000 + 80), ('open', T * 1000000 + 80)], stays
        assert [r.complete for r in tl.rendezvous] == [True, True, False], \
            tl.rendezvous
        assert tl.per_cpu()[0]['reset'] == 1

    def test_open_stay_lasts_until_the_window_ends(self):
        """A hang goes on after its last event: --end stretches it."""
        tl = timeline(end=T + 2.5)
        last = tl.stays[0][-1]
        assert last.how == 'open' and last.end == (T + 2.5) * 1000000, last
        longest = tl.per_cpu()[0]['longest-stay-ms']
        assert longest == (2500000 - 5010) / 1e3, longest

    def test_window(self):
        tl = timeline(start=T + 900e-6, end=T + 2000e-6)
        assert tl.cpus == [1], tl.cpus
        assert len(tl.rendezvous) == 1 and tl.rendezvous[0].complete
        # an RSM whose entry lies before the window is not a stay
        tl = timeline(start=T + 320e-6, end=T + 400e-6)
        assert tl.rendezvous == [], tl.rendezvous

    def test_command_writes_picture_and_summary(self):
        with tempfile.TemporaryDirectory() as tmp:
            log = os.path.join(tmp, 'smi.log')
            with open(log, 'w') as f:
                f.write('\n'.join(TRACE) + '\n')
            out = os.path.join(tmp, 'tl')
            proc = subprocess.run([CLI, log, '-o', out], text=True,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
            self.diag.append(proc.stdout)
            assert proc.returncode == 0
            assert 'still in SMM at the end of the trace: CPUs 0' in \
                proc.stdout
            assert '2 rendezvous, latency median 0.210 ms, slowest 0.340 ms' \
                in proc.stdout, proc.stdout
            with open(out + '.png', 'rb') as f:
                assert f.read(8) == b'\x89PNG\r\n\x1a\n'
            with open(out + '.svg') as f:
                svg = f.read()
            for text in ('CPU 0', 'CPU 1', 'slowest: 0.340 ms'):
                assert text in svg, text
            with open(out + '.json') as f:
                s = json.load(f)
            assert s['cpus']['1']['injected'] == 3, s['cpus']
            assert s['slowest']['cpus'] == [0, 1], s['slowest']

    def test_command_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            cases = [('empty', ['no SMI events here'], 'no SMI trace events'),
                     ('unstamped', ['x86_cpu_smm_exit cpu 0'],
                      '-msg timestamp=on')]
            for name, lines, msg in cases:
                log = os.path.join(tmp, name)
                with open(log, 'w') as f:
                    f.write('\n'.join(lines) + '\n')
                proc = subprocess.run([CLI, log, '-o', os.path.join(tmp, 'o')],
                                      text=True, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT)
                assert proc.returncode != 0 and msg in proc.stdout, proc.stdout
            proc = subprocess.run([CLI, os.path.join(tmp, 'missing')],
                                  text=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
            assert proc.returncode != 0 and 'No such file' in proc.stdout


if __name__ == '__main__':
    e2e.main()
