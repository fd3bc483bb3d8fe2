# SPDX-License-Identifier: GPL-2.0-or-later
#
# INIT, SIPI, SIPI sent to an application processor that is still in SMM:
# the INIT is held until RSM, and the SIPIs must not be lost meanwhile.
# Firmware does this: OVMF's MpInitLib wakes the APs with INIT-SIPI-SIPI
# right after an SMI that the bootstrap processor has left, and a vCPU
# thread that the host descheduled is still in its SMI handler.
#
# The BSP starts the AP (INIT-SIPI-SIPI), which counts its start in
# STARTS and halts; sends it an SMI, whose handler says it is in SMM and
# spins until RELEASE; sends INIT-SIPI-SIPI while the AP spins there, then
# releases it, and waits for the AP's second start.  It reports on the
# debug console port 0x402: ('A', starts) once the AP started, ('M', 1)
# once the AP is in SMM, ('S', starts) after the AP started again, then
# ('E', 0).  If the SIPIs were lost the AP waits for SIPI for ever and
# the guest never reports ('S', 2).  Built with HOLD=1, the BSP reports
# ('H', 1) once it has sent the INIT-SIPI-SIPI and never releases the AP,
# which keeps the INIT in SMM for good.
#
# Copyright (c) 2026 The Q35 SMM fork authors

    .code16
    .text
    .include "ich9.inc"
    .include "paging.inc"

    .ifndef HOLD
    .set    HOLD, 0
    .endif

    .set    APIC, 0xfee00000
    .set    ICR_LOW, APIC + 0x300
    .set    ICR_HIGH, APIC + 0x310
    .set    AP_DEST, 1 << 24                # APIC ID 1, in ICR_HIGH
    .set    ICR_INIT, 0x500
    .set    ICR_STARTUP, 0x600
    .set    ICR_SMI, 0x200
    .set    AP_VECTOR, IMAGE_BASE >> 12     # SIPI vector: the image's start
    .set    STARTS, 0x6000                  # the AP's starts at AP_VECTOR
    .set    IN_SMM, 0x6004                  # the AP's SMI handler runs
    .set    RELEASE, 0x6008                 # the handler may return

    # send ICR_LOW value \icr to the AP
    .macro ipi_to_ap icr
    addr32 movl $AP_DEST, ICR_HIGH
    addr32 movl $\icr, ICR_LOW
    .endm

    .macro init_sipi_sipi
    ipi_to_ap ICR_INIT
    ipi_to_ap (ICR_STARTUP | AP_VECTOR)
    ipi_to_ap (ICR_STARTUP | AP_VECTOR)
    .endm

    # spin until the dword at \addr equals \value
    .macro wait_for addr, value
1:  pause
    cmpl    $\value, \addr
    jne     1b
    .endm

# The AP starts here (SIPI vector AP_VECTOR), with DS = 0.
    .org    0
ap_start:
    cli
    ljmp    $(IMAGE_BASE >> 4), $ap_main
ap_main:
    lock incl STARTS
1:  hlt
    jmp     1b

    .org    0xe000
main:
    real_mode_start
    big_real_mode
    copy_smi_handler smi_handler, smi_handler_end

    init_sipi_sipi
    wait_for STARTS, 1
    report  $'A', STARTS

    ipi_to_ap ICR_SMI
    wait_for IN_SMM, 1
    report  $'M', IN_SMM

    # the AP is in SMM, and stays there until RELEASE
    init_sipi_sipi
    .if HOLD
    report  $'H', $1
1:  hlt
    jmp     1b
    .endif
    movl    $1, RELEASE
    wait_for STARTS, 2
    report  $'S', STARTS
    report  $'E', $0
1:  hlt
    jmp     1b

    flat_gdt

# In SMM at the default SMBASE 0x30000, data segments based at 0.
smi_handler:
    lock incl IN_SMM
1:  pause
    cmpl    $0, RELEASE
    je      1b
    rsm
smi_handler_end:

    .org    0xfff0
reset_vector:
    ljmp    $(IMAGE_BASE >> 4), $main
    .org    0x10000
