#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
"""Process control, logs and exit codes of every Python runner (e2e.py,
run-migration.py, run-blk.py, run-nested.py): a test run's folder and
child processes (Env, Proc), waits with a deadline, and run_test(), which
turns a test's outcome into its verdict line and exit code: 0 pass,
1 fail, 77 skipped (meson's code for a skip)."""

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

EXIT_PASS, EXIT_FAIL, EXIT_SKIP = 0, 1, 77


class Failure(Exception):
    """The test failed; the message says why."""


class Skip(Exception):
    """The test cannot run here; the message says why."""


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def _on_signal(signum, _frame):
    raise Failure('interrupted by signal %d' % signum)


def catch_signals():
    """SIGTERM (meson's timeout) and SIGINT end the test as a failure,
    through run_test(): its processes are killed, its logs shown."""
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_harness():
    # A child left behind by a killed harness would spin on its closed
    # stdin forever (dpdk-vdpa's non-interactive loop does).
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def wait_until(pred, timeout, step=0.05):
    """Poll @pred until it returns a true value or @timeout seconds pass."""
    end = time.monotonic() + timeout
    while True:
        val = pred()
        if val or time.monotonic() >= end:
            return val
        time.sleep(step)


def read_text(path):
    """A log or console file as text so far ('' if there is none yet)."""
    try:
        with open(path, 'rb') as f:
            return f.read().decode(errors='replace')
    except OSError:
        return ''


class Proc:
    """A child process: stdin a pipe the harness holds open (a fifo in
    all but name: the child sees EOF only when asked to), stdout and
    stderr in <name>.log of the test's folder."""

    def __init__(self, env, name, argv, extra_env=None):
        self.env = env
        self.name = name
        self.log = os.path.join(env.dir, name + '.log')
        self.argv = argv
        penv = dict(os.environ)
        penv.update(extra_env or {})
        with open(self.log, 'wb') as out:
            out.write(('$ ' + ' '.join(argv) + '\n').encode())
            out.flush()
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=out,
                stderr=subprocess.STDOUT, env=penv, cwd=env.dir,
                preexec_fn=_die_with_harness)
        self.pid = self.popen.pid
        env.procs.append(self)

    def alive(self):
        return self.popen.poll() is None

    def send(self, text):
        """Write @text to the child's stdin; False if it is gone."""
        try:
            self.popen.stdin.write(text.encode())
            self.popen.stdin.flush()
            return True
        except (BrokenPipeError, ValueError, OSError):
            return False

    def text(self):
        return read_text(self.log)

    def count(self, pattern):
        return len(re.findall(pattern, self.text(), re.M))

    def wait_log(self, pattern, timeout, count=1, what=None):
        """Wait until @pattern matches @count times in the log."""
        def ready():
            if self.count(pattern) >= count:
                return True
            if not self.alive():
                raise Failure('%s exited (%s) while waiting for %s' % (
                    self.name, self.popen.returncode, what or repr(pattern)))
            return False
        if not wait_until(ready, timeout):
            raise Failure('%s: no %s within %g s' % (
                self.name, what or repr(pattern), timeout))

    def wait_exit(self, timeout):
        """Exit code, or None if still running after @timeout seconds."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, quit_text, timeout=15):
        """Ask the child to quit; kill it if it does not. Exit code or None."""
        if self.alive():
            self.send(quit_text)
        rc = self.wait_exit(timeout)
        if rc is None:
            self.kill()
        return rc

    def kill(self):
        if self.alive():
            self.popen.kill()
            self.popen.wait(10)
        try:
            self.popen.stdin.close()
        except OSError:
            pass

    def tail(self, n=25):
        lines = self.text().splitlines()
        return '\n'.join('    ' + line for line in lines[-n:])


def stale_mounts(top):
    with open('/proc/mounts') as f:
        mnts = [line.split()[1] for line in f]
    return [m for m in mnts if m.startswith(top + '/')]


def umount(mnt):
    for _ in range(20):
        if subprocess.run(['umount', mnt], capture_output=True,
                          check=False).returncode == 0:
            return
        time.sleep(0.1)
    subprocess.run(['umount', '-l', mnt], check=False)


class Env:
    """One test run: its folder (build/<suite>/<name>), sockets, processes
    (Proc), EAL prefixes (<tag><pid>-...) and clean-ups, all undone by
    close()."""

    def __init__(self, build, name, suite='e2e', tag='e2e'):
        self.build = build
        self.name = name
        self.tag = tag
        self.dir = os.path.join(build, suite, name)
        for mnt in stale_mounts(self.dir):  # a killed run's hugetlbfs
            umount(mnt)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.sockdir = os.path.join(self.dir, 's')
        if len(self.sockdir) > 80:  # sun_path is 108 bytes
            self.tmp_sockdir = tempfile.mkdtemp(prefix='ifcvf-e2e-')
            self.sockdir = self.tmp_sockdir
        else:
            self.tmp_sockdir = None
            os.makedirs(self.sockdir)
        self.procs = []
        self.prefixes = []
        self.cleanups = []

    def path(self, *parts):
        return os.path.join(self.build, *parts)

    def prefix_of(self, what):
        """The EAL file prefix of process @what."""
        return '%s%d-%s' % (self.tag, os.getpid(), what)

    def prefix(self, what):
        """A new process's file prefix, its runtime folder removed at the
        end."""
        p = self.prefix_of(what)
        self.prefixes.append(p)
        return p

    def sock(self, i):
        return os.path.join(self.sockdir, 'sock%d' % i)

    def close(self):
        for p in reversed(self.procs):
            p.kill()
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:  # pylint: disable=broad-except
                print('cleanup: %s' % e)
        run_dirs = [os.environ.get('XDG_RUNTIME_DIR', ''), '/var/run', '/tmp']
        for p in self.prefixes:
            for d in run_dirs:
                if d:
                    shutil.rmtree(os.path.join(d, 'dpdk', p),
                                  ignore_errors=True)
        if self.tmp_sockdir:
            shutil.rmtree(self.tmp_sockdir, ignore_errors=True)

    def report_logs(self, verdict, lines=25):
        """Each process's log tail, then @verdict again: a reader of the
        output's tail (CI) sees why the run failed."""
        for p in self.procs:
            rc = p.popen.poll()
            state = 'running' if rc is None else 'exit %d' % rc
            print('--- %s (pid %d, %s), %s:' % (p.name, p.pid, state, p.log))
            print(p.tail(lines))
        print('(again, after the logs) ' + verdict)


def run_test(env, fn):
    """Run test @fn() in @env, say how it went, close @env; the exit
    code."""
    start = time.monotonic()
    try:
        fn()
        print('%s: passed in %.1f s' % (env.name, time.monotonic() - start))
        return EXIT_PASS
    except Skip as e:
        print('skipped: %s' % e)
        return EXIT_SKIP
    except Failure as e:
        verdict = '%s: FAILED after %.1f s: %s' % (
            env.name, time.monotonic() - start, e)
        print(verdict)
        env.report_logs(verdict)
        return EXIT_FAIL
    except Exception:  # pylint: disable=broad-except
        print('%s: harness error:' % env.name)
        traceback.print_exc(file=sys.stdout)
        env.report_logs('%s: harness error: %s' % (
            env.name, traceback.format_exc().splitlines()[-1]))
        return EXIT_FAIL
    finally:
        env.close()
