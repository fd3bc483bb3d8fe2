#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The submission series (patches/submission/, fork/submission) is what a
# person can post to qemu-devel: every patch applies with git am on
# pristine upstream 10.2.2 and, in order, to our 10.0 base (qemu-stable),
# checkpatch has nothing to say, each patch is addressed to the
# maintainers of what it changes and signed only by the person posting,
# each fix carries its regression test, and the tests the 10.0 product
# runs are the series' own.  Skipped, with the reason, when Debian no
# longer serves the 10.2.2 source.
# check-timeout: 300

import ast
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'fork'))
import e2e  # noqa: E402
import forkvm  # noqa: E402

TOP = forkvm.TOP
BUILD = forkvm.BUILD
SUBMISSION = os.path.join(TOP, 'fork', 'submission')
PATCHES = os.path.join(TOP, 'patches', 'submission')
UPSTREAM = os.path.join(BUILD, 'upstream-10.2')
BASE_TREE = os.path.join(BUILD, 'base', 'tree')
BUILT_TREE = os.path.join(BUILD, 'submission', 'tree')
PRODUCT_TREE = os.path.join(BUILD, 'src')
POSTER = 'Ada Poster <ada.poster@example.invalid>'
# test files the product runs as the series has them, byte for byte
SHARED_TESTS = ('tests/qtest/lpc-ich9-test.c',)
# qtest files whose cases the series adds and the product runs too; their
# 10.0 and 10.2 forms differ elsewhere (10.0's q35-test still tests
# pc-q35-4.1, 10.2's cpu-plug-test has a LoongArch case)
SHARED_TEST_CASES = ('tests/qtest/q35-test.c',
                     'tests/qtest/cpu-plug-test.c')
# functional tests: (the series' file, the product's (10.0 layout)); the
# series has the product's tests of the fixes it submitted so far
SHARED_FUNCTIONAL = (
    ('tests/functional/x86_64/test_smm_cpu_hotplug.py',
     'tests/functional/test_x86_64_smm_cpu_hotplug.py'),
)
# series patches (by subject) that the product carries in the same form,
# where 10.0 has the code 10.2 changes: the files in which every line of
# code the series patch adds, but its includes, is a line of the product's
# file (the same path, or the product's path second where 10.2 keeps the
# code elsewhere: its QAPI schema is target-independent, in
# misc-i386.json).  Comments are not compared: the product's name what
# only the product has (the SMM watchdog).
PRODUCT_FORMS = {
    'target/i386/tcg: hold INIT in SMM until RSM':
        ('target/i386/cpu.c', 'target/i386/cpu.h',
         'target/i386/tcg/system/smm_helper.c'),
    'target/i386/tcg: yield the host CPU at a PAUSE in SMM':
        ('target/i386/tcg/misc_helper.c', 'target/i386/trace-events'),
    'system/cpus: let the monitor unplug a vCPU under single-threaded TCG':
        ('system/cpus.c', 'accel/tcg/tcg-accel-ops-rr.c'),
    'target/i386: count the SMIs each vCPU receives and its SMM entries':
        ('target/i386/smi-stats.c', 'target/i386/smi-stats.h',
         'target/i386/cpu.c', 'target/i386/cpu.h',
         'target/i386/tcg/system/smm_helper.c', 'target/i386/trace-events',
         'target/i386/meson.build', 'hw/intc/apic.c', 'hw/i386/pc.c',
         'include/monitor/hmp-target.h', 'hmp-commands-info.hx',
         ('qapi/misc-i386.json', 'qapi/smi-target.json')),
    'hw/isa/lpc_ich9: report a vCPU that stays in SMM too long':
        ('hw/isa/ich9_smi_watchdog.c', 'include/hw/isa/ich9_smi_watchdog.h',
         'target/i386/smi-stats.c', 'target/i386/smi-stats.h',
         'hw/isa/trace-events',
         ('qapi/misc-i386.json', 'qapi/smi-target.json')),
}
REVERT_CHECK = os.path.join(BUILD, 'submission', 'revert-check.txt')
CHECK_TCG = os.path.join(BUILD, 'submission', 'check-tcg.txt')
# the 10.0 form of a patch where 10.2's does not apply to 10.0.13, under
# the same file name; the files where the two may add other lines, why
STABLE_10_0 = os.path.join(PATCHES, 'stable-10.0')
BACKPORT_MAY_DIFFER = {
    'hw/intc/apic_common.c': "10.0's X86CPU.apic_state is a DeviceState",
    'include/hw/i386/apic.h': "10.0's X86CPU.apic_state is a DeviceState",
}


def patch_files():
    return sorted(os.path.join(PATCHES, f) for f in os.listdir(PATCHES)
                  if re.match(r'\d{4}-.*\.patch$', f))


def headers(text):
    head = text.split('\n\n', 1)[0]
    return re.sub(r'\n[ \t]+', ' ', head)


def without_10_2_layout(text):
    """
    A patch without its changes of tests/functional, which 10.2 keeps per
    target (tests/functional/x86_64/) where 10.0 has one directory, and of
    MAINTAINERS, whose entries name those paths: the product's 10.0 copy
    of those tests is checked apart.
    """
    blocks = re.split(r'(?m)^(?=diff --git )', text)
    return ''.join(b for b in blocks
                   if not b.startswith(('diff --git a/tests/functional/',
                                        'diff --git a/MAINTAINERS ')))


def touched(text):
    return re.findall(r'^diff --git a/(\S+) ', text, re.M)


def added_lines(text):
    """file -> the lines a patch adds to it"""
    added = {}
    for block in re.split(r'(?m)^(?=diff --git )', text)[1:]:
        name = touched(block)[0]
        added[name] = [line for line in block.splitlines()
                       if line.startswith('+') and not line.startswith('+++')]
    return added


def code_line(line, path):
    """
    @line as compared between the series and the product, or None for a
    comment; QAPI members without the layout (10.0's schema is per target,
    with 'if': 'TARGET_I386' where 10.2's closes the definition).
    """
    if path.endswith('.json'):
        if line.startswith('#') or "'if': 'TARGET_I386'" in line:
            return None
        return re.sub(r'[\s{},]', '', line)
    if re.match(r'\s*(/?\*|//)', line):
        return None
    return line


def stable_form(path):
    """The patch as it applies to 10.0: its backport, if it has one."""
    backport = os.path.join(STABLE_10_0, os.path.basename(path))
    return backport if os.path.exists(backport) else path


class Submission(e2e.Test):

    @classmethod
    def setUpClass(cls):
        cls.out = tempfile.TemporaryDirectory(prefix='submission-')
        cls.write = subprocess.run(
            [SUBMISSION, 'write', '--signoff', POSTER,
             '--out', cls.out.name],
            capture_output=True, text=True, timeout=240)

    @classmethod
    def tearDownClass(cls):
        cls.out.cleanup()

    def setUp(self):
        super().setUp()
        if self.write.returncode == 3:
            with open(os.path.join(UPSTREAM, 'UNAVAILABLE')) as f:
                self.skipTest(f.read().strip())
        self.assertEqual(self.write.returncode, 0,
                         self.write.stdout + self.write.stderr)

    def written(self):
        return sorted(os.path.join(self.out.name, f)
                      for f in os.listdir(self.out.name)
                      if re.match(r'\d{4}-.*\.patch$', f))

    def read(self, path):
        with open(path, encoding='utf-8') as f:
            return f.read()

    def test_every_patch_applies_and_is_checkpatch_clean(self):
        """git am applied them all (write exits 1 otherwise); checkpatch."""
        written = self.written()
        self.assertEqual(len(written), len(patch_files()) + 1)
        with open(os.path.join(self.out.name, 'checkpatch.txt')) as f:
            verdicts = f.read().splitlines()
        self.assertEqual(len(verdicts), len(patch_files()))
        for line in verdicts:
            self.assertRegex(line, r': total: 0 errors, 0 warnings, ')

    def test_addressed_and_signed_by_the_poster_only(self):
        for path in self.written():
            text = self.read(path)
            head = headers(text)
            name = os.path.basename(path)
            self.assertIn('\nTo: qemu-devel@nongnu.org', head, name)
            self.assertRegex(head, r'\nCc: .*@', name)
            self.assertIn('\nFrom: ' + POSTER, '\n' + head, name)
            signers = re.findall(r'^Signed-off-by: (.*)$', text, re.M)
            if name.startswith('0000-'):
                self.assertEqual(signers, [])
                continue
            self.assertEqual(signers, [POSTER], name)
            # get_maintainer.pl's maintainers of the files it changes
            maintainers = subprocess.run(
                ['./scripts/get_maintainer.pl', '--no-rolestats', '--no-git',
                 '--no-git-fallback', '-f'] + touched(text),
                cwd=os.path.join(UPSTREAM, 'tree'), capture_output=True,
                text=True, timeout=60).stdout.split('\n')
            cc = re.search(r'\nCc: (.*)', head).group(1)
            for who in maintainers:
                if who and who != 'qemu-devel@nongnu.org':
                    self.assertIn(who, cc, name)

    def test_unsigned_without_a_poster(self):
        with tempfile.TemporaryDirectory() as out:
            p = subprocess.run([SUBMISSION, 'write', '--out', out],
                               capture_output=True, text=True, timeout=240)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn('no Signed-off-by', p.stderr)
            for f in os.listdir(out):
                if f.endswith('.patch'):
                    self.assertNotIn('Signed-off-by:',
                                     self.read(os.path.join(out, f)), f)

    def test_cover_letter(self):
        text = self.read(os.path.join(self.out.name,
                                      '0000-cover-letter.patch'))
        with open(os.path.join(PATCHES, 'cover-letter.txt')) as f:
            subject = f.readline().strip()
        # format-patch pads the 0 to the width of the count
        count = len(patch_files())
        self.assertIn('Subject: [PATCH %0*d/%d] %s'
                      % (len(str(count)), 0, count, subject), headers(text))
        self.assertNotIn('*** ', text)
        self.assertIn('qemu-stable@nongnu.org', headers(text))

    def test_fixes_name_a_commit(self):
        """
        A Fixes: trailer names the commit as upstream writes it: 12 hex
        digits and the subject, in the trailer block, before the Cc:
        that asks for a backport.  The series has some.
        """
        fixes = 0
        for path in patch_files():
            text = self.read(path)
            message = text.split('\n\n', 1)[1].split('\n---\n', 1)[0]
            trailers = message.rstrip().rsplit('\n\n', 1)[-1].split('\n')
            name = os.path.basename(path)
            for line in message.splitlines():
                if line.startswith('Fixes'):
                    self.assertRegex(
                        line, r'^Fixes: [0-9a-f]{12} \("[^"]+"\)$', name)
                    self.assertIn(line, trailers, name)
                    fixes += 1
            keys = [t.split(':', 1)[0] for t in trailers]
            if 'Fixes' in keys and 'Cc' in keys:
                self.assertLess(keys.index('Fixes'), keys.index('Cc'), name)
        self.assertTrue(fixes, 'no Fixes: trailer in the series')

    def test_each_fix_carries_its_test(self):
        """
        A patch that changes code changes a test too, or, when it must
        not change behaviour (a speed-up, a rework), its message names
        the qtest an earlier patch added to guard it.
        """
        guards = set()
        for path in patch_files():
            text = self.read(path)
            files = touched(text)
            code = [f for f in files if not f.startswith(('tests/', 'docs/'))]
            message = text.split('\n\n', 1)[1].split('\n---\n', 1)[0]
            if code and not any(f.startswith('tests/') for f in files):
                self.assertTrue([g for g in guards if g in message],
                                '%s changes %s, and neither changes a test '
                                'nor names an earlier one'
                                % (os.path.basename(path), code))
            guards.update(re.findall(
                r'^\+.*qtest_add_(?:data_)?func\("([^"]+)"', text, re.M))

    def test_stable_fixes_apply_to_10_0(self):
        """
        The series applies, patch after patch, to our pristine base
        (10.0.13), as qemu-stable would take it: up to its last patch for
        stable, the speed-ups after that staying on master.
        """
        if not os.path.isdir(BASE_TREE):
            self.skipTest('the 10.0 base is not fetched (%s)' % BASE_TREE)
        patches = patch_files()
        stable = [i for i, p in enumerate(patches)
                  if 'Cc: qemu-stable@nongnu.org' in self.read(p)]
        self.assertTrue(stable, 'no patch for stable')
        patches = patches[:stable[-1] + 1]
        with tempfile.TemporaryDirectory() as tree:
            # the files the series touches, copied: patch in a copy
            for f in {f for p in patches
                      for f in touched(without_10_2_layout(
                          self.read(stable_form(p))))}:
                src = os.path.join(BASE_TREE, f)
                if os.path.exists(src):
                    os.makedirs(os.path.dirname(os.path.join(tree, f)),
                                exist_ok=True)
                    shutil.copyfile(src, os.path.join(tree, f))
            for path in patches:
                # not git apply: below our checkout it would apply to it
                p = subprocess.run(['patch', '-p1', '--silent',
                                    '--no-backup-if-mismatch', '-d', tree],
                                   input=without_10_2_layout(
                                       self.read(stable_form(path))),
                                   capture_output=True, text=True,
                                   timeout=60)
                self.assertEqual(p.returncode, 0, '%s: %s' % (
                    os.path.basename(path), p.stdout + p.stderr))

    def test_stable_backports_in_step(self):
        """
        A 10.0 backport is its patch: it carries the same message and adds
        the same lines, but where BACKPORT_MAY_DIFFER says why not.
        """
        names = {os.path.basename(p) for p in patch_files()}
        for f in sorted(os.listdir(STABLE_10_0)):
            self.assertIn(f, names, 'a backport of no patch')
            series = self.read(os.path.join(PATCHES, f))
            backport = self.read(os.path.join(STABLE_10_0, f))
            message = series.split('\n\n', 1)[1].split('\n---\n', 1)[0]
            self.assertIn(message.rstrip(), backport, f)
            ours = added_lines(without_10_2_layout(series))
            theirs = added_lines(backport)
            self.assertEqual(sorted(ours), sorted(theirs), f)
            for name in ours:
                if name not in BACKPORT_MAY_DIFFER:
                    self.assertEqual(ours[name], theirs[name],
                                     '%s: %s' % (f, name))

    def test_product_carries_the_series_forms(self):
        """
        The series patches of PRODUCT_FORMS are the product's code too:
        each line they add to those files is in the product's file.
        """
        subjects = {}
        for path in patch_files():
            text = self.read(path)
            m = re.search(r'^Subject: \[PATCH[^]]*\] (.*(?:\n .*)*)',
                          text, re.M)
            subjects[re.sub(r'\n ', ' ', m.group(1))] = text
        for subject, files in PRODUCT_FORMS.items():
            self.assertIn(subject, subjects)
            added = added_lines(subjects[subject])
            for f in files:
                f, mine = f if isinstance(f, tuple) else (f, f)
                path = os.path.join(PRODUCT_TREE, mine)
                if not os.path.exists(path):
                    self.skipTest('%s is not laid (make check lays it)'
                                  % path)
                lines = {code_line(line, f)
                         for line in self.read(path).splitlines()}
                self.assertTrue(added.get(f), '%s: %s' % (subject, f))
                # the includes follow each version's headers
                for line in added[f]:
                    code = code_line(line[1:], f)
                    if code is not None and not line.startswith('+#include '):
                        self.assertTrue(code in lines, '%s: %s lacks %r'
                                        % (subject, mine, line[1:]))

    def test_product_runs_the_series_tests(self):
        """
        The 10.0 product's copy of each shared test file is the series'
        byte for byte: the fork passes the same regression tests.
        """
        for f in SHARED_TESTS:
            for tree in (BUILT_TREE, PRODUCT_TREE):
                if not os.path.exists(os.path.join(tree, f)):
                    self.skipTest('%s is not laid (make check lays it)'
                                  % os.path.join(tree, f))
            self.assertEqual(self.read(os.path.join(PRODUCT_TREE, f)),
                             self.read(os.path.join(BUILT_TREE, f)), f)

    def test_product_runs_the_series_test_cases(self):
        """
        Each top-level definition the series adds to or changes in a file
        of SHARED_TEST_CASES is the product's, word for word, and the
        product registers each case the series registers.
        """
        for f in SHARED_TEST_CASES:
            for tree in (BUILT_TREE, PRODUCT_TREE):
                if not os.path.exists(os.path.join(tree, f)):
                    self.skipTest('%s is not laid (make check lays it)'
                                  % os.path.join(tree, f))
            pristine = self.read(os.path.join(UPSTREAM, 'tree', f))
            series = self.read(os.path.join(BUILT_TREE, f))
            product = self.read(os.path.join(PRODUCT_TREE, f))
            added = [b for b in re.split(r'\n\n(?=\S)', series)
                     if b not in pristine and 'int main(' not in b]
            self.assertTrue(added, f)
            for block in added:
                self.assertIn(block, product, '%s: %s' % (
                    f, block.splitlines()[0]))

            def cases(text):
                return set(re.findall(
                    r'qtest_add_(?:data_)?func\(\s*"([^"]+)",\s*(\w+)\)',
                    text))
            self.assertLessEqual(cases(series) - cases(pristine),
                                 cases(product), f)

    def test_functional_tests_are_the_products(self):
        """
        Every function, method and constant of the series' functional
        test files is the product's, word for word: the product's file
        has the tests of the fixes not submitted yet as well.
        """
        for ours, product in SHARED_FUNCTIONAL:
            path = os.path.join(BUILT_TREE, ours)
            if not os.path.exists(path):
                self.skipTest('%s is not laid (make check lays it)' % path)
            theirs = self.read(path)
            mine = self.read(os.path.join(TOP, product))
            tree = ast.parse(theirs)
            nodes = [n for n in ast.walk(tree)
                     if isinstance(n, (ast.FunctionDef, ast.ClassDef,
                                       ast.Assign))
                     and not isinstance(n, ast.ClassDef)]
            self.assertTrue(nodes, ours)
            for n in nodes:
                text = ast.get_source_segment(theirs, n)
                self.assertIn(text, mine, '%s: %s differs from %s'
                              % (ours, text.splitlines()[0], product))

    def test_check_tcg_passes(self):
        """
        make check's fork/submission check-tcg: upstream's TCG tests pass
        on this very series, in system and in user mode.
        """
        if not os.path.exists(CHECK_TCG):
            self.skipTest('no %s: make check runs fork/submission '
                          'check-tcg' % CHECK_TCG)
        lines = self.read(CHECK_TCG).splitlines()
        digest = hashlib.sha256(b''.join(
            open(p, 'rb').read() for p in patch_files())).hexdigest()
        self.assertEqual(lines[0], 'series ' + digest,
                         'check-tcg ran on another series')
        self.assertEqual(len(lines), 3, lines)
        for line in lines[1:]:
            self.assertRegex(line, r'^passes qemu(-user)?: [1-9]\d* tests')

    def test_each_qtest_fails_without_its_patch(self):
        """
        make check's fork/submission revert-check: every qtest test that a
        patch adds passes on the series and fails with that patch's code
        reverted, on this very series; one that a plain build cannot
        show failing (a write to freed memory) fails under valgrind.  A
        test in a patch without code, put before a rework it guards, has
        only to pass.
        """
        if not os.path.exists(REVERT_CHECK):
            self.skipTest('no %s: make check runs fork/submission '
                          'revert-check' % REVERT_CHECK)
        lines = self.read(REVERT_CHECK).splitlines()
        digest = hashlib.sha256(b''.join(
            open(p, 'rb').read() for p in patch_files())).hexdigest()
        self.assertEqual(lines[0], 'series ' + digest,
                         'the revert check ran on another series')
        added = sum(len(re.findall(r'^\+.*qtest_add_(data_)?func\("',
                                   self.read(p), re.M))
                    for p in patch_files())
        self.assertEqual(lines[-1], 'checked %d' % added, lines)
        for line in lines[1:-1]:
            self.assertRegex(line, r'^passes with, (FAILS  without its patch|'
                                   r'no code in its patch)')


if __name__ == '__main__':
    e2e.main()
