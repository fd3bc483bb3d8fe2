# SPDX-License-Identifier: GPL-2.0-or-later
#
# What every section of the benchmark shares: the binaries compared, the
# samples kept per row and binary, and the interleaving of runs.
#
# Copyright (c) 2026 The Q35 SMM fork authors

import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..'))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tests', 'e2e'))
import forkvm  # noqa: E402
from migration_peer import DEBIAN_10  # noqa: E402

BINARIES = {
    'fork': forkvm.QEMU,
    'base': os.path.join(forkvm.BUILD, 'base-qemu', 'qemu-system-x86_64'),
    'debian': DEBIAN_10,
}
# the peers each fork row is compared with, in the table's order
REFERENCES = ('base', 'debian')


class BenchError(Exception):
    pass


class ReadError(BenchError):
    """The guest could not read the variable: never timed, reported."""


def log(msg):
    print(msg, flush=True)


def median(xs):
    return statistics.median(xs) if xs else None


def rotate(xs, k):
    """xs started at its k-th element: run r of a row starts elsewhere, so
    that host drift does not always hit the same binary first."""
    k %= len(xs)
    return xs[k:] + xs[:k]


class Results:
    """Rows of samples per binary, in order of measurement."""

    def __init__(self):
        self.rows = []
        self.index = {}
        self.failed = {}        # row name -> {binary: reason}

    def add(self, section, name, unit, binary, value, **params):
        key = (section, name, unit)
        if key not in self.index:
            self.index[key] = {'section': section, 'name': name,
                               'unit': unit, 'params': params,
                               'samples': {}, 'notes': []}
            self.rows.append(self.index[key])
        self.index[key]['samples'].setdefault(binary, []).append(value)

    def fail(self, name, binary, reason):
        self.failed.setdefault(name, {}).setdefault(binary, reason)

    def count(self, section, name, unit, binary):
        row = self.index.get((section, name, unit))
        return len(row['samples'].get(binary, [])) if row else 0

    def note(self, section, text):
        """A note on the first row of a section."""
        for row in self.rows:
            if row['section'] == section:
                if text not in row['notes']:
                    row['notes'].append(text)
                return
