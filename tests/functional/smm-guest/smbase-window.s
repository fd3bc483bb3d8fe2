# SPDX-License-Identifier: GPL-2.0-or-later
#
# A 64 KiB -bios image that proves the SMM side of the SMBASE window:
# from outside SMM it puts a pattern and an SMI handler in the window,
# queries and locks the window (host bridge config 0x9c), enables APM SMIs
# on the ICH9 and raises one.  The CPU, still at the default SMBASE
# 0x30000, enters SMM at 0x38000 -- inside the locked window -- so the
# handler runs only if SMM sees RAM there; it reports the pattern it reads
# and leaves a mark.  Back outside SMM the program reports what it reads
# now (all-ones: SMRAM did not leak through the TLB either way) and tries
# to overwrite the window.  Every report goes to
# the debug console port 0x402 as a tag byte and a value byte; the test
# (test-smbase-window-smm-view.py) checks them and the RAM behind the
# window after a reset.
#
# Copyright (c) 2026 The Q35 SMM fork authors

    .code16
    .text
    .include "ich9.inc"

    .org    0xe000
main:
    real_mode_start

    # the window while it is RAM: a pattern, and the handler at 0x38000
    mov     $0x3000, %ax
    mov     %ax, %ds
    movb    $0x5a, 0x0
    movb    $0x33, 0x2
    copy_smi_handler smi_handler, smi_handler_end

    # query, then lock the window
    pci_cfg_addr $0x8000009c
    mov     $0xff, %al
    outb    %al, %dx
    inb     %dx, %al
    mov     %al, %bl
    report  $'Q', %bl
    pci_cfg_addr $0x8000009c
    mov     $0x02, %al
    outb    %al, %dx
    inb     %dx, %al
    mov     %al, %bl
    report  $'L', %bl

    ich9_enable_apm_smi

    # read the locked window once from outside SMM (all-ones), so a TLB
    # that kept this view into SMM would show up in the handler's report
    movb    0x0, %bl
    report  $'P', %bl

    # raise the SMI; TCG takes it at the end of the translation block,
    # so end the block here to take it before the next report
    mov     $0xb2, %dx
    mov     $0x01, %al
    outb    %al, %dx
    jmp     1f
1:

    # back outside SMM: the window reads all-ones and ignores writes
    movb    0x0, %bl
    report  $'O', %bl
    movb    0x1, %bl
    report  $'o', %bl
    movb    $0x77, 0x2
    report  $'D', $0
halt:
    hlt
    jmp     halt

# Runs in SMM: CS base 0x30000, IP 0x8000, data segments base 0, 4 GiB.
smi_handler:
    mov     $0x30000, %ebx
    addr32 movb (%ebx), %cl
    report  $'S', %cl
    addr32 movb $0xa5, 1(%ebx)
    rsm
smi_handler_end:

    .org    0xfff0
reset_vector:
    jmp     main
    .org    0x10000
