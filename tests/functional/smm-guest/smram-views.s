# SPDX-License-Identifier: GPL-2.0-or-later
#
# A 64 KiB -bios image that checks that no translation crosses the SMM
# boundary, the way TCG's fast paths could get it wrong.  The legacy
# SMRAM (the A segment, 0xa0000) is SMM's RAM and, closed, all-ones to
# everyone else (no VGA).  The guest caches that page outside SMM, then
# raises an SMI whose handler reads the same page (SMRAM), reports what
# it saw through a mailbox at 0x5000 and increments it; back outside SMM
# the guest must see all-ones again.  Three rounds, then the SMRAM
# register changes outside SMM: open (SMRAM's RAM visible), closed,
# locked with D_OPEN set (ignored); then an SMI once more.  Between the
# two, TSEG (1 MiB at 0xff00000, the top of the guest's 256 MiB): the
# guest writes a pattern there and caches the page, enables TSEG, and
# must read all-ones while the handler reads and counts the pattern.
# Then SMRAM is opened and closed again from inside SMM (APM commands
# OPEN_CMD and CLOSE_CMD), while the A and B segments are cached outside:
# back outside, the guest must see SMRAM's RAM, then all-ones again.
#
# --defsym PAGED=1 runs the rounds from 32-bit protected mode with paging
# (so RSM goes back into paging), PAGED=0 from real mode.  Every report is
# a tag byte and a value byte on the debug console port 0x402; the test
# is test_x86_64_smm_tcg.py.
#
# Copyright (c) 2026 The Q35 SMM fork authors

    .code16
    .text
    .include "ich9.inc"
    .include "paging.inc"

    .ifndef PAGED
    .set    PAGED, 0
    .endif
    .set    ROUNDS, 3
    .set    MAILBOX, 0x5000
    # Q35 host bridge SMRAM register (config 0x9d)
    .set    SMRAM_BASE_SEG, 0x02        # C_BASE_SEG: the A/B segments
    .set    G_SMRAME, 0x08
    .set    D_LCK, 0x10
    .set    D_OPEN, 0x40
    # ESMRAMC (config 0x9e): TSEG on, 1 MiB
    .set    T_EN, 0x01
    .set    TSEG, 0xff00000
    .set    TSEG_PATTERN, 0x77
    # APM commands: the handler counts, and opens or closes SMRAM
    .set    COUNT_CMD, 0x5a
    .set    OPEN_CMD, 0x5b
    .set    CLOSE_CMD, 0x5c

    # write \val to the host bridge's SMRAM register
    .macro smram val
    pci_cfg_addr $0x8000009c
    inc     %dx
    mov     \val, %al
    outb    %al, %dx
    .endm

    .macro esmramc val
    pci_cfg_addr $0x8000009c
    add     $2, %dx
    mov     \val, %al
    outb    %al, %dx
    .endm

    .macro smi cmd=$COUNT_CMD
    mov     $0xb2, %dx
    mov     \cmd, %al
    outb    %al, %dx
    .endm

    # the rounds; \aseg, \bseg and \mailbox address 0xa0000, 0xb0000 and
    # MAILBOX in the current mode, \a32 is addr32 in real mode (TSEG is
    # beyond 1 MiB)
    .macro rounds aseg, bseg, mailbox, a32
    mov     $ROUNDS, %ecx
1:  movb    \aseg, %bl                  # the page, cached outside SMM
    report  $'N', %bl
    mov     $0xb2, %dx
    mov     $0x5a, %al
    outb    %al, %dx                    # SMI: the handler reads the page
    movb    \mailbox, %bl
    report  $'S', %bl
    dec     %ecx
    jnz     1b
    movb    \aseg, %bl
    report  $'N', %bl

    \a32 movb $TSEG_PATTERN, TSEG
    esmramc $T_EN
    \a32 movb TSEG, %bl
    report  $'T', %bl
    smi
    \a32 movb (MAILBOX + 1), %bl
    report  $'U', %bl
    \a32 movb TSEG, %bl
    report  $'T', %bl
    smi
    \a32 movb (MAILBOX + 1), %bl
    report  $'U', %bl

    movb    \bseg, %bl                  # cached outside SMM, closed
    report  $'B', %bl
    smi     $OPEN_CMD
    movb    \aseg, %bl
    report  $'o', %bl
    movb    \bseg, %bl
    report  $'b', %bl
    smi     $CLOSE_CMD
    movb    \aseg, %bl
    report  $'c', %bl
    movb    \bseg, %bl
    report  $'c', %bl

    smram   $(D_OPEN | G_SMRAME | SMRAM_BASE_SEG)
    movb    \aseg, %bl
    report  $'O', %bl
    smram   $(G_SMRAME | SMRAM_BASE_SEG)
    movb    \aseg, %bl
    report  $'C', %bl
    smram   $(D_LCK | G_SMRAME | SMRAM_BASE_SEG)
    smram   $(D_OPEN | D_LCK | G_SMRAME | SMRAM_BASE_SEG)
    movb    \aseg, %bl
    report  $'L', %bl
    mov     $0xb2, %dx
    mov     $0x5a, %al
    outb    %al, %dx
    movb    \mailbox, %bl
    report  $'S', %bl
    movb    \aseg, %bl
    report  $'N', %bl
    report  $'E', $0
2:  hlt
    jmp     2b
    .endm

    .org    0xe000
main:
    real_mode_start
    copy_smi_handler smi_handler, smi_handler_end
    ich9_enable_apm_smi
    smram   $(G_SMRAME | SMRAM_BASE_SEG)
    .if PAGED
    enter_paging paged_main
    .else
    big_real_mode
    mov     $0xa000, %ax
    mov     %ax, %es
    mov     $0xb000, %ax
    mov     %ax, %gs
    mov     $(MAILBOX >> 4), %ax
    mov     %ax, %fs
    rounds  %es:0, %gs:0, %fs:0, addr32
    .endif

    .code32
paged_main:
    flat_data_segments
    rounds  0xa0000, 0xb0000, MAILBOX
    .code16

    flat_gdt

# Runs in SMM at CS base 0x30000, IP 0x8000, data segments flat: the
# legacy SMRAM byte and the TSEG byte go to the mailbox, then both count
# this stay; OPEN_CMD and CLOSE_CMD open and close SMRAM.  RSM restores
# every register it uses.
smi_handler:
    addr32 movb 0xa0000, %al
    addr32 movb %al, MAILBOX
    addr32 incb 0xa0000
    addr32 movb TSEG, %al
    addr32 movb %al, (MAILBOX + 1)
    addr32 incb TSEG
    inb     $0xb2, %al
    cmp     $OPEN_CMD, %al
    jne     1f
    smram   $(D_OPEN | G_SMRAME | SMRAM_BASE_SEG)
1:  cmp     $CLOSE_CMD, %al
    jne     2f
    smram   $(G_SMRAME | SMRAM_BASE_SEG)
2:  rsm
smi_handler_end:

    .org    0xfff0
reset_vector:
    # a far jump: CS base 0xffff0000 is above what the page table maps
    ljmp    $(IMAGE_BASE >> 4), $main
    .org    0x10000
