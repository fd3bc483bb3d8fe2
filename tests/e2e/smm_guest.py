# SPDX-License-Identifier: GPL-2.0-or-later
#
# The tiny -bios guests of the SMM tests (smm-guest/): assemble them with
# binutils, and decode what they report on the debug console.

import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def build_guest(tmp, name='smbase-window'):
    """Assemble smm-guest/NAME.s into a 64 KiB -bios image with binutils."""
    src = os.path.join(HERE, 'smm-guest', name + '.s')
    obj, elf, img = (os.path.join(tmp, name + '.' + e)
                     for e in ('o', 'elf', 'bin'))
    for argv in (['as', '--32', '-I', os.path.join(HERE, 'smm-guest'),
                  '-o', obj, src],
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
