#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, real firmware and a real guest: a TPM 2.0 next to SMM, the
# setup of measured and Windows 11 boots.  Debian's swtpm emulates the
# TPM; Debian's OVMF SMM secure-boot build measures the boot into it
# through tpm-crb, then through tpm-tis; the Linux guest finds the TPM,
# reads OVMF's measured-boot event log (TCG2 format) and a PCR 0 that is
# not zero, and its UEFI variables still go through SMM with the SMI
# features negotiated.
# check-timeout: 600

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import forkvm  # noqa: E402
from linux_guest import boot  # noqa: E402

SWTPM = shutil.which('swtpm') or '/usr/bin/swtpm'
SECURITYFS = '/sys/kernel/security'
EVENT_LOG = SECURITYFS + '/tpm0/binary_bios_measurements'


class Swtpm:
    """A TPM 2.0 emulator on a UNIX control socket, state in a temp dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='fork-swtpm-')
        self.sock = os.path.join(self.dir, 'swtpm.sock')
        self.proc = subprocess.Popen(
            [SWTPM, 'socket', '--tpm2', '--tpmstate', 'dir=%s' % self.dir,
             '--ctrl', 'type=unixio,path=%s' % self.sock,
             '--log', 'level=1,file=%s' % os.path.join(self.dir, 'log')],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('swtpm did not start: %s' % self.log())
            time.sleep(0.05)

    def log(self):
        return forkvm.read_text(os.path.join(self.dir, 'log'))

    def args(self, model):
        return ['-chardev', 'socket,id=chrtpm,path=%s' % self.sock,
                '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm',
                '-device', '%s,tpmdev=tpm0' % model]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def measured_boot(model, driver):
    def run(test):
        if not os.access(SWTPM, os.X_OK):
            raise unittest.SkipTest('swtpm missing (Debian package swtpm)')
        tpm = Swtpm()
        test.addCleanup(tpm.stop)
        test.diag.append(lambda: 'swtpm log:\n' + tpm.log())
        g = boot(test, *tpm.args(model))
        chip = g.cmd('x-query-smi')['chipset']
        assert chip['negotiated-features'] == 0x7, chip

        assert g.run('cat /sys/class/tpm/tpm0/tpm_version_major').strip() \
            == '2'
        bound = g.run('basename $(readlink /sys/class/tpm/tpm0/device/'
                      'driver)').strip()
        assert bound == driver, bound
        g.run('mount -t securityfs securityfs %s' % SECURITYFS)
        # short command lines: the console wraps long ones into the output
        g.run('L=%s' % EVENT_LOG)
        size = int(g.run('wc -c < $L').strip())
        # the TCG2 (crypto-agile) log opens with its Spec ID event
        assert size > 1024, size
        g.run("grep -q 'Spec ID Event03' $L")
        pcr0 = g.run('cat /sys/class/tpm/tpm0/pcr-sha256/0').strip()
        assert len(pcr0) == 64 and pcr0.strip('0'), pcr0

        # SMM's own job goes on: a variable written and read through it
        g.write_efivar('tpm-%s' % model, name='ForkTpm')
        assert g.read_efivar(name='ForkTpm') == 'tpm-%s' % model
    return run


class TpmLinuxGuest(e2e.Test):
    """OVMF's SMM build measures into swtpm, through either TPM model."""


for _model, _driver in (('tpm-crb', 'tpm_crb'), ('tpm-tis', 'tpm_tis')):
    e2e.add_test(TpmLinuxGuest, 'ovmf_measures_through_' + _model,
                 measured_boot(_model, _driver))


if __name__ == '__main__':
    e2e.main()
