# SPDX-License-Identifier: GPL-2.0-or-later
#
# The VM of the fork's scripts and end-to-end tests: python/qemu's
# QEMUMachine (the process, QMP, events, shutdown) and what the fork needs
# that python/qemu does not offer:
#  - firmware by name: Debian's OVMF SMM builds on secure pflash, each VM
#    with a fresh copy of the variable store, or one kept across processes;
#  - the serial console in a file that a test reads while the guest runs,
#    and typed into when the test drives a shell;
#  - a qtest socket next to TCG, to read the ports of a running guest as
#    the guest would (QEMUQtestMachine brings -accel qtest: no guest runs);
#  - waits on a condition, bounded, that fail as soon as QEMU exits.

import os
import shutil
import socket
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get('FORK_BUILD', os.path.join(TOP, 'build'))
# python/qemu of the base, as configure lays it out
sys.path.insert(0, os.path.join(BUILD, 'src', 'python'))
from qemu.machine import QEMUMachine  # noqa: E402
from qemu.machine.machine import (AbnormalShutdown,  # noqa: E402
                                  QEMUMachineError)
from qemu.qmp import QMPError  # noqa: E402

# A slower build (sanitizers: fork/check --timeout-scale) waits longer
TIMEOUT_SCALE = float(os.environ.get('FORK_TIMEOUT_SCALE', '1'))

QEMU = os.environ.get('FORK_QEMU',
                      os.path.join(BUILD, 'qemu', 'qemu-system-x86_64'))
# the 32-bit emulator of the same build (qemu-system-x86 ships both)
QEMU_I386 = os.environ.get('FORK_QEMU_I386',
                           os.path.join(os.path.dirname(QEMU),
                                        'qemu-system-i386'))

OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd'
OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd'
# Debian's ovmf-ia32: the SMM build for 32-bit CPUs
OVMF32_CODE = '/usr/share/OVMF/OVMF32_CODE_4M.secboot.fd'
OVMF32_VARS = '/usr/share/OVMF/OVMF32_VARS_4M.fd'

# Newer OVMF generations, unpacked under build/firmware by
# fork/fetch-firmware: trixie's 2025.02 (ovmf, ovmf-ia32), sid's 2026.08
# (ovmf-generic).
FIRMWARE_DIR = os.path.join(BUILD, 'firmware')


def _unpacked(suite, name):
    return os.path.join(FIRMWARE_DIR, suite, 'root', 'usr', 'share', 'OVMF',
                        name)


# OVMF SMM builds by name: (code, variable store template, where from)
OVMF_BUILDS = {
    'ovmf': (OVMF_CODE, OVMF_VARS, 'Debian package ovmf (2022.11)'),
    'ovmf-ia32': (OVMF32_CODE, OVMF32_VARS,
                  'Debian package ovmf-ia32 (2022.11)'),
    'ovmf-trixie': (_unpacked('trixie', 'OVMF_CODE_4M.secboot.fd'),
                    _unpacked('trixie', 'OVMF_VARS_4M.fd'),
                    "Debian trixie's ovmf 2025.02: fork/fetch-firmware"),
    'ovmf-ia32-trixie': (_unpacked('trixie', 'OVMF32_CODE_4M.secboot.fd'),
                         _unpacked('trixie', 'OVMF32_VARS_4M.fd'),
                         "Debian trixie's ovmf-ia32 2025.02: "
                         "fork/fetch-firmware"),
    'ovmf-sid': (_unpacked('sid', 'OVMF_CODE_4M.secboot.fd'),
                 _unpacked('sid', 'OVMF_VARS_4M.fd'),
                 "Debian sid's ovmf-generic 2026.08: fork/fetch-firmware "
                 "sid"),
}


# OVMF's build without SMM (Debian package ovmf), for q35,smm=off: the
# baseline of the SMM boot tax (fork/smibench/boottax.py)
OVMF_NOSMM = ('/usr/share/OVMF/OVMF_CODE_4M.fd', OVMF_VARS)


def ovmf_missing(build):
    """Why the OVMF build cannot run here, or None."""
    code, template, origin = OVMF_BUILDS[build]
    for path in (code, template):
        if not os.path.exists(path):
            why = origin
            unavailable = os.path.join(FIRMWARE_DIR, 'UNAVAILABLE-' + build)
            if os.path.exists(unavailable):
                with open(unavailable) as f:
                    why = f.read().strip()
            return '%s missing (%s)' % (path, why)
    return None


# ICH9-LPC, whatever its place in the composition tree: the machine links it.
LPC_PATH = '/machine/acpi-device'


def read_text(path):
    """A log a process writes: what it holds so far, '' before it exists."""
    try:
        with open(path, errors='replace') as f:
            return f.read()
    except FileNotFoundError:
        return ''


class VMError(Exception):
    """A wait ran out, QEMU exited during one, or a guest command failed."""


# What a caller catches when QEMU refuses or fails: a QMP error (qemu.qmp's
# ExecuteError carries the error's text), QEMU not starting (QEMUMachine's
# VMLaunchFailure, with QEMU's output), a monitor that closed or did not
# answer in time, and VMError.
ERRORS = (VMError, QMPError, QEMUMachineError, EOFError, OSError)


class VM(QEMUMachine):
    """One QEMU process: QMP, the serial console in a file, maybe qtest."""

    def __init__(self, args, qemu=QEMU, firmware='ovmf', name='vm',
                 serial='file', qtest=False, vars_file=None):
        self.tmp = tempfile.mkdtemp(prefix='fork-%s-' % name)
        self.console_path = os.path.join(self.tmp, 'console.log')
        # 'file', or 'socket' when the caller also types on the console
        self.serial = serial
        console = []
        if serial == 'file':
            console = ['-serial', 'file:%s' % self.console_path]
        super().__init__(qemu, name=name, base_temp_dir=self.tmp,
                         log_dir=self.tmp,
                         args=['-nodefaults'] + console +
                         firmware_args(firmware, self.tmp, vars_file) +
                         list(args),
                         console_log=(self.console_path
                                      if serial == 'socket' else None))
        if serial == 'socket':
            self.set_console()
        self.want_qtest = qtest
        self._qtest_pair = None
        self._qtest = None          # our end of the qtest socket, as a file
        self._seen_events = []

    @property
    def _base_args(self):
        args = super()._base_args
        if self._qtest_pair:
            args += ['-chardev', 'socket,id=qtest,fd=%d'
                     % self._qtest_pair[0].fileno(),
                     '-qtest', 'chardev:qtest', '-qtest-log', '/dev/null']
        return args

    def _pre_launch(self):
        if self.want_qtest:
            self._qtest_pair = socket.socketpair()
            os.set_inheritable(self._qtest_pair[0].fileno(), True)
        super()._pre_launch()

    def _post_launch(self):
        super()._post_launch()
        if self._qtest_pair:
            self._qtest_pair[0].close()
            self._qtest_pair[1].settimeout(self._qmp_timer)
            self._qtest = self._qtest_pair[1].makefile('rw')

    def _post_shutdown(self):
        if self._qtest:
            self._qtest.close()
        if self._qtest_pair:
            self._qtest_pair[1].close()
        self._qtest = self._qtest_pair = None
        super()._post_shutdown()

    def launch(self, timeout=30):
        """Start QEMU; a QMP command then waits timeout seconds at most."""
        timeout *= TIMEOUT_SCALE
        self._qmp_timer = timeout
        super().launch()
        self._qmp.settimeout(timeout)
        if self.serial == 'socket':
            self.console_socket     # starts copying the console to its file
        return self

    def __enter__(self):
        return self.launch()

    def shutdown(self, hard=False, timeout=10):
        try:
            super().shutdown(hard=hard, timeout=timeout)
        except AbnormalShutdown:
            # QEMU had died or hung and is killed now; what the caller
            # wanted to know of it, it asked before
            pass
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def type(self, text):
        """Send text to the guest's serial console."""
        self.console_socket.sendall(text.encode())

    def qtest(self, line):
        """One qtest protocol command; returns the words after OK."""
        self._qtest.write(line + '\n')
        self._qtest.flush()
        resp = self._qtest.readline().split()
        if not resp or resp[0] != 'OK':
            raise VMError('qtest %r: %r' % (line, resp))
        return resp[1:]

    def qtest_repeat(self, line, count, chunk=500):
        """
        A qtest command count times, pipelined chunk at a time (what a
        benchmark of the command's cost needs); raises unless each is OK.
        """
        for done in range(0, count, chunk):
            n = min(chunk, count - done)
            self._qtest.write((line + '\n') * n)
            self._qtest.flush()
            for _ in range(n):
                resp = self._qtest.readline()
                if not resp.startswith('OK'):
                    raise VMError('qtest %r: %r' % (line, resp))

    def inb(self, port):
        return int(self.qtest('inb 0x%x' % port)[0], 16)

    def inl(self, port):
        return int(self.qtest('inl 0x%x' % port)[0], 16)

    def pci_cfg_readl(self, devfn, offset, bus=0):
        self.qtest('outl 0xcf8 0x%x' % (0x80000000 | bus << 16 |
                                        devfn << 8 | offset))
        return self.inl(0xcfc)

    def qom_get(self, path, prop):
        return self.cmd('qom-get', path=path, property=prop)

    def wait_for(self, what, pred, timeout, interval=0.2):
        """Poll pred() until it returns a true value; bounded."""
        timeout *= TIMEOUT_SCALE
        deadline = time.monotonic() + timeout
        while True:
            val = pred()
            if val:
                return val
            if not self.is_running():
                raise VMError('QEMU exited while waiting for %s: %s'
                              % (what, self.qemu_log()))
            if time.monotonic() > deadline:
                raise VMError('timed out after %d s waiting for %s'
                              % (timeout, what))
            time.sleep(interval)

    @property
    def events(self):
        """Every QMP event received so far (QMP reads them as it runs
        commands), in order."""
        self._seen_events += self.get_qmp_events()
        return self._seen_events

    def events_named(self, name):
        """The QMP events of that name received so far."""
        self.cmd('query-status')            # reads what QEMU has sent
        return [e for e in self.events if e['event'] == name]

    def wait_event(self, name, timeout):
        """The first QMP event of that name; bounded."""
        return self.wait_for('the QMP event %s' % name,
                             lambda: self.events_named(name)[:1],
                             timeout)[0]

    def console(self):
        return read_text(self.console_path)

    def qemu_log(self):
        """What QEMU printed (stdout and stderr), so far."""
        return read_text(os.path.join(self.tmp, self._name + '.log')).strip()


def firmware_args(firmware, tmp, vars_file=None):
    """
    QEMU arguments for a firmware: a name of OVMF_BUILDS, 'seabios' or a
    file path.  OVMF gets a fresh copy of its variable store in tmp, or
    vars_file when a test keeps the store across QEMU processes.
    """
    if firmware in OVMF_BUILDS:
        code, template, _ = OVMF_BUILDS[firmware]
        if vars_file is None:
            vars_file = os.path.join(tmp, os.path.basename(template))
            shutil.copyfile(template, vars_file)
        # The SMM build keeps its variable store safe only if the flash is
        # writable from SMM alone: secure pflash.
        return ['-global', 'driver=cfi.pflash01,property=secure,value=on',
                '-drive', 'if=pflash,format=raw,unit=0,readonly=on,file=%s'
                % code,
                '-drive', 'if=pflash,format=raw,unit=1,file=%s' % vars_file]
    if firmware == 'ovmf-nosmm':
        vars_file = vars_file or os.path.join(tmp, 'OVMF_VARS_4M.fd')
        shutil.copyfile(OVMF_NOSMM[1], vars_file)
        return ['-drive', 'if=pflash,format=raw,unit=0,readonly=on,file=%s'
                % OVMF_NOSMM[0],
                '-drive', 'if=pflash,format=raw,unit=1,file=%s' % vars_file]
    if firmware == 'seabios':
        return []
    if os.path.exists(firmware):
        return ['-bios', firmware]
    raise ValueError('unknown firmware %r (%s, seabios or a file)'
                     % (firmware, ', '.join(OVMF_BUILDS)))
