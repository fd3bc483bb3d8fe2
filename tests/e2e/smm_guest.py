# SPDX-License-Identifier: GPL-2.0-or-later
#
# The tiny -bios guests of the SMM tests (smm-guest/): assemble them with
# binutils, and decode what they report on the debug console.

import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def build_guest(tmp, name='smbase-window', **defsyms):
    """
    Assemble smm-guest/NAME.s into a 64 KiB -bios image with binutils;
    defsyms set the source's assembly-time symbols (PAGED=1, say).
    """
    src = os.path.join(HERE, 'smm-guest', name + '.s')
    stem = name + ''.join('-%s%d' % (k.lower(), v)
                          for k, v in sorted(defsyms.items()))
    obj, elf, img = (os.path.join(tmp, stem + '.' + e)
                     for e in ('o', 'elf', 'bin'))
    syms = [a for k, v in sorted(defsyms.items())
            for a in ('--defsym', '%s=%d' % (k, v))]
    for argv in (['as', '--32', '-I', os.path.join(HERE, 'smm-guest')] +
                 syms + ['-o', obj, src],
                 ['ld', '-m', 'elf_i386', '-e', '0', '-Ttext', '0', '-o',
                  elf, obj],
                 ['objcopy', '-O', 'binary', elf, img]):
        subprocess.run(argv, check=True, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    assert os.path.getsize(img) == 64 * 1024
    return img


def reports(raw):
    """The guest's (tag, value) pairs."""
    return [(chr(raw[i]), raw[i + 1]) for i in range(0, len(raw) - 1, 2)]
