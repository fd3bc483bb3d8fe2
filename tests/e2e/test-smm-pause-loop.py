#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end, guests of our own under TCG: the pause-loop yield of SMM
# (target/i386/tcg/system/smm-pause-loop.c).  A vCPU spinning on PAUSE in
# SMM under multi-threaded TCG first yields its host CPU, then, the spin
# going on, sleeps (its x-smm-pause-yields and x-smm-pause-sleeps counts
# grow), and stays in SMM, where it was; with x-smm-pause-sleep-after-us=0
# it sleeps at once.  It never gives its host CPU away with
# x-smm-pause-spin-us=0, under single-threaded TCG, or spinning outside
# SMM.  Time is the virtual clock: no check depends on the host's speed.
# check-timeout: 180

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'fork'))
import qmp  # noqa: E402
import tap  # noqa: E402

from smm_guest import build_guest  # noqa: E402

# the spinning guests' handler and loop: PAUSE; JMP back
SPIN_RIPS = (0x8000, 0x8002)
# virtual time to watch a spin for: thousands of 10 us spins
WATCH_NS = 300 * 1000 * 1000


def spinning_guest(tmp, guest, accel, cpu_props=''):
    img = build_guest(tmp, guest)
    return qmp.VM(['-machine', 'q35,smm=on', '-accel', accel, '-smp', '2',
                   '-cpu', 'qemu64' + cpu_props,
                   '-debugcon', 'file:%s' % os.path.join(tmp, 'debugcon'),
                   '-global', 'isa-debugcon.iobase=0x402'],
                  firmware=img, name='pause-loop')


def cpu0(vm):
    return vm.cmd('query-smi')['cpus'][0]


def given(vm):
    """CPU 0's (yields, sleeps)"""
    path = cpu0(vm)['qom-path']
    return (vm.qom_get(path, 'x-smm-pause-yields'),
            vm.qom_get(path, 'x-smm-pause-sleeps'))


def watch(vm, in_smm):
    """Let the spin run WATCH_NS of virtual time; CPU 0's state after."""
    c = vm.wait_for('CPU 0 to spin', lambda: (
        cpu0(vm)['in-smm'] == in_smm and cpu0(vm)), 30)
    start = vm.cmd('query-smi')['vclock-ns']
    vm.wait_for('%d ns of virtual time' % WATCH_NS,
                lambda: vm.cmd('query-smi')['vclock-ns'] >= start + WATCH_NS,
                60, interval=0.05)
    return c


def run(guest, accel, cpu_props='', in_smm=True):
    with tempfile.TemporaryDirectory() as tmp:
        vm = spinning_guest(tmp, guest, accel, cpu_props)
        try:
            vm.launch()
            watch(vm, in_smm)
            n = given(vm)
            c = cpu0(vm)
        finally:
            vm.shutdown()
    return n, c


def test_spin_in_smm_yields_then_sleeps(diag):
    (y, s), c = run('smm-hang', 'tcg,thread=multi')
    diag.append(lambda: 'yields %d, sleeps %d, CPU 0 %r' % (y, s, c))
    ms = WATCH_NS // 10**6
    assert y > 0, 'no yield in %d ms of spinning in SMM' % ms
    # the default sleep-after is 1 ms of spinning, well inside the watch
    assert s > 0, 'no sleep in %d ms of spinning in SMM' % ms
    # the spinner is where it was: in SMM, entered once, not halted
    assert c['in-smm'] and c['smm-entries'] == 1 and not c['halted'], c


def test_sleep_after_0_sleeps_at_once(diag):
    (y, s), c = run('smm-hang', 'tcg,thread=multi',
                    ',x-smm-pause-sleep-after-us=0')
    diag.append(lambda: 'yields %d, sleeps %d' % (y, s))
    assert y == 0 and s > 0 and c['in-smm'], (y, s, c)


def test_off_never_yields(diag):
    n, c = run('smm-hang', 'tcg,thread=multi', ',x-smm-pause-spin-us=0')
    assert n == (0, 0) and c['in-smm'], (n, c)


def test_single_threaded_never_yields(diag):
    n, c = run('smm-hang', 'tcg,thread=single')
    assert n == (0, 0) and c['in-smm'], (n, c)


def test_spin_outside_smm_never_yields(diag):
    n, c = run('pause-spin', 'tcg,thread=multi', in_smm=False)
    assert n == (0, 0) and not c['in-smm'] and c['smm-entries'] == 0, (n, c)


if __name__ == '__main__':
    tap.run([
        ('pause-loop/spin-in-smm-yields-then-sleeps',
         test_spin_in_smm_yields_then_sleeps),
        ('pause-loop/sleep-after-us-0-sleeps-at-once',
         test_sleep_after_0_sleeps_at_once),
        ('pause-loop/spin-us-0-never-yields', test_off_never_yields),
        ('pause-loop/single-threaded-tcg-never-yields',
         test_single_threaded_never_yields),
        ('pause-loop/spin-outside-smm-never-yields',
         test_spin_outside_smm_never_yields),
    ])
