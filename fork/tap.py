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


def call(func):
    """
    Run one test function with a fresh Context, then its cleanup:
    ('ok', []), ('skip', [reason]) or ('fail', [traceback and diagnostic
    lines]).
    """
    diag = Context()
    try:
        func(diag)
        outcome, lines = 'ok', []
    except Skip as e:
        outcome, lines = 'skip', [str(e)]
    except Exception:   # noqa: B902 -- every failure is reported
        outcome = 'fail'
        lines = traceback.format_exc().splitlines()
        for d in diag:
            try:
                text = d() if callable(d) else str(d)
            except Exception as e:   # noqa: B902
                text = 'diagnostics failed: %s' % e
            lines += ['| ' + line for line in text.splitlines()]
    for fn in reversed(diag.cleanup):
        try:
            fn()
        except Exception as e:   # noqa: B902
            lines.append('cleanup failed: %s' % e)
    return outcome, lines


def run(tests):
    """tests: list of (name, function).  Exits 1 if any failed."""
    print('1..%d' % len(tests), flush=True)
    failed = 0
    for n, (name, func) in enumerate(tests, 1):
        outcome, lines = call(func)
        if outcome == 'skip':
            print('ok %d - %s # SKIP %s' % (n, name, lines[0]))
            lines = lines[1:]
        else:
            print('%s %d - %s' % ('ok' if outcome == 'ok' else 'not ok', n,
                                  name))
            failed += outcome == 'fail'
        for line in lines:
            print('# ' + line)
        sys.stdout.flush()
    sys.exit(1 if failed else 0)
