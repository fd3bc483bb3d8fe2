# SPDX-License-Identifier: GPL-2.0-or-later
#
# libvirt as a client of the fork's QEMU: Debian's libvirt daemons (these
# machines have no systemd to socket-activate them: started here when
# none answers, and stopped again only if started here), virsh, and a
# domain that is always undefined again.

import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'fork'))
import forkvm  # noqa: E402

URI = 'qemu:///system'
DAEMONS = ('virtlogd', 'libvirtd')     # virtlogd first: libvirtd uses it


class VirshError(Exception):
    pass


def virsh(*args, timeout=120, check=True):
    """Run virsh; its stdout, or VirshError with its stderr."""
    proc = subprocess.run(['virsh', '-c', URI] + list(args), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)
    if check and proc.returncode:
        raise VirshError('virsh %s: %s' % (' '.join(args),
                                           proc.stderr.strip()))
    return proc.stdout


def missing():
    """Why libvirt cannot be used here, or None."""
    for tool in ('virsh', '/usr/sbin/libvirtd', '/usr/sbin/virtlogd'):
        if not any(os.access(os.path.join(d, tool), os.X_OK)
                   for d in ('', '/usr/bin', '/usr/sbin')):
            return '%s missing (Debian packages libvirt-daemon-system, ' \
                   'libvirt-clients)' % tool
    if os.geteuid() != 0:
        return 'qemu:///system needs root'
    return None


def _answers():
    try:
        virsh('version', timeout=20)
        return True
    except (VirshError, subprocess.TimeoutExpired):
        return False


class Daemons:
    """libvirtd and virtlogd for the test; stop() stops only ours."""

    def __init__(self):
        self.started = []

    def start(self):
        if _answers():
            return self
        os.makedirs('/run/libvirt', exist_ok=True)
        for d in DAEMONS:
            pidfile = '/run/%s.pid' % d
            if self._running(pidfile):
                continue
            subprocess.run(['/usr/sbin/' + d, '--daemon', '--pid-file',
                            pidfile], check=True, timeout=30)
            self.started.append(pidfile)
        # the first connection probes the host's QEMU binaries: seconds,
        # more on a loaded machine
        deadline = time.monotonic() + 90
        while not _answers():
            if time.monotonic() > deadline:
                raise VirshError('libvirtd does not answer on %s' % URI)
            time.sleep(0.2)
        return self

    @staticmethod
    def _running(pidfile):
        try:
            with open(pidfile) as f:
                os.kill(int(f.read().strip()), 0)
            return True
        except (OSError, ValueError):
            return False

    def stop(self):
        for pidfile in reversed(self.started):
            try:
                with open(pidfile) as f:
                    os.kill(int(f.read().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
        self.started = []


DOMAIN_XML = '''<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>512</memory>
  <vcpu placement='static' current='1'>4</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <loader readonly='yes' secure='yes' type='pflash'>{code}</loader>
    <nvram>{vars}</nvram>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 loglevel=4</cmdline>
  </os>
  <features><acpi/><smm state='on'/></features>
  <cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model></cpu>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{qemu}</emulator>
    <serial type='file'><source path='{console}' append='on'/></serial>
    <memballoon model='none'/>{devices}
  </devices>
  <seclabel type='static' model='dac' relabel='no'>
    <label>+0:+0</label>
  </seclabel>
</domain>
'''
# The seclabel runs QEMU as root: a clone may live where libvirt's own
# user (libvirt-qemu) cannot reach the binary, the kernel or the flash.

# What a sanitizer writes when it finds something
SANITIZER_REPORT = re.compile(r'ERROR: (Address|Leak|Thread)Sanitizer|'
                              r'runtime error:')
SANITIZER_ENV = ('ASAN_OPTIONS', 'UBSAN_OPTIONS')

# libvirt starts QEMU with an environment of its own, and probes a new
# binary with -daemonize.  A GCC 12 ASan build deadlocks there 6 times in
# 10: the first child of QEMU's double fork starts a call_rcu thread
# (util/rcu.c's fork handler) and forks again while that thread may hold
# a lock of ASan's allocator, which has no fork handler of its own; the
# daemon's threads then wait for it for ever and libvirt with them.  So
# libvirt gets this in front of a sanitizer build: it passes the run's
# sanitizer options on and, for the probe, daemonizes QEMU itself (a new
# session, returning once the QMP socket exists).
SANITIZER_EMULATOR = '''#!/usr/bin/python3
# Written by tests/e2e/libvirt_host.py: libvirt's emulator for {qemu}
import os, subprocess, sys, tempfile, time
os.environ.update({env!r})
args = sys.argv[1:]
if '-daemonize' not in args:
    os.execv({qemu!r}, [{qemu!r}] + args)
args.remove('-daemonize')
sock = args[args.index('-qmp') + 1].split(',')[0].split(':', 1)[1]
log = tempfile.TemporaryFile()
proc = subprocess.Popen([{qemu!r}] + args, stdin=subprocess.DEVNULL,
                        stdout=log, stderr=log, start_new_session=True)
deadline = time.monotonic() + 60
while not os.path.exists(sock):
    if proc.poll() is not None or time.monotonic() > deadline:
        proc.kill()
        log.seek(0)
        sys.stderr.write(log.read().decode(errors='replace'))
        sys.exit(1)
    time.sleep(0.05)
'''


def emulator(qemu):
    """The <emulator> for this QEMU binary: itself, or for a sanitizer
    build (the run sets ASAN_OPTIONS or UBSAN_OPTIONS) the wrapper above,
    written next to it."""
    env = {k: os.environ[k] for k in SANITIZER_ENV if k in os.environ}
    if not env:
        return qemu
    path = qemu + '-libvirt'
    text = SANITIZER_EMULATOR.format(qemu=qemu, env=env)
    # libvirt caches what it probed by the binary's ctime: rewrite only
    # when it changes
    if forkvm.read_text(path) != text:
        with open(path, 'w') as f:
            f.write(text)
        os.chmod(path, 0o755)
    return path


class Domain:
    """A transient test domain defined from DOMAIN_XML."""

    def __init__(self, tmp, name, devices='', **fields):
        self.name = name
        self.console_path = os.path.join(tmp, 'console.log')
        self.xml = os.path.join(tmp, 'domain.xml')
        with open(self.xml, 'w') as f:
            f.write(DOMAIN_XML.format(name=name, console=self.console_path,
                                      devices=devices, **fields))

    def define(self):
        virsh('define', self.xml)
        return self

    def console(self):
        return forkvm.read_text(self.console_path)

    def qmp(self, command):
        out = virsh('qemu-monitor-command', self.name,
                    json.dumps({'execute': command}))
        return json.loads(out)['return']

    def vcpus(self):
        return int(virsh('vcpucount', self.name, '--live',
                         '--active').strip())

    def qemu_log(self):
        """What libvirt recorded of this domain's QEMU (its stderr too)."""
        return forkvm.read_text('/var/log/libvirt/qemu/%s.log' % self.name)

    def sanitizer_reports(self):
        """The lines of QEMU's log where a sanitizer reported something."""
        return [line for line in self.qemu_log().splitlines()
                if SANITIZER_REPORT.search(line)]

    def remove(self):
        """Destroy and undefine, whatever state it is in."""
        virsh('destroy', self.name, check=False)
        virsh('undefine', self.name, '--nvram', '--managed-save',
              check=False)
