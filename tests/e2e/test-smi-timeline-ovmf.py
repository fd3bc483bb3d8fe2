#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, real firmware under TCG: fork/smi-timeline on a real trace.
# Debian's OVMF SMM build boots to the UEFI shell on 2 vCPUs with QEMU's
# SMI trace events on; then the VM stops, and what the timeline drew from
# the trace -- SMIs raised per vCPU and source, SMM entries -- must be
# exactly what x-query-smi counted, every rendezvous must cover its stays,
# and the picture must have a lane per vCPU.
# check-timeout: 300

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'fork'))
import e2e  # noqa: E402
import forkvm  # noqa: E402
from smitimeline import model, trace  # noqa: E402

CLI = os.path.join(forkvm.TOP, 'fork', 'smi-timeline')
SOURCES = ('apm-broadcast', 'apm-unicast', 'apic', 'timer', 'other')


class SmiTimelineOvmf(e2e.Test):
    def test_timeline_matches_counters(self):
        why = forkvm.ovmf_missing('ovmf')
        if why:
            raise unittest.SkipTest(why)
        with tempfile.TemporaryDirectory() as tmp:
            log = os.path.join(tmp, 'smi.log')
            vm = forkvm.VM(['-machine', 'q35,smm=on', '-accel', 'tcg',
                            '-smp', '2', '-m', '512', '-D', log] +
                           trace.TRACE_ARGS,
                           name='timeline')
            self.addCleanup(vm.shutdown)
            vm.launch()
            vm.wait_for('the UEFI shell', lambda: 'Shell>' in vm.console(),
                        240)
            vm.cmd('stop')
            info = vm.cmd('x-query-smi')
            vm.shutdown()
            self.diag.append(lambda: 'x-query-smi: %r' % info)

            out = os.path.join(tmp, 'tl')
            proc = subprocess.run([CLI, log, '-o', out], text=True,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
            self.diag.append('smi-timeline:\n' + proc.stdout)
            assert proc.returncode == 0
            with open(out + '.json') as f:
                drawn = json.load(f)

            assert sorted(drawn['cpus']) == ['0', '1'], drawn['cpus']
            for c in info['cpus']:
                d = drawn['cpus'][str(c['cpu-index'])]
                assert c['injected'] > 10, c
                assert d['injected'] == c['injected'], (d, c)
                for src in SOURCES:
                    assert d['raised'].get(src, 0) == c[src], (src, d, c)
                assert d['smm-entries'] == c['smm-entries'], (d, c)
                # the VM stopped between SMIs: every stay ended with RSM
                assert d['rsm'] == c['smm-entries'], (d, c)

            tl = model.Timeline(trace.read(log))
            assert tl.rendezvous and all(r.complete for r in tl.rendezvous)
            for r in tl.rendezvous:
                for cpu in r.cpus:
                    for s in tl.stays[cpu]:
                        if r.start <= s.start <= r.end:
                            assert s.end <= r.end, (r, s)
            slow = tl.slowest()
            assert slow.latency == max(r.latency for r in tl.rendezvous)
            assert drawn['slowest']['latency-ms'] == slow.latency_ms

            with open(out + '.svg') as f:
                svg = f.read()
            for c in info['cpus']:
                lane = 'CPU %d' % c['cpu-index']
                assert lane in svg, lane
                assert '%d SMIs, %d in SMM' % (c['injected'],
                                               c['smm-entries']) in svg, lane
            assert os.path.getsize(out + '.png') > 20000


if __name__ == '__main__':
    e2e.main()
