#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, real firmware and a real Linux guest: the fast subset of the
# firmware matrix (firmware_matrix.py), 1 and 2 vCPUs -- SeaBIOS boots
# Linux; OVMF x64 (bookworm's 2022.11, trixie's 2025.02) boots Linux,
# keeps a UEFI variable across a reboot and survives S3; OVMF ia32 (both)
# runs a UEFI shell script that sets and reads a variable.
# 'fork/firmware-matrix' (make firmware-matrix) runs them all, sid's too.
# check-timeout: 1200

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import firmware_matrix  # noqa: E402
import e2e  # noqa: E402


class FirmwareMatrixFastLinuxGuest(e2e.Test):
    """Each cell of the fast matrix: a firmware, 1 or 2 vCPUs, a check."""


firmware_matrix.add_cells(FirmwareMatrixFastLinuxGuest,
                          firmware_matrix.FAST_VCPUS)


if __name__ == '__main__':
    e2e.main()
