#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, libvirt as the client: Debian's libvirt drives the fork's
# QEMU as <emulator> of a TCG domain with <smm state='on'/>, the secure
# OVMF loader with its own variable store, a TPM 2.0 (tpm-crb on the
# swtpm libvirt starts) and the test guest's kernel:
# define, start, the firmware negotiates 0x7 (x-query-smi through virsh),
# 'virsh setvcpus --live 2' and the guest onlines the CPU, 'setvcpus
# --live 1' unplugs it through the firmware (upstream 10.0 never sends
# the DEVICE_DELETED libvirt waits for, so libvirt reports a timeout and
# keeps counting 2: patch 0013), managedsave and start (SMM state and the
# guest survive), destroy and undefine; libvirt's log of QEMU holds no
# sanitizer report (make sanitize runs this on its ASan build, through
# libvirt_host.emulator()).  The domain is removed also when a step
# fails; daemons this test started are stopped again.
# check-timeout: 600

import os
import re
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'fork'))
import e2e  # noqa: E402
import forkvm  # noqa: E402
import libvirt_host  # noqa: E402
import linux_guest  # noqa: E402

BOOT_TIMEOUT = 300
STEP_TIMEOUT = 60
# A TPM 2.0 whose swtpm libvirt creates and starts itself
TPM_XML = """
    <tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>"""


def assert_tpm(dom):
    """The domain's QEMU has the tpm-crb on libvirt's swtpm."""
    tpms = dom.qmp('query-tpm')
    assert [(t['model'], t['options']['type']) for t in tpms] == \
        [('tpm-crb', 'emulator')], tpms


def wait_console(dom, pattern, start=0, timeout=STEP_TIMEOUT):
    rx = re.compile(pattern)
    timeout *= forkvm.TIMEOUT_SCALE
    deadline = time.monotonic() + timeout
    while True:
        m = rx.search(dom.console(), start)
        if m:
            return m
        if time.monotonic() > deadline:
            raise AssertionError('no %r on the console after %d s'
                                 % (pattern, timeout))
        time.sleep(0.2)


def setvcpus(dom, n, console_pattern):
    """virsh setvcpus --live; the seconds it took."""
    start = len(dom.console())
    t = time.monotonic()
    libvirt_host.virsh('setvcpus', dom.name, str(n), '--live')
    took = time.monotonic() - t
    wait_console(dom, console_pattern, start)
    assert dom.vcpus() == n, dom.vcpus()
    return took


class LibvirtSmmLinuxGuest(e2e.Test):
    def test_smm_domain(self):
        why = libvirt_host.missing() or forkvm.ovmf_missing('ovmf')
        if why:
            raise unittest.SkipTest(why)
        kernel, initrd = linux_guest.build()
        daemons = libvirt_host.Daemons().start()
        self.addCleanup(daemons.stop)
        tmp = tempfile.mkdtemp(prefix='fork-libvirt-')
        self.addCleanup(lambda: shutil.rmtree(tmp, ignore_errors=True))
        vars_copy = os.path.join(tmp, 'OVMF_VARS_4M.fd')
        shutil.copy(forkvm.OVMF_VARS, vars_copy)
        dom = libvirt_host.Domain(tmp, 'fork-smm-%d' % os.getpid(),
                                  code=forkvm.OVMF_CODE, vars=vars_copy,
                                  kernel=kernel, initrd=initrd,
                                  qemu=libvirt_host.emulator(forkvm.QEMU),
                                  devices=TPM_XML)
        self.addCleanup(dom.remove)
        self.diag.append(lambda: 'console tail:\n' + dom.console()[-1500:])

        dom.define()
        libvirt_host.virsh('start', dom.name)
        wait_console(dom, r'GUEST-READY cpus=1', timeout=BOOT_TIMEOUT)
        chip = dom.qmp('x-query-smi')['chipset']
        assert chip['negotiated-features'] == 0x7, chip
        assert dom.vcpus() == 1
        assert_tpm(dom)

        plug = setvcpus(dom, 2, r'GUEST-CPU-ONLINE 1\b')
        unplug = setvcpus(dom, 1, r'GUEST-CPU-REMOVED 1\b')
        self.diag.append('setvcpus --live: plug %.2f s, unplug %.2f s'
                         % (plug, unplug))
        # libvirt waits 5 s for DEVICE_DELETED before it gives up
        assert unplug < 5, unplug
        print('# setvcpus --live 2: %.2f s, --live 1: %.2f s' % (plug, unplug))

        libvirt_host.virsh('managedsave', dom.name)
        assert 'shut off' in libvirt_host.virsh('domstate', dom.name)
        assert re.search(r'Managed save:\s+yes',
                         libvirt_host.virsh('dominfo', dom.name))
        start = len(dom.console())
        libvirt_host.virsh('start', dom.name)
        chip = dom.qmp('x-query-smi')['chipset']
        assert chip['features-ok'] and chip['negotiated-features'] == 0x7, chip
        assert_tpm(dom)
        # the restored guest runs on: it onlines a CPU added after restore
        assert dom.vcpus() == 1
        setvcpus(dom, 2, r'GUEST-CPU-ONLINE 1\b')
        assert 'GUEST-READY' not in dom.console()[start:], 'the guest rebooted'

        libvirt_host.virsh('destroy', dom.name)
        libvirt_host.virsh('undefine', dom.name, '--nvram')
        assert dom.name not in libvirt_host.virsh('list', '--all', '--name')
        # a sanitizer build (make sanitize) reports into libvirt's log
        reports = dom.sanitizer_reports()
        assert not reports, 'sanitizer reports in QEMU\'s log: %s' % reports


if __name__ == '__main__':
    e2e.main()
