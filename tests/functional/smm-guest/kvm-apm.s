# SPDX-License-Identifier: GPL-2.0-or-later
#
# A 64 KiB -bios image for a machine without SMM (KVM here): the bootstrap
# processor enables APM SMIs on the ICH9 as firmware would, writes APM
# command 0x5a and reports ('A', APM_STS) and then ('E', 0) on the debug
# console port 0x402.  Without SMM no SMI may follow.  Real-mode integer
# code only, so that a KVM that emulates little can run it.
#
# Copyright (c) 2026 The Q35 SMM fork authors

    .code16
    .text
    .include "ich9.inc"

    .org    0xe000
main:
    real_mode_start
    ich9_enable_apm_smi

    # APM_STS 0xa5, then command 0x5a
    mov     $0xb3, %dx
    mov     $0xa5, %al
    outb    %al, %dx
    mov     $0xb2, %dx
    mov     $0x5a, %al
    outb    %al, %dx
    mov     $0xb3, %dx
    inb     %dx, %al
    mov     %al, %bl
    report  $'A', %bl
    report  $'E', $0
halt:
    hlt
    jmp     halt

    .org    0xfff0
reset_vector:
    jmp     main
    .org    0x10000
