# SPDX-License-Identifier: GPL-2.0-or-later
#
# TAP output for the fork's Python tests: each test is a function; a
# failure prints its reason and whatever diagnostics the test registered
# (console tail, SMI table) before the next test runs.

import sys
import traceback


class Skip(Exception):
    """Raise with the reason to skip a test."""


class Context(list):
    """
    What a test hands back: append diagnostics (strings or callables) to
    print if it fails; append to .cleanup what must run after them, such as
    shutting a VM down, so diagnostics still see the VM.
    """

    def __init__(self):
        super().__init__()
        self.cleanup = []


def run(tests):
    """tests: list of (name, function).  Exits 1 if any failed."""
    print('1..%d' % len(tests), flush=True)
    failed = 0
    for n, (name, func) in enumerate(tests, 1):
        diag = Context()
        try:
            func(diag)
            print('ok %d - %s' % (n, name), flush=True)
        except Skip as e:
            print('ok %d - %s # SKIP %s' % (n, name, e), flush=True)
        except Exception:   # noqa: B902 -- every failure is reported
            failed += 1
            print('not ok %d - %s' % (n, name))
            for line in traceback.format_exc().splitlines():
                print('# ' + line)
            for d in diag:
                try:
                    text = d() if callable(d) else str(d)
                except Exception as e:   # noqa: B902
                    text = 'diagnostics failed: %s' % e
                for line in text.splitlines():
                    print('# | ' + line)
            sys.stdout.flush()
        for fn in reversed(diag.cleanup):
            try:
                fn()
            except Exception as e:   # noqa: B902
                print('# cleanup failed: %s' % e)
    sys.exit(1 if failed else 0)
