# SPDX-License-Identifier: GPL-2.0-or-later
#
# The fork's end-to-end tests (tests/e2e, fork/tests) are unittest test
# cases whose TAP pycotap writes, as upstream's tests/functional do.  They
# are not qemu_test's QemuSystemTest: they drive several QEMU binaries at
# once (Debian's, sid's, the unpatched base, libvirt's) and firmware from
# outside the build tree, which its single QEMU_TEST_QEMU_BINARY does not
# model.  What unittest lacks and this adds: the diagnostics a test
# registers (a console tail, the SMI table), added to its failure while
# the VM that has them still runs.

import functools
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pycotap  # noqa: E402
import forkvm  # noqa: E402


def _with_diagnostics(method):
    @functools.wraps(method)
    def run(self):
        try:
            method(self)
        except unittest.SkipTest:
            raise
        except BaseException as e:
            for diag in self.diag:
                try:
                    text = diag() if callable(diag) else str(diag)
                except Exception as d:   # noqa: B902 -- a failure is kept
                    text = 'diagnostics failed: %s' % d
                e.add_note(text)
            raise
    return run


class Test(unittest.TestCase):
    """
    A test appends to self.diag what to print if it fails (strings, or
    callables to ask then), and registers with addCleanup what stops its
    VMs: cleanups run after the diagnostics.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, attr in list(vars(cls).items()):
            if name.startswith('test') and callable(attr):
                setattr(cls, name, _with_diagnostics(attr))

    def setUp(self):
        self.diag = []

    def skip_unless_ovmf(self, build):
        why = forkvm.ovmf_missing(build)
        if why:
            self.skipTest(why)


def add_test(cls, name, func):
    """A generated case: func(test) becomes cls's test_<name>."""
    name = 'test_' + re.sub(r'\W+', '_', name).strip('_')
    assert not hasattr(cls, name), name
    setattr(cls, name, _with_diagnostics(func))


def main():
    """Run the test module's cases, TAP on stdout for fork/check."""
    unittest.main(testRunner=pycotap.TAPTestRunner(
        message_log=pycotap.LogMode.LogToDiagnostics,
        test_output_log=pycotap.LogMode.LogToDiagnostics))
