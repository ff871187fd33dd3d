#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
"""Run one test of the sanitizer build and fail it on any sanitizer report.

    san_check.py <topdir> <test command...>

meson test runs every test of a -Db_sanitize build through this (the
"sanitize" test setup of app/test-vdpa/meson.build). The test gets a folder
of its own, <topdir>/<program>[_<arg>...], emptied first; ASan, LSan and
UBSan write each report of the test and of every process it starts there
(log_path: a file per reporting process). The test fails if a report file
appears, whatever its exit code, and the reports are printed. LSan and TSan
read the suppressions of lsan.supp and tsan.supp (DPDK's code only).
"""

import os
import shutil
import signal
import subprocess
import sys

MAX_LINES = 200


def test_dir(top, cmd):
    """<top>/<program>_<arg>_...: the script after an interpreter, and the
    arguments that are neither paths nor options (the case names)."""
    words = [os.path.basename(cmd[0])]
    rest = cmd[1:]
    if words[0].startswith('python') and rest:
        words = [os.path.basename(rest[0])]
        rest = rest[1:]
    words += [a for a in rest if '/' not in a and not a.startswith('-')]
    return os.path.join(top, '_'.join(words).replace('.py', ''))


def add_options(var, opts):
    old = os.environ.get(var, '')
    os.environ[var] = ':'.join([o for o in [old] if o] + opts)


def supp(name):
    """A suppression file of this folder (one per sanitizer)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), name)


def main(argv):
    if len(argv) < 3:
        print('usage: %s <topdir> <command...>' % argv[0], file=sys.stderr)
        return 2
    cmd = argv[2:]
    d = test_dir(os.path.abspath(argv[1]), cmd)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    # Appended, ours win over meson's defaults (abort_on_error=1,
    # halt_on_error=1): each report lands in a file, no core dump, and
    # UBSan goes on after a report so that a run shows all of them.
    add_options('ASAN_OPTIONS', ['log_path=' + os.path.join(d, 'asan'),
                                 'abort_on_error=0', 'detect_leaks=1'])
    add_options('LSAN_OPTIONS', ['suppressions=' + supp('lsan.supp'),
                                 'print_suppressions=0'])
    add_options('UBSAN_OPTIONS', ['log_path=' + os.path.join(d, 'ubsan'),
                                  'print_stacktrace=1', 'halt_on_error=0'])
    add_options('TSAN_OPTIONS', ['log_path=' + os.path.join(d, 'tsan'),
                                 'suppressions=' + supp('tsan.supp')])
    proc = subprocess.Popen(cmd)

    def forward(signum, _frame):
        proc.send_signal(signum)
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    rc = proc.wait()
    reports = sorted(os.listdir(d))
    for r in reports:
        path = os.path.join(d, r)
        print('==== sanitizer report %s:' % path)
        with open(path, errors='replace') as f:
            lines = f.read().splitlines()
        print('\n'.join(lines[:MAX_LINES]))
        if len(lines) > MAX_LINES:
            print('[... %d more lines]' % (len(lines) - MAX_LINES))
    sys.stdout.flush()
    if reports:
        print('FAIL: %d sanitizer report(s) in %s' % (len(reports), d))
        return rc if rc not in (0, 77) else 1
    if rc < 0:
        return 128 - rc
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv))
