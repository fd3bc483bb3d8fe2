#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The canaries of the upstream fixes: the fork's functional tests
# (tests/functional/test_x86_64_smm_*.py), run unchanged on upstream
# QEMU -- the unpatched 10.0.13 base built here, Debian's 10.0.2 and
# Debian sid's 11.1.3, upstream's newest release -- must fail there as
# each test says upstream fails, and for that reason: a frozen guest, an
# abort, no DEVICE_DELETED, a stale translation.  When upstream starts to
# pass one, its fix landed upstream: revisit the patch and this table.
# check-timeout: 1500

import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'fork'))
import pycotap  # noqa: E402
import forkvm  # noqa: E402
from migration_peer import (DEBIAN_10, UNPATCHED_10,  # noqa: E402
                            UPSTREAM_11, peer_missing)

SRC = os.path.join(forkvm.BUILD, 'src')
FUNCTIONAL = os.path.join(SRC, 'tests', 'functional')
PEERS = (('unpatched-10.0.13', UNPATCHED_10, 'make build-unpatched'),
         ('debian-10.0.2', DEBIAN_10, 'fork/fetch-peer'),
         ('upstream-11.1.3', UPSTREAM_11, 'fork/fetch-peer-11.1'))
# one test under TCG: a boot and a 30 s freeze at most
TEST_TIMEOUT = 240

FROZEN = r"'GUEST-CPU-ONLINE 2' not seen: the console was silent"
# the vCPU thread joins itself and QEMU aborts: its sockets close
ABORTED = r'QEMU closed the console|Disconnected|Broken pipe|exited with'
# test -> (what upstream does, a regex of its failure; None: it passes)
UPSTREAM = {
    'test_x86_64_smm_cpu_hotplug.SmmCpuHotplug.test_hot_add_ovmf_2022_11':
        ('freezes on hot-add', FROZEN),
    'test_x86_64_smm_cpu_hotplug.SmmCpuHotplug.'
    'test_hot_add_then_unplug_ovmf_2025_02':
        ('freezes on hot-add', FROZEN),
    'test_x86_64_smm_cpu_hotplug.SmmCpuHotplug.test_plug_unplug_cycles':
        ('freezes on the first hot-add', FROZEN),
    'test_x86_64_smm_cpu_hotplug.SmmCpuHotplug.'
    'test_plug_unplug_single_threaded_tcg':
        ('freezes on hot-add', FROZEN),
    # not about SMM: 11.1.3 aborts at the second hot-add, out of TCG
    # contexts; 10.0 sends no DEVICE_DELETED before (see below)
    'test_x86_64_smm_cpu_hotplug.SmmCpuHotplug.'
    'test_plug_unplug_cycles_without_smm':
        ('aborts at the second hot-add', ABORTED + '|no DEVICE_DELETED'),
    # not about SMM: every peer aborts at the first unplug
    'test_x86_64_smm_cpu_hotplug.SmmCpuHotplug.'
    'test_plug_unplug_single_threaded_tcg_without_smm':
        ('aborts at the unplug', ABORTED),
    'test_x86_64_smm_cpu_hotplug.SmmCpuHotplug.'
    'test_unplug_without_smm_sends_device_deleted':
        ('never sends DEVICE_DELETED', r'no DEVICE_DELETED for plain'),
    'test_x86_64_smm_cpu_hotplug.SmmCpuHotplug.test_cpu_cannot_eject_itself':
        ('aborts', ABORTED),
    'test_x86_64_smm_tcg.SmmTcgIsolation.test_smram_isolation_real_mode':
        ('lets SMM see a translation made outside it', r'Lists differ'),
    'test_x86_64_smm_tcg.SmmTcgIsolation.test_smram_isolation_paged':
        ('lets SMM see a translation made outside it', r'Lists differ'),
    'test_x86_64_smm_tcg.SmmTcgIsolation.'
    'test_smram_isolation_paged_single_threaded':
        ('lets SMM see a translation made outside it', r'Lists differ'),
    # the jump cache tests keep the fork's faster flush correct
    'test_x86_64_smm_tcg.SmmTcgIsolation.test_jmp_cache_remap': None,
    'test_x86_64_smm_tcg.SmmTcgIsolation.test_jmp_cache_remap_single_threaded':
        None,
    # upstream takes an INIT in SMM at once, the SIPIs after it too
    'test_x86_64_smm_tcg.SmmInitSipi.test_sipi_after_init_held_in_smm': None,
    'test_x86_64_smm_tcg.SmmInitSipi.'
    'test_sipi_after_init_held_in_smm_single_threaded': None,
    # the yield at a PAUSE in SMM is the fork's
    'test_x86_64_smm_tcg.SmmPauseLoop.test_spin_in_smm_yields':
        ('has no x-query-smi', r"CommandNotFound|'x-query-smi'"),
}
# peer -> tests upstream fixed there, and what showed it
FIXED_ON = {
    # 11.1.3 sends DEVICE_DELETED for a CPU unplugged without SMM (measured
    # 2026-12-03; 10.0.13 and 10.0.2 do not); with SMM its hot-add
    # freezes first
    'upstream-11.1.3': {
        'test_x86_64_smm_cpu_hotplug.SmmCpuHotplug.'
        'test_unplug_without_smm_sends_device_deleted',
    },
}


def run_functional(test, qemu):
    """Run one functional test on qemu: (passed, its output)."""
    env = dict(os.environ)
    env.update({'QEMU_TEST_QEMU_BINARY': qemu,
                'PYTHONPATH': os.pathsep.join(
                    [os.path.join(SRC, 'python'), FUNCTIONAL] +
                    sys.path[:1] + env.get('PYTHONPATH', '').split(':'))})
    with tempfile.TemporaryDirectory(prefix='fork-func-upstream-') as tmp:
        env['QEMU_BUILD_ROOT'] = tmp
        try:
            proc = subprocess.run([sys.executable, '-m', 'unittest', test],
                                  cwd=FUNCTIONAL, env=env, text=True,
                                  errors='replace', stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT,
                                  timeout=TEST_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            return False, 'timed out after %d s: %s' % (TEST_TIMEOUT,
                                                        e.output)
    return proc.returncode == 0, proc.stdout


class FunctionalOnUpstream(unittest.TestCase):
    pass


def add_case(peer, qemu, how, test, expect):
    def case(self):
        why = peer_missing(qemu, how)
        if why:
            self.skipTest(why)
        passed, out = run_functional(test, qemu)
        skipped = re.search(r"skipped '(.*)'", out)
        if skipped:
            self.skipTest(skipped.group(1))
        if expect is None:
            self.assertTrue(passed, 'upstream fails it:\n' + out)
            return
        what, reason = expect
        self.assertFalse(passed, 'upstream %s no more: revisit the patch '
                         'the test names, and this table' % what)
        self.assertRegex(out, reason, 'upstream fails it, but not because '
                         'it %s' % what)
    name = 'test_%s_%s' % (peer, test.split('.', 1)[1])
    setattr(FunctionalOnUpstream, re.sub(r'\W', '_', name), case)


for _peer, _qemu, _how in PEERS:
    for _test, _expect in UPSTREAM.items():
        if _test in FIXED_ON.get(_peer, ()):
            _expect = None
        add_case(_peer, _qemu, _how, _test, _expect)


if __name__ == '__main__':
    unittest.main(testRunner=pycotap.TAPTestRunner(
        message_log=pycotap.LogMode.LogToYAML,
        test_output_log=pycotap.LogMode.LogToError))
