#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The fork under KVM, as far as this host's KVM goes: it has no SMM, so
# the SMM device model runs without SMM here, as it does on any host that
# starts q35 without smm=on.
#   - both emulators offer KVM;
#   - a guest of our own (smm-guest/kvm-apm.s, real-mode integer code)
#     runs under KVM, and x-query-smi / info smi answer from KVM's state:
#     the AP waits for SIPI in the kernel's vCPU state, the SMI counts of
#     the in-kernel local APICs are absent (not 0), SMM entries are KVM's
#     MSR_SMI_COUNT, the SMM watchdog says it needs TCG;
#   - q35,smm=on with KVM ends the way Debian's upstream 10.0.2 ends it.
# Skipped, with the reason, where /dev/kvm cannot be opened.  (This
# host's KVM cannot boot Linux with Debian's firmware at all, upstream's
# binary alike: test-kvm-linux-guest.py.)
# check-timeout: 120

import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'fork'))
import e2e  # noqa: E402
import forkvm  # noqa: E402

from smm_guest import build_guest, reports, run_to_end  # noqa: E402

QEMU_I386 = os.path.join(os.path.dirname(forkvm.QEMU), 'qemu-system-i386')
PEER = os.path.join(forkvm.BUILD, 'peer-10.0', 'qemu-system-x86_64')
APM_CNT = 0x5a
APM_STS = 0xa5


def kvm_missing():
    """Why KVM cannot be used here, or None."""
    try:
        fd = os.open('/dev/kvm', os.O_RDWR)
    except OSError as e:
        return '/dev/kvm cannot be opened: %s' % e.strerror
    os.close(fd)
    return None


def need_kvm():
    why = kvm_missing()
    if why:
        raise unittest.SkipTest(why)


def accels(qemu):
    out = subprocess.run([qemu, '-accel', 'help'], capture_output=True,
                         text=True, check=True).stdout
    return out.split('\n', 1)[1].split()


def exit_of(qemu, *args):
    """(exit status, stderr) of a QEMU that should stop at startup."""
    try:
        p = subprocess.run([qemu, '-nodefaults', '-display', 'none', '-S',
                            '-qmp', 'stdio'] + list(args),
                           input='{"execute": "qmp_capabilities"}\n'
                                 '{"execute": "quit"}\n',
                           capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return None, 'did not stop within 30 s'
    # the host's missing CPUID features are warnings of their own
    errors = [line for line in p.stderr.splitlines()
              if 'warning:' not in line]
    return p.returncode, '\n'.join(errors)


class Kvm(e2e.Test):
    def test_kvm_offered(self):
        """Both emulators are built with KVM next to TCG."""
        for qemu in (forkvm.QEMU, QEMU_I386):
            got = accels(qemu)
            self.diag.append('%s -accel help: %s' % (qemu, got))
            assert 'kvm' in got and 'tcg' in got, got

    def test_kvm_guest_query_smi(self):
        """
        Under KVM x-query-smi reads what the kernel knows and marks what it
        cannot know: no 'apic' count, the in-kernel wait-for-SIPI of the AP.
        """
        need_kvm()
        seen = {}

        def inspect(vm):
            seen['smi'] = vm.cmd('x-query-smi')
            seen['hmp'] = vm.cmd('human-monitor-command',
                                 **{'command-line': 'info smi'})
            seen['entries'] = vm.qom_get('/machine/unattached/device[0]',
                                         'x-smm-entries')
            try:
                vm.qom_get('/machine/unattached/device[0]',
                           'x-smi-injected-apic')
                seen['apic_prop'] = 'no error'
            except forkvm.ERRORS as e:
                seen['apic_prop'] = str(e)
            seen['log'] = vm.qemu_log()

        with tempfile.TemporaryDirectory() as tmp:
            img = build_guest(tmp, 'kvm-apm')
            raw, _ = run_to_end(img, ['-machine', 'q35', '-accel', 'kvm',
                                      '-smp', '2', '-global',
                                      'ICH9-LPC.smm-watchdog-ms=100'],
                                'kvm-apm', inspect=inspect)
        self.diag.append(lambda: 'x-query-smi: %s' % seen.get('smi'))
        self.diag.append(lambda: 'info smi:\n%s' % seen.get('hmp'))
        assert reports(raw) == [('A', APM_STS), ('E', 0)], reports(raw)

        info = seen['smi']
        chipset = info['chipset']
        assert chipset['apm-cnt'] == APM_CNT and chipset['apm-sts'] == APM_STS
        assert chipset['negotiated-features'] == 0, chipset
        cpus = {c['cpu-index']: c for c in info['cpus']}
        assert sorted(cpus) == [0, 1]
        for c in cpus.values():
            assert 'apic' not in c, c
            # KVM never entered SMM, as its MSR_SMI_COUNT says
            assert c['smm-entries'] == 0, c
            assert not c['in-smm'] and 'smm-entered-ns' not in c, c
        # As upstream, APMC_EN raises the SMI with or without SMM (to the
        # writing vCPU: nothing negotiated broadcast); KVM without SMM drops it
        assert (cpus[0]['injected'], cpus[0]['apm-unicast']) == (1, 1), cpus[0]
        assert cpus[1]['injected'] == 0, cpus[1]
        assert 'SMI lost' in seen['log'], seen['log']
        # the BSP halted after its last report; the AP never left wait-for-SIPI
        assert cpus[0]['halted'] and not cpus[0]['wait-for-sipi'], cpus[0]
        assert cpus[1]['wait-for-sipi'] and cpus[1]['halted'], cpus[1]

        assert seen['entries'] == 0
        assert 'local APICs are in the kernel' in seen['apic_prop'], \
            seen['apic_prop']
        hmp = seen['hmp']
        assert 'apic n/a' in hmp and ' n/a ' in hmp, hmp
        assert 'the SMM watchdog needs TCG' in seen['log'], seen['log']

    def test_kvm_smm_on_like_upstream(self):
        """
        -machine q35,smm=on -accel kvm: the fork does what upstream does with
        this host's KVM, word for word (here: refuses, KVM has no SMM).
        """
        need_kvm()
        if not os.access(PEER, os.X_OK):
            raise unittest.SkipTest('%s missing (make peer-10.0)' % PEER)
        args = ('-machine', 'q35,smm=on', '-accel', 'kvm')
        fork = exit_of(forkvm.QEMU, *args)
        peer = exit_of(PEER, *args)
        self.diag.append('fork: %r\nDebian 10.0.2: %r' % (fork, peer))
        assert fork == peer, (fork, peer)
        if fork[0] != 0:
            assert 'System Management Mode not supported' in fork[1], fork


if __name__ == '__main__':
    e2e.main()
