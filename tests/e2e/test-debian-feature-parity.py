#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The fork is a drop-in for Debian's qemu-system-x86: both emulators offer
# every accelerator, device type, netdev, display, audio driver, chardev
# and object type that Debian's upstream 10.0.2 offers (bookworm-backports,
# with all its module packages: fork/fetch-peer).  A difference is allowed
# only where README.rst names it, with its reason, in the list of section
# "Built as Debian builds it" (lines "- ``-device NAME``: why"); a name
# listed there that is no longer missing fails too.
# check-timeout: 120

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'fork'))
import e2e  # noqa: E402
import forkvm  # noqa: E402

PEER_DIR = os.path.join(forkvm.BUILD, 'peer-10.0')
EMULATORS = ('qemu-system-x86_64', 'qemu-system-i386')
README = os.path.join(forkvm.TOP, 'README.rst')
SECTION = 'Built as Debian builds it'
LISTS = ('-accel', '-device', '-netdev', '-display', '-audio', '-chardev',
         '-object')


def names(qemu, option):
    """The names 'QEMU OPTION help' lists."""
    p = subprocess.run([qemu, option, 'help'], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, '%s %s help: %s' % (qemu, option, p.stderr)
    if option == '-device':
        return set(re.findall(r'^name "([^"]+)"', p.stdout, re.M))
    out = set()
    for line in p.stdout.splitlines():
        # headings end with ':', the footer of -display help is prose
        if not line.strip() or line.rstrip().endswith(':') or \
                len(line.split()) > 1:
            continue
        out.add(line.strip())
    assert out, '%s %s help listed nothing:\n%s' % (qemu, option, p.stdout)
    return out


def readme_differences():
    """{(option, name): reason} from README.rst's section."""
    with open(README) as f:
        text = f.read()
    m = re.search(r'^%s\n=+\n(.*?)(?=^\S.*\n=+\n)' % re.escape(SECTION),
                  text, re.S | re.M)
    assert m, 'README.rst has no section %r' % SECTION
    return {(o, n): why.strip() for o, n, why in
            re.findall(r'^- ``(-\w+) ([^`]+)``: (.+)$', m.group(1), re.M)}


def offers_all_that_debian_does(exe):
    def run(test):
        peer = os.path.join(PEER_DIR, exe)
        if not os.access(peer, os.X_OK):
            raise unittest.SkipTest('%s missing (make peer-10.0)' % peer)
        fork = os.path.join(os.path.dirname(forkvm.QEMU), exe)
        allowed = readme_differences()
        missing = set()
        compared = []
        for option in LISTS:
            theirs = names(peer, option)
            ours = names(fork, option)
            compared.append('%s: %d in Debian\'s, %d in the fork'
                            % (option, len(theirs), len(ours)))
            missing |= {(option, n) for n in theirs - ours}
        test.diag.append('\n'.join(compared))
        unexplained = sorted(missing - set(allowed))
        stale = sorted(k for k in allowed if k not in missing and
                       exe in allowed[k])
        assert not unexplained, 'missing from the fork, not in README: %s' \
            % unexplained
        assert not stale, 'README names differences that are gone: %s' % \
            stale
    return run


class DebianFeatureParity(e2e.Test):
    def test_readme_differences_cover_both(self):
        """Each README difference says which emulators it concerns."""
        for (option, name), why in readme_differences().items():
            assert any(e in why for e in EMULATORS), \
                '``%s %s``: name the emulator in its reason' % (option, name)


for _exe in EMULATORS:
    e2e.add_test(DebianFeatureParity, '%s_offers_all_that_debian_does' % _exe,
                 offers_all_that_debian_does(_exe))


if __name__ == '__main__':
    e2e.main()
