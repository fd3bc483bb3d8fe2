# SPDX-License-Identifier: GPL-2.0-or-later
#
# The micro guest of the SMI round-trip benchmark (fork/smibench/
# roundtrip.py): a 64 KiB -bios image whose bootstrap processor raises
# APM SMIs back to back, each one handled by a bare RSM at the default SMI
# entry (SMBASE 0x30000 + 0x8000).  After every BATCH SMIs it writes 'B'
# to the debug console port 0x402; the host timestamps those bytes.  With
# COUNT > 0 it raises COUNT SMIs instead and then leaves through the
# isa-debug-exit port 0xf4: the deterministic run that callgrind counts.
#
# Two variants, chosen with --defsym PAGED=0|1:
#  - real mode: CR0 does not change across SMM entry and RSM;
#  - 32-bit protected mode with paging on (one identity-mapped 4 MiB
#    page), as firmware and OSes raise SMIs: entry and RSM both switch
#    CR0.PE/PG.
#
# Copyright (c) 2026 The Q35 SMM fork authors

    .code16
    .text
    .include "ich9.inc"
    .include "paging.inc"

    .ifndef PAGED
    .set    PAGED, 0
    .endif
    .ifndef COUNT
    .set    COUNT, 0
    .endif
    .set    BATCH, 10000
    .set    APM_CNT, 0xb2
    .set    DEBUG_EXIT, 0xf4

    # with %al the APM command and %dx APM_CNT: SMIs for ever, a report
    # after each BATCH; or COUNT SMIs, the exit, and nothing more
    .macro smi_loop
1:
    .if COUNT
    mov     $COUNT, %ecx
    .else
    mov     $BATCH, %ecx
    .endif
2:  outb    %al, %dx
    dec     %ecx
    jnz     2b
    .if COUNT
    mov     $DEBUG_EXIT, %dx
    outb    %al, %dx
    # QEMU shuts down from its main loop: raise nothing meanwhile
9:  hlt
    jmp     9b
    .endif
    mov     $0x402, %dx
    mov     $'B', %al
    outb    %al, %dx
    mov     $0x5a, %al
    mov     $APM_CNT, %dx
    jmp     1b
    .endm

    .org    0xe000
main:
    real_mode_start
    copy_smi_handler smi_handler, smi_handler_end
    ich9_enable_apm_smi
    mov     $0x5a, %al                  # APM command: any value raises
    mov     $APM_CNT, %dx
    .if PAGED
    enter_paging paged_loop
    .else
    smi_loop
    .endif

    .code32
paged_loop:
    flat_data_segments
    smi_loop
    .code16

    flat_gdt

# Runs in SMM at CS base 0x30000, IP 0x8000: nothing to do but return.
smi_handler:
    rsm
smi_handler_end:

    .org    0xfff0
reset_vector:
    # a far jump: CS base 0xffff0000 is above what the page table maps
    ljmp    $(IMAGE_BASE >> 4), $main
    .org    0x10000
