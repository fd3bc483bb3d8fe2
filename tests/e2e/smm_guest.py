# SPDX-License-Identifier: GPL-2.0-or-later
#
# The tiny -bios guests of the SMM tests (tests/functional/smm-guest/):
# assemble them with binutils, and decode what they report on the debug
# console.

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'fork'))
import forkvm  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# the guests' sources live with the functional tests that also run them
GUESTS = os.path.join(HERE, '..', 'functional', 'smm-guest')


def build_guest(tmp, name='smbase-window', **defsyms):
    """
    Assemble smm-guest/NAME.s into a 64 KiB -bios image with binutils;
    defsyms set the source's assembly-time symbols (PAGED=1, say).
    """
    src = os.path.join(GUESTS, name + '.s')
    stem = name + ''.join('-%s%d' % (k.lower(), v)
                          for k, v in sorted(defsyms.items()))
    obj, elf, img = (os.path.join(tmp, stem + '.' + e)
                     for e in ('o', 'elf', 'bin'))
    syms = [a for k, v in sorted(defsyms.items())
            for a in ('--defsym', '%s=%d' % (k, v))]
    for argv in (['as', '--32', '-I', GUESTS] +
                 syms + ['-o', obj, src],
                 ['ld', '-m', 'elf_i386', '-e', '0', '-Ttext', '0', '-o',
                  elf, obj],
                 ['objcopy', '-O', 'binary', elf, img]):
        subprocess.run(argv, check=True, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    assert os.path.getsize(img) == 64 * 1024
    return img


def run_to_end(img, args, name, inspect=None, timeout=30):
    """
    Run the -bios image img until it reports ('E', 0) on the debug console
    port 0x402; args are QEMU's others.  Returns what it reported as raw
    bytes, and what inspect(vm) returned before the VM was shut down.
    """
    with tempfile.TemporaryDirectory() as tmp:
        con = os.path.join(tmp, 'debugcon')
        vm = forkvm.VM(args + ['-debugcon', 'file:%s' % con,
                               '-global', 'isa-debugcon.iobase=0x402'],
                       firmware=img, name=name)
        try:
            vm.launch()

            def done():
                with open(con, 'rb') as f:
                    raw = f.read()
                return raw if raw.endswith(b'E\x00') else None
            raw = vm.wait_for('the guest\'s last report', done, timeout)
            seen = inspect(vm) if inspect else None
        finally:
            vm.shutdown()
    return raw, seen


def reports(raw):
    """The guest's (tag, value) pairs."""
    return [(chr(raw[i]), raw[i + 1]) for i in range(0, len(raw) - 1, 2)]
