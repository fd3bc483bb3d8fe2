# SPDX-License-Identifier: GPL-2.0-or-later
#
# The e2e Linux guest as the benchmark drives it: booted and timed to
# its init, commands timed with the guest's own clock, our UEFI variable
# written and read back, and the SMI counters sampled.
#
# Copyright (c) 2026 The Q35 SMM fork authors

import re
import time

from smibench.common import BINARIES, BenchError, ReadError, log
import linux_guest
import forkvm

# Our own variable (EFI_GLOBAL_VARIABLE's namespace is the firmware's),
# written non-volatile: after ExitBootServices only NV variables can be set.
VAR_NAME = 'ForkSmiBench-3f0c5bd5-7d3a-4c1e-9d7e-5b2f1a6c0e11'
VAR_PATH = '/sys/firmware/efi/efivars/' + VAR_NAME
VAR_ATTRS = b'\x07\x00\x00\x00'     # NV | BS | RT
VAR_DATA = b'fork-smi-bench'
BCAST_OFF = ['-global', 'ICH9-LPC.x-smi-broadcast=off',
             '-global', 'ICH9-LPC.x-smi-cpu-hotplug=off',
             '-global', 'ICH9-LPC.x-smi-cpu-hotunplug=off']


def wait_text(vm, text, timeout):
    """Wait for text on the console; fine-grained, for timing."""
    return vm.wait_for(repr(text), lambda: text in vm.console(), timeout,
                       interval=0.02)


def boot_linux(opts, binary, vcpus, bcast=True, maxcpus=None, accel=None,
               firmware='ovmf', machine='q35,smm=on'):
    """Boot the e2e Linux guest; returns (guest, seconds to its init)."""
    g = linux_guest.LinuxGuest(smp=vcpus, maxcpus=maxcpus,
                               qemu=BINARIES[binary], name='bench',
                               extra_args=[] if bcast else BCAST_OFF,
                               accel=accel or opts.accel, firmware=firmware,
                               machine=machine)
    t = time.monotonic()
    try:
        g.launch()
        wait_text(g, 'GUEST-READY', linux_guest.BOOT_TIMEOUT)
    except forkvm.ERRORS:
        tail = g.console_tail(15)
        g.shutdown()
        raise BenchError('%s, %d vCPUs: the guest did not boot\n%s'
                         % (binary, vcpus, tail))
    return g, time.monotonic() - t


def guest_now(out):
    """Microseconds from the two 'adjtimex' outputs of a timed command."""
    secs = [int(x) for x in re.findall(r'time\.tv_sec:\s*(\d+)', out)]
    usecs = [int(x) for x in re.findall(r'time\.tv_usec:\s*(\d+)', out)]
    if len(secs) != 2 or len(usecs) != 2:
        raise BenchError('no guest timestamps in %r' % out[-300:])
    return (secs[1] - secs[0]) * 1e6 + usecs[1] - usecs[0]


def read_loop(g, path, n, cpu):
    """
    us per read of path over n reads on guest CPU cpu.  Every read is
    compared with the expected bytes (a failed read can still exit 0 with
    wrong data); ReadError if one differs.
    """
    # busybox date has no %N; adjtimex shows the time in microseconds.
    # One readloop process (tests/e2e/guest/readloop.c) for all n reads.
    try:
        out = g.run("adjtimex | grep tv_; taskset -c %d readloop %s "
                    "/tmp/var-ref %d; adjtimex | grep tv_" % (cpu, path, n),
                    timeout=600)
    except forkvm.ERRORS as e:
        if 'failed (7)' in str(e):
            raise ReadError('a read of %s returned other bytes or an error'
                            % path)
        raise
    return guest_now(out) / n


def setup_run(g, command):
    """g.run for idempotent set-up commands: a second try if the serial
    console garbled the first (rare, seen once)."""
    try:
        return g.run(command)
    except forkvm.ERRORS as e:
        log('    retrying a guest command: %s\n%s' % (e, g.console_tail(8)))
        return g.run(command)


def prepare_variable(g):
    """Write our variable, check it reads back, make the tmpfs copies."""
    # the CPU hotplug watcher of the guest's init forks every 0.2 s: stop it
    setup_run(g, 'kill $(pidof init) 2>/dev/null; true')
    data = ''.join('\\%03o' % c for c in VAR_ATTRS) + VAR_DATA.decode()
    setup_run(g, "printf '%s' > /tmp/var-ref && cp /tmp/var-ref "
              "/tmp/var-copy" % data)
    try:
        g.run("printf '%s' > %s" % (data, VAR_PATH))
    except forkvm.ERRORS:
        pass        # the write may report the read-back's failure: check
    got = setup_run(g, 'od -An -tx1 %s 2>&1; true' % VAR_PATH).split()
    want = ['%02x' % c for c in VAR_ATTRS + VAR_DATA]
    if got != want:
        raise ReadError('%s reads %r, not %s' % (VAR_PATH, ' '.join(got),
                                                 ' '.join(want)))


def smi_counts(g):
    return {c['cpu-index']: c for c in g.cmd('x-query-smi')['cpus']}


def smi_delta(before, after):
    """(SMIs raised by the guest, vCPU SMM entries) between two samples."""
    d = {i: {k: after[i][k] - before[i][k]
             for k in ('apm-broadcast', 'apm-unicast', 'smm-entries')}
         for i in after}
    # a broadcast reaches every vCPU: count it once, on the BSP
    raised = d[0]['apm-broadcast'] + sum(c['apm-unicast'] for c in d.values())
    return raised, sum(c['smm-entries'] for c in d.values())
