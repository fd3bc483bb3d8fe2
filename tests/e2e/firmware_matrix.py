# SPDX-License-Identifier: GPL-2.0-or-later
#
# The firmware matrix: the checks firmware developers run when they
# validate SMM on a new platform build, one cell per firmware, vCPU count
# and check, all on q35,smm=on under TCG with Debian's firmware:
#
#   SeaBIOS          boots the Linux guest
#   OVMF x64 (SMM)   boots the Linux guest; a UEFI variable written from
#                    Linux reads back after a reboot; S3 suspend from
#                    Linux and wake-up from QMP, the guest resumes
#   OVMF ia32 (SMM)  on qemu-system-i386 and a 32-bit CPU model, boots to
#                    the UEFI shell; a variable set by a shell script
#                    reads back, also in the next QEMU process on the
#                    same variable store
#
# OVMF in three generations (fork/forkvm.py OVMF_BUILDS): bookworm's 2022.11
# (installed), trixie's 2025.02 and sid's newest (unpacked by
# fork/fetch-firmware; sid's cells skip with the reason when Debian does
# not serve it).
#
# Each check is a function of (test, vcpus) that raises on failure: the
# fast subset runs as a test (test-firmware-matrix-fast-linux-guest.py),
# the whole matrix from fork/firmware-matrix, which prints the table.

import functools
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import unittest

import e2e
import forkvm
import linux_guest

VCPUS = (1, 2, 4)
FAST_VCPUS = (1, 2)
CHECKS = ('boot', 'variables', 's3')

VAR_GUID = linux_guest.VAR_GUID

SHELL_TIMEOUT = 300
# Debian's OVMF32 is an IA32 build: run it as 32-bit firmware engineers
# do, on qemu-system-i386 with a CPU model without long mode (nor NX,
# which coreduo lacks on real parts).
IA32_CPU = 'coreduo,-nx'


def require(build):
    why = forkvm.ovmf_missing(build)
    if why:
        raise unittest.SkipTest(why)


def per_cpu_smm_entries(vm):
    return [c['smm-entries'] for c in vm.cmd('x-query-smi')['cpus']]


def boot_linux(test, vcpus, firmware):
    if firmware != 'seabios':
        require(firmware)
    g = linux_guest.LinuxGuest(smp=vcpus, firmware=firmware,
                               name='matrix-%s' % firmware)
    test.addCleanup(g.shutdown)
    test.diag.append(lambda: 'guest console tail:\n' + g.console_tail())
    test.diag.append(lambda: 'SMI table:\n' + g.smi_table())
    g.boot()
    assert g.run('cat /sys/devices/system/cpu/online').strip() == \
        ('0' if vcpus == 1 else '0-%d' % (vcpus - 1))
    return g


# SeaBIOS

def seabios_boot(test, vcpus):
    g = boot_linux(test, vcpus, 'seabios')
    chip = g.cmd('x-query-smi')['chipset']
    # SeaBIOS negotiates nothing, enables APM SMIs globally and relocates
    # the BSP's SMBASE with one SMI of its own
    assert chip['negotiated-features'] == 0, chip
    assert chip['smi-en'] & 0x21 == 0x21, chip
    assert per_cpu_smm_entries(g)[0] >= 1, g.smi_table()


# OVMF x64

def ovmf_linux(test, vcpus, build):
    g = boot_linux(test, vcpus, build)
    chip = g.cmd('x-query-smi')['chipset']
    assert chip['negotiated-features'] == 0x7, chip
    assert all(n > 0 for n in per_cpu_smm_entries(g)), g.smi_table()
    return g


def ovmf_x64_boot(test, vcpus, build):
    ovmf_linux(test, vcpus, build)


def ovmf_x64_variables(test, vcpus, build):
    g = ovmf_linux(test, vcpus, build)
    nonce = 'fork-%s' % secrets.token_hex(4)
    before = sum(per_cpu_smm_entries(g))
    g.write_efivar(nonce)
    assert g.read_efivar() == nonce
    # SetVariable runs in SMM on this build: the write entered it
    assert sum(per_cpu_smm_entries(g)) > before, g.smi_table()

    start = len(g.console())
    g.type('reboot -f\n')
    g.wait_console(r'GUEST-READY cpus=%d' % vcpus, linux_guest.BOOT_TIMEOUT,
                   start)
    assert g.read_efivar() == nonce


def ovmf_x64_s3(test, vcpus, build):
    g = ovmf_linux(test, vcpus, build)
    g.write_efivar('before-s3')
    start = len(g.console())
    g.type('echo mem > /sys/power/state; echo GUEST-RESUMED $?\n')
    g.wait_for('the guest to suspend',
               lambda: g.cmd('query-status')['status'] == 'suspended', 120)
    suspended = per_cpu_smm_entries(g)
    g.cmd('system_wakeup')
    m = g.wait_console(r'GUEST-RESUMED (\d+)', 120, start)
    assert m.group(1) == '0', 'echo mem > /sys/power/state failed'
    # the S3 resume path of the SMM build enters SMM on every vCPU to
    # restore SMBASE and the SMM state
    resumed = per_cpu_smm_entries(g)
    assert all(a > b for a, b in zip(resumed, suspended)), \
        (suspended, resumed)
    assert any(e['event'] == 'WAKEUP' for e in g.events), g.events
    assert g.run('cat /sys/devices/system/cpu/online').strip() == \
        ('0' if vcpus == 1 else '0-%d' % (vcpus - 1))
    # variable services, in SMM, still work after resume
    assert g.read_efivar() == 'before-s3'
    g.write_efivar('after-s3', 'ForkMatrixResumed')
    assert g.read_efivar('ForkMatrixResumed') == 'after-s3'


# OVMF ia32: a shell script on a FAT disk does what Linux does on x64

# Since 2023 Debian's SMM (secboot) builds have no built-in UEFI shell, which
# would bypass Secure Boot (ovmf's README.Debian): the disk boots trixie's
# efi-shell-ia32 (fork/fetch-firmware) from the removable-media path instead.
EXTERNAL_SHELL = {
    'ovmf-ia32-trixie': os.path.join(forkvm.FIRMWARE_DIR, 'trixie', 'root',
                                     'usr', 'share', 'efi-shell-ia32',
                                     'shellia32.efi'),
}


def fat_disk(test, script, shell=None):
    """
    A raw FAT disk image holding startup.nsh, and the UEFI shell shell as
    EFI/BOOT/BOOTIA32.EFI when given; its path.
    """
    tmp = tempfile.mkdtemp(prefix='fork-matrix-fat-')
    test.addCleanup(lambda: shutil.rmtree(tmp, ignore_errors=True))
    nsh = os.path.join(tmp, 'startup.nsh')
    img = os.path.join(tmp, 'fat.img')
    with open(nsh, 'w') as f:
        f.write('@echo -off\r\n' + ''.join(ln + '\r\n' for ln in script))
    mkfs = shutil.which('mkfs.vfat') or '/usr/sbin/mkfs.vfat'
    steps = [[mkfs, '-C', '-n', 'FORKMATRIX', img, '8192'],
             ['mcopy', '-i', img, nsh, '::startup.nsh']]
    if shell:
        steps += [['mmd', '-i', img, '::EFI', '::EFI/BOOT'],
                  ['mcopy', '-i', img, shell, '::EFI/BOOT/BOOTIA32.EFI']]
    for argv in steps:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return img, tmp


def ia32_shell(test, vcpus, build, script, vars_file=None):
    """Boot OVMF ia32 to the shell, which runs script; the console."""
    require(build)
    shell = EXTERNAL_SHELL.get(build)
    if shell and not os.path.exists(shell):
        raise unittest.SkipTest('%s missing (fork/fetch-firmware)' % shell)
    if not os.access(forkvm.QEMU_I386, os.X_OK):
        raise unittest.SkipTest('%s missing (make build)' % forkvm.QEMU_I386)
    img, _ = fat_disk(test, script + ['echo FORK-MATRIX-DONE'], shell)
    vm = forkvm.VM(['-machine', 'q35,smm=on', '-accel', 'tcg',
                    '-cpu', IA32_CPU, '-smp', str(vcpus), '-m', '512',
                    '-drive', 'file=%s,format=raw,media=disk,if=ide' % img],
                   firmware=build, name='matrix-ia32',
                   vars_file=vars_file, qemu=forkvm.QEMU_I386)
    test.addCleanup(vm.shutdown)
    test.diag.append(lambda: 'console tail:\n' +
                     '\n'.join(vm.console().splitlines()[-20:]))
    vm.launch()
    vm.wait_for('the UEFI shell to run startup.nsh',
                lambda: 'FORK-MATRIX-DONE' in vm.console(), SHELL_TIMEOUT)
    chip = vm.cmd('x-query-smi')['chipset']
    assert chip['negotiated-features'] == 0x7, chip
    entries = per_cpu_smm_entries(vm)
    assert len(entries) == vcpus and all(n > 0 for n in entries), entries
    console = vm.console()
    vm.shutdown()
    return console


def shell_var_dump(console, nonce_hex):
    """setvar prints 'GUID - Name - NNNN Bytes' and then the data."""
    head = '%s - ForkMatrix - %04X Bytes' % (VAR_GUID.upper(),
                                             len(nonce_hex) // 2)
    data = ' '.join(nonce_hex[i:i + 2] for i in range(0, len(nonce_hex), 2))
    return head in console and data in console.upper()


def ovmf_ia32_boot(test, vcpus, build):
    console = ia32_shell(test, vcpus, build, ['echo FORK-MATRIX-SHELL'])
    assert 'UEFI Interactive Shell' in console


def ovmf_ia32_variables(test, vcpus, build):
    require(build)
    nonce = secrets.token_hex(6).upper()
    tmp = tempfile.mkdtemp(prefix='fork-matrix-vars-')
    test.addCleanup(lambda: shutil.rmtree(tmp, ignore_errors=True))
    vars_file = os.path.join(tmp, 'OVMF32_VARS.fd')
    shutil.copyfile(forkvm.OVMF_BUILDS[build][1], vars_file)
    setvar = 'setvar ForkMatrix -guid %s' % VAR_GUID
    console = ia32_shell(test, vcpus, build,
                         ['%s -nv -bs -rt =%s' % (setvar, nonce), setvar],
                         vars_file)
    assert shell_var_dump(console, nonce), 'variable not read back'
    # a new QEMU process on the same flash: the store is non-volatile
    console = ia32_shell(test, vcpus, build, [setvar], vars_file)
    assert shell_var_dump(console, nonce), 'variable lost across power off'


def x64_checks(build):
    return {check: functools.partial(f, build=build) for check, f in
            (('boot', ovmf_x64_boot), ('variables', ovmf_x64_variables),
             ('s3', ovmf_x64_s3))}


def ia32_checks(build):
    return {check: functools.partial(f, build=build) for check, f in
            (('boot', ovmf_ia32_boot), ('variables', ovmf_ia32_variables))}


FIRMWARES = {
    # name -> (what, {check: function(test, vcpus)})
    'seabios': ("Debian's SeaBIOS", {'boot': seabios_boot}),
    'ovmf-x64': ("Debian bookworm's OVMF 2022.11 SMM build (x64)",
                 x64_checks('ovmf')),
    'ovmf-x64-trixie': ("Debian trixie's OVMF 2025.02 SMM build (x64)",
                        x64_checks('ovmf-trixie')),
    'ovmf-x64-sid': ("Debian sid's newest OVMF SMM build (x64, "
                     "ovmf-generic)", x64_checks('ovmf-sid')),
    'ovmf-ia32': ("Debian bookworm's OVMF 2022.11 SMM build (ia32, -cpu %s)"
                  % IA32_CPU, ia32_checks('ovmf-ia32')),
    'ovmf-ia32-trixie': ("Debian trixie's OVMF 2025.02 SMM build (ia32, "
                         "-cpu %s)" % IA32_CPU,
                         ia32_checks('ovmf-ia32-trixie')),
}
# make check: all but sid's, which Debian may stop serving
FAST_FIRMWARES = tuple(fw for fw in FIRMWARES if not fw.endswith('-sid'))


def cells(vcpus=VCPUS, firmwares=tuple(FIRMWARES)):
    """(firmware, vcpus, check, function) in matrix order."""
    return [(fw, n, check, func)
            for fw in firmwares
            for n in vcpus
            for check, func in FIRMWARES[fw][1].items()]


def cell_name(fw, n, check):
    return 'firmware-matrix/%s/%dcpu/%s' % (fw, n, check)


def add_cells(cls, vcpus, firmwares=FAST_FIRMWARES):
    """Each cell as a test case of cls."""
    for fw, n, check, f in cells(vcpus, firmwares):
        e2e.add_test(cls, '%s_%dcpu_%s' % (fw, n, check),
                     (lambda f, n: lambda test: f(test, n))(f, n))


class _Cell(e2e.Test):
    pass


def run_cell(func, vcpus):
    """Run one cell outside TAP: ('pass'|'FAIL'|'skip', seconds, why)."""
    cell = type('Cell', (_Cell,), {})
    e2e.add_test(cell, 'cell', lambda test: func(test, vcpus))
    result = unittest.TestResult()
    start = time.monotonic()
    cell('test_cell').run(result)
    secs = time.monotonic() - start
    if result.skipped:
        return 'skip', secs, result.skipped[0][1]
    if not (result.failures or result.errors):
        return 'pass', secs, ''
    # what failed and the diagnostics first, then where
    lines = (result.failures + result.errors)[0][1].splitlines()
    where = max(i for i, ln in enumerate(lines) if ln.startswith('  File '))
    end = where + 1
    while end < len(lines) and lines[end].startswith('    '):
        end += 1
    return 'FAIL', secs, '\n'.join(lines[end:] + lines[:end])


def table(results, rst=False):
    """
    results: {(fw, vcpus, check): (status, seconds, why)} -> the matrix as
    text lines, one row per firmware and vCPU count.
    """
    head = ['firmware', 'vCPUs'] + list(CHECKS)
    rows = []
    for fw in FIRMWARES:
        for n in sorted({k[1] for k in results if k[0] == fw}):
            row = [fw, str(n)]
            for check in CHECKS:
                r = results.get((fw, n, check))
                if check not in FIRMWARES[fw][1]:
                    row.append('n/a')
                elif r is None:
                    row.append('not run')
                else:
                    row.append('%s %.0f s' % (r[0], r[1]))
            rows.append(row)
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]

    def line(cells):
        return '  '.join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    if not rst:
        return [line(head), line(['-' * w for w in widths])] + \
            [line(r) for r in rows]
    rule = '  '.join('=' * w for w in widths)
    return [rule, line(head), rule] + [line(r) for r in rows] + [rule]
