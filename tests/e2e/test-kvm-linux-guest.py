#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, a real guest under KVM: Debian's OVMF build without SMM
# boots the Linux guest on q35 with -accel kvm, and x-query-smi answers
# from KVM's state (no SMM: nothing in SMM, no apic count).  Where the
# host's KVM cannot run that firmware at all -- this machine's stops the
# vCPU with 'KVM internal error' on OVMF's first x87 instruction -- the
# same boot is tried on Debian's upstream 10.0.2: if upstream fails the
# same way the test is skipped with that reason, if upstream boots the
# fork must too.  Skipped where /dev/kvm cannot be opened.
# check-timeout: 420

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import forkvm  # noqa: E402
import linux_guest  # noqa: E402

PEER = os.path.join(forkvm.BUILD, 'peer-10.0', 'qemu-system-x86_64')
BOOT_TIMEOUT = 180
# run states in which the guest will not boot any more
DEAD = ('internal-error', 'guest-panicked', 'shutdown')


def kvm_boot(qemu):
    """
    Boot the guest under KVM: (the guest, None) once it is ready, or
    (None, why) when KVM stopped it; the caller shuts the guest down.
    """
    g = linux_guest.LinuxGuest(smp=2, machine='q35', accel='kvm',
                               firmware='ovmf-nosmm', qemu=qemu,
                               name='kvm-linux')
    g.launch()
    deadline = time.monotonic() + BOOT_TIMEOUT
    while 'GUEST-READY' not in g.console():
        status = g.cmd('query-status')['status']
        if status in DEAD:
            log = g.qemu_log().splitlines()
            first = next((line for line in log if 'KVM' in line),
                         log[0] if log else '')
            g.shutdown()
            return None, '%s (%s)' % (status, first)
        if time.monotonic() > deadline:
            g.shutdown()
            return None, 'no GUEST-READY after %d s' % BOOT_TIMEOUT
        time.sleep(0.2)
    return g, None


class KvmLinuxGuest(e2e.Test):
    def test_linux_under_kvm(self):
        try:
            os.close(os.open('/dev/kvm', os.O_RDWR))
        except OSError as e:
            raise unittest.SkipTest('/dev/kvm cannot be opened: %s'
                                    % e.strerror)
        if not os.path.exists(forkvm.OVMF_NOSMM[0]):
            raise unittest.SkipTest('%s missing (Debian package ovmf)'
                                    % forkvm.OVMF_NOSMM[0])
        g, why = kvm_boot(forkvm.QEMU)
        if g is None:
            if not os.access(PEER, os.X_OK):
                raise AssertionError('the fork did not boot under KVM: %s; %s '
                                     'is missing to compare' % (why, PEER))
            peer, peer_why = kvm_boot(PEER)
            if peer is not None:
                peer.shutdown()
                raise AssertionError('upstream 10.0.2 boots under KVM, the '
                                     'fork does not: %s' % why)
            self.skipTest("this host's KVM cannot boot OVMF: the fork: %s; "
                          "Debian's 10.0.2: %s" % (why, peer_why))
        self.addCleanup(g.shutdown)
        self.diag.append(lambda: 'console tail:\n' + g.console_tail())
        assert g.run('cat /sys/devices/system/cpu/online').strip() == '0-1'
        info = g.cmd('x-query-smi')
        assert info['chipset']['negotiated-features'] == 0, info['chipset']
        for c in info['cpus']:
            assert not c['in-smm'] and 'apic' not in c, c


if __name__ == '__main__':
    e2e.main()
