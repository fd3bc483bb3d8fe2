#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Canaries: upstream 10.0's behaviour where the series changes it, measured
# on the unpatched base built with the same options (./configure
# --unpatched, build/base-qemu) and, side by side, on the fork.  Each test
# point asserts both: upstream shows the defect (or, where upstream fixed
# it since 7.2, the fix) and the fork behaves as docs/specs say.  When
# upstream changes, the canary fails and says which patch to revisit.
#
# Each canary runs a second time on upstream's newest release, Debian
# sid's 11.1.3 (fork/fetch-peer-11.1, its own -machine q35 being
# pc-q35-11.1): NAME/upstream-11.1 asserts that it behaves as 10.0.13
# does, or as the canary says where 11.1 differs.  It skips with the
# fetcher's reason when sid did not serve it.
#
# The guest is driven with qtest (no firmware runs), so the same commands
# reach every binary.  TAP.

import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'fork'))
import e2e  # noqa: E402
import forkvm  # noqa: E402
from smm_guest import build_guest, reports  # noqa: E402
from migration_peer import UPSTREAM_11, peer_missing  # noqa: E402

UNPATCHED = os.path.join(forkvm.BUILD, 'base-qemu', 'qemu-system-x86_64')
QTESTS = os.path.join(forkvm.BUILD, 'qemu', 'tests', 'qtest')

LPC = 0x1f << 3
PMBASE = 0x600
SMI_EN, SMI_STS = PMBASE + 0x30, PMBASE + 0x34
GBL_SMI_EN, APMC_EN = 1 << 0, 1 << 5
SWSMI_TMR, PERIODIC = 1 << 6, 1 << 14      # same bit in SMI_EN and SMI_STS
APM_STS = 1 << 5
SMI_LOCK = 1 << 4                           # GEN_PMCON_1, LPC config 0xa0
MS = 1000 * 1000
S = 1000 * MS


def require_unpatched():
    if not os.access(UNPATCHED, os.X_OK):
        raise unittest.SkipTest('%s missing (make build-unpatched)'
                                % UNPATCHED)


def require_upstream_11():
    why = peer_missing(UPSTREAM_11, 'make peer-11.1')
    if why:
        raise unittest.SkipTest(why)


class Chipset:
    """A q35 machine under qtest: ICH9 PM I/O enabled, as firmware does."""

    def __init__(self, qemu, test, extra=()):
        self.vm = forkvm.VM(['-machine', 'q35', '-accel', 'qtest'] +
                            list(extra), qemu=qemu, firmware='seabios',
                            qtest=True, name='canary')
        test.addCleanup(self.vm.shutdown)
        self.vm.launch()
        self.enable_pm_io()

    def enable_pm_io(self):
        self.cfg_write(LPC, 0x40, PMBASE | 1, 'l')
        self.cfg_write(LPC, 0x44, 0x80, 'b')

    def cfg_write(self, devfn, off, val, size):
        self.vm.qtest('outl 0xcf8 0x%x' % (0x80000000 | devfn << 8 |
                                           (off & ~3)))
        self.vm.qtest('out%s 0x%x 0x%x' % (size, 0xcfc + (off & 3), val))

    def outl(self, port, val):
        self.vm.qtest('outl 0x%x 0x%x' % (port, val))

    def inl(self, port):
        return self.vm.inl(port)

    def step(self, ns):
        self.vm.qtest('clock_step %d' % ns)


def hotplug_without_broadcast(qemu, test):
    """
    Start with SMI broadcast off and the CPU hotplug features on (their
    default): the exit status and what QEMU said.
    """
    proc = subprocess.run(
        [qemu, '-machine', 'q35', '-accel', 'qtest', '-display', 'none',
         '-nodefaults', '-global', 'ICH9-LPC.x-smi-broadcast=off',
         '-qtest', 'null', '-qmp', 'stdio'],
        input='{"execute": "qmp_capabilities"}\n{"execute": "quit"}\n',
        capture_output=True, text=True, timeout=60)
    if proc.returncode == 0:
        return 'starts'
    why = re.search(r'x-smi-\S+ requires .*', proc.stderr)
    return 'refused: ' + (why.group(0) if why else proc.stderr.strip())


def both(check):
    """Run check(qemu, test) on the unpatched base and on the fork."""
    def run(test):
        require_unpatched()
        return check(UNPATCHED, test), check(forkvm.QEMU, test)
    return run


def expect(upstream, fork, got):
    assert got == (upstream, fork), \
        'expected upstream %r, fork %r; got upstream %r, fork %r' % (
            upstream, fork, got[0], got[1])


def apm_write_from_qtest(qemu, test):
    """APM_CNT with APMC_EN from outside a vCPU: exit status, SMI_STS."""
    c = Chipset(qemu, test)
    c.outl(SMI_EN, GBL_SMI_EN | APMC_EN)
    try:
        c.vm.qtest('outb 0xb2 0x42')
        return 'running, SMI_STS 0x%x' % c.inl(SMI_STS)
    except forkvm.ERRORS + (OSError,):
        c.vm.wait(10)
        return 'exit %d' % c.vm.exitcode()


def timer_sts_written_0(qemu, test):
    """SMI_STS after a SWSMI expiry, then a write of 0 to SMI_STS."""
    c = Chipset(qemu, test)
    c.outl(SMI_EN, GBL_SMI_EN | SWSMI_TMR)
    c.step(1500 * 1000)
    set_ = c.inl(SMI_STS)
    c.outl(SMI_STS, 0)
    return set_, c.inl(SMI_STS)


def periodic_expiry_after_swsmi(qemu, test):
    """SMI_STS: SWSMI expired first, then the periodic timer (8 s)."""
    c = Chipset(qemu, test)
    c.cfg_write(LPC, 0xa0, 3, 'w')                  # PER_SMI_SEL: 8 s
    c.outl(SMI_EN, GBL_SMI_EN | SWSMI_TMR | PERIODIC)
    c.step(1500 * 1000)
    c.outl(SMI_EN, GBL_SMI_EN | PERIODIC)
    c.step(8 * S)
    return c.inl(SMI_STS)


def swsmi_with_smi_en_rewrites(qemu, test):
    """SWSMI_TMR_STS after 160 ms of a 64 ms timer, SMI_EN rewritten
    every 40 ms with the enable still set."""
    c = Chipset(qemu, test)
    c.cfg_write(LPC, 0xa4, 3 << 6, 'b')             # SWSMI_RATE_SEL: 64 ms
    for _ in range(4):
        c.outl(SMI_EN, GBL_SMI_EN | SWSMI_TMR)
        c.step(40 * MS)
    return c.inl(SMI_STS) & SWSMI_TMR


def swsmi_after_migration(qemu, test):
    """SWSMI_TMR_STS on a destination 2 ms after it loaded an armed timer."""
    src = Chipset(qemu, test)
    dst = Chipset(qemu, test, ['-incoming', 'defer'])
    src.outl(SMI_EN, GBL_SMI_EN | SWSMI_TMR)
    uri = 'unix:%s' % os.path.join(dst.vm.tmp, 'migrate.sock')
    dst.vm.cmd('migrate-incoming', uri=uri)
    src.vm.cmd('migrate', uri=uri)
    src.vm.wait_for('migration', lambda: src.vm.cmd('query-migrate')
                    .get('status') == 'completed', 60)
    dst.vm.wait_for('destination', lambda: dst.vm.cmd('query-status')
                    ['status'] == 'running', 60)
    dst.step(2 * MS)
    return dst.inl(SMI_STS) & SWSMI_TMR


def apm_wide_write(qemu, test):
    """APM_CNT, APM_STS and the dword at 0xb2 after a 32-bit OUT there
    (APMC_EN clear: the write from qtest raises no SMI anywhere)."""
    c = Chipset(qemu, test)
    c.outl(0xb2, 0x11223344)
    return c.vm.inb(0xb2), c.vm.inb(0xb3), c.inl(0xb2)


def smi_lock_after_reset(qemu, test):
    """GEN_PMCON_1.SMI_LOCK after system_reset, and whether GBL_SMI_EN can
    be cleared then: (lock bit, SMI_EN after writing 0)."""
    c = Chipset(qemu, test)
    c.outl(SMI_EN, GBL_SMI_EN | APMC_EN)
    c.cfg_write(LPC, 0xa0, SMI_LOCK, 'w')
    c.vm.cmd('system_reset')
    c.vm.event_wait('RESET', timeout=30)
    c.enable_pm_io()
    c.outl(SMI_EN, 0)
    return c.vm.pci_cfg_readl(LPC, 0xa0) & SMI_LOCK, c.inl(SMI_EN)


def smm_view_of_locked_window(qemu, test):
    """What the tiny guest's SMI handler reads in the locked SMBASE window
    after reading it, as all-ones, from real mode (TCG)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'debugcon.out')
        vm = forkvm.VM(['-machine', 'q35,smm=on', '-accel', 'tcg',
                        '-debugcon', 'file:%s' % out,
                        '-global', 'isa-debugcon.iobase=0x402'],
                       qemu=qemu, firmware=build_guest(tmp), name='smm-view')
        test.addCleanup(vm.shutdown)
        vm.launch()

        def seen():
            with open(out, 'rb') as f:
                return dict(reports(f.read()))
        vm.wait_for('the guest to finish', lambda: 'D' in seen(), 60)
        return seen()['S']


def qtest_path(path):
    """Whether one path of the fork's q35-smram-test passes on a binary."""
    def check(qemu, test):
        env = dict(os.environ, QTEST_QEMU_BINARY=qemu)
        proc = subprocess.run([os.path.join(QTESTS, 'q35-smram-test'),
                               '-p', path], env=env, capture_output=True,
                              text=True, timeout=120)
        ok = proc.returncode == 0 and '\nok ' in '\n' + proc.stdout
        if not ok:
            test.diag.append(lambda: '%s on %s:\n%s' % (path, qemu,
                                                        proc.stderr[-600:]))
        return 'passes' if ok else 'fails'
    return check


def expect_11(upstream_11, got):
    assert got == upstream_11, 'expected upstream 11.1.3 %r; got %r' % (
        upstream_11, got)


AS_10 = object()


class UpstreamCanaries(e2e.Test):
    """Each canary on upstream 10.0.13 beside the fork, and on 11.1.3."""


def canary(name, check, upstream, fork, upstream_11=AS_10):
    """
    Two test cases: upstream 10.0.13 and the fork side by side, then
    upstream 11.1.3 alone, expected to behave as 10.0.13 unless
    upstream_11 says otherwise.
    """
    if upstream_11 is AS_10:
        upstream_11 = upstream

    def on_11(test):
        require_upstream_11()
        expect_11(upstream_11, check(UPSTREAM_11, test))
    e2e.add_test(UpstreamCanaries, name,
                 lambda test: expect(upstream, fork, both(check)(test)))
    e2e.add_test(UpstreamCanaries, name + '_upstream_11_1', on_11)


# patch 0003: upstream dereferences a NULL current_cpu; SMI_STS shows
# APM SMIs only with x-smi-sts-apm=on
canary('apm-write-from-qtest', apm_write_from_qtest,
       'exit -11', 'running, SMI_STS 0x0')
# patch 0003: upstream masks the port to one bit, so a 32-bit OUT writes
# APM_CNT twice (two SMIs, the handler sees byte 2) and APM_STS twice;
# the submission series' "hw/isa/apm: do not fold a wide access's upper
# bytes onto APM_CNT and APM_STS" fixes it upstream
canary('apm-wide-write-stays-in-apm', apm_wide_write,
       (0x22, 0x11, 0x11221122), (0x44, 0x33, 0xffff3344))
# patch 0003: upstream keeps SMI_LOCK set across reset while GBL_SMI_EN
# is writable again; the fork clears it, as PLTRST# does on ICH9, and so
# does the submission series' "hw/isa/lpc_ich9: clear GEN_PMCON_1.SMI_LOCK
# on reset"
canary('smi-lock-cleared-by-reset', smi_lock_after_reset,
       (SMI_LOCK, 0), (0, 0))
# patch 0003: upstream's SMI_STS timer bits are plain read/write
canary('timer-sts-write-1-to-clear', timer_sts_written_0,
       (SWSMI_TMR, 0), (SWSMI_TMR, SWSMI_TMR))
# patch 0003: upstream's periodic expiry overwrites SMI_STS
canary('periodic-expiry-keeps-other-sts',
       periodic_expiry_after_swsmi,
       PERIODIC, PERIODIC | SWSMI_TMR)
# patch 0003: upstream restarts the timers on every SMI_EN write
canary('smi-en-rewrite-postpones-swsmi',
       swsmi_with_smi_en_rewrites, 0, SWSMI_TMR)
# upstream 10.0 re-arms the timers on load (ich9_lpc_post_load
# through ich9_lpc_pmcon_update): not a defect there
canary('swsmi-runs-after-migration', swsmi_after_migration,
       SWSMI_TMR, SWSMI_TMR)
# patch 0006: TCG keeps translations across SMM entry from real
# mode: the handler reads the all-ones it read before the SMI,
# not its SMRAM (0x5a)
canary('tlb-flushed-on-smm-entry', smm_view_of_locked_window,
       0xff, 0x5a)
# patch 0005: closed legacy SMRAM without VGA is ordinary RAM
canary('legacy-smram-isolation',
       qtest_path('/x86_64/q35-smram/legacy/isolation'),
       'fails', 'passes')
# hw/isa/ich9_smi.c: upstream offers a feature set no firmware can
# negotiate, and OVMF spins at its first SMI
canary('hotplug-without-broadcast-refused', hotplug_without_broadcast,
       'starts', 'refused: x-smi-cpu-hotplug=on requires '
       'x-smi-broadcast=on: firmware cannot negotiate CPU hot(un)plug '
       'with SMI without SMI broadcast')
# fixed upstream since 7.2: the SMBASE window lock survives
# migration in 10.0 too (patch 0004 replaces the code anyway)
canary('smbase-lock-survives-migration',
       qtest_path('/x86_64/q35-smram/smbase/migration/lock-survives'),
       'passes', 'passes')


if __name__ == '__main__':
    e2e.main()
