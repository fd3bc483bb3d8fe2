# SPDX-License-Identifier: GPL-2.0-or-later
#
# What the migration tests against upstream QEMU share: the peer binaries,
# and the SMI and SMRAM state read the way the guest reads it (qtest I/O
# and PCI config accesses), so the same code reads every QEMU.

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'fork'))
import forkvm  # noqa: E402

# Debian bookworm's 7.2 (installed): a bookworm host upgrading to the fork
UPSTREAM = '/usr/bin/qemu-system-x86_64'
# Upstream 10.0: Debian's 10.0.2 (bookworm-backports, fork/fetch-peer) and
# the unpatched base built with our options (make build-unpatched)
DEBIAN_10 = os.path.join(forkvm.BUILD, 'peer-10.0', 'qemu-system-x86_64')
UNPATCHED_10 = os.path.join(forkvm.BUILD, 'base-qemu', 'qemu-system-x86_64')
PEERS_10 = (('debian-10.0.2', DEBIAN_10, 'fork/fetch-peer'),
            ('unpatched-10.0', UNPATCHED_10, 'make build-unpatched'))
MACHINE_10 = 'pc-q35-10.0'
# Upstream's newest release: Debian sid's 11.1.3, unpacked with sid's libc
# and libraries and run through sid's loader (fork/fetch-peer-11.1)
UPSTREAM_11 = os.path.join(forkvm.BUILD, 'peer-11.1', 'qemu-system-x86_64')
MACHINE_11 = 'pc-q35-11.1'
PEER_11 = ('upstream-11.1.3', UPSTREAM_11, 'make peer-11.1')
LPC_DEVFN = 31 << 3
SMBASE = 0x30000
SMBASE_LOCKED = 0x02


def machine_args(machine):
    return ['-machine', '%s,smm=on' % machine, '-accel', 'tcg',
            '-smp', '2', '-m', '512']


def smi_state(vm):
    """The SMI state as the guest sees it, read on a stopped VM."""
    pmbase = vm.pci_cfg_readl(LPC_DEVFN, 0x40) & 0xff80
    return {
        'negotiated': vm.qom_get(forkvm.LPC_PATH, 'x-smi-negotiated-features'),
        'pmbase': pmbase,
        'smi_en': vm.inl(pmbase + 0x30),
        'smi_sts': vm.inl(pmbase + 0x34),
        'apm_cnt': vm.inb(0xb2),
        'apm_sts': vm.inb(0xb3),
        'gen_pmcon_1': vm.pci_cfg_readl(LPC_DEVFN, 0xa0) & 0xffff,
    }


def smram_state(vm):
    """Host bridge SMRAM registers and the non-SMM view of the window."""
    regs = vm.pci_cfg_readl(0, 0x9c)
    return {
        'smbase_reg': regs & 0xff,
        'smram': (regs >> 8) & 0xff,
        'esmramc': (regs >> 16) & 0xff,
        'smbase_byte': int(vm.qtest('readb 0x%x' % SMBASE)[0], 16),
    }


def migrate(src, dst, timeout=120):
    uri = 'unix:%s' % os.path.join(dst.tmp, 'migrate.sock')
    dst.cmd('migrate-incoming', uri=uri)
    src.cmd('migrate', uri=uri)

    def done():
        st = src.cmd('query-migrate').get('status')
        if st == 'failed':
            raise forkvm.VMError('migration failed: %s'
                                 % src.cmd('query-migrate'))
        return st == 'completed'
    src.wait_for('migration to complete', done, timeout)


def assert_smram_after(dst_qemu, before, after):
    """
    The host bridge's SMRAM state on a migration destination: the fork
    and upstream 10.0.13 keep every lock.  Debian's 10.0.2 and 7.2 clear
    the SMBASE window register on load (upstream fixed that between 10.0.2
    and 10.0.13; this records it), keeping the SMRAM and TSEG locks.
    """
    if dst_qemu in (DEBIAN_10, UPSTREAM):
        assert after['smbase_reg'] == 0, (before, after)
        for k in ('smram', 'esmramc'):
            assert after[k] == before[k], (before, after)
    else:
        assert after == before, 'SMRAM: before %s, after %s' % (before,
                                                                after)


def peer_missing(path, how):
    """
    Why a peer binary cannot run here, or None: the UNAVAILABLE text its
    fetcher left next to it (sid did not serve it, say), else how to get it.
    """
    if os.access(path, os.X_OK):
        return None
    unavailable = os.path.join(os.path.dirname(path), 'UNAVAILABLE')
    if os.path.exists(unavailable):
        with open(unavailable) as f:
            how = f.read().strip()
    return '%s missing (%s)' % (path, how)


def require_peer(path, how):
    why = peer_missing(path, how)
    if why:
        raise unittest.SkipTest(why)
    if not os.path.exists(forkvm.OVMF_CODE):
        raise unittest.SkipTest('%s missing (Debian package ovmf)'
                                % forkvm.OVMF_CODE)


def require_upstream():
    if not os.access(UPSTREAM, os.X_OK):
        raise unittest.SkipTest('%s missing (Debian package qemu-system-x86)'
                                % UPSTREAM)
    if not os.path.exists(forkvm.OVMF_CODE):
        raise unittest.SkipTest('%s missing (Debian package ovmf)'
                                % forkvm.OVMF_CODE)
