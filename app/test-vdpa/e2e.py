#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
"""End-to-end tests and the demo of the IFCVF vDPA driver.

Every test runs DPDK's dpdk-vdpa example with the driver plugin and the
simulated VFs (vdpa_ifcvf_sim vdevs), and net_virtio_user frontends
(testpmd, vdpa_traffic) on its vhost-user sockets.

    e2e.py <builddir> <test>          exit 0 pass, 1 fail, 77 skipped
    e2e.py <builddir> demo [seconds]  traffic both ways, then the numbers
    e2e.py <builddir> list

Logs of a run stay in <builddir>/e2e/<test>/ (emptied when it starts).
"""

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

PLUGIN = 'librte_vdpa_ifc.so'
LOG_LEVEL = '--log-level=pmd.vdpa.ifcvf*:info'
CLOSED_RE = re.compile(
    r'IFCVF: \w+\(\): (\S+): closed, IOMMU holds (\d+) mappings')
STAT_NAMES = ('completed_descriptors', 'kicks_relayed', 'interrupts_relayed',
              'used_entries_relayed')


class Failure(Exception):
    """The test failed; the message says why."""


class Skip(Exception):
    """The test cannot run here; the message says why."""


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def _on_signal(signum, _frame):
    raise Failure('interrupted by signal %d' % signum)


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
        try:
            with open(self.log, 'rb') as f:
                return f.read().decode(errors='replace')
        except OSError:
            return ''

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


class Env:
    """One test run: its folder (build/<suite>/<name>), sockets, processes
    and EAL prefixes (<tag><pid>-...)."""

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
        self.vdpa = None

    def path(self, *parts):
        return os.path.join(self.build, *parts)

    def prefix(self, what):
        p = '%s%d-%s' % (self.tag, os.getpid(), what)
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

    def report_logs(self, lines=25):
        for p in self.procs:
            rc = p.popen.returncode
            state = 'running' if rc is None else 'exit %d' % rc
            print('--- %s (pid %d, %s), %s:' % (p.name, p.pid, state, p.log))
            print(p.tail(lines))

    # -- the programs ---------------------------------------------------

    def start_vdpa(self, vdevs, interactive=False, name='vdpa'):
        """dpdk-vdpa with the plugin and @vdevs (vdev strings)."""
        argv = ['stdbuf', '-oL', self.path('app', 'test-vdpa', 'dpdk-vdpa'),
                '-l', '0', '--no-pci', '--no-huge', '-m', '256',
                '--file-prefix=' + self.prefix(name), '-d', PLUGIN, LOG_LEVEL]
        for v in vdevs:
            argv += ['--vdev', v]
        argv.append('--')
        if interactive:
            argv.append('--interactive')
        else:
            argv += ['--iface', os.path.join(self.sockdir, 'sock')]
        proc = Proc(self, name, argv, {
            'LD_LIBRARY_PATH': self.path('drivers', 'vdpa', 'ifc')})
        proc.interactive = interactive
        if self.vdpa is None:
            self.vdpa = proc
        return proc

    def wait_socks(self, n, timeout=15):
        def ready():
            if self.vdpa is not None and not self.vdpa.alive():
                raise Failure('dpdk-vdpa exited (%s) before its sockets '
                              'appeared' % self.vdpa.popen.returncode)
            return all(os.path.exists(self.sock(i)) for i in range(n))
        check(wait_until(ready, timeout),
              'vhost-user sockets did not appear within %d s' % timeout)

    def create_ports(self, vdpa, devs):
        """Interactive dpdk-vdpa: a socket per device, sock0, sock1..."""
        for i, dev in enumerate(devs):
            vdpa.send('create %s %s\n' % (self.sock(i), dev))
        self.wait_socks(len(devs))

    def wait_configured(self, dev, count=1, timeout=20):
        self.vdpa.wait_log(r'%s: configured, \d+ queues' % re.escape(dev),
                           timeout, count,
                           '"%s: configured" #%d' % (dev, count))

    def start_testpmd(self, name, sock, queues, mode='macswap',
                      interactive=False):
        """testpmd on @sock, forwarding on lcore 1."""
        argv = ['stdbuf', '-oL', 'dpdk-testpmd', '-l', '0,1', '--no-pci',
                '--no-huge', '-m', '512', '--file-prefix=' + self.prefix(name),
                '--vdev', 'net_virtio_user_%s,path=%s,queues=%d' % (
                    name, sock, queues),
                '--', '--forward-mode=' + mode, '--total-num-mbufs=4096',
                '--rxq=%d' % queues, '--txq=%d' % queues, '--stats-period=0']
        argv.append('-i' if interactive else '-a')
        proc = Proc(self, name, argv)
        proc.interactive = interactive
        return proc

    def start_traffic(self, name, sock, queues, args, huge_dir=None):
        argv = [self.path('app', 'test-vdpa', 'vdpa_traffic'), '-l', '1',
                '--no-pci', '--file-prefix=' + self.prefix(name)]
        if huge_dir:
            argv += ['--huge-dir', huge_dir, '--single-file-segments']
        else:
            argv += ['--no-huge', '-m', '256']
        argv += ['--vdev',
                 'net_virtio_user0,path=%s,queues=%d' % (sock, queues), '--']
        argv += [str(a) for a in args]
        return Proc(self, name, argv)

    def run_traffic(self, name, sock, queues, args, timeout=120, **kw):
        """Run vdpa_traffic to its end; its output."""
        t = self.start_traffic(name, sock, queues, args, **kw)
        rc = t.wait_exit(timeout)
        check(rc is not None,
              '%s did not finish within %d s' % (name, timeout))
        out = t.text()
        check(rc == 0 and re.search(r'^result: PASS$', out, re.M),
              '%s failed (exit %d)' % (name, rc))
        return out

    @staticmethod
    def stop_testpmd(tp):
        if tp.interactive:
            return tp.stop('quit\n')
        return tp.stop('\n')

    def stop_vdpa(self, vdpa=None):
        """Quit dpdk-vdpa cleanly and check it released every mapping."""
        vdpa = vdpa or self.vdpa
        rc = vdpa.stop('quit\n' if vdpa.interactive else 'q\n')
        check(rc is not None, 'dpdk-vdpa did not quit within 15 s')
        check(rc == 0, 'dpdk-vdpa exited with %d' % rc)
        leaks = [m for m in CLOSED_RE.findall(vdpa.text()) if m[1] != '0']
        check(not leaks, 'a device closed with mappings left: %s' % (
            ', '.join('%s holds %s' % m for m in leaks)))


# -- helpers of the tests ----------------------------------------------------

def sim_pair(qp, extra=''):
    return ['vdpa_ifcvf_sim0,wire=vdpa_ifcvf_sim1,qp=%d%s' % (qp, extra),
            'vdpa_ifcvf_sim1,qp=%d%s' % (qp, extra)]


def closes(vdpa, dev):
    """The mapping counts of @dev's closes, in order."""
    return [int(n) for d, n in CLOSED_RE.findall(vdpa.text()) if d == dev]


def queue_lines(out):
    """{queue: (sent, received, lost, corrupt, duplicate, misrouted)}"""
    res = {}
    for m in re.finditer(r'^queue (\d+): sent (\d+) received (\d+) lost (\d+) '
                         r'corrupt (\d+) duplicate (\d+) misrouted (\d+)$',
                         out, re.M):
        res[int(m.group(1))] = tuple(int(x) for x in m.groups()[1:])
    return res


def proc_counts(pid):
    return (len(os.listdir('/proc/%d/fd' % pid)),
            len(os.listdir('/proc/%d/task' % pid)))


def wired_with_peer(env, qp, extra='', queues=None):
    """dpdk-vdpa with two wired sims and testpmd macswap on sock1."""
    queues = queues or qp
    env.start_vdpa(sim_pair(qp, extra))
    env.wait_socks(2)
    tp = env.start_testpmd('testpmd1', env.sock(1), queues)
    env.wait_configured('vdpa_ifcvf_sim1')
    tp.wait_log(r'Press enter to exit', 20, what='testpmd forwarding')
    return tp


def finish(env, tp):
    check(env.stop_testpmd(tp) is not None, 'testpmd did not quit')
    env.stop_vdpa()


def traffic_test(env, qp, extra='', count=5000):
    tp = wired_with_peer(env, qp, extra)
    out = env.run_traffic('traffic', env.sock(0), qp, ['--count', count])
    lines = queue_lines(out)
    check(sorted(lines) == list(range(qp)),
          'expected a line per queue 0..%d, got %s' % (qp - 1, sorted(lines)))
    for q, v in sorted(lines.items()):
        check(v[1] == count and count > 0,
              'queue %d received %d of %d' % (q, v[1], count))
    print(''.join('  ' + ln + '\n' for ln in out.splitlines()
                  if ln.startswith(('queue ', 'round trips'))), end='')
    finish(env, tp)
    check(closes(env.vdpa, 'vdpa_ifcvf_sim0')[-1:] == [0],
          'vdpa_ifcvf_sim0 did not close with 0 mappings')


# -- the tests ---------------------------------------------------------------

def test_traffic_1q(env):
    traffic_test(env, 1)


def test_traffic_4q(env):
    traffic_test(env, 4)


def test_virtio_profile(env):
    traffic_test(env, 1, ',profile=virtio')
    check(env.vdpa.count(r'simulated virtio VF') == 2,
          'the sims did not come up with the virtio profile')


def test_reconnect_100(env, cycles=100):
    tp = wired_with_peer(env, 2)
    pid = env.vdpa.pid
    time.sleep(0.5)
    before = proc_counts(pid)
    out = env.run_traffic('traffic', env.sock(0), 2,
                          ['--count', 200, '--cycles', cycles], timeout=240)
    check(re.search(r'^cycles: %d of %d passed$' % (cycles, cycles), out,
                    re.M), 'not every cycle passed')
    after = wait_until(lambda: proc_counts(pid) == before and before, 5)
    now = proc_counts(pid)
    check(after, 'dpdk-vdpa had %d fds and %d threads before, %d and %d '
          'after %d reconnects' % (before + now + (cycles,)))
    zero = closes(env.vdpa, 'vdpa_ifcvf_sim0')
    check(len([n for n in zero if n == 0]) >= cycles,
          'only %d closes of vdpa_ifcvf_sim0 with 0 mappings' % zero.count(0))
    bad = [n for n in zero if n != 0]
    check(not bad, 'closes with mappings left: %s' % bad)
    print('  %d cycles, %d closes with 0 mappings; fds %d threads %d before '
          'and after' % (cycles, len(zero), before[0], before[1]))
    finish(env, tp)


def test_kill9(env):
    tp = wired_with_peer(env, 2)
    n0 = len(closes(env.vdpa, 'vdpa_ifcvf_sim0'))
    t = env.start_traffic('traffic_killed', env.sock(0), 2,
                          ['--count', 50000000])
    env.wait_configured('vdpa_ifcvf_sim0')
    time.sleep(1)
    check(t.alive(), 'vdpa_traffic ended before it was killed')
    t.popen.send_signal(signal.SIGKILL)
    t.wait_exit(10)
    check(wait_until(lambda: len(closes(env.vdpa, 'vdpa_ifcvf_sim0')) > n0,
                     10), 'no close of vdpa_ifcvf_sim0 after the kill')
    last = closes(env.vdpa, 'vdpa_ifcvf_sim0')[-1]
    check(last == 0, 'closed after the kill with %d mappings' % last)
    check(env.vdpa.alive(), 'dpdk-vdpa died with the frontend')
    env.run_traffic('traffic', env.sock(0), 2, ['--count', 5000])
    finish(env, tp)


def meminfo(key):
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    return 0


def setup_hugepages(env, pages):
    """A private hugetlbfs of 2 MiB pages with @pages more in the pool."""
    if os.geteuid() != 0:
        raise Skip('hugepages need root')
    if meminfo('Hugepagesize') != 2048:
        raise Skip('the default hugepage size is not 2 MiB')
    knob = '/proc/sys/vm/nr_hugepages'
    with open(knob) as f:
        orig = int(f.read())

    def restore():
        with open(knob, 'w') as f:
            f.write('%d\n' % orig)
    try:
        with open(knob, 'w') as f:
            f.write('%d\n' % (orig + pages))
    except OSError as e:
        raise Skip('cannot set %s: %s' % (knob, e.strerror)) from e
    env.cleanups.append(restore)
    if meminfo('HugePages_Free') < pages:
        raise Skip('the kernel gave only %d free hugepages of %d' % (
            meminfo('HugePages_Free'), pages))
    mnt = os.path.join(env.dir, 'huge')
    os.makedirs(mnt)
    r = subprocess.run(['mount', '-t', 'hugetlbfs', '-o', 'pagesize=2M',
                        'nodev', mnt], capture_output=True, text=True,
                       check=False)
    if r.returncode != 0:
        raise Skip('cannot mount hugetlbfs: %s' % r.stderr.strip())
    env.cleanups.append(lambda: umount(mnt))
    return mnt


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


def test_hugepages_grow(env, extra='', loss=()):
    mnt = setup_hugepages(env, 160)
    tp = wired_with_peer(env, 2, extra)
    out = env.run_traffic('traffic', env.sock(0), 2,
                          ['--count', 20000, '--grow-mb', 64] + list(loss),
                          huge_dir=mnt)
    check('grew memory by 64 MiB: ok' in out, 'vdpa_traffic could not grow')
    confs = env.vdpa.count(r'vdpa_ifcvf_sim0: configured')
    check(confs > 1, 'vdpa_ifcvf_sim0 was configured %d times: no new '
          'memory table reached the driver' % confs)
    zero = closes(env.vdpa, 'vdpa_ifcvf_sim0')
    check(zero and zero[-1] == 0 and all(n == 0 for n in zero),
          'vdpa_ifcvf_sim0 closes left mappings: %s' % zero)
    print('  configured %d times, closes %s' % (confs, zero))
    finish(env, tp)


def test_hugepages_grow_virtio(env):
    """The same on VFs without ring-state registers: they cannot resume a
    ring at its index after the new memory table, the driver puts them on
    shadow rings. Each restart is a device reset, which drops the frames
    waiting in the VF (as a NIC's reset does): a bounded loss, one window
    of frames per queue at most."""
    test_hugepages_grow(env, ',profile=virtio',
                        ['--max-loss', 128, '--timeout', 2])
    check(env.vdpa.count(r'vdpa_ifcvf_sim0: queues on shadow rings') > 0,
          'the virtio-profile VF was not put on shadow rings')


BAD_DEVARGS = [
    ('qp=0', ['qp=0', '1 to 32']),
    ('profile=bogus', ['profile=bogus', 'ifcvf', 'virtio']),
    ('nosuchkey=1', ['unknown devarg "nosuchkey"', 'qp', 'profile',
                     'wire', 'mac', 'sw-live-migration']),
]


def test_bad_devargs(env):
    for i, (arg, words) in enumerate(BAD_DEVARGS):
        name = 'vdpa%d' % i
        vdpa = env.start_vdpa(['vdpa_ifcvf_sim0,' + arg], name=name)
        env.vdpa = vdpa
        wait_until(lambda v=vdpa: not v.alive() or
                   'enter \'q\' to quit' in v.text(), 15)
        time.sleep(0.3)
        check(not os.path.exists(env.sock(0)),
              '%s: a vhost-user socket was created' % arg)
        rc = vdpa.stop('q\n')
        log = vdpa.text()
        errs = [ln for ln in log.splitlines() if 'IFCVF' in ln]
        check(errs, '%s: the driver logged nothing' % arg)
        for w in words:
            check(any(w in ln for ln in errs),
                  '%s: no driver log line names "%s"' % (arg, w))
        print('  %s: exit %s, %s' % (arg, rc, errs[0].strip()))


def parse_stats(text, dev):
    """{queue: {name: value}} from the last `stats <dev>` output."""
    i = text.rfind('Device %s:' % dev)
    check(i >= 0, 'no statistics of %s' % dev)
    res, q = {}, None
    for line in text[i:].splitlines()[1:]:
        m = re.match(r'\s*Virtq (\d+):', line)
        if m:
            q = int(m.group(1))
            res[q] = {}
            continue
        m = re.match(r'\s+(\w+)\s+(\d+)\s*$', line)
        if m and q is not None and m.group(1) in STAT_NAMES:
            res[q][m.group(1)] = int(m.group(2))
            continue
        if line.strip() and not line.startswith('\t'):
            break
    return res


def query_stats(vdpa, dev, nq):
    """Ask interactive dpdk-vdpa for @dev's statistics of @nq queues."""
    block = r'^Device %s:\n(?:\s+Virtq \d+:\n(?:\s+\w+ +\d+ *\n){%d}){%d}' % (
        re.escape(dev), len(STAT_NAMES), nq)
    n = vdpa.count(block)
    vdpa.send('stats %s 0xffff\n' % dev)
    vdpa.wait_log(block, 10, count=n + 1, what='statistics of %s' % dev)
    return parse_stats(vdpa.text(), dev)


def format_stats(dev, stats):
    lines = []
    for q, s in sorted(stats.items()):
        kind = 'rx' if q % 2 == 0 else 'tx'
        lines.append('  %s queue %d (%s): %s' % (dev, q, kind, ' '.join(
            '%s %d' % (k, s.get(k, 0)) for k in STAT_NAMES)))
    return '\n'.join(lines)


def test_stats(env):
    qp = 2
    vdpa = env.start_vdpa(sim_pair(qp), interactive=True)
    env.create_ports(vdpa, ['vdpa_ifcvf_sim0', 'vdpa_ifcvf_sim1'])
    tp = env.start_testpmd('testpmd1', env.sock(1), qp)
    env.wait_configured('vdpa_ifcvf_sim1')
    tp.wait_log(r'Press enter to exit', 20, what='testpmd forwarding')
    t = env.start_traffic('traffic', env.sock(0), qp,
                          ['--count', 5000, '--hold'])
    t.wait_log(r'^holding', 60, what='the end of the traffic')
    lines = queue_lines(t.text())
    check(sorted(lines) == list(range(qp)) and
          all(v[1] == 5000 for v in lines.values()),
          'the traffic failed: %s' % lines)
    stats = query_stats(vdpa, 'vdpa_ifcvf_sim0', 2 * qp)
    peer = query_stats(vdpa, 'vdpa_ifcvf_sim1', 2 * qp)
    print(format_stats('vdpa_ifcvf_sim0', stats))
    print(format_stats('vdpa_ifcvf_sim1', peer))
    t.send('\n')
    rc = t.wait_exit(30)
    check(rc == 0, 'vdpa_traffic failed (exit %s)' % rc)
    for dev, st in (('vdpa_ifcvf_sim0', stats), ('vdpa_ifcvf_sim1', peer)):
        check(sorted(st) == list(range(2 * qp)),
              '%s: stats for queues %s' % (dev, sorted(st)))
        for q, s in st.items():
            check(s.get('completed_descriptors', 0) > 0,
                  '%s queue %d: no completed descriptors' % (dev, q))
            check(s.get('kicks_relayed', 0) > 0,
                  '%s queue %d: no kicks relayed' % (dev, q))
    finish(env, tp)


# -- the demo ----------------------------------------------------------------

def fwd_stats(text):
    """(rx, tx) of the last `Forward statistics for port 0` block."""
    i = text.rfind('Forward statistics for port 0')
    check(i >= 0, 'no forward statistics')
    rx = re.search(r'RX-packets:\s+(\d+)', text[i:])
    tx = re.search(r'TX-packets:\s+(\d+)', text[i:])
    check(rx and tx, 'unreadable forward statistics')
    return int(rx.group(1)), int(tx.group(1))


DEMO_BURSTS = 8


def demo(env, seconds=5.0):
    qp = 2
    print('demo: dpdk-vdpa with two simulated IFCVFs wired together, %d '
          'queue pairs each;' % qp)
    print('      a testpmd on each vhost-user socket in io forwarding, both '
          'primed with')
    print('      "start tx_first %d": packets circulate both ways for %g s' % (
        DEMO_BURSTS, seconds))
    vdpa = env.start_vdpa(sim_pair(qp), interactive=True)
    devs = ['vdpa_ifcvf_sim0', 'vdpa_ifcvf_sim1']
    env.create_ports(vdpa, devs)
    tps = []
    for i, dev in enumerate(devs):
        tps.append(env.start_testpmd('testpmd%d' % i, env.sock(i), qp,
                                     mode='io', interactive=True))
        env.wait_configured(dev)
    for tp in tps:
        tp.wait_log(r'testpmd> ', 20, what='the testpmd prompt')
    for tp in tps:
        tp.send('start tx_first %d\n' % DEMO_BURSTS)
    t0 = time.monotonic()
    for tp in tps:
        tp.wait_log(r'io packet forwarding', 10, what='forwarding')
    time.sleep(seconds)
    for tp in tps:
        tp.send('stop\n')
    elapsed = time.monotonic() - t0
    for tp in tps:
        tp.wait_log(r'^Done\.', 20, what='the forward statistics')
    stats = [query_stats(vdpa, dev, 2 * qp) for dev in devs]
    counts = [fwd_stats(tp.text()) for tp in tps]
    ok = True
    print('testpmd forward statistics over %.1f s:' % elapsed)
    for a, b in ((0, 1), (1, 0)):
        rx = counts[b][0]
        ok = ok and rx > 0
        print('  testpmd%d -> %s -> %s -> testpmd%d: %d sent, %d received, '
              '%.0f packets/s' % (a, devs[a], devs[b], b, counts[a][1], rx,
                                  rx / elapsed))
    print('driver statistics (dpdk-vdpa: stats <device> 0xffff):')
    for dev, st in zip(devs, stats):
        print(format_stats(dev, st))
    for tp in tps:
        check(env.stop_testpmd(tp) == 0, '%s did not quit cleanly' % tp.name)
    env.stop_vdpa()
    check(ok, 'packets did not flow both ways')
    print('demo: packets flowed both ways, clean exit')


TESTS = {
    'traffic_1q': test_traffic_1q,
    'traffic_4q': test_traffic_4q,
    'virtio_profile': test_virtio_profile,
    'reconnect_100': test_reconnect_100,
    'kill9': test_kill9,
    'hugepages_grow': test_hugepages_grow,
    'hugepages_grow_virtio': test_hugepages_grow_virtio,
    'bad_devargs': test_bad_devargs,
    'stats': test_stats,
}


def main(argv):
    if len(argv) < 3 or (argv[2] not in TESTS and argv[2] not in
                         ('demo', 'list')):
        print('usage: %s <builddir> <test>|demo [seconds]|list\ntests: %s' % (
            argv[0], ' '.join(TESTS)), file=sys.stderr)
        return 2
    if argv[2] == 'list':
        print('\n'.join(TESTS))
        return 0
    build = os.path.abspath(argv[1])
    name = argv[2]
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    env = Env(build, name)
    start = time.monotonic()
    try:
        if name == 'demo':
            demo(env, float(argv[3]) if len(argv) > 3 else 5.0)
        else:
            TESTS[name](env)
        print('%s: passed in %.1f s' % (name, time.monotonic() - start))
        return EXIT_PASS
    except Skip as e:
        print('skipped: %s' % e)
        return EXIT_SKIP
    except Failure as e:
        print('%s: FAILED after %.1f s: %s' % (name, time.monotonic() - start,
                                               e))
        env.report_logs()
        return EXIT_FAIL
    except Exception:  # pylint: disable=broad-except
        print('%s: harness error:' % name)
        traceback.print_exc(file=sys.stdout)
        env.report_logs()
        return EXIT_FAIL
    finally:
        env.close()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
