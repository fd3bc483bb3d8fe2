#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, real firmware: migrate a running q35,smm=on VM (Debian's
# OVMF SMM build, TCG) between the fork and Debian's upstream QEMU 7.2
# binary, both ways.  The SMI state the firmware programmed -- negotiated
# features, SMI_EN, SMI_STS, the APM ports -- reads the same on both sides,
# and the firmware keeps running on the destination up to the UEFI shell,
# whose start-up goes through SMM (variable services).
# check-timeout: 600

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'fork'))
import qmp  # noqa: E402
import tap  # noqa: E402

UPSTREAM = '/usr/bin/qemu-system-x86_64'
LPC_DEVFN = 31 << 3


def machine_args(machine):
    return ['-machine', '%s,smm=on' % machine, '-accel', 'tcg',
            '-smp', '2', '-m', '512']


def smi_state(vm):
    """The SMI state as the guest sees it, read on a stopped VM."""
    pmbase = vm.pci_cfg_readl(LPC_DEVFN, 0x40) & 0xff80
    return {
        'negotiated': vm.qom_get(qmp.LPC_PATH, 'x-smi-negotiated-features'),
        'pmbase': pmbase,
        'smi_en': vm.inl(pmbase + 0x30),
        'smi_sts': vm.inl(pmbase + 0x34),
        'apm_cnt': vm.inb(0xb2),
        'apm_sts': vm.inb(0xb3),
        'gen_pmcon_1': vm.pci_cfg_readl(LPC_DEVFN, 0xa0) & 0xffff,
    }


def migrate(src, dst, timeout=120):
    uri = 'unix:%s' % os.path.join(dst.tmp, 'migrate.sock')
    dst.cmd('migrate-incoming', uri=uri)
    src.cmd('migrate', uri=uri)

    def done():
        st = src.cmd('query-migrate').get('status')
        if st == 'failed':
            raise qmp.QMPError('migration failed: %s'
                               % src.cmd('query-migrate'))
        return st == 'completed'
    src.wait_for('migration to complete', done, timeout)


def migrate_and_compare(src_qemu, dst_qemu, machine, expect_features, diag):
    src = qmp.VM(machine_args(machine), qemu=src_qemu, name='src',
                 qtest=True)
    dst = qmp.VM(machine_args(machine) + ['-incoming', 'defer'],
                 qemu=dst_qemu, name='dst', qtest=True)
    diag.append(lambda: 'source console tail:\n' +
                '\n'.join(src.console().splitlines()[-15:]))
    diag.append(lambda: 'destination console tail:\n' +
                '\n'.join(dst.console().splitlines()[-15:]))
    try:
        src.launch()
        src.wait_for('the firmware to negotiate SMI features',
                     lambda: src.qom_get(qmp.LPC_PATH,
                                         'x-smi-negotiated-features'), 180)
        src.cmd('stop')
        before = smi_state(src)
        assert before['negotiated'] == expect_features, before
        # OVMF programs GBL_SMI_EN | APMC_EN and locks GBL_SMI_EN
        assert before['smi_en'] & 0x21 == 0x21, before

        dst.launch()
        migrate(src, dst)
        after = smi_state(dst)
        assert after == before, 'before %s, after %s' % (before, after)

        dst.cmd('cont')
        dst.wait_for('the UEFI shell on the destination',
                     lambda: 'Shell>' in dst.console(), 240)
        assert dst.cmd('query-status')['status'] == 'running'
        return dst
    finally:
        src.shutdown()
        dst.shutdown()


def require_upstream():
    if not os.access(UPSTREAM, os.X_OK):
        raise tap.Skip('%s missing (Debian package qemu-system-x86)'
                       % UPSTREAM)
    if not os.path.exists(qmp.OVMF_CODE):
        raise tap.Skip('%s missing (Debian package ovmf)' % qmp.OVMF_CODE)


def test_fork_to_upstream(diag):
    require_upstream()
    migrate_and_compare(qmp.QEMU, UPSTREAM, 'pc-q35-7.2', 0x7, diag)


def test_upstream_to_fork(diag):
    require_upstream()
    migrate_and_compare(UPSTREAM, qmp.QEMU, 'pc-q35-7.2', 0x7, diag)


if __name__ == '__main__':
    tap.run([
        ('migration/ovmf/pc-q35-7.2/fork-to-upstream', test_fork_to_upstream),
        ('migration/ovmf/pc-q35-7.2/upstream-to-fork', test_upstream_to_fork),
    ])
