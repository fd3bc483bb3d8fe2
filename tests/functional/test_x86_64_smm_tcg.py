#!/usr/bin/env python3
#
# SPDX-License-Identifier: GPL-2.0-or-later
#
# SMM under TCG, with -bios guests of our own (smm-guest/*.s, assembled
# here with binutils) on q35: what TCG caches must never leak across SMM
# entry and RSM, or across a remap of guest code -- the guests report
# what they read on the debug console port 0x402, as (tag, value) byte
# pairs ending with ('E', 0) -- and the yield of a vCPU that spins on
# PAUSE in SMM.  Each test names the patch it guards.

import os
import subprocess
import time

from qemu_test import QemuSystemTest, skipIfMissingCommands

# the guests run for milliseconds; this bounds a hang
GUEST_TIMEOUT = 60
ALL_ONES = 0xff

# smram-views.s, (tag, value): N outside SMM, S what SMM read (its own
# count so far), T outside SMM from TSEG, U what SMM read there (the
# pattern, counted), B the B segment outside SMM, closed; o/b the A and B
# segments outside SMM after SMM opened SMRAM (its RAM: the count, and
# zero), c both after SMM closed it; O/C/L outside SMM with SMRAM open,
# closed, locked with D_OPEN set
TSEG_PATTERN = 0x77
SMRAM_VIEWS = [('N', ALL_ONES), ('S', 0), ('N', ALL_ONES), ('S', 1),
               ('N', ALL_ONES), ('S', 2), ('N', ALL_ONES),
               ('T', ALL_ONES), ('U', TSEG_PATTERN),
               ('T', ALL_ONES), ('U', TSEG_PATTERN + 1),
               ('B', ALL_ONES), ('o', 6), ('b', 0), ('c', ALL_ONES),
               ('c', ALL_ONES),
               ('O', 7), ('C', ALL_ONES), ('L', ALL_ONES),
               ('S', 7), ('N', ALL_ONES), ('E', 0)]

# tb-remap.s: what V returned after each remap: page one, one, two, one,
# (the remembered entries overflowed) one, two
TB_REMAP = [('V', 1), ('V', 1), ('V', 2), ('V', 1), ('V', 1), ('V', 2),
            ('E', 0)]


@skipIfMissingCommands('as', 'ld', 'objcopy')
class SmmGuestTest(QemuSystemTest):

    def build_guest(self, name, **defsyms):
        """smm-guest/NAME.s as a 64 KiB -bios image; defsyms: PAGED=1..."""
        src_dir = self.data_file('smm-guest')
        stem = self.scratch_file(name + ''.join(
            '-%s%d' % (k.lower(), v) for k, v in sorted(defsyms.items())))
        syms = [a for k, v in sorted(defsyms.items())
                for a in ('--defsym', '%s=%d' % (k, v))]
        for argv in (['as', '--32', '-I', src_dir] + syms +
                     ['-o', stem + '.o', os.path.join(src_dir, name + '.s')],
                     ['ld', '-m', 'elf_i386', '-e', '0', '-Ttext', '0',
                      '-o', stem + '.elf', stem + '.o'],
                     ['objcopy', '-O', 'binary', stem + '.elf',
                      stem + '.bin']):
            proc = subprocess.run(argv, capture_output=True, text=True)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(os.path.getsize(stem + '.bin'), 64 * 1024)
        return stem + '.bin'

    def launch_guest(self, image, accel, *args):
        self.set_machine('q35')
        con = self.scratch_file('debugcon')
        self.vm.add_args('-bios', image, '-accel', accel,
                         '-debugcon', 'file:' + con,
                         '-global', 'isa-debugcon.iobase=0x402', *args)
        self.vm.launch()
        return con

    def wait_for_report(self, con, last):
        """Wait for the guest's report to end with the pair last; it all."""
        deadline = time.monotonic() + GUEST_TIMEOUT
        raw = b''
        while not raw.endswith(last):
            self.assertLess(time.monotonic(), deadline,
                            'the guest did not report %r: reported %r'
                            % (last, raw))
            time.sleep(0.05)
            with open(con, 'rb') as f:
                raw = f.read()
        return raw

    def run_guest(self, image, accel, *args):
        """Run image to its ('E', 0); what it reported, as pairs."""
        con = self.launch_guest(image, accel, *args)
        raw = self.wait_for_report(con, b'E\x00')
        self.vm.shutdown()
        return [(chr(raw[i]), raw[i + 1]) for i in range(0, len(raw) - 1, 2)]


class SmmTcgIsolation(SmmGuestTest):

    def check_smram_views(self, paged, accel):
        # 256 MiB: TSEG is the top MiB, where the guest looks for it
        got = self.run_guest(self.build_guest('smram-views', PAGED=paged),
                             accel, '-machine', 'smm=on', '-m', '256')
        self.assertEqual(got, SMRAM_VIEWS)

    def test_smram_isolation_real_mode(self):
        """
        Guards 'target/i386: flush the TLB when entering and leaving
        SMM' (without it SMM reads the all-ones page that code outside
        SMM cached, and the other way round) and 'hw/pci-host/q35: closed
        legacy SMRAM reads all-ones without VGA'.  The guest caches the
        legacy SMRAM page outside SMM, raises SMIs whose handler reads
        and counts there, does the same with TSEG, opens and closes SMRAM
        from inside SMM, and changes the SMRAM register outside SMM.
        """
        self.check_smram_views(0, 'tcg')

    def test_smram_isolation_paged(self):
        """The same from paged protected mode: RSM returns into paging."""
        self.check_smram_views(1, 'tcg')

    def test_smram_isolation_paged_single_threaded(self):
        self.check_smram_views(1, 'tcg,thread=single')

    def check_tb_remap(self, accel):
        got = self.run_guest(self.build_guest('tb-remap'), accel, '-m', '64')
        self.assertEqual(got, TB_REMAP)

    def test_jmp_cache_remap(self):
        """
        Guards 'accel/tcg: clear only the jump cache entries set since
        the last flush' and 'accel/tcg: skip the jump cache sweep when a
        TLB flush...': after a TLB flush no translation block is found in
        the jump cache for a virtual address whose page now maps other
        code, whether V's entry was set by a fresh translation or a hash
        table hit, and after more entries than the cache remembers.
        Upstream passes it: it keeps the faster flush correct.
        """
        self.check_tb_remap('tcg')

    def test_jmp_cache_remap_single_threaded(self):
        self.check_tb_remap('tcg,thread=single')


# init-sipi-in-smm.s: the AP started once, entered SMM, started again
INIT_SIPI_IN_SMM = [('A', 1), ('M', 1), ('S', 2), ('E', 0)]


class SmmInitSipi(SmmGuestTest):
    """
    Guards 'target/i386: keep SMI latched in wait-for-SIPI and across
    INIT, hold INIT in SMM': the INIT that an AP holds in SMM keeps the
    SIPIs that follow it, and after RSM the AP starts at their vector.
    Without it the AP takes the SIPIs in SMM, where they mean nothing,
    and then the INIT: it waits for a SIPI for ever, as OVMF's BSP waits
    for it at ExitBootServices when the AP's thread was late to leave an
    SMI.  Upstream passes it (it takes the INIT in SMM at once).
    """

    def check_init_sipi_in_smm(self, accel):
        got = self.run_guest(self.build_guest('init-sipi-in-smm'), accel,
                             '-machine', 'smm=on', '-smp', '2')
        self.assertEqual(got, INIT_SIPI_IN_SMM)

    def test_sipi_after_init_held_in_smm(self):
        self.check_init_sipi_in_smm('tcg')

    def test_sipi_after_init_held_in_smm_single_threaded(self):
        self.check_init_sipi_in_smm('tcg,thread=single')

    def test_init_held_in_x_query_smi(self):
        """
        x-query-smi shows the INIT the AP holds in SMM: the guest built
        with HOLD=1 never lets the AP's SMI handler return.
        """
        con = self.launch_guest(self.build_guest('init-sipi-in-smm', HOLD=1),
                                'tcg', '-machine', 'smm=on', '-smp', '2')
        self.wait_for_report(con, b'H\x01')
        deadline = time.monotonic() + GUEST_TIMEOUT
        while True:
            ap = self.vm.cmd('x-query-smi')['cpus'][1]
            if ap['init-held']:
                break
            self.assertLess(time.monotonic(), deadline,
                            'the AP holds no INIT: %r' % ap)
            time.sleep(0.05)
        self.assertTrue(ap['in-smm'], ap)
        self.assertFalse(ap['wait-for-sipi'], ap)


# the spinning guests' virtual time to watch: hundreds of thousands of PAUSEs
PAUSE_WATCH_NS = 300 * 1000 * 1000


class SmmPauseLoop(SmmGuestTest):
    """
    Guards 'target/i386/tcg: yield the host CPU at a PAUSE in SMM' with
    guests of the shapes its q35-test cases do not have: an SMI handler
    that spins on PAUSE for good (smm-hang.s) yields under multi-threaded
    TCG, only there, and stays in SMM where it was; an OS's PAUSE loop
    (pause-spin.s) never yields.  The trace event x86_smm_pause_yield in
    the -D log counts the yields (the log trace backend, as configure
    builds by default).  Time is the virtual clock (x-query-smi's
    vclock-ns): no check depends on the host's speed.
    """

    def spin(self, guest, accel, in_smm=True):
        """Run guest, watch CPU 0 spin; its yields, and x-query-smi's CPU 0."""
        log = self.scratch_file('trace.log')
        self.launch_guest(self.build_guest(guest), accel, '-machine',
                          'smm=on', '-smp', '2',
                          '-trace', 'x86_smm_pause_yield', '-D', log)
        deadline = time.monotonic() + GUEST_TIMEOUT
        while self.cpu0()['in-smm'] != in_smm:
            self.assertLess(time.monotonic(), deadline, 'CPU 0 never spun')
            time.sleep(0.05)
        end = self.vm.cmd('x-query-smi')['vclock-ns'] + PAUSE_WATCH_NS
        while self.vm.cmd('x-query-smi')['vclock-ns'] < end:
            self.assertLess(time.monotonic(), deadline,
                            'the virtual clock stood still')
            time.sleep(0.05)
        cpu = self.cpu0()
        self.vm.shutdown()
        with open(log, encoding='utf-8') as f:
            yields = sum('x86_smm_pause_yield' in line for line in f)
        return yields, cpu

    def cpu0(self):
        return self.vm.cmd('x-query-smi')['cpus'][0]

    def test_spin_in_smm_yields(self):
        yields, cpu = self.spin('smm-hang', 'tcg,thread=multi')
        self.assertGreater(yields, 0)
        # the spinner is where it was: in SMM, entered once, not halted
        self.assertTrue(cpu['in-smm'] and not cpu['halted'], cpu)
        self.assertEqual(cpu['smm-entries'], 1)

    def test_single_threaded_never_yields(self):
        yields, cpu = self.spin('smm-hang', 'tcg,thread=single')
        self.assertEqual(yields, 0)
        self.assertTrue(cpu['in-smm'])

    def test_spin_outside_smm_never_yields(self):
        yields, cpu = self.spin('pause-spin', 'tcg,thread=multi',
                                in_smm=False)
        self.assertEqual(yields, 0)
        self.assertFalse(cpu['in-smm'])
        self.assertEqual(cpu['smm-entries'], 0)


if __name__ == '__main__':
    QemuSystemTest.main()
