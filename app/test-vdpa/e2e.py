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
import json
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

# The driver, and the simulator's plugin, which needs it loaded first.
PLUGIN = 'librte_vdpa_ifc.so'
SIM_PLUGIN = 'librte_vdpa_ifc_sim.so'
LOG_LEVEL = '--log-level=pmd.vdpa.ifcvf*:info'
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


def dpdk_env(extra=None):
    """@extra for dpdk-vdpa or testpmd, and in the sanitizer build
    (IFCVF_SAN_PRELOAD, set by its meson test setup) LD_PRELOAD of the
    sanitizer runtimes: these programs are not sanitized, the plugin is,
    and DPDK's own code in them gets checked too."""
    env = dict(extra or {})
    preload = os.environ.get('IFCVF_SAN_PRELOAD')
    if preload:
        env['LD_PRELOAD'] = preload
    return env


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

    # -- the programs ---------------------------------------------------

    def plugins(self, plugin_dir=None):
        """EAL's -d arguments for the driver (the build's, or the folder
        @plugin_dir; '': no plugin at all) and the simulator's plugin after
        it, and the environment that finds them by their bare names (EAL
        refuses a path below a world-writable folder). EAL opens the files
        it is given before those of a folder: the simulator's plugin finds
        the driver it needs through LD_LIBRARY_PATH, @plugin_dir's then,
        and EAL opens that same file again later."""
        if plugin_dir == '':
            return [], None
        libs = [plugin_dir or self.path('drivers', 'vdpa', 'ifc'),
                self.path('drivers', 'vdpa', 'ifc_sim')]
        return (['-d', plugin_dir or PLUGIN, '-d', SIM_PLUGIN],
                {'LD_LIBRARY_PATH': ':'.join(libs)})

    def start_vdpa(self, vdevs, interactive=False, name='vdpa',
                   plugin_dir=None, log_level=LOG_LEVEL):
        """dpdk-vdpa with the plugins and @vdevs (vdev strings); with
        @plugin_dir, the driver from that folder (plugins())."""
        plugins, libs = self.plugins(plugin_dir)
        argv = ['stdbuf', '-oL', self.path('app', 'test-vdpa', 'dpdk-vdpa'),
                '-l', '0', '--no-pci', '--no-huge', '-m', '256',
                '--file-prefix=' + self.prefix(name)]
        argv += plugins + log_level.split()
        for v in vdevs:
            argv += ['--vdev', v]
        argv.append('--')
        if interactive:
            argv.append('--interactive')
        else:
            argv += ['--iface', os.path.join(self.sockdir, 'sock')]
        proc = Proc(self, name, argv, dpdk_env(libs))
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
        """Until @dev was configured @count times and runs (telemetry)."""
        def ready():
            check(self.vdpa.alive(), 'dpdk-vdpa exited (%s) before %s was '
                  'configured' % (self.vdpa.popen.returncode, dev))
            info = vf_info(self, dev, self.vdpa.name)
            return info['configures'] >= count and info['state'] == 'running'
        check(wait_until(ready, timeout, step=0.25),
              '%s was not configured %d time(s) within %d s' % (
                  dev, count, timeout))

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
        proc = Proc(self, name, argv, dpdk_env())
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
        """With every frontend gone: check every VF stopped and left no
        mapping, then quit dpdk-vdpa cleanly."""
        vdpa = vdpa or self.vdpa
        for dev in telemetry(self, '/vdpa_ifcvf/list', vdpa.name,
                             required=vdpa.alive()) or []:
            check_closes(self, dev, 0, vdpa.name, stopped=True)
        rc = vdpa.stop('quit\n' if vdpa.interactive else 'q\n')
        check(rc is not None, 'dpdk-vdpa did not quit within 15 s')
        check(rc == 0, 'dpdk-vdpa exited with %d' % rc)


# -- helpers of the tests ----------------------------------------------------

def sim_pair(qp, extra=''):
    return ['vdpa_ifcvf_sim0,wire=vdpa_ifcvf_sim1,qp=%d%s' % (qp, extra),
            'vdpa_ifcvf_sim1,qp=%d%s' % (qp, extra)]


def check_closes(env, dev, least, name=None, stopped=False, timeout=10):
    """@dev closed @least times or more (and stopped, with @stopped), and
    at rest: a simulated VF's IOMMU holds the VF's DMA windows, none once
    it stopped. The last view of the VF."""
    seen = {}

    def at_rest():
        a, sim, b = telemetry_many(env, ['/vdpa_ifcvf/info,' + dev,
                                         '/vdpa_ifcvf_sim/info,' + dev,
                                         '/vdpa_ifcvf/info,' + dev], name,
                                   required=False)
        seen.update(vf=b, sim=sim)
        if a is None or b is None or (sim is None and b['bus'] == 'sim'):
            return False
        same = all(a[k] == b[k] for k in ('closes', 'configures', 'state',
                                           'dma_windows'))
        rest = sim is None or (
            sim['iommu_mappings'] == b['dma_windows'] and
            (b['state'] == 'running' or sim['iommu_mappings'] == 0))
        return (same and rest and b['closes'] >= least and
                (not stopped or b['state'] == 'stopped'))
    check(wait_until(at_rest, timeout, step=0.1),
          '%s: not at rest (%d closes or more%s, no mapping left): %s' % (
              dev, least, ', stopped' if stopped else '', seen))
    return seen['vf']


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


def wired_with_peer(env, qp, extra='', queues=None, **vdpa_kw):
    """dpdk-vdpa with two wired sims and testpmd macswap on sock1."""
    queues = queues or qp
    env.start_vdpa(sim_pair(qp, extra), **vdpa_kw)
    env.wait_socks(2)
    tp = env.start_testpmd('testpmd1', env.sock(1), queues)
    env.wait_configured('vdpa_ifcvf_sim1')
    tp.wait_log(r'Press enter to exit', 20, what='testpmd forwarding')
    return tp


def finish(env, tp):
    check(env.stop_testpmd(tp) is not None, 'testpmd did not quit')
    env.stop_vdpa()


def traffic_test(env, qp, extra='', count=5000, more=None, **vdpa_kw):
    """Traffic on @qp pairs, then @more(env) while dpdk-vdpa runs."""
    tp = wired_with_peer(env, qp, extra, **vdpa_kw)
    out = env.run_traffic('traffic', env.sock(0), qp, ['--count', count])
    lines = queue_lines(out)
    check(sorted(lines) == list(range(qp)),
          'expected a line per queue 0..%d, got %s' % (qp - 1, sorted(lines)))
    for q, v in sorted(lines.items()):
        check(v[1] == count and count > 0,
              'queue %d received %d of %d' % (q, v[1], count))
    print(''.join('  ' + ln + '\n' for ln in out.splitlines()
                  if ln.startswith(('queue ', 'round trips'))), end='')
    check_closes(env, 'vdpa_ifcvf_sim0', 1)
    if more:
        more(env)
    finish(env, tp)


# -- the tests ---------------------------------------------------------------

def test_traffic_1q(env):
    traffic_test(env, 1)


def test_traffic_4q(env):
    traffic_test(env, 4)


def test_traffic_poll(env):
    """Both VFs ask for the polling relay: the same traffic, and the relay
    thread did start polling."""
    def polling(env):
        relay = telemetry(env, '/vdpa_ifcvf/relay')
        check(relay['running'] == 1 and relay['mode'] == 'poll' and
              relay['cpu'] == -1 and relay['sources'] > 0,
              'the relay does not poll for the peer\'s VF: %s' % relay)
        print('  relay: %s' % relay)
    traffic_test(env, 2, ',relay=poll', more=polling)


def test_virtio_profile(env):
    def virtio_vfs(env):
        for dev in ('vdpa_ifcvf_sim0', 'vdpa_ifcvf_sim1'):
            info = vf_info(env, dev)
            check(info['profile'] == 'virtio' and info['lm_block'] == 0,
                  '%s did not come up with the virtio profile: %s' % (
                      dev, info))
    traffic_test(env, 1, ',profile=virtio', more=virtio_vfs)


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
    n = check_closes(env, 'vdpa_ifcvf_sim0', cycles)['closes']
    print('  %d cycles, %d closes, no mapping left; fds %d threads %d before '
          'and after' % (cycles, n, before[0], before[1]))
    finish(env, tp)


def test_kill9(env):
    tp = wired_with_peer(env, 2)
    n0 = vf_info(env, 'vdpa_ifcvf_sim0')['closes']
    t = env.start_traffic('traffic_killed', env.sock(0), 2,
                          ['--count', 50000000])
    env.wait_configured('vdpa_ifcvf_sim0')
    time.sleep(1)
    check(t.alive(), 'vdpa_traffic ended before it was killed')
    t.popen.send_signal(signal.SIGKILL)
    t.wait_exit(10)
    check_closes(env, 'vdpa_ifcvf_sim0', n0 + 1)
    check(env.vdpa.alive(), 'dpdk-vdpa died with the frontend')
    env.run_traffic('traffic', env.sock(0), 2, ['--count', 5000])
    finish(env, tp)


def test_second_socket(env):
    """One VF on two sockets (dpdk-vdpa's create, twice): the VF serves
    the first frontend; the second one's configuration is refused, and its
    queues, its features and its end leave the first one's VF running:
    traffic flows through it after the second frontend has gone."""
    dev = 'vdpa_ifcvf_sim1'
    vdpa = env.start_vdpa(sim_pair(1), interactive=True)
    env.create_ports(vdpa, ['vdpa_ifcvf_sim0', dev, dev])
    tp = env.start_testpmd('testpmd1', env.sock(1), 1)
    env.wait_configured(dev)
    tp.wait_log(r'Press enter to exit', 20, what='testpmd forwarding')
    other = env.start_testpmd('testpmd2', env.sock(2), 1)
    other.wait_log(r'Press enter to exit', 20, what='the second frontend')
    time.sleep(0.5)
    check(env.stop_testpmd(other) is not None, 'testpmd2 did not quit')
    time.sleep(0.5)
    info = vf_info(env, dev)
    check(info['state'] == 'running' and info['configures'] == 1 and
          info['closes'] == 0, '%s after the second frontend came and went '
          '(want running, configured once, never closed): %s' % (dev, info))
    refused = info['errors']['other_frontend']
    check(refused > 0, '%s: no request of the second frontend was refused: '
          '%s' % (dev, info['errors']))
    env.run_traffic('traffic', env.sock(0), 1, ['--count', 2000])
    print('  %s: running, configured once, not closed by the second '
          'frontend (%d of its requests refused); traffic flows through '
          'it' % (dev, refused))
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


def test_hugepages_grow(env, extra='', loss=(), shadow=False):
    """vdpa_traffic grows its memory: the new memory table reaches the
    driver as a close and a new configuration (with @shadow, on shadow
    rings)."""
    mnt = setup_hugepages(env, 160)
    tp = wired_with_peer(env, 2, extra)
    out = env.run_traffic('traffic', env.sock(0), 2,
                          ['--count', 20000, '--grow-mb', 64] + list(loss),
                          huge_dir=mnt)
    check('grew memory by 64 MiB: ok' in out, 'vdpa_traffic could not grow')
    info = check_closes(env, 'vdpa_ifcvf_sim0', 1)
    check(info['configures'] > 1, 'vdpa_ifcvf_sim0 was configured %d '
          'times: no new memory table reached the driver' %
          info['configures'])
    check(not shadow or info['shadow_setups'] > 0,
          'the VF was not put on shadow rings: %s' % info)
    print('  configured %d times, %d closes, no mapping left, %d shadow-ring '
          'set-ups' % (info['configures'], info['closes'],
                       info['shadow_setups']))
    finish(env, tp)


def test_hugepages_grow_virtio(env):
    """The same on VFs without ring-state registers: they cannot resume a
    ring at its index after the new memory table, the driver puts them on
    shadow rings. Each restart is a device reset, which drops the frames
    waiting in the VF (as a NIC's reset does): a bounded loss, one window
    of frames per queue at most."""
    test_hugepages_grow(env, ',profile=virtio',
                        ['--max-loss', 128, '--timeout', 2], shadow=True)


# Each refusal is one error line of the plugins that names what the user
# gave and what would be accepted instead: those words, not the wording.
BAD_DEVARGS = [
    ('qp=0', ['qp=0', '1 to 32']),
    ('profile=bogus', ['profile=bogus', 'ifcvf', 'virtio']),
    ('nosuchkey=1', ['"nosuchkey"', 'qp', 'profile', 'wire', 'mac',
                     'sw-live-migration', 'relay', 'relay-core']),
    # A bare key: refused before any parser sees it.
    ('disk', ['"disk"', 'disk=...']),
    ('relay=busy', ['relay=busy', 'epoll', 'poll']),
    ('relay-core=nine', ['relay-core=nine', 'CPU']),
    ('relay-core=100000', ['relay-core=100000', 'CPU']),
    # One relay thread for the process: a second VF may not ask for another
    # (the first one is served: one socket).
    ('relay=poll', ['vdpa_ifcvf_sim1', 'relay=epoll', 'relay=poll'],
     ['vdpa_ifcvf_sim1,relay=epoll']),
    ('relay=poll,relay-core=0',
     ['vdpa_ifcvf_sim1', 'relay=poll', 'relay=poll,relay-core=0'],
     ['vdpa_ifcvf_sim1,relay=poll']),
]


def test_bad_devargs(env):
    for i, (arg, words, *more) in enumerate(BAD_DEVARGS):
        name = 'vdpa%d' % i
        good = 1 if more else 0
        vdpa = env.start_vdpa(['vdpa_ifcvf_sim0,' + arg] + sum(more, []),
                              name=name)
        env.vdpa = vdpa
        wait_until(lambda v=vdpa: not v.alive() or
                   'enter \'q\' to quit' in v.text(), 15)
        time.sleep(0.3)
        check(os.path.exists(env.sock(0)) == (good == 1),
              '%s: %d vhost-user sockets expected' % (arg, good))
        check(not os.path.exists(env.sock(good)),
              '%s: a vhost-user socket for the refused VF' % arg)
        rc = vdpa.stop('q\n')
        log = vdpa.text()
        # The driver's lines (IFCVF:) or the simulator plugin's
        # (IFCVF_SIM:, its own keys).
        errs = [ln for ln in log.splitlines() if 'IFCVF' in ln and
                all(w in ln for w in words)]
        check(errs, '%s: no log line of the plugins names all of %s' %
              (arg, words))
        print('  %s: exit %s, %s' % (arg, rc, errs[0].strip()))


def parse_stats(text, dev):
    """{queue: {name: value}} from the last `stats <dev>` output, up to
    the prompt after it. Lines of other threads (the driver's, vhost's
    log) may come in between: only the block's own (tab-indented) lines
    count."""
    i = text.rfind('Device %s:' % dev)
    check(i >= 0, 'no statistics of %s' % dev)
    res, q = {}, None
    for line in text[i:].splitlines()[1:]:
        if line.startswith('vdpa>'):
            break
        m = re.match(r'\tVirtq (\d+):', line)
        if m:
            q = int(m.group(1))
            res[q] = {}
            continue
        m = re.match(r'\t\t(\w+)\s+(\d+)\s*$', line)
        if m and q is not None and m.group(1) in STAT_NAMES:
            res[q][m.group(1)] = int(m.group(2))
    return res


def query_stats(vdpa, dev, nq):
    """Ask interactive dpdk-vdpa for @dev's statistics of @nq queues."""
    head = 'Device %s:' % dev
    before = vdpa.text().count(head)
    vdpa.send('stats %s 0xffff\n' % dev)

    def answered():
        text = vdpa.text()
        if text.count(head) <= before:
            return None
        st = parse_stats(text, dev)
        full = len(st) == nq and all(len(v) == len(STAT_NAMES)
                                     for v in st.values())
        return st if full else None
    st = wait_until(answered, 10)
    check(st, 'vdpa: no statistics of %s within 10 s' % dev)
    return st


def format_stats(dev, stats):
    lines = []
    for q, s in sorted(stats.items()):
        kind = 'rx' if q % 2 == 0 else 'tx'
        lines.append('  %s queue %d (%s): %s' % (dev, q, kind, ' '.join(
            '%s %d' % (k, s.get(k, 0)) for k in STAT_NAMES)))
    return '\n'.join(lines)


def test_stats(env, extra=''):
    qp = 2
    vdpa = env.start_vdpa(sim_pair(qp, extra), interactive=True)
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


def test_stats_poll(env):
    """The same counters with the relay polling: doorbells rung on new
    avail entries count as kicks relayed, the stats timer still samples."""
    test_stats(env, ',relay=poll')


# -- telemetry ---------------------------------------------------------------

def telemetry_many(env, cmds, name=None, required=True):
    """The answers to @cmds, through DPDK's own client (dpdk-telemetry.py)
    on one connection to process @name (the first dpdk-vdpa's if None);
    None for a command not answered, a failure if @required."""
    name = name or (env.vdpa.name if env.vdpa else 'vdpa')
    try:
        out = subprocess.run(['dpdk-telemetry.py', '-f',
                              env.prefix_of(name)],
                             input=''.join(c + '\n' for c in cmds),
                             capture_output=True, text=True,
                             timeout=10).stdout
    except subprocess.TimeoutExpired:
        out = ''
    # The client prints the connection's greeting, then one JSON object
    # per command, each at the start of a line.
    objs = [json.loads(l) for l in out.splitlines() if l.startswith('{"/')]
    answers = [o.get(c.split(',')[0]) for o, c in zip(objs, cmds)]
    answers += [None] * (len(cmds) - len(answers))
    check(not required or None not in answers,
          'no telemetry answer to %s: %s' % (cmds, out[-300:]))
    return answers


def telemetry(env, cmd, name=None, required=True):
    return telemetry_many(env, [cmd], name, required)[0]


TRUTH_PER_REPLY = 256  # page frames a /vdpa_ifcvf_sim/truth reply lists


def sim_truth(env, dev):
    """The simulator's record of the pages VF @dev's device wrote since
    its reset (stable once the device stopped), a set of page frames: the
    first reply says how many, one connection asks for the rest."""
    cmd = '/vdpa_ifcvf_sim/truth,%s,%%d' % dev
    first = telemetry(env, cmd % 0)
    rest = range(len(first['pfns']), first['pages'], TRUTH_PER_REPLY)
    replies = [first] + (telemetry_many(env, [cmd % i for i in rest])
                         if rest else [])
    pfns = {p for r in replies for p in r['pfns']}
    check(len(pfns) == first['pages'] and
          all(r['pages'] == first['pages'] for r in replies),
          '%s: the truth changed while read (%d pages of %d)' % (
              dev, len(pfns), first['pages']))
    return pfns


# The kinds of error /vdpa_ifcvf/info counts (ifc.rst, Telemetry).
ERROR_KINDS = {'bad_ring', 'bad_memory', 'too_many_queues', 'bad_log',
               'config_refused', 'other_frontend', 'needs_reset'}


def vf_info(env, dev, name=None):
    return telemetry(env, '/vdpa_ifcvf/info,' + dev, name)


def check_running_vf(env, dev, qp):
    info = telemetry(env, '/vdpa_ifcvf/info,' + dev)
    print('  %s: %s' % (dev, info))
    check(info['bus'] == 'sim' and info['profile'] == 'ifcvf' and
          info['lm_block'] == 1, '%s: bus or profile %s' % (dev, info))
    check(info['state'] == 'running' and info['queues'] == 2 * qp,
          '%s: not running on %d queues: %s' % (dev, 2 * qp, info))
    check(info['logging'] == 'off' and info['dma_windows'] >= 1 and
          info['dma_bytes'] > 0, '%s: logging or DMA windows %s' % (dev, info))
    check(info['configures'] == 1 and info['closes'] == 0 and
          info['shadow_setups'] == 0 and info['hw_log_setups'] == 0 and
          info['drain_abandoned'] == 0,
          '%s: configured once, never closed or logging: %s' % (dev, info))
    errors = info['errors']
    check(set(errors) == ERROR_KINDS and not any(errors.values()),
          '%s: errors %s' % (dev, errors))
    routes = info['msix_routes']
    check(len(routes) == 2 * qp + 1 and all(fd >= 0 for fd in routes),
          '%s: MSI-X routes %s' % (dev, routes))
    for q in range(2 * qp):
        st = telemetry(env, '/vdpa_ifcvf/queue,%s,%d' % (dev, q))
        check(st['enabled'] == 1 and st['mode'] == 'direct' and
              st['completed_descriptors'] > 0 and st['kicks_relayed'] > 0,
              '%s queue %d: %s' % (dev, q, st))
    sim = telemetry(env, '/vdpa_ifcvf_sim/info,' + dev)
    check(sim['iommu_mappings'] == info['dma_windows'] and
          sim['dma_faults'] == 0 and sim['starts'] >= 1 and
          sim['reset_drops'] == 0,
          '%s: simulated IOMMU, starts or reset drops %s' % (dev, sim))
    # virtio-user is a VERSION_1 frontend: the 12-byte header.
    check(sim['driver_features'] == info['features'] and
          sim['net_header'] == 12,
          '%s: the device runs with %s, the driver negotiated %#x' %
          (dev, sim, info['features']))
    return sim['starts']


def test_telemetry(env):
    qp = 2
    devs = ['vdpa_ifcvf_sim0', 'vdpa_ifcvf_sim1']
    tp = wired_with_peer(env, qp)
    t = env.start_traffic('traffic', env.sock(0), qp,
                          ['--count', 2000, '--hold'])
    t.wait_log(r'^holding', 60, what='the end of the traffic')
    check(sorted(telemetry(env, '/vdpa_ifcvf/list')) == devs,
          'the VF list')
    starts = {dev: check_running_vf(env, dev, qp) for dev in devs}
    relay = telemetry(env, '/vdpa_ifcvf/relay')
    check(relay == {'running': 1, 'mode': 'epoll', 'cpu': -1,
                    'sources': relay['sources']} and relay['sources'] > 0,
          'the relay thread of running VFs: %s' % relay)
    t.send('\n')
    check(t.wait_exit(30) == 0, 'vdpa_traffic failed')
    check(env.stop_testpmd(tp) is not None, 'testpmd did not quit')
    def closed():
        return all(telemetry(env, '/vdpa_ifcvf/info,' + d)['state'] ==
                   'stopped' for d in devs)
    check(wait_until(closed, 10), 'the VFs did not stop')
    relay = telemetry(env, '/vdpa_ifcvf/relay')
    check(relay['running'] == 0 and relay['sources'] == 0,
          'the relay thread runs with every VF stopped: %s' % relay)
    for dev in devs:
        info = telemetry(env, '/vdpa_ifcvf/info,' + dev)
        sim = telemetry(env, '/vdpa_ifcvf_sim/info,' + dev)
        check(info['dma_windows'] == 0 and info['msix_routes'] == [] and
              info['closes'] == 1 and info['configures'] == 1 and
              sim['iommu_mappings'] == 0 and sim['starts'] == starts[dev],
              '%s: left after the close (or started again): %s %s' % (
                  dev, info, sim))
        # The device's record of the pages it wrote (RX buffers, used
        # rings), paged; empty again after a reset.
        truth = sim_truth(env, dev)
        check(len(truth) > TRUTH_PER_REPLY and
              len(truth) == sim['pages_written'],
              '%s: %d pages in the truth, %d written' % (
                  dev, len(truth), sim['pages_written']))
        telemetry(env, '/vdpa_ifcvf_sim/truth_reset,' + dev)
        check(not sim_truth(env, dev) and telemetry(
            env, '/vdpa_ifcvf_sim/info,' + dev)['pages_written'] == 0,
              '%s: the truth is not empty after its reset' % dev)
        print('  %s: the device wrote %d pages, %d truth replies' % (
            dev, len(truth), -(-len(truth) // TRUTH_PER_REPLY)))
    env.stop_vdpa()


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


# -- meson install -----------------------------------------------------------

INSTALLED = 'librte_vdpa_ifcvf_oot.so'
DPDK_IFC = 'librte_vdpa_ifc.so'
EAL_DEBUG = '--log-level=lib.eal:debug'
OPENED_RE = re.compile(r'open shared lib (\S+)')


def world_writable_parent(path):
    """The first folder above @path others may write (EAL refuses a
    plugin below one), or None."""
    d = os.path.dirname(os.path.realpath(path))
    while True:
        if os.stat(d).st_mode & 0o002:
            return d
        if d == '/':
            return None
        d = os.path.dirname(d)


def eal_opened(vdpa):
    return OPENED_RE.findall(vdpa.text())


def test_installed_plugin(env):
    """meson install --destdir: the plugin lands in the installed DPDK's
    own plugin folder (the one EAL loads without -d), not over Debian's
    librte_vdpa_ifc.so, and it is the only file (the simulator's plugin is
    not installed); dpdk-vdpa given only that staged folder for the driver
    (-d DIR, no file) and the build's simulator plugin loads it next to
    DPDK's own IFC driver and our drivers take the devices: traffic
    through two sims."""
    stage = os.path.join(env.dir, 'stage')
    out = subprocess.run(['meson', 'install', '-C', env.build, '--destdir',
                          stage, '--no-rebuild', '--quiet'],
                         capture_output=True, text=True, timeout=120)
    check(out.returncode == 0, 'meson install failed: %s' % out.stderr)
    files = [os.path.join(d, f)[len(stage):]
             for d, _, fs in os.walk(stage) for f in fs]
    check(len(files) == 1 and os.path.basename(files[0]) == INSTALLED,
          'meson install put %s, want one %s' % (files, INSTALLED))
    pmd_dir = os.path.dirname(files[0])

    # The folder EAL loads by itself: where it opens DPDK's own plugins
    # from in a run without -d, and where Debian's IFC driver is.
    bare = env.start_vdpa([], name='bare', plugin_dir='',
                          log_level=EAL_DEBUG)
    bare.wait_log(r'open shared lib \S*/%s' % re.escape(DPDK_IFC), 15,
                  what='EAL loading DPDK\'s own IFC driver')
    time.sleep(0.5)
    bare.kill()
    env.vdpa = None
    dirs = sorted({os.path.dirname(p) for p in eal_opened(bare)})
    check(dirs == [pmd_dir], 'EAL loads plugins by itself from %s, meson '
          'installs into %s' % (dirs, pmd_dir))
    debian = [f for f in os.listdir(pmd_dir) if f.startswith(DPDK_IFC)]
    check(debian and INSTALLED not in debian and
          not INSTALLED.startswith(DPDK_IFC),
          'the installed name %s is one of Debian\'s %s' % (INSTALLED, debian))

    staged = stage + pmd_dir
    ww = world_writable_parent(staged)
    if ww:
        raise Skip('%s is world-writable: EAL refuses plugins below it' % ww)
    traffic_test(env, 1, plugin_dir=staged,
                 log_level=LOG_LEVEL + ' ' + EAL_DEBUG)
    opened = eal_opened(env.vdpa)
    ours = os.path.join(staged, INSTALLED)
    check(ours in opened, 'EAL did not load %s: %s' % (ours, opened))
    check(os.path.join(pmd_dir, DPDK_IFC) in opened,
          'DPDK\'s own %s was not loaded too' % DPDK_IFC)
    text = env.vdpa.text()
    check('net_ifcvf' not in text, 'DPDK\'s net_ifcvf claimed something')
    print('  %s, next to %s' % (ours, os.path.join(pmd_dir, DPDK_IFC)))


TESTS = {
    'traffic_1q': test_traffic_1q,
    'traffic_4q': test_traffic_4q,
    'traffic_poll': test_traffic_poll,
    'virtio_profile': test_virtio_profile,
    'reconnect_100': test_reconnect_100,
    'kill9': test_kill9,
    'hugepages_grow': test_hugepages_grow,
    'hugepages_grow_virtio': test_hugepages_grow_virtio,
    'bad_devargs': test_bad_devargs,
    'stats': test_stats,
    'stats_poll': test_stats_poll,
    'telemetry': test_telemetry,
    'second_socket': test_second_socket,
    'installed_plugin': test_installed_plugin,
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
    if name == 'demo':
        return run_test(env, lambda: demo(
            env, float(argv[3]) if len(argv) > 3 else 5.0))
    return run_test(env, lambda: TESTS[name](env))


def run_test(env, fn):
    """Run test @fn() in @env, say how it went, close @env; the exit
    code (the blk suite's runner shares it)."""
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


if __name__ == '__main__':
    sys.exit(main(sys.argv))
