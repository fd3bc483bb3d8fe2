#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, a guest of our own under TCG: what x-query-smi, 'info smi' and
# the SMM watchdog show when firmware hangs in SMM.  smm-guest/smm-hang.s
# raises an APM SMI on the bootstrap processor and its handler never
# returns; the application processor waits for SIPI.  Time here is the
# virtual clock, which x-query-smi reports, so no check depends on how fast
# the host is.
# check-timeout: 180

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'fork'))
import e2e  # noqa: E402
import forkvm  # noqa: E402
from smitimeline import trace  # noqa: E402

from smm_guest import build_guest  # noqa: E402

DEFAULT_SMBASE = 0x30000
THRESHOLD_MS = 400
MS = 1000 * 1000
# the handler: PAUSE; JMP back (smm-hang.s)
HANDLER_RIPS = (0x8000, 0x8002)


def hung_guest(tmp, *extra):
    img = build_guest(tmp, 'smm-hang')
    return forkvm.VM(['-machine', 'q35,smm=on', '-accel', 'tcg', '-smp', '2',
                      '-debugcon', 'file:%s' % os.path.join(tmp, 'debugcon'),
                      '-global', 'isa-debugcon.iobase=0x402'] + list(extra),
                     firmware=img, name='smm-hang')


def cpus(vm):
    info = vm.cmd('x-query-smi')
    return info, {c['cpu-index']: c for c in info['cpus']}


def wait_in_smm(vm):
    return vm.wait_for('CPU 0 to enter SMM',
                       lambda: cpus(vm)[1][0]['in-smm'] and cpus(vm), 30)


def wait_vclock(vm, until_ns):
    """Until the guest's virtual clock reaches until_ns; bounded."""
    vm.wait_for('the virtual clock to pass %d ns' % until_ns,
                lambda: vm.cmd('x-query-smi')['vclock-ns'] >= until_ns, 30,
                interval=0.05)


class SmmHangDiagnosis(e2e.Test):
    def test_diagnosis(self):
        """
        The hung CPU 0: in SMM for a growing time at SMBASE 0x30000, entered
        once from the unicast APM SMI; CPU 1: waiting for SIPI, halted, not in
        SMM; the chipset: the command and the bits that raised it, named
        (SMI_STS shows APM SMIs with x-smi-sts-apm=on).
        The SMI timeline of the run shows CPU 0's stay without RSM.
        """
        with tempfile.TemporaryDirectory() as tmp:
            log = os.path.join(tmp, 'smi.log')
            # x-smi-sts-apm=on: SMI_STS names the APM SMI, as on ICH9
            vm = hung_guest(tmp, '-D', log, '-global',
                            'ICH9-LPC.x-smi-sts-apm=on', *trace.TRACE_ARGS)
            try:
                vm.launch()
                info, c = wait_in_smm(vm)
                self.diag.append(lambda: 'x-query-smi: %r' % info)
                with open(os.path.join(tmp, 'debugcon'), 'rb') as f:
                    assert f.read() == b'R\x00'    # the guest's one report
                hung, ap = c[0], c[1]
                assert hung['smbase'] == DEFAULT_SMBASE, hung
                assert hung['smm-entries'] == 1, hung
                assert hung['apm-unicast'] == 1, hung
                assert not (hung['halted'] or hung['wait-for-sipi']), hung
                assert not (hung['smi-pending'] or hung['nmi-pending'] or
                            hung['init-held']), hung
                assert 0 <= hung['smm-entered-ns'] <= info['vclock-ns'], info
                assert hung['smm-duration-ns'] == \
                    info['vclock-ns'] - hung['smm-entered-ns'], hung

                assert not ap['in-smm'], ap
                assert ap['wait-for-sipi'] and ap['halted'], ap
                assert ap['smm-entries'] == 0 and ap['injected'] == 0, ap
                assert 'smm-entered-ns' not in ap and \
                    'smm-duration-ns' not in ap, ap
                assert ap['smbase'] == DEFAULT_SMBASE, ap

                chip = info['chipset']
                assert chip['apm-cnt'] == 0x5a, chip
                assert chip['smi-en'] == 0x21, chip
                assert chip['smi-en-bits'] == ['GBL_SMI_EN', 'APMC_EN'], chip
                assert chip['smi-sts-bits'] == ['APM_STS'], chip

                # the stay grows with the virtual clock; the entry stays put
                wait_vclock(vm, info['vclock-ns'] + 50 * MS)
                later = cpus(vm)[1][0]
                assert later['in-smm'], later
                assert later['smm-entered-ns'] == hung['smm-entered-ns'], later
                assert later['smm-duration-ns'] >= \
                    hung['smm-duration-ns'] + 50 * MS, later

                hmp = vm.cmd('human-monitor-command', **{'command-line':
                                                         'info smi'})
                self.diag.append(lambda: 'info smi:\n' + hmp)
                assert 'APM_CNT 0x5a (last command)' in hmp, hmp
                assert 'SMI_EN  0x00000021 (GBL_SMI_EN APMC_EN)' in hmp, hmp
                assert 'SMI_STS 0x00000020 (APM_STS)' in hmp, hmp
                assert 'in SMM now: CPU 0 for ' in hmp, hmp
                rows = {ln.split()[0]: ln.split() for ln in hmp.splitlines()
                        if ln.split()[1:2] in (['yes'], ['-'])}
                assert rows['0'][1] == 'yes', rows
                assert rows['0'][3] == '0x00030000', rows
                assert rows['1'][1:4] == ['-', '-', '0x00030000'], rows
                assert rows['1'][-2:] == ['yes', 'yes'], rows

                out = os.path.join(tmp, 'tl')
                proc = subprocess.run(
                    [os.path.join(forkvm.TOP, 'fork', 'smi-timeline'), log,
                     '-o', out], text=True, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT)
                self.diag.append('smi-timeline:\n' + proc.stdout)
                assert proc.returncode == 0
                assert 'still in SMM at the end of the trace: CPUs 0' in \
                    proc.stdout
                with open(out + '.json') as f:
                    drawn = json.load(f)
                assert drawn['cpus']['0']['raised'] == {'apm-unicast': 1}
                assert drawn['cpus']['0']['rsm'] == 0
                assert [r['complete'] for r in drawn['rendezvous']] == [False]
            finally:
                vm.shutdown()

    def test_watchdog_once_per_stay(self):
        """
        With smm-watchdog-ms set, one SMM_WATCHDOG event and one log line for
        the hung CPU, after the threshold, naming it, its SMBASE and RIP; none
        more while the same stay goes on for four thresholds.
        """
        with tempfile.TemporaryDirectory() as tmp:
            vm = hung_guest(tmp, '-global',
                            'ICH9-LPC.smm-watchdog-ms=%d' % THRESHOLD_MS)
            try:
                vm.launch()
                info, c = wait_in_smm(vm)
                entered = c[0]['smm-entered-ns']
                ev = vm.wait_event('SMM_WATCHDOG', 30)
                self.diag.append(lambda: 'event: %r' % ev)
                d = ev['data']
                assert d['cpu-index'] == 0, d
                assert d['qom-path'] == c[0]['qom-path'], d
                assert d['smbase'] == DEFAULT_SMBASE, d
                assert d['cs-base'] == DEFAULT_SMBASE, d
                assert d['rip'] in HANDLER_RIPS, d
                assert d['threshold-ms'] == THRESHOLD_MS, d
                assert d['smm-duration-ns'] >= THRESHOLD_MS * MS, d

                wait_vclock(vm, entered + 4 * THRESHOLD_MS * MS)
                assert len(vm.events_named('SMM_WATCHDOG')) == 1, vm.events
                log = vm.qemu_log()
                assert log.count('SMM watchdog: ') == 1, log
                assert 'SMM watchdog: CPU 0 has been in SMM for ' in log, log
                assert 'SMBASE 0x30000, CS base 0x30000, RIP 0x800' in log, log
            finally:
                vm.shutdown()

    def test_watchdog_off_by_default(self):
        with tempfile.TemporaryDirectory() as tmp:
            vm = hung_guest(tmp)
            try:
                vm.launch()
                info, c = wait_in_smm(vm)
                wait_vclock(vm, c[0]['smm-entered-ns'] + 2 * THRESHOLD_MS * MS)
                assert vm.events_named('SMM_WATCHDOG') == [], vm.events
                assert 'SMM watchdog' not in vm.qemu_log()
            finally:
                vm.shutdown()

    def test_watchdog_threshold_is_validated(self):
        with tempfile.TemporaryDirectory() as tmp:
            vm = hung_guest(tmp, '-global', 'ICH9-LPC.smm-watchdog-ms=-1')
            try:
                vm.launch()
            except forkvm.ERRORS as e:
                assert 'smm-watchdog-ms' in str(e), e
            else:
                raise AssertionError('a negative threshold was accepted')
            finally:
                vm.shutdown()


if __name__ == '__main__':
    e2e.main()
