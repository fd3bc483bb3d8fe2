#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, a guest of our own under TCG (smm-guest/tb-remap.s): after
# a TLB flush no translation block is found in the jump cache for a
# virtual address whose page now maps other code.  The jump cache clears
# only the entries it set since the last flush (patch 0017) unless it set
# more than it remembers; the guest remaps after both, with V's entry set
# by a fresh translation and by a hash table hit, under both TCG
# threadings.
# check-timeout: 120

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'fork'))
import tap  # noqa: E402

from smm_guest import build_guest, reports, run_to_end  # noqa: E402

# what V returned after each remap: page one, one, two, one, (the
# remembered entries overflowed) one, two
EXPECTED = [('V', 1), ('V', 1), ('V', 2), ('V', 1), ('V', 1), ('V', 2),
            ('E', 0)]


def check(accel):
    with tempfile.TemporaryDirectory() as tmp:
        img = build_guest(tmp, 'tb-remap')
        raw, _ = run_to_end(img, ['-machine', 'q35', '-accel', accel,
                                  '-m', '64'], 'tb-remap')
    got = reports(raw)
    assert got == EXPECTED, 'reports %r, want %r' % (got, EXPECTED)


if __name__ == '__main__':
    tap.run([
        ('tcg-jmp-cache/remap', lambda diag: check('tcg')),
        ('tcg-jmp-cache/remap-single-threaded',
         lambda diag: check('tcg,thread=single')),
    ])
