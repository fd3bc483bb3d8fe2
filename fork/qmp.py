# SPDX-License-Identifier: GPL-2.0-or-later
#
# A small QMP client and VM launcher for the fork's scripts and end-to-end
# tests.  Only what they need: start QEMU with a QMP socket and a serial
# console captured to a file, run commands, wait for conditions with a bound.

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get('FORK_BUILD', os.path.join(TOP, 'build'))
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


class QMPError(Exception):
    pass


class VM:
    """One QEMU process with a QMP socket and the serial console in a file."""

    def __init__(self, args, qemu=QEMU, firmware='ovmf', name='vm',
                 serial='file', qtest=False, vars_file=None):
        self.tmp = tempfile.mkdtemp(prefix='fork-%s-' % name)
        self.qmp_path = os.path.join(self.tmp, 'qmp.sock')
        self.console_path = os.path.join(self.tmp, 'console.log')
        self.qemu = qemu
        self.args = list(args)
        self.firmware_args = firmware_args(firmware, self.tmp, vars_file)
        # 'file'; 'socket' when a test also types on the console; 'stdio'
        # for a person
        self.serial = serial
        self.console_sock = None
        # A qtest socket next to TCG lets a test read guest registers the
        # way the guest would, also on a binary without our QOM properties.
        self.qtest_path = os.path.join(self.tmp, 'qtest.sock') if qtest else None
        self.qtest_listener = None
        self.qtest_file = None
        self.proc = None
        self.sock = None
        self.rfile = None
        self.events = []

    def launch(self, timeout=30):
        argv = [self.qemu, '-nodefaults', '-display', 'none',
                '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_path]
        if self.serial == 'stdio':
            argv += ['-serial', 'mon:stdio']
            io = {}
        elif self.serial == 'socket':
            self.console_sock_path = os.path.join(self.tmp, 'console.sock')
            argv += ['-chardev', 'socket,id=console,path=%s,server=on,'
                     'wait=off' % self.console_sock_path,
                     '-serial', 'chardev:console']
            self.log = open(os.path.join(self.tmp, 'qemu.log'), 'w')
            io = {'stdin': subprocess.DEVNULL, 'stdout': self.log,
                  'stderr': subprocess.STDOUT}
        else:
            argv += ['-serial', 'file:%s' % self.console_path]
            self.log = open(os.path.join(self.tmp, 'qemu.log'), 'w')
            io = {'stdin': subprocess.DEVNULL, 'stdout': self.log,
                  'stderr': subprocess.STDOUT}
        if self.qtest_path:
            self.qtest_listener = socket.socket(socket.AF_UNIX)
            self.qtest_listener.bind(self.qtest_path)
            self.qtest_listener.listen(1)
            self.qtest_listener.settimeout(timeout)
            argv += ['-qtest', 'unix:%s' % self.qtest_path,
                     '-qtest-log', '/dev/null']
        argv += self.firmware_args + self.args
        self.proc = subprocess.Popen(argv, **io)
        if self.qtest_listener:
            conn, _ = self.qtest_listener.accept()
            conn.settimeout(timeout)
            self.qtest_file = conn.makefile('rw')
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise QMPError('QEMU exited with %d: %s' %
                               (self.proc.returncode, self.qemu_log()))
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.qmp_path)
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise QMPError('no QMP socket after %d s' % timeout)
                time.sleep(0.05)
        s.settimeout(timeout)
        self.sock = s
        self.rfile = s.makefile('r')
        try:
            greeting = self.rfile.readline()
            if not greeting:
                raise ConnectionResetError('no QMP greeting')
            json.loads(greeting)
            self.cmd('qmp_capabilities')
        except (OSError, ValueError, QMPError) as e:
            # QEMU listens before it creates the machine: an error there
            # (a bad -global value, say) closes the socket unannounced
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                raise QMPError('QMP failed: %s' % e)
            raise QMPError('QEMU exited with %d: %s' %
                           (self.proc.returncode, self.qemu_log()))
        if self.serial == 'socket':
            self.console_sock = socket.socket(socket.AF_UNIX)
            self.console_sock.connect(self.console_sock_path)
            threading.Thread(target=self._log_console, daemon=True).start()
        return self

    def _log_console(self):
        """Copy the console socket into the console file, as it comes."""
        with open(self.console_path, 'ab', buffering=0) as f:
            while True:
                try:
                    data = self.console_sock.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                f.write(data)

    def type(self, text):
        """Send text to the guest's serial console."""
        self.console_sock.sendall(text.encode())

    def cmd(self, name, **arguments):
        """Run a QMP command; return its result or raise QMPError."""
        msg = {'execute': name}
        if arguments:
            msg['arguments'] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b'\n')
        while True:
            line = self.rfile.readline()
            if not line:
                raise QMPError('QMP connection closed during %s: %s'
                               % (name, self.qemu_log()))
            resp = json.loads(line)
            if 'event' in resp:
                self.events.append(resp)
                continue
            if 'error' in resp:
                raise QMPError('%s: %s' % (name, resp['error']['desc']))
            return resp['return']

    def qtest(self, line):
        """One qtest protocol command; returns the words after OK."""
        self.qtest_file.write(line + '\n')
        self.qtest_file.flush()
        resp = self.qtest_file.readline().split()
        if not resp or resp[0] != 'OK':
            raise QMPError('qtest %r: %r' % (line, resp))
        return resp[1:]

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
        deadline = time.monotonic() + timeout
        while True:
            val = pred()
            if val:
                return val
            if self.proc.poll() is not None:
                raise QMPError('QEMU exited while waiting for %s' % what)
            if time.monotonic() > deadline:
                raise QMPError('timed out after %d s waiting for %s'
                               % (timeout, what))
            time.sleep(interval)

    def events_named(self, name):
        """The QMP events of that name received so far."""
        self.cmd('query-status')            # collects what is queued
        return [e for e in self.events if e['event'] == name]

    def wait_event(self, name, timeout):
        """The first QMP event of that name; bounded."""
        return self.wait_for('the QMP event %s' % name,
                             lambda: self.events_named(name)[:1],
                             timeout)[0]

    def console(self):
        return read_text(self.console_path)

    def qemu_log(self):
        return read_text(os.path.join(self.tmp, 'qemu.log')).strip()

    def shutdown(self, timeout=10):
        if self.proc and self.proc.poll() is None:
            try:
                self.cmd('quit')
            except (QMPError, OSError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.sock:
            self.sock.close()
        if self.qtest_listener:
            self.qtest_listener.close()
        if self.console_sock:
            self.console_sock.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.launch()

    def __exit__(self, *exc):
        self.shutdown()


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
