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
import qmp  # noqa: E402
import tap  # noqa: E402

from smm_guest import build_guest, reports  # noqa: E402

# what V returned after each remap: page one, one, two, one, (the
# remembered entries overflowed) one, two
EXPECTED = [('V', 1), ('V', 1), ('V', 2), ('V', 1), ('V', 1), ('V', 2),
            ('E', 0)]


def check(accel):
    with tempfile.TemporaryDirectory() as tmp:
        img = build_guest(tmp, 'tb-remap')
        con = os.path.join(tmp, 'debugcon')
        vm = qmp.VM(['-machine', 'q35', '-accel', accel, '-m', '64',
                     '-debugcon', 'file:%s' % con,
                     '-global', 'isa-debugcon.iobase=0x402'],
                    firmware=img, name='tb-remap')
        try:
            vm.launch()

            def done():
                with open(con, 'rb') as f:
                    raw = f.read()
                return raw if raw.endswith(b'E\x00') else None
            raw = vm.wait_for('the guest\'s last report', done, 30)
        finally:
            vm.shutdown()
    got = reports(raw)
    assert got == EXPECTED, 'reports %r, want %r' % (got, EXPECTED)


if __name__ == '__main__':
    tap.run([
        ('tcg-jmp-cache/remap', lambda diag: check('tcg')),
        ('tcg-jmp-cache/remap-single-threaded',
         lambda diag: check('tcg,thread=single')),
    ])
