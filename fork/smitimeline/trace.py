# SPDX-License-Identifier: GPL-2.0-or-later
#
# Read the SMI trace events of QEMU's log trace backend.  QEMU writes them
# with -msg timestamp=on -D FILE -d trace:x86_cpu_sm* as
#   TID@SECONDS.MICROSECONDS:x86_cpu_smi_raise cpu 1 source apm-broadcast
#   TID@SECONDS.MICROSECONDS:x86_cpu_smm_enter cpu 1 entries 7
#   TID@SECONDS.MICROSECONDS:x86_cpu_smm_exit cpu 1
#   TID@SECONDS.MICROSECONDS:x86_cpu_smm_reset cpu 1
# (target/i386/trace-events: RSM, or a reset/INIT that left SMM without
# one); other lines of the log are skipped.

import collections
import re

TRACE_ARGS = ['-msg', 'timestamp=on', '-d', 'trace:x86_cpu_sm*']

# t: host time in microseconds since the Unix epoch, exactly as logged
Event = collections.namedtuple('Event', 't cpu kind source')

_LINE = re.compile(r'^\d+@(\d+)\.(\d{6}):'
                   r'x86_cpu_(smi_raise|smm_enter|smm_exit|smm_reset) '
                   r'cpu (\d+)(?: source (\S+)| entries \d+)?\s*$')
_UNSTAMPED = re.compile(r'^x86_cpu_(smi_raise|smm_enter|smm_exit|'
                        r'smm_reset) cpu ')

KINDS = {'smi_raise': 'raise', 'smm_enter': 'enter', 'smm_exit': 'exit',
         'smm_reset': 'reset'}


class TraceError(Exception):
    pass


def parse(lines):
    """The SMI events of a log, in time order."""
    events = []
    unstamped = 0
    for line in lines:
        m = _LINE.match(line)
        if m:
            events.append(Event(int(m.group(1)) * 1000000 + int(m.group(2)),
                                int(m.group(4)), KINDS[m.group(3)],
                                m.group(5)))
        elif _UNSTAMPED.match(line):
            unstamped += 1
    if unstamped and not events:
        raise TraceError('the trace has no timestamps: run QEMU with '
                         '-msg timestamp=on')
    # vCPU threads write their own lines; a stable sort keeps each
    # thread's order where two share a microsecond
    events.sort(key=lambda e: e.t)
    return events


def read(path):
    with open(path, errors='replace') as f:
        return parse(f)
