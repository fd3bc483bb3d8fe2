#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, a guest of our own under TCG (smm-guest/smram-views.s): no
# translation made outside SMM is used inside it, or the other way round,
# whatever TCG caches across SMM entry and RSM.  The guest caches the
# legacy SMRAM page outside SMM (all-ones: no VGA), raises SMIs whose
# handler reads and counts in the same page (RAM), does the same with a
# TSEG page it cached before enabling TSEG, opens and closes SMRAM from
# inside SMM with the A and B segments cached outside, and changes the
# SMRAM register outside SMM (open, closed, locked); from real mode and
# from paged protected mode, so RSM returns into paging too.  The fast
# paths of issue #12 (jump cache, state-save map) must keep every report.
# check-timeout: 120

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'fork'))
import tap  # noqa: E402

from smm_guest import build_guest, reports, run_to_end  # noqa: E402

ALL_ONES = 0xff
# (tag, value): N outside SMM, S what SMM read (its own count so far),
# T outside SMM from TSEG, U what SMM read there (the pattern, counted),
# B the B segment outside SMM, closed; o/b the A and B segments outside
# SMM after SMM opened SMRAM (its RAM: the count, and zero), c both after
# SMM closed it;
# O/C/L outside SMM with SMRAM open, closed, locked with D_OPEN set
TSEG_PATTERN = 0x77
EXPECTED = [('N', ALL_ONES), ('S', 0), ('N', ALL_ONES), ('S', 1),
            ('N', ALL_ONES), ('S', 2), ('N', ALL_ONES),
            ('T', ALL_ONES), ('U', TSEG_PATTERN),
            ('T', ALL_ONES), ('U', TSEG_PATTERN + 1),
            ('B', ALL_ONES), ('o', 6), ('b', 0), ('c', ALL_ONES),
            ('c', ALL_ONES),
            ('O', 7), ('C', ALL_ONES), ('L', ALL_ONES),
            ('S', 7), ('N', ALL_ONES), ('E', 0)]
SMIS = 8


def run_guest(paged, accel):
    with tempfile.TemporaryDirectory() as tmp:
        img = build_guest(tmp, 'smram-views', PAGED=paged)
        # 256 MiB: TSEG is the top MiB, where the guest looks for it
        raw, cpu0 = run_to_end(
            img, ['-machine', 'q35,smm=on', '-accel', accel, '-m', '256'],
            'smram-views',
            inspect=lambda vm: vm.cmd('query-smi')['cpus'][0])
    return reports(raw), cpu0


def check(paged, accel):
    got, cpu0 = run_guest(paged, accel)
    assert got == EXPECTED, 'reports %r, want %r' % (got, EXPECTED)
    # one SMM stay per APM write, no more
    assert cpu0['apm-unicast'] == SMIS and cpu0['smm-entries'] == SMIS, cpu0


if __name__ == '__main__':
    tap.run([
        ('smm-isolation/real-mode', lambda diag: check(0, 'tcg')),
        ('smm-isolation/paged', lambda diag: check(1, 'tcg')),
        ('smm-isolation/paged-single-threaded-tcg',
         lambda diag: check(1, 'tcg,thread=single')),
    ])
