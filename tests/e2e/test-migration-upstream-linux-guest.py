#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, real firmware and a real Linux guest: live-migrate the Linux
# guest booted by Debian's OVMF SMM build between the fork and upstream,
# both ways, while the guest keeps reading a UEFI variable through
# efivarfs (every read is an SMI into OVMF's variable service): Debian's
# 7.2 on pc-q35-7.2; Debian's 10.0.2, the unpatched 10.0.13 base and
# upstream's newest release (Debian sid's 11.1.3) on pc-q35-10.0.  On the
# destination the guest answers on its console, the reads never failed,
# the variable reads back, and the SMI state and the SMRAM/TSEG locks the
# firmware set read as they did on the source.
# check-timeout: 900

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import linux_guest  # noqa: E402
import e2e  # noqa: E402
import forkvm  # noqa: E402
from migration_peer import (MACHINE_10, PEER_11, PEERS_10,  # noqa: E402
                            SMBASE_LOCKED, UPSTREAM, assert_smram_after,
                            migrate, require_peer, require_upstream,
                            smi_state, smram_state)

# GGC_SMRAM D_LCK, and ESMRAMC T_EN: OVMF locks SMRAM and uses TSEG
SMRAM_D_LCK = 0x10
ESMRAMC_T_EN = 0x01


def stable_state(vm):
    """What must not change across migration, even with SMIs in flight."""
    vm.cmd('stop')
    smi, smram = smi_state(vm), smram_state(vm)
    vm.cmd('cont')
    # APM_STS and SMI_STS move with every variable read: leave them out
    for k in ('apm_cnt', 'apm_sts', 'smi_sts'):
        del smi[k]
    return smi, smram


def migrate_linux_guest(src_qemu, dst_qemu, test, machine_type):
    """machine_type: the peer's ('q35' names a newer one in the fork)."""
    machine = '%s,smm=on' % machine_type
    src = linux_guest.LinuxGuest(qemu=src_qemu, qtest=True, name='src',
                                 machine=machine)
    dst = linux_guest.LinuxGuest(qemu=dst_qemu, qtest=True, name='dst',
                                 machine=machine,
                                 extra_args=['-incoming', 'defer'])
    test.addCleanup(src.shutdown)
    test.addCleanup(dst.shutdown)
    test.diag.append(lambda: 'source console tail:\n' + src.console_tail(15))
    test.diag.append(lambda: 'destination console tail:\n' +
                     dst.console_tail())
    src.boot()
    src.write_efivar('migrated')
    # keep SMIs coming while the guest migrates
    src.run('(while od %s >/dev/null; do :; done; echo GUEST-EFIVAR-"FAILED")'
            ' >/dev/console 2>&1 & true' % linux_guest.efivar('ForkMatrix'))
    before = stable_state(src)
    smi, smram = before
    assert smi['negotiated'] == 0x7, smi
    assert smi['smi_en'] & 0x21 == 0x21, smi
    assert smram['smram'] & SMRAM_D_LCK, smram
    assert smram['esmramc'] & ESMRAMC_T_EN, smram
    assert smram['smbase_reg'] == SMBASE_LOCKED, smram

    dst.launch()
    migrate(src, dst)
    assert dst.cmd('query-status')['status'] == 'running'
    assert dst.read_efivar() == 'migrated'
    after = stable_state(dst)
    assert after[0] == smi, 'SMI state: before %s, after %s' % (smi,
                                                                after[0])
    assert_smram_after(dst_qemu, smram, after[1])
    # the reader loop ran on the destination too and never failed
    dst.run('kill %1')
    assert 'GUEST-EFIVAR-FAILED' not in src.console() + dst.console()
    if dst_qemu == forkvm.QEMU:
        entries = [c['smm-entries'] for c in dst.cmd('x-query-smi')['cpus']]
        assert all(n > 0 for n in entries), entries


def with_7_2(src, dst):
    """Debian bookworm's 7.2 on pc-q35-7.2: a bookworm host's upgrade."""
    def run(test):
        require_upstream()
        migrate_linux_guest(src, dst, test, 'pc-q35-7.2')
    return run


def with_10_0(peer, how, to_peer):
    def run(test):
        require_peer(peer, how)
        src, dst = (forkvm.QEMU, peer) if to_peer else (peer, forkvm.QEMU)
        migrate_linux_guest(src, dst, test, MACHINE_10)
    return run


class MigrationUpstreamLinuxGuest(e2e.Test):
    """UEFI variables read back across a migration, both ways."""


e2e.add_test(MigrationUpstreamLinuxGuest, 'efivar_reads_fork_to_upstream_7_2',
             with_7_2(forkvm.QEMU, UPSTREAM))
e2e.add_test(MigrationUpstreamLinuxGuest, 'efivar_reads_upstream_7_2_to_fork',
             with_7_2(UPSTREAM, forkvm.QEMU))
for _name, _path, _how in PEERS_10 + (PEER_11,):
    for _direction, _to_peer in (('fork_to_%s', True), ('%s_to_fork', False)):
        e2e.add_test(MigrationUpstreamLinuxGuest, 'efivar_reads_%s_%s'
                     % (MACHINE_10, _direction % _name),
                     with_10_0(_path, _how, _to_peer))


if __name__ == '__main__':
    e2e.main()
