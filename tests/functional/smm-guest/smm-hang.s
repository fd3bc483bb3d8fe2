# SPDX-License-Identifier: GPL-2.0-or-later
#
# A 64 KiB -bios image whose SMI handler never returns: the bootstrap
# processor puts a PAUSE loop at the default SMI entry (SMBASE 0x30000 +
# 0x8000), enables APM SMIs on the ICH9 and raises one, then stays in SMM
# for good -- the shape of a firmware hang in an SMI rendezvous.  The
# application processors are never started: they wait for SIPI.  Before
# the SMI it reports ('R', 0) on the debug console port 0x402, which
# test-smm-hang-diagnosis.py checks.
#
# Copyright (c) 2026 The Q35 SMM fork authors

    .code16
    .text
    .include "ich9.inc"

    .org    0xe000
main:
    real_mode_start

    copy_smi_handler smi_handler, smi_handler_end
    ich9_enable_apm_smi
    report  $'R', $0

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
