# SPDX-License-Identifier: GPL-2.0-or-later
#
# A 64 KiB -bios guest for the jump cache of TCG (test_x86_64_smm_tcg.py):
# code at one virtual address V, whose 4 MiB page it maps to
# two physical pages in turn, each with its own code there; after every
# remap it reloads CR3 and calls V, which must run the code of the page
# now mapped, never a translation cached for the other.  It remaps after
# V's translation was found in the jump cache's two ways (just made, and
# found again in the hash table after a flush), and after more than the
# 256 entries whose indexes the jump cache remembers.  Reports on the
# debug console port 0x402: ('V', what V returned) after each call, then
# ('E', 0).
#
# Copyright (c) 2026 The Q35 SMM fork authors

    .code16
    .text
    .include "ich9.inc"
    .include "paging.inc"

    .set    PAGE_ONE, 0x00400000        # physical, 4 MiB each
    .set    PAGE_TWO, 0x00800000
    .set    V_PAGE, 0x00c00000          # virtual, mapped to one of them
    # V's offset in its page: its jump cache index differs from the
    # blocks' (see the top of accel/tcg/tb-hash.h)
    .set    V_OFFSET, 0x10
    .set    BLOCKS, 0x00200000          # BLOCK_COUNT one-byte RETs
    .set    BLOCK_COUNT, 300
    .set    BLOCK_STRIDE, 64

    # V_PAGE -> \phys, then CR3 reloaded: TCG flushes the TLB
    .macro map_v phys
    movl    $(\phys | 0x83), (PAGE_DIR + (V_PAGE >> 22) * 4)
    mov     %cr3, %eax
    mov     %eax, %cr3
    .endm

    # call V (through a register: another page, never a chained jump)
    .macro call_v
    mov     $(V_PAGE + V_OFFSET), %ebx
    call    *%ebx
    mov     %al, %bl
    report  $'V', %bl
    .endm

    # "mov $\value, %eax; ret" at \phys + V_OFFSET
    .macro put_code phys, value
    movb    $0xb8, (\phys + V_OFFSET)
    movl    $\value, (\phys + V_OFFSET + 1)
    movb    $0xc3, (\phys + V_OFFSET + 5)
    .endm

    .org    0xe000
main:
    real_mode_start
    enter_paging paged_main

    .code32
paged_main:
    flat_data_segments
    mov     $0x7000, %esp
    # both physical pages identity-mapped too, to write their code
    movl    $(PAGE_ONE | 0x83), (PAGE_DIR + (PAGE_ONE >> 22) * 4)
    movl    $(PAGE_TWO | 0x83), (PAGE_DIR + (PAGE_TWO >> 22) * 4)
    mov     %cr3, %eax
    mov     %eax, %cr3
    put_code PAGE_ONE, 1
    put_code PAGE_TWO, 2
    mov     $BLOCKS, %edi
    mov     $BLOCK_COUNT, %ecx
1:  movb    $0xc3, (%edi)
    add     $BLOCK_STRIDE, %edi
    loop    1b

    map_v   PAGE_ONE
    call_v                              # 1: translated, entry set
    map_v   PAGE_ONE
    call_v                              # 1: from the hash table, entry set
    map_v   PAGE_TWO
    call_v                              # 2
    map_v   PAGE_ONE
    call_v                              # 1
    # more entries than the jump cache remembers, then V's
    map_v   PAGE_ONE
    mov     $BLOCKS, %esi
    mov     $BLOCK_COUNT, %ecx
2:  call    *%esi
    add     $BLOCK_STRIDE, %esi
    loop    2b
    call_v                              # 1
    map_v   PAGE_TWO
    call_v                              # 2
    report  $'E', $0
3:  hlt
    jmp     3b
    .code16

    flat_gdt

    .org    0xfff0
reset_vector:
    # a far jump: CS base 0xffff0000 is above what the page table maps
    ljmp    $(IMAGE_BASE >> 4), $main
    .org    0x10000
