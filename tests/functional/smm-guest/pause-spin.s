# SPDX-License-Identifier: GPL-2.0-or-later
#
# A 64 KiB -bios image that spins on PAUSE forever outside SMM, the shape
# of a spinlock wait in an OS: the pause-loop yield of SMM must leave it
# alone (test_x86_64_smm_tcg.py).  It reports ('P', 0) on the debug
# console port 0x402 before it starts spinning.
#
# Copyright (c) 2026 The Q35 SMM fork authors

    .code16
    .text
    .include "ich9.inc"

    .org    0xe000
main:
    real_mode_start
    report  $'P', $0
1:  pause
    jmp     1b

    .org    0xfff0
reset_vector:
    jmp     main
    .org    0x10000
