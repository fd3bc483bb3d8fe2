#!/usr/bin/env python3
#
# SPDX-License-Identifier: GPL-2.0-or-later
#
# CPU hotplug and hot-unplug with SMM under TCG: Debian's OVMF SMM build
# boots Debian's cloud kernel with a busybox initramfs on q35,smm=on; CPUs
# are added and removed over QMP, OVMF relocates and ejects them in SMM
# and Linux onlines and releases them.  Each test names the patch whose
# bug it catches; on QEMU without that patch it fails or times out, as
# said there.

import gzip
import logging
import shutil
import subprocess

from qemu_test import QemuSystemTest, Asset, skipIfMissingCommands

# Silence on the console for this long is a hang.  OVMF says nothing on
# the serial console while it boots; a hot-added CPU comes online in
# about a second, TCG or not.
BOOT_TIMEOUT = 300
ONLINE_TIMEOUT = 30
# the event follows the CPU's removal within an RCU grace period (a
# float: QEMUMachine.event_wait() waits for ever on an int)
DEVICE_DELETED_TIMEOUT = 5.0
CPU_TYPE = 'qemu64-x86_64-cpu'
# A Linux program that makes the CPU it runs on select itself in ICH9's
# ACPI CPU hotplug block (docs/specs/acpi_cpu_hotplug.rst: selector at
# 0xcd8, flags at 0xcdc, eject = 8) and write the eject bit.  Assembled
# here: the Debian cloud kernel has no /dev/port.
SELF_EJECT_ASM = '''
    .globl _start
_start:
    mov $172, %eax          # iopl(3)
    mov $3, %edi
    syscall
    test %eax, %eax
    jnz 1f
    mov $0xcd8, %dx         # select CPU 1, the one this runs on
    mov $1, %eax
    outl %eax, %dx
    mov $0xcdc, %dx         # eject it
    mov $8, %al
    outb %al, %dx
    xor %eax, %eax
1:  mov %eax, %edi
    mov $60, %eax           # exit(iopl's result)
    syscall
'''

# /init: online hot-added CPUs as they appear, report both directions on
# the console, then give the console a shell.
GUEST_INIT = r'''#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
cpu_watch() {
    known=""
    while :; do
        now=""
        for d in /sys/devices/system/cpu/cpu[0-9]*; do
            [ -d "$d" ] || continue
            n=${d##*/cpu}
            now="$now $n "
            if [ -f "$d/online" ] && [ "$(cat "$d/online")" = 0 ]; then
                echo 1 > "$d/online" 2>/dev/null &&
                    echo "GUEST-CPU-ONLINE $n"
            fi
        done
        for n in $known; do
            case "$now" in *" $n "*) ;; *) echo "GUEST-CPU-REMOVED $n" ;; esac
        done
        known=$(echo $now)
        sleep 0.2
    done
}
cpu_watch &
echo "GUEST-READY cpus=$(grep -c ^processor /proc/cpuinfo)"
exec setsid cttyhack sh
'''


def cpio_newc(entries):
    """
    An initramfs (cpio 'newc') of (path, mode, data, rdev) entries, made
    here so that device nodes need no privileges.
    """
    out = bytearray()

    def pad():
        out.extend(b'\0' * (-len(out) % 4))
    for ino, (path, mode, data, rdev) in enumerate(
            entries + [('TRAILER!!!', 0, b'', (0, 0))], 1):
        name = path.encode() + b'\0'
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
                  len(name), 0)
        out.extend(b'070701' + ''.join('%08X' % f for f in fields).encode())
        out.extend(name)
        pad()
        out.extend(data)
        pad()
    return bytes(out)


class SmmCpuHotplug(QemuSystemTest):

    ASSET_OVMF_2022 = Asset(
        'https://deb.debian.org/debian/pool/main/e/edk2/'
        'ovmf_2022.11-6+deb12u2_all.deb',
        'e73d3d1a8799f7f6fc16b73501d913edcdd86237556fbff30693e747e6dc262e')
    ASSET_OVMF_2025 = Asset(
        'https://deb.debian.org/debian/pool/main/e/edk2/'
        'ovmf_2025.02-8+deb13u1_all.deb',
        '78e0d54df11fc77406cb7a0bc9a39e5bca6d1cbe06556b91d9a73491c52decdf')
    ASSET_KERNEL = Asset(
        'https://deb.debian.org/debian/pool/main/l/linux-signed-amd64/'
        'linux-image-6.1.0-50-cloud-amd64_6.1.176-1_amd64.deb',
        'efe19f605b6f54a8352e68d85a629abb2d30b72a085faef603a9152590baa791')
    ASSET_BUSYBOX = Asset(
        'https://deb.debian.org/debian/pool/main/b/busybox/'
        'busybox-static_1.35.0-4+deb12u1+b1_amd64.deb',
        '3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744')
    KERNEL_PATH = 'boot/vmlinuz-6.1.0-50-cloud-amd64'

    def guest_files(self, extra=()):
        kernel = self.archive_extract(self.ASSET_KERNEL,
                                      member=self.KERNEL_PATH)
        busybox = self.archive_extract(self.ASSET_BUSYBOX,
                                       member='bin/busybox')
        with open(busybox, 'rb') as f:
            busybox_data = f.read()
        dirs = [(d, 0o40755, b'', (0, 0))
                for d in ('bin', 'dev', 'proc', 'sys', 'tmp')]
        initrd = self.scratch_file('initramfs.cpio.gz')
        with gzip.open(initrd, 'wb', compresslevel=1) as f:
            f.write(cpio_newc(dirs + [
                ('dev/console', 0o20600, b'', (5, 1)),
                ('init', 0o100755, GUEST_INIT.encode(), (0, 0)),
                ('bin/busybox', 0o100755, busybox_data, (0, 0))] +
                list(extra)))
        return kernel, initrd

    def ovmf_args(self, asset):
        code = self.archive_extract(
            asset, member='usr/share/OVMF/OVMF_CODE_4M.secboot.fd')
        template = self.archive_extract(
            asset, member='usr/share/OVMF/OVMF_VARS_4M.fd')
        store = self.scratch_file('OVMF_VARS_4M.fd')
        shutil.copyfile(template, store)
        # the SMM build keeps its variables safe only on secure pflash
        return ['-global', 'driver=cfi.pflash01,property=secure,value=on',
                '-drive', 'if=pflash,format=raw,unit=0,readonly=on,file='
                + code,
                '-drive', 'if=pflash,format=raw,unit=1,file=' + store]

    def wait_console(self, pattern, timeout=ONLINE_TIMEOUT, command=None):
        """
        Type command, if any, and wait for pattern on the console.  Fails
        once the console was silent for timeout seconds (a hang) or QEMU
        closed it (a crash), where qemu_test's own helpers would wait for
        ever.  What comes after pattern is kept for the next wait.
        """
        sock = self.vm.console_socket
        if command is not None:
            sock.sendall(command.encode() + b'\r')
        want = pattern.encode()
        buf = self.console_rest
        sock.settimeout(timeout)
        try:
            while want not in buf:
                data = sock.recv(4096)
                if not data:
                    self.fail('QEMU closed the console before %r; it exited '
                              'with %s' % (pattern, self.vm.exitcode()))
                buf += data
        except TimeoutError:
            self.fail('%r not seen: the console was silent for %d s'
                      % (pattern, timeout))
        finally:
            sock.settimeout(None)
            end = buf.find(want)
            end = len(buf) if end < 0 else end + len(want)
            for line in buf[:end].decode(errors='replace').splitlines():
                self.console_log.debug(line)
            self.console_rest = buf[end:]

    def boot(self, ovmf=None, smp=2, maxcpus=4, accel='tcg', smm=True,
             extra_files=(), *args):
        """Boot Linux with OVMF (default 2022.11), or SeaBIOS without SMM."""
        self.set_machine('q35')
        kernel, initrd = self.guest_files(extra_files)
        self.vm.set_console()
        self.console_log = logging.getLogger('console')
        self.console_rest = b''
        self.vm.add_args('-machine', 'smm=on' if smm else 'smm=off',
                         '-accel', accel,
                         '-smp', '%d,maxcpus=%d' % (smp, maxcpus), '-m', '512',
                         '-kernel', kernel, '-initrd', initrd,
                         '-append', 'console=ttyS0 panic=-1 loglevel=4', *args)
        if smm:
            self.vm.add_args(*self.ovmf_args(ovmf or self.ASSET_OVMF_2022))
        self.vm.launch()
        self.wait_console('GUEST-READY cpus=%d' % smp, BOOT_TIMEOUT)

    def free_slot(self):
        """The lowest free CPU slot, so QEMU and Linux number CPUs alike."""
        free = [c['props'] for c in self.vm.cmd('query-hotpluggable-cpus')
                if 'qom-path' not in c]
        self.assertTrue(free, 'no free CPU slot')
        return min(free, key=lambda p: (p.get('socket-id', 0),
                                        p.get('core-id', 0),
                                        p.get('thread-id', 0)))

    def cpu_indexes(self):
        return {c['cpu-index'] for c in self.vm.cmd('query-cpus-fast')}

    def cpu_add(self, dev_id):
        """device_add a CPU, wait for Linux to online it; its index."""
        before = self.cpu_indexes()
        self.vm.cmd('device_add', driver=CPU_TYPE, id=dev_id,
                    **self.free_slot())
        new = self.cpu_indexes() - before
        self.assertEqual(len(new), 1, new)
        index = new.pop()
        self.wait_console('GUEST-CPU-ONLINE %d' % index)
        return index

    def cpu_del(self, dev_id, index):
        """
        device_del a CPU; Linux and OVMF let it go, QEMU removes it and
        sends the DEVICE_DELETED that management (libvirt) waits for.
        """
        self.vm.cmd('device_del', id=dev_id)
        self.wait_console('GUEST-CPU-REMOVED %d' % index)
        try:
            self.vm.event_wait('DEVICE_DELETED', DEVICE_DELETED_TIMEOUT,
                               match={'data': {'device': dev_id}})
        except TimeoutError:
            self.fail('no DEVICE_DELETED for %s within %d s of its removal'
                      % (dev_id, DEVICE_DELETED_TIMEOUT))
        self.assertNotIn(index, self.cpu_indexes())

    def assert_guest_alive(self, online):
        self.wait_console('GUEST-ONLINE-%s.' % online,
                          command='echo GUEST-ONLINE-$(cat '
                          '/sys/devices/system/cpu/online).')
        self.assertEqual(self.vm.cmd('query-status')['status'], 'running')

    def test_hot_add_ovmf_2022_11(self):
        """
        Guards 'target/i386: keep an SMI latched in wait-for-SIPI and
        across INIT': without it the guest freezes at the first
        device_add, the CPUs in SMM waiting for the new one, whose
        hotplug SMI was taken in wait-for-SIPI or lost at its INIT.
        """
        self.boot()
        self.assertEqual(self.cpu_add('hotcpu-a'), 2)
        self.assertEqual(self.cpu_add('hotcpu-b'), 3)
        self.assert_guest_alive('0-3')

    def test_hot_add_then_unplug_ovmf_2025_02(self):
        """
        The same with OVMF 2025.02 (edk2 reworked its SMM CPU code), then
        a hot-unplug through firmware; also guards 'system/memory: drop a
        destroyed address space's flat view at once': without it the
        unplugged CPU's own SMM flat view keeps it alive, and
        DEVICE_DELETED does not come until something else changes the
        memory map.
        """
        self.boot(self.ASSET_OVMF_2025)
        self.assertEqual(self.cpu_add('hotcpu-a'), 2)
        self.assertEqual(self.cpu_add('hotcpu-b'), 3)
        self.assert_guest_alive('0-3')
        self.cpu_del('hotcpu-b', 3)
        self.assert_guest_alive('0-2')

    def test_unplug_without_smm_sends_device_deleted(self):
        """
        Guards 'target/i386/tcg: let an unplugged CPU go, so that
        DEVICE_DELETED is sent', which is not about SMM: without it the
        CPU holds a reference to itself through its SMM address space and
        no unplugged CPU sends DEVICE_DELETED under TCG (only its lapic
        child does), with SeaBIOS on smm=off too.
        """
        self.boot(smm=False)
        index = self.cpu_add('plain')
        self.cpu_del('plain', index)
        self.assert_guest_alive('0-1')

    def test_plug_unplug_cycles(self):
        """
        Guards 'tcg: let a new vCPU thread reuse the context of an
        unplugged one': each plugged vCPU takes a TCG context and, without
        it, an unplugged one never gives it back, so that plugging stops
        once max_cpus contexts were used.
        """
        self.boot(maxcpus=3)
        for n in range(20):
            index = self.cpu_add('cycle-%d' % n)
            self.assertEqual(index, 2)
            self.cpu_del('cycle-%d' % n, index)
        self.assert_guest_alive('0-1')

    def test_plug_unplug_cycles_without_smm(self):
        """The same with SeaBIOS on smm=off: TCG contexts are not SMM's."""
        self.boot(maxcpus=3, smm=False)
        for n in range(20):
            index = self.cpu_add('cycle-%d' % n)
            self.assertEqual(index, 2)
            self.cpu_del('cycle-%d' % n, index)
        self.assert_guest_alive('0-1')

    def test_plug_unplug_single_threaded_tcg(self):
        """
        Guards 'system/cpus: unplug a vCPU under single-threaded TCG':
        with one thread for all vCPUs the eject runs on the thread of the
        vCPU being removed, which without the patch joins itself (QEMU
        aborts).
        """
        self.boot(accel='tcg,thread=single')
        for n in range(2):
            index = self.cpu_add('rr-%d' % n)
            self.assertEqual(index, 2)
            self.cpu_del('rr-%d' % n, index)
            self.assert_guest_alive('0-1')

    def test_plug_unplug_single_threaded_tcg_without_smm(self):
        """
        The same with SeaBIOS on smm=off: the eject joins the shared
        thread whether or not SMM is on.
        """
        self.boot(accel='tcg,thread=single', smm=False)
        for n in range(2):
            index = self.cpu_add('rr-%d' % n)
            self.assertEqual(index, 2)
            self.cpu_del('rr-%d' % n, index)
            self.assert_guest_alive('0-1')

    def assemble(self, name, source):
        """A static x86-64 Linux program from assembly source."""
        src, obj, exe = (self.scratch_file(name + e) for e in
                         ('.s', '.o', ''))
        with open(src, 'w') as f:
            f.write(source)
        for argv in (['as', '--64', '-o', obj, src],
                     ['ld', '-static', '-e', '_start', '-o', exe, obj]):
            proc = subprocess.run(argv, capture_output=True, text=True)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        with open(exe, 'rb') as f:
            return f.read()

    @skipIfMissingCommands('as', 'ld')
    def test_cpu_cannot_eject_itself(self):
        """
        Guards 'hw/acpi/cpu: a vCPU cannot eject itself': CPU 1 selects
        itself in the ACPI CPU hotplug block and writes the eject bit;
        without the patch QEMU dies: upstream's thread joins itself and
        aborts; with the rest of the series but this patch, the thread
        returns and runs on a vCPU being finalized (SIGSEGV).  With it
        the write is refused with a guest error and both CPUs stay.
        """
        prog = self.assemble('self-eject', SELF_EJECT_ASM)
        log = self.scratch_file('qemu.log')
        self.boot(None, 2, 4, 'tcg', True,
                  [('bin/self-eject', 0o100755, prog, (0, 0))],
                  '-d', 'guest_errors', '-D', log)
        self.wait_console('GUEST-SELF-EJECT-2',
                          command='taskset -c 1 self-eject && '
                          'echo GUEST-SELF-EJECT-$((1 + 1))')
        self.assertEqual(len(self.vm.cmd('query-cpus-fast')), 2)
        self.assert_guest_alive('0-1')
        with open(log) as f:
            self.assertIn('CPU 0x1 cannot eject itself', f.read())


if __name__ == '__main__':
    QemuSystemTest.main()
