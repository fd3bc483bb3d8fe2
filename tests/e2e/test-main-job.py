#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, real firmware and guest: the main job ('make run',
# fork/run-vm) boots Debian's OVMF SMM build and Linux under TCG, reports
# what the firmware negotiated (0x7) and the SMIs each vCPU received, and
# hot-adds a CPU, drawing that step's SMI timeline; --no-guest stops at
# the UEFI shell; with SeaBIOS, which does not negotiate, it says so and
# still shows SMM was entered.
# check-timeout: 400

import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'fork'))
import e2e  # noqa: E402
import forkvm  # noqa: E402

RUN_VM = os.path.join(forkvm.TOP, 'fork', 'run-vm')


def run_vm(test, *args):
    proc = subprocess.run([RUN_VM, '--timeout', '240'] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=300)
    test.diag.append('run-vm output:\n' + proc.stdout)
    assert proc.returncode == 0, 'run-vm exited with %d' % proc.returncode
    return proc.stdout


def smi_rows(out):
    """{cpu: [injected, apm-broadcast, apm-unicast, apic, other, smm]}"""
    rows = {}
    for m in re.finditer(r'^\s+(\d+)((?:\s+\d+){6})\s*$', out, re.M):
        rows[int(m.group(1))] = [int(x) for x in m.group(2).split()]
    return rows


def require_ovmf():
    if not os.path.exists(forkvm.OVMF_CODE):
        raise unittest.SkipTest('%s missing (Debian package ovmf)'
                                % forkvm.OVMF_CODE)


class MainJob(e2e.Test):
    def test_linux_guest_demo_hotplugs_a_cpu(self):
        require_ovmf()
        out = run_vm(self, '--smp', '2')
        assert re.search(r'SMI features negotiated by the firmware: 0x7 ', out)
        assert re.search(r'CPU 2 online in Linux [\d.]+ s after device_add',
                         out)
        tables = out.split('SMIs per vCPU after the hotplug')
        assert len(tables) == 2, out
        before, after = smi_rows(tables[0]), smi_rows(tables[1])
        assert sorted(before) == [0, 1] and sorted(after) == [0, 1, 2], out
        for cpu in (0, 1):
            assert after[cpu][1] == before[cpu][1] + 1, (before, after)
        # the new CPU got the hotplug broadcast and its relocation SMI IPI
        assert after[2][1] >= 1 and after[2][3] >= 1 and after[2][5] >= 1, \
            after
        # the hot-add's SMI timeline: the picture, and in its summary the
        # rendezvous that waited for the new CPU
        m = re.search(r'picture: (\S+)\.png', out)
        assert m, out
        with open(m.group(1) + '.png', 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
        with open(m.group(1) + '.json') as f:
            drawn = json.load(f)
        raised = drawn['cpus']['2']['raised']
        assert raised == {'apm-broadcast': 1, 'apic': 1}, drawn['cpus']
        assert drawn['slowest'] and 2 in drawn['slowest']['cpus'], drawn
        assert re.search(r'rendezvous, latency median [\d.]+ ms, slowest', out)

    def test_ovmf_negotiates_0x7(self):
        require_ovmf()
        out = run_vm(self, '--smp', '2', '--no-guest')
        assert re.search(r'SMI features negotiated by the firmware: 0x7 '
                         r'\(broadcast, cpu-hotplug, cpu-hotunplug\)', out)
        assert 'SMI_EN 0x00000021' in out
        rows = smi_rows(out)
        assert sorted(rows) == [0, 1], rows
        for cpu, (injected, bcast, ucast, apic, other, smm) in rows.items():
            # SMBASE relocation (an SMI IPI each) and the broadcast SMIs of
            # the variable services: every vCPU saw both kinds and took them
            assert apic >= 1 and bcast >= 1, rows
            assert injected == bcast + ucast + apic + other, rows
            assert smm >= 1, rows

    def test_seabios_enters_smm(self):
        out = run_vm(self, '--firmware', 'seabios', '--smp', '2')
        assert 'the firmware did not negotiate SMI features' in out
        rows = smi_rows(out)
        # SeaBIOS relocates SMBASE on the BSP with one unicast APM SMI
        assert rows[0][2] >= 1 and rows[0][5] >= 1, rows

    def test_bench_hotplug_smoke(self):
        require_ovmf()
        bench = os.path.join(forkvm.TOP, 'fork', 'bench-hotplug')
        proc = subprocess.run([bench, '--runs', '1'], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=300)
        self.diag.append('bench-hotplug output:\n' + proc.stdout)
        assert proc.returncode == 0
        assert re.search(r'hotplug latency over 1 runs: median [\d.]+ s',
                         proc.stdout)


if __name__ == '__main__':
    e2e.main()
