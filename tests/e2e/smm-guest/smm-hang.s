# SPDX-License-Identifier: GPL-2.0-or-later
#
# A 64 KiB -bios image whose SMI handler never returns: the bootstrap
# processor puts a PAUSE loop at the default SMI entry (SMBASE 0x30000 +
# 0x8000), enables APM SMIs on the ICH9 and raises one, then stays in SMM
# for good -- the shape of a firmware hang in an SMI rendezvous.  The
# application processors are never started: they wait for SIPI.  Before
# the SMI it reports 'R' on the debug console port 0x402, so the test
# (test-smm-hang-diagnosis.py) knows the guest ran.
#
# Copyright (c) 2026 The Q35 SMM fork authors

    .code16
    .text

    .macro pci_cfg_addr addr
    mov     $0xcf8, %dx
    mov     \addr, %eax
    outl    %eax, %dx
    mov     $0xcfc, %dx
    .endm

    .org    0xe000
main:
    cli
    xor     %ax, %ax
    mov     %ax, %ss
    mov     $0x7000, %sp

    # the handler at 0x38000, while the SMBASE window is still RAM
    mov     $0x3800, %ax
    mov     %ax, %es
    xor     %di, %di
    mov     $smi_handler, %si
    mov     $(smi_handler_end - smi_handler), %cx
    cld
    rep movsb %cs:(%si), %es:(%di)

    # ICH9: PMBASE 0x600, ACPI I/O on, SMI_EN = GBL_SMI_EN | APMC_EN
    pci_cfg_addr $0x8000f840
    mov     $0x601, %eax
    outl    %eax, %dx
    pci_cfg_addr $0x8000f844
    mov     $0x80, %al
    outb    %al, %dx
    mov     $0x630, %dx
    mov     $0x21, %eax
    outl    %eax, %dx

    mov     $0x402, %dx
    mov     $'R', %al
    outb    %al, %dx

    # APM command 0x5a: the SMI
    mov     $0xb2, %dx
    mov     $0x5a, %al
    outb    %al, %dx
halt:
    hlt
    jmp     halt

# Runs in SMM at CS base 0x30000, IP 0x8000: waits for what never comes.
smi_handler:
1:  pause
    jmp     1b
smi_handler_end:

    .org    0xfff0
reset_vector:
    jmp     main
    .org    0x10000
