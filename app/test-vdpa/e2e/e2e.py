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

import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'lib'))
# pylint: disable=wrong-import-position
from harness import (Skip, catch_signals, check, run_test,  # noqa: E402
                     umount, wait_until)
from dpdk import (LOG_LEVEL, TRUTH_PER_REPLY, Env,  # noqa: E402
                  check_closes, format_stats, query_stats, sim_truth,
                  telemetry, vf_info)


# -- helpers of the tests ----------------------------------------------------

def sim_pair(qp, extra=''):
    return ['vdpa_ifcvf_sim0,wire=vdpa_ifcvf_sim1,qp=%d%s' % (qp, extra),
            'vdpa_ifcvf_sim1,qp=%d%s' % (qp, extra)]


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




def test_hugepages_grow(env, extra='', loss=None, shadow=False):
    """vdpa_traffic grows its memory: the new memory table reaches the
    driver as a close and a new configuration (with @shadow, on shadow
    rings). With @loss, each start of the VF after the first may drop up
    to that many frames per queue, and only the frames its resets
    dropped are lost."""
    mnt = setup_hugepages(env, 160)
    tp = wired_with_peer(env, 2, extra)
    args = ['--count', 20000, '--grow-mb', 64]
    if loss is not None:
        args += ['--max-loss', 16 * loss, '--timeout', 2]
    out = env.run_traffic('traffic', env.sock(0), 2, args, huge_dir=mnt)
    check('grew memory by 64 MiB: ok' in out, 'vdpa_traffic could not grow')
    info = check_closes(env, 'vdpa_ifcvf_sim0', 1)
    check(info['configures'] > 1, 'vdpa_ifcvf_sim0 was configured %d '
          'times: no new memory table reached the driver' %
          info['configures'])
    check(not shadow or info['shadow_setups'] > 0,
          'the VF was not put on shadow rings: %s' % info)
    sim = telemetry(env, '/vdpa_ifcvf_sim/info,vdpa_ifcvf_sim0')
    restarts = sim['starts'] - 1
    lost = [int(n) for n in re.findall(r'^queue \d+: .* lost (\d+) ', out,
                                       re.M)]
    check(len(lost) == 2, 'vdpa_traffic printed %d queue lines' % len(lost))
    check(max(lost) <= (loss or 0) * restarts, 'frames lost per queue: %s, '
          'more than %d in each of %d restarts' % (lost, loss or 0, restarts))
    check(sum(lost) == sim['reset_drops'], 'frames lost per queue: %s; the '
          'resets of vdpa_ifcvf_sim0 dropped %d' % (lost, sim['reset_drops']))
    print('  configured %d times, %d closes, no mapping left, %d shadow-ring '
          'set-ups, %d restarts of the VF, frames lost per queue: %s (as '
          'many as its resets dropped)' % (
              info['configures'], info['closes'], info['shadow_setups'],
              restarts, lost))
    finish(env, tp)


def test_hugepages_grow_virtio(env):
    """The same on VFs without ring-state registers: they cannot resume a
    ring at its index after the new memory table, the driver puts them on
    shadow rings. Each restart is a device reset, which drops the frames
    waiting in the VF (as a NIC's reset does): a bounded loss, one window
    of frames (128, vdpa_traffic's) per queue and restart at most."""
    test_hugepages_grow(env, ',profile=virtio', loss=128, shadow=True)


SIM_BLK_REFUSALS = {'zero_length', 'not_sectors', 'beyond_capacity',
                    'read_readable', 'write_writable', 'read_only',
                    'no_id_buffer', 'unsupported'}


# Each refusal is one error line of the plugins that names what the user
# gave and what would be accepted instead: those words, not the wording.
BAD_DEVARGS = [
    ('qp=0', ['qp=0', '1 to 32']),
    ('profile=bogus', ['profile=bogus', 'ifcvf', 'virtio']),
    ('type=bogus', ['type=bogus', 'net', 'blk']),
    ('fault=bogus', ['fault=bogus', 'blk_late', 'blk_stuck']),
    ('sw-live-migration=yes', ['sw-live-migration=yes', ' 0 ', ' 1']),
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


# The kinds of error /vdpa_ifcvf/info counts (ifc.rst, Telemetry).
ERROR_KINDS = {'bad_ring', 'bad_memory', 'too_many_queues', 'bad_log',
               'config_refused', 'other_frontend', 'needs_reset'}




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
    # A net VF: no block request refused or held.
    check(set(sim['blk_refused']) == SIM_BLK_REFUSALS and
          not any(sim['blk_refused'].values()) and sim['blk_held'] == 0 and
          sim['blk_held_until_reset'] == 0,
          '%s: block requests refused or held on a net VF: %s' % (dev, sim))
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

OTHER_BUILD_PLUGIN = 'librte_vdpa_ifc_sim_other.so'  # e2e/meson.build
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


def test_other_build(env):
    """The simulator's plugin of another build (its structs may differ
    from the driver's: IFCVF_BUS_ABI is not the driver's) gets no VF
    registered: ifcvf_bus_attach() refuses it, dpdk-vdpa runs with no
    vDPA device. The same run with the build's plugin, built from the
    same source with the same flags but for that digest, has its VF."""
    other = env.path('app', 'test-vdpa', 'e2e', OTHER_BUILD_PLUGIN)
    for name, sim_plugin, want in (('other', other, []),
                                   ('same', None, ['vdpa_ifcvf_sim0'])):
        vdpa = env.start_vdpa(['vdpa_ifcvf_sim0'], name=name,
                              sim_plugin=sim_plugin)
        # Telemetry answers once EAL probed the vdev.
        wait_until(lambda: telemetry(env, '/vdpa_ifcvf/list', name,
                                     required=False) is not None, 15)
        vfs = telemetry(env, '/vdpa_ifcvf/list', name)
        check(vfs == want, '%s build: the driver has VFs %s, want %s' % (
            name, vfs, want))
        check(vdpa.alive(), 'dpdk-vdpa (%s build) died' % name)
        vdpa.kill()
        env.vdpa = None
        print('  simulator plugin of the %s build: VFs %s' % (name, want))


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
    'other_build': test_other_build,
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
    catch_signals()
    env = Env(build, name)
    if name == 'demo':
        return run_test(env, lambda: demo(
            env, float(argv[3]) if len(argv) > 3 else 5.0))
    return run_test(env, lambda: TESTS[name](env))



if __name__ == '__main__':
    sys.exit(main(sys.argv))
