# SPDX-License-Identifier: GPL-2.0-or-later
#
# The broadcast micro guest of the SMI round-trip benchmark (fork/smibench/
# roundtrip.py): every vCPU takes each SMI, as in firmware's rendezvous.
# The bootstrap processor relocates its SMBASE, wakes the application
# processors (INIT, SIPI, SIPI to all), and each of them relocates its own
# in turn, under a lock: SMBASE 0x50000 + APIC ID * 0x200, so that the
# entry points (SMBASE + 0x8000) and the state-save maps (SMBASE + 0xfe00)
# of up to 16 vCPUs stay apart.  Then the BSP sends SMI IPIs to all
# including itself; every handler counts its stay in its own word of
# COUNTERS and returns, and the BSP sends the next SMI once every vCPU has
# counted this one.  After every BATCH SMIs it writes 'B' to the debug
# console port 0x402.  The APs sit in HLT between SMIs.
#
# --defsym PAGED=1: the vCPUs run in 32-bit protected mode with paging
# (RSM goes back into paging), PAGED=0: in real mode, with 4 GiB data
# segment limits to reach the local APIC.  --defsym VCPUS=N: how many
# vCPUs to wait for.
#
# Copyright (c) 2026 The Q35 SMM fork authors

    .code16
    .text
    .include "ich9.inc"
    .include "paging.inc"

    .ifndef PAGED
    .set    PAGED, 0
    .endif
    .ifndef VCPUS
    .set    VCPUS, 2
    .endif
    .set    BATCH, 1000
    .set    APIC, 0xfee00000
    .set    APIC_ID, APIC + 0x20
    .set    ICR_LOW, APIC + 0x300
    .set    ICR_HIGH, APIC + 0x310
    .set    ICR_ALL_INCL_SELF, 0x80000
    .set    ICR_INIT, 0x500
    .set    ICR_STARTUP, 0x600
    .set    ICR_SMI, 0x200
    .set    NEW_SMBASE, 0x50000
    .set    SMBASE_STRIDE, 0x200
    .set    DEFAULT_SMBASE_FIELD, 0x3ff00   # 0x30000 + 0xff00 (x86-64 map)
    .set    RELOCATION_LOCK, 0x6000
    .set    RELOCATED, 0x6004               # vCPUs done relocating
    .set    COUNTERS, 0x6100                # a dword per APIC ID
    .set    AP_VECTOR, IMAGE_BASE >> 12     # SIPI vector: the image's start

    # relocate this vCPU's SMBASE: one SMI at a time through the default
    # one (its state-save map is shared), taken with the lock held
    .macro relocate_smbase
1:  mov     $1, %al
    addr32 xchg %al, RELOCATION_LOCK
    test    %al, %al
    jz      2f
    pause
    jmp     1b
2:  mov     $0xb2, %dx
    mov     $0x5a, %al
    outb    %al, %dx                    # unicast: to this vCPU
    addr32 movb $0, RELOCATION_LOCK
    addr32 lock incl RELOCATED
    .endm

    # the BSP's loop, in either mode (\a32: addr32 in real mode, where
    # the APIC and the counters lie beyond 16-bit offsets); %esi counts
    # the SMIs sent
    .macro broadcast_loop a32
    xor     %esi, %esi
1:  mov     $BATCH, %edi
2:  inc     %esi
    \a32 movl $0, ICR_HIGH
    \a32 movl $(ICR_ALL_INCL_SELF | ICR_SMI), ICR_LOW
    # until every vCPU counted this SMI
    xor     %ebx, %ebx
3:  \a32 cmpl %esi, COUNTERS(,%ebx,4)
    je      4f
    pause
    jmp     3b
4:  inc     %ebx
    cmp     $VCPUS, %ebx
    jne     3b
    dec     %edi
    jnz     2b
    mov     $0x402, %dx
    mov     $'B', %al
    outb    %al, %dx
    jmp     1b
    .endm

# Application processors start here (SIPI vector AP_VECTOR).
    .org    0
ap_start:
    cli
    ljmp    $(IMAGE_BASE >> 4), $ap_main

    .org    0xe000
main:
    real_mode_start
    big_real_mode
    copy_smi_handler relocation_handler, relocation_handler_end
    # the counting handler at every relocated entry point
    xor     %ebx, %ebx
1:  mov     %ebx, %edi
    shl     $9, %edi                    # * SMBASE_STRIDE
    add     $(NEW_SMBASE + 0x8000), %edi
    mov     $smi_handler, %esi
    mov     $(smi_handler_end - smi_handler), %ecx
2:  movb    %cs:(%si), %al
    addr32 movb %al, (%edi)
    inc     %esi
    inc     %edi
    loop    2b
    inc     %ebx
    cmp     $16, %ebx
    jne     1b
    ich9_enable_apm_smi
    relocate_smbase
    # INIT, then SIPI twice, to all others
    addr32 movl $0, ICR_HIGH
    addr32 movl $(0xc0000 | ICR_INIT), ICR_LOW
    addr32 movl $(0xc0000 | ICR_STARTUP | AP_VECTOR), ICR_LOW
    addr32 movl $(0xc0000 | ICR_STARTUP | AP_VECTOR), ICR_LOW
    # every AP relocated (a second SIPI to a started AP is ignored)
3:  addr32 cmpl $VCPUS, RELOCATED
    je      4f
    pause
    jmp     3b
4:
    .if PAGED
    enter_paging bsp_paged
    .else
    broadcast_loop addr32
    .endif

ap_main:
    xor     %ax, %ax
    mov     %ax, %ss
    big_real_mode
    relocate_smbase
    .if PAGED
    enter_paging ap_paged
    .else
1:  hlt
    jmp     1b
    .endif

    .code32
bsp_paged:
    flat_data_segments
    broadcast_loop
ap_paged:
    flat_data_segments
1:  hlt
    jmp     1b
    .code16

    flat_gdt

# In SMM at the default SMBASE: this vCPU's own SMBASE, from its APIC ID.
relocation_handler:
    addr32 movl APIC_ID, %eax
    shr     $24, %eax
    shl     $9, %eax                    # * SMBASE_STRIDE
    add     $NEW_SMBASE, %eax
    addr32 movl %eax, DEFAULT_SMBASE_FIELD
    rsm
relocation_handler_end:

# In SMM at a relocated SMBASE: CS is SMBASE >> 4, which names the vCPU;
# count the stay in its word of COUNTERS.
smi_handler:
    mov     %cs, %bx
    sub     $(NEW_SMBASE >> 4), %bx
    shr     $3, %bx                     # (SMBASE_STRIDE >> 4) / 4
    movzwl  %bx, %ebx
    addr32 incl COUNTERS(%ebx)
    rsm
smi_handler_end:

    .org    0xfff0
reset_vector:
    ljmp    $(IMAGE_BASE >> 4), $main
    .org    0x10000
