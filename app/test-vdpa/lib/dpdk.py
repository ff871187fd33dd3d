#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
"""The DPDK programs of a test run (dpdk-vdpa with both plugins, testpmd
and vdpa_traffic on net_virtio_user) and what the runners read of them:
telemetry through DPDK's own client, dpdk-vdpa's statistics."""

import json
import os
import re
import subprocess

import harness
from harness import Failure, Proc, check, wait_until

# The driver, and the simulator's plugin, which needs it loaded first.
PLUGIN = 'librte_vdpa_ifc.so'
SIM_PLUGIN = 'librte_vdpa_ifc_sim.so'
LOG_LEVEL = '--log-level=pmd.vdpa.ifcvf*:info'
STAT_NAMES = ('completed_descriptors', 'kicks_relayed', 'interrupts_relayed',
              'used_entries_relayed')


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


class Env(harness.Env):
    """A test run that starts DPDK programs; the first dpdk-vdpa is
    self.vdpa."""

    def __init__(self, build, name, suite='e2e', tag='e2e'):
        super().__init__(build, name, suite, tag)
        self.vdpa = None


    def plugins(self, plugin_dir=None, sim_plugin=None):
        """EAL's -d arguments for the driver (the build's, or the folder
        @plugin_dir; '': no plugin at all) and the simulator's plugin after
        it (the build's, or the file @sim_plugin), and the environment
        that finds them by their bare names (EAL
        refuses a path below a world-writable folder). EAL opens the files
        it is given before those of a folder: the simulator's plugin finds
        the driver it needs through LD_LIBRARY_PATH, @plugin_dir's then,
        and EAL opens that same file again later."""
        if plugin_dir == '':
            return [], None
        sim = sim_plugin or self.path('drivers', 'vdpa', 'ifc_sim',
                                      SIM_PLUGIN)
        libs = [plugin_dir or self.path('drivers', 'vdpa', 'ifc'),
                os.path.dirname(sim)]
        return (['-d', plugin_dir or PLUGIN, '-d', os.path.basename(sim)],
                {'LD_LIBRARY_PATH': ':'.join(libs)})

    def start_vdpa(self, vdevs, interactive=False, name='vdpa',
                   plugin_dir=None, sim_plugin=None, log_level=LOG_LEVEL):
        """dpdk-vdpa with the plugins and @vdevs (vdev strings); with
        @plugin_dir or @sim_plugin, the driver from that folder or that
        simulator's plugin (plugins())."""
        plugins, libs = self.plugins(plugin_dir, sim_plugin)
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
        argv = [self.path('app', 'test-vdpa', 'e2e', 'vdpa_traffic'), '-l', '1',
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


def vf_info(env, dev, name=None):
    return telemetry(env, '/vdpa_ifcvf/info,' + dev, name)
