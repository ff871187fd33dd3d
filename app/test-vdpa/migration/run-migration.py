#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
"""The migration suite: QEMU as the vhost-user frontend, live-migrating a
Linux guest whose virtio-net device is served by dpdk-vdpa and this driver
on simulated VFs.

One dpdk-vdpa process holds four simulated VFs on two wires (the wire is
point to point):

    sim0 (A, source guest)       <-> sim2 (C) -- testpmd icmpecho port 0
    sim1 (B, destination guest)  <-> sim3 (D) -- testpmd icmpecho port 1

One testpmd in icmpecho mode answers on both C and D (--port-topology=loop),
so the guest's peer answers the same way before and after the move. The
guest (Debian's kernel, busybox, guest_ping) sends ICMP echo requests with
patterned payloads to the peer without pause and checks every reply byte and
both checksums; its counters come on the serial console.

Tests:
  qemu_hw      migrate, sims in HW dirty-logging mode (profile=ifcvf)
  qemu_sw      migrate, sims with sw-live-migration=1 (shadow rings + relay)
  qemu_cancel  a HW-mode migration cancelled half-way: the source goes on
  qemu_cancel_sw  the same in SW mode (shadow rings back to direct)
  qemu_virtio, qemu_cancel_virtio  the same on virtio-profile VFs (by hand)
  qemu_legacy_hw, qemu_legacy_sw  a legacy guest (disable-modern=on: virtio
               0.95 features, no VERSION_1), HW and SW mode
  qemu_legacy_nomrg  the same with mrg_rxbuf=off (10-byte headers), SW mode
  qemu_no_announce  qemu_hw with guest_announce=off: no announce after it
  qemu_mq_hw, qemu_mq_sw  qemu_hw and qemu_sw with 4 queue pairs, 4 guest
               CPUs and a checker pinned to each CPU (so to each TX queue)
  control_vhost  the migration with DPDK's software vhost backend, no vDPA
  qemu_reload  no migration: the guest reloads virtio_net (QEMU stops every
               vring, GET_VRING_BASE, and sets them up again), then QEMU's
               stop and cont; qemu_reload_virtio on virtio-profile VFs
  qemu_reset   the same with a QMP system_reset (the guest reboots)

Asserted: the destination QEMU (-S) holds, once loaded, exactly the
source's guest RAM, page for page (a page the device wrote after its last
transfer and nobody logged differs); replies flow before, during
(pre-copy) and after the migration (on the destination), no reply is corrupt or duplicated, and the requests
lost over the whole run are at most LOSS_BOUND (one window of requests in
flight) at the switch-over and as much at each restart of the source's VF
(SW mode's move onto shadow rings: a reset drops what the VF holds). With several queue
pairs, every pair carries traffic on the source and on the destination (the
driver's per-queue counters, the guest's, and each pinned checker's replies)
and every queue resumes at the index the source handed back. After the
switch-over the guest announces itself (gratuitous ARPs from its MAC,
counted and seen by the peer on the destination's wire) when it acked
GUEST_ANNOUNCE, and nothing announces it when the NIC has it off. A guest kernel oops
is a failure kind of its own (GUEST-OOPS), since QEMU 7.2 under TCG shows
one in about 26 migrations with any vhost backend.

    run-migration.py <builddir> <test> [--guest-ping BIN]
    exit 0 pass, 1 fail, 77 skipped. Logs: <builddir>/migration/<test>/
"""

import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'lib'))
# pylint: disable=wrong-import-position
import dpdk  # noqa: E402
from harness import (EXIT_SKIP, Failure, Proc,  # noqa: E402
                     catch_signals, check, wait_until)
from dpdk import (LOG_LEVEL, dpdk_env, format_stats,  # noqa: E402
                  query_stats)
from qemu import (OOPS_RE, QEMU, QemuGuest, Qmp,  # noqa: E402
                  build_image, check_log_mode, check_ram, check_ring_bases,
                  check_vdpa_alive, compare_ram, missing, poll_migration,
                  queue_status, ram_fd_path, run_attempts, run_guest_test,
                  truth_start, vf_logging, vring_bases)

VIRTIO_CONFIG_S_DRIVER_OK = 4
VIRTIO_F_VERSION_1 = 32
GUEST_MAC = '52:54:00:12:34:56'
PEER_MAC = '02:00:00:00:00:01'
WINDOW = 32            # echo requests the guest keeps in flight
# (128 overruns the guest's RX ring under TCG: loss without a migration)
LOSS_BOUND = WINDOW    # lost at the switch-over, and at each VF restart
MIN_REPLIES = 2000     # replies asked for in each phase
# qemu_reload: the guest's checker stops after this many (~1 s under TCG),
# then virtio_net is reloaded.
RELOAD_REPLIES = 10 * MIN_REPLIES
GUEST_MEM = '256M'
BOOT_TIMEOUT = 90
MIGRATE_TIMEOUT = 120
# Pre-copy bandwidth: long enough for several dirty-page rounds under
# traffic (the aim is to catch a page the device wrote but did not log).
MIGRATE_BW = 32 << 20
CANCEL_BW = 4 << 20

# One checker: "PING t=..."; one of several: "PING id=<i> cpu=<cpu> t=...".
PING_RE = re.compile(
    r'^PING (?:id=(\d+) cpu=(-?\d+) )?t=(\d+) sent=(\d+) rcvd=(\d+) '
    r'lost=(\d+) bad=(\d+) dup=(\d+) late=(\d+) txerr=(\d+) out=(\d+) '
    r'junk=(\d+)', re.M)
# Checker 0 of several: the guest's per-queue packet counters (ethtool -S).
QUEUES_RE = re.compile(r'^PING-QUEUES((?: [rt]x\d+=\d+)*)\s*$', re.M)
GUEST_QUEUES_RE = re.compile(r'MIG-GUEST: queues rx (\d+) tx (\d+), .*')
# Each start of the checkers (boot, module reload, reboot) begins a phase.
PHASE_RE = re.compile(r'^MIG-GUEST: eth0 up, ([0-9a-f:]+),', re.M)
PING_KEYS = ('t', 'sent', 'rcvd', 'lost', 'bad', 'dup', 'late', 'txerr',
             'out', 'junk')
WARN_RE = re.compile(r'WARNING: CPU: .*')
# At loglevel=4 the console shows errors only: any from virtio-net (a
# ring the device broke: "id 3 is not a head!") fails the run.
VIRTIO_ERR_RE = re.compile(r'(virtio_net virtio\d+: .*|NETDEV WATCHDOG.*)')


class Nic:
    """The guest's virtio-net-pci: modern or legacy only (disable-modern=on:
    the guest's legacy virtio_pci driver, virtio 0.95 features, no
    VERSION_1), MRG_RXBUF offered or not (without it a legacy guest's net
    header is 10 bytes, else 12), GUEST_ANNOUNCE offered or not."""

    def __init__(self, legacy=False, mrg=True, announce=True):
        self.legacy = legacy
        self.mrg = mrg
        self.announce = announce

    def props(self):
        return ''.join(p for on, p in (
            (self.legacy, ',disable-modern=on'),
            (not self.mrg, ',mrg_rxbuf=off'),
            (not self.announce, ',guest_announce=off')) if on)

    def hdr_len(self):
        return 12 if self.mrg or not self.legacy else 10


class Env(dpdk.Env):
    """One test run, in build/migration/<name>."""

    def __init__(self, build, name):
        super().__init__(build, name, suite='migration', tag='mig')

    def report_logs(self, verdict, lines=15):
        super().report_logs(verdict, lines)


# -- QMP -----------------------------------------------------------------------



# -- the guest -----------------------------------------------------------------

class Guest(QemuGuest):
    """A QEMU process: serial console in a file, QMP on a socket."""

    vdev = '/machine/peripheral/nic0/virtio-backend'

    def __init__(self, env, name, image, sock, incoming=None, pairs=1,
                 reload=0, phase=None, reboot=False, nic=None):
        self.env = env
        self.name = name
        self.pairs = pairs
        self.nr_vqs = 2 * pairs
        self.nic = nic or Nic()
        # The checkers' counters of one phase (a start of the checkers:
        # boot, module reload, reboot), or of the whole console if None.
        self.phase = phase
        self.reload = reload
        # Several pairs: as many CPUs, a checker pinned to each.
        mq = (',queues=%d' % pairs, ',mq=on') if pairs > 1 else ('', '')
        self.serial = os.path.join(env.dir, name + '.serial')
        self.qmp_path = os.path.join(env.sockdir, name + '.qmp')
        self.image = image
        kernel, initrd = image
        argv = [
            QEMU, '-accel', 'tcg', '-M', 'pc', '-smp', str(pairs),
            '-m', GUEST_MEM, '-object',
            'memory-backend-memfd,id=mem,size=%s,share=on' % GUEST_MEM,
            '-machine', 'memory-backend=mem',
            '-nodefaults', '-display', 'none',
            '-monitor', 'none', '-serial', 'file:' + self.serial,
            '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_path,
            '-chardev', 'socket,id=vu0,path=' + sock,
            '-netdev', 'vhost-user,id=net0,chardev=vu0' + mq[0],
            # vectors=0: QEMU 7.2 crashes starting a vhost-user device
            # with MSI-X under TCG (see the suite's README).
            '-device', 'virtio-net-pci,id=nic0,netdev=net0,vectors=0,'
                       'romfile=,mac=' + GUEST_MAC + mq[1] + self.nic.props(),
            '-kernel', kernel, '-initrd', initrd,
            '-append', 'console=ttyS0 panic=-1 oops=panic loglevel=4 '
                       'mig_peer=%s mig_window=%d mig_pairs=%d%s' % (
                           PEER_MAC, WINDOW, pairs,
                           ' mig_reload=%d' % reload if reload else ''),
        ]
        if not reboot:
            # A reboot ends QEMU (a QMP system_reset too: qemu_reset
            # reboots the guest and counts its boots).
            argv.append('-no-reboot')
        if incoming:
            # Paused once loaded: its RAM is compared with the source's
            # before it runs.
            argv += ['-S', '-incoming', incoming]
        self.proc = Proc(env, name, argv)
        self.qmp = Qmp(self.qmp_path)

    def text(self):
        try:
            with open(self.serial, 'rb') as f:
                return f.read().decode(errors='replace')
        except OSError:
            return ''

    def check_kernel(self):
        """Raise the failure kinds the console shows."""
        txt = self.text()
        m = OOPS_RE.search(txt)
        if m:
            i = txt.rfind('\n', 0, m.start()) + 1
            raise Failure('%s: guest kernel oops: %s' % (
                self.name, txt[i:i + 300].replace('\n', ' | ')))
        m = WARN_RE.search(txt)
        if m:
            raise Failure('%s: guest kernel warning: %s' % (self.name,
                                                             m.group(0)))
        m = VIRTIO_ERR_RE.search(txt)
        if m:
            raise Failure('%s: the guest virtio-net driver complains: %s' %
                          (self.name, m.group(0)))
        bad = re.findall(r'^PING-(?:BAD|JUNK) .*$', txt, re.M)
        if bad:
            raise Failure('%s: corrupt replies: %s' % (self.name, bad[0]))

    def phases(self):
        """The console cut at each start of the checkers (the guest's
        "eth0 up" line): [(its MAC, the text of the phase)]."""
        txt = self.text()
        marks = list(PHASE_RE.finditer(txt)) or [None]
        return [(m.group(1) if m else None,
                 txt[m.start() if m else 0:n.start() if n else None])
                for m, n in zip(marks, marks[1:] + [None])]

    def phase_text(self):
        if self.phase is None:
            return self.text()
        ph = self.phases()
        return ph[self.phase][1] if self.phase < len(ph) else ''

    def features(self):
        """The virtio features the guest's driver acked (bit i is
        character i of the string), or None before it reported them."""
        m = re.search(r'^MIG-GUEST: virtio features ([01]+)', self.text(),
                      re.M)
        return m.group(1) if m else None

    def checkers(self):
        """{checker: its last PING counters (and 'cpu')} on the console
        (in the phase looked at)."""
        last = {}
        for m in PING_RE.finditer(self.phase_text()):
            s = dict(zip(PING_KEYS, (int(x) for x in m.groups()[2:])))
            s['cpu'] = int(m.group(2)) if m.group(2) else None
            last[int(m.group(1) or 0)] = s
        return last

    def stats(self):
        """The last PING counters summed over the checkers (t: the
        least), a dict, or None until each of them reported."""
        last = self.checkers()
        if len(last) < self.pairs:
            return None
        s = {k: sum(c[k] for c in last.values()) for k in PING_KEYS}
        s['t'] = min(c['t'] for c in last.values())
        return s

    def queues(self):
        """The guest's last per-queue packet counters, {'rx0': n, ...}."""
        found = QUEUES_RE.findall(self.phase_text())
        if not found:
            return {}
        return {k: int(v) for k, v in
                (kv.split('=') for kv in found[-1].split())}

    def wait_stats(self, pred, timeout, what):
        def ready():
            self.check_kernel()
            if not self.proc.alive():
                raise Failure('%s: QEMU exited (%s) while waiting for %s' % (
                    self.name, self.proc.popen.returncode, what))
            s = self.stats()
            return s if s and pred(s) else None
        s = wait_until(ready, timeout, 0.1)
        if not s:
            raise Failure('%s: no %s within %d s (last: %s)' % (
                self.name, what, timeout, self.stats()))
        return s


def check_clean(s, who):
    check(s['bad'] == 0, '%s: %d corrupt replies' % (who, s['bad']))
    check(s['dup'] == 0, '%s: %d duplicated replies' % (who, s['dup']))
    check(s['junk'] == 0, '%s: %d frames that are no reply of ours' % (
        who, s['junk']))
    check(s['txerr'] == 0 or s['rcvd'] > 0, '%s: cannot send' % who)


def fmt(s):
    return ('sent %(sent)d rcvd %(rcvd)d lost %(lost)d bad %(bad)d '
            'dup %(dup)d late %(late)d' % s)


# -- the host side ---------------------------------------------------------------

SIMS = ['vdpa_ifcvf_sim0', 'vdpa_ifcvf_sim1', 'vdpa_ifcvf_sim2',
        'vdpa_ifcvf_sim3']


def start_vdpa(env, extra, pairs=1):
    """Interactive dpdk-vdpa (for its stats command): sockN is simN, each
    with @pairs queue pairs."""
    qp = ',qp=%d' % pairs
    args = [SIMS[0] + ',wire=' + SIMS[2] + qp + extra, SIMS[1] + ',wire=' + SIMS[3] + qp + extra,
            SIMS[2] + qp, SIMS[3] + qp]
    plugins, libs = env.plugins()
    argv = ['stdbuf', '-oL', env.path('app', 'test-vdpa', 'dpdk-vdpa'),
            '-l', '0', '--no-pci', '--no-huge', '-m', '256',
            '--file-prefix=' + env.prefix('vdpa')] + plugins + [LOG_LEVEL]
    for v in args:
        argv += ['--vdev', v]
    argv += ['--', '--interactive']
    vdpa = Proc(env, 'vdpa', argv, dpdk_env(libs))
    for i, dev in enumerate(SIMS):
        vdpa.send('create %s %s\n' % (env.sock(i), dev))

    def ready():
        if not vdpa.alive():
            raise Failure('dpdk-vdpa exited (%s)' % vdpa.popen.returncode)
        return all(os.path.exists(env.sock(i)) for i in range(4))
    check(wait_until(ready, 20), 'dpdk-vdpa sockets did not appear')
    return vdpa


def sim0_counts(vdpa):
    """(completed descriptors, used entries relayed) of sim0's queues."""
    st = query_stats(vdpa, SIMS[0], 2)
    return (sum(q.get('completed_descriptors', 0) for q in st.values()),
            sum(q.get('used_entries_relayed', 0) for q in st.values()))


def configured_queues(env, dev):
    """How many queues @dev's frontend has (the driver's telemetry)."""
    return dpdk.vf_info(env, dev)['queues']


def check_pairs(vdpa, dev, guest, before=None):
    """Every queue pair carried traffic on @dev (the driver's per-queue
    counters), and, with several pairs, in @guest (its per-queue counters
    and the replies of the checker pinned to the pair's CPU), since
    @before (the guest's checkers and queues at an earlier point), else
    since boot. Raise naming each pair that carried none."""
    pairs = guest.pairs
    check_vdpa_alive(vdpa, 'while %s ran' % guest.name)
    dev_st = query_stats(vdpa, dev, 2 * pairs)
    checkers, queues = guest.checkers(), guest.queues()
    old_checkers, old_queues = before or ({}, {})
    rows, idle = [], []
    for p in range(pairs):
        rx, tx = (dev_st.get(q, {}).get('completed_descriptors', 0)
                  for q in (2 * p, 2 * p + 1))
        row = '%s queue %d (rx) %d, queue %d (tx) %d descriptors' % (
            dev, 2 * p, rx, 2 * p + 1, tx)
        zero = ['queue %d' % q for q, n in ((2 * p, rx), (2 * p + 1, tx))
                if n == 0]
        if zero:
            zero[0] = '%s %s' % (dev, zero[0])
        if pairs > 1:
            c = checkers.get(p)
            got = c['rcvd'] - old_checkers.get(p, {}).get('rcvd', 0) \
                if c else 0
            g = {d: queues.get(d + str(p), 0) - old_queues.get(d + str(p), 0)
                 for d in ('rx', 'tx')}
            row += '; guest rx%d +%d tx%d +%d; checker %d on cpu %s: +%d ' \
                   'replies' % (p, g['rx'], p, g['tx'], p,
                                c['cpu'] if c else '-', got)
            zero += ['guest %s%d' % (d, p) for d in ('rx', 'tx') if g[d] <= 0]
            if got <= 0 or c['cpu'] != p:
                zero.append('checker %d' % p)
        rows.append('  pair %d: %s' % (p, row))
        if zero:
            idle.append('pair %d (%s)' % (p, ', '.join(zero)))
    print('\n'.join(rows))
    check(not idle, '%s: no traffic on %s; %s\'s dev_conf saw %s queues '
          '(%d wanted)' % (guest.name, '; '.join(idle), dev,
                           configured_queues(guest.env, dev), 2 * pairs))
    return checkers, queues


def start_peer(env, pairs=1):
    """testpmd icmpecho on C (sock2) and D (sock3), each port answering
    on itself, on the queue each request came in on (the wire keeps
    pairs: the guest's TX queue i reaches RX queue i, and back)."""
    argv = ['stdbuf', '-oL', 'dpdk-testpmd', '-l', '0,1', '--no-pci',
            '--no-huge', '-m', '512', '--file-prefix=' + env.prefix('peer')]
    for i, s in ((0, 2), (1, 3)):
        argv += ['--vdev', 'net_virtio_user%d,path=%s,queues=%d,mac=%s' % (
            i, env.sock(s), pairs, PEER_MAC)]
    # Interactive, for its counters (peer_xstats) and verbose mode.
    argv += ['--', '-i', '--forward-mode=icmpecho', '--port-topology=loop',
             '--rxq=%d' % pairs, '--txq=%d' % pairs,
             '--total-num-mbufs=%d' % (4096 * pairs), '-a']
    tp = Proc(env, 'peer', argv, dpdk_env())
    tp.wait_log(r'Start automatic packet forwarding', 30,
                what='testpmd forwarding')
    return tp


XSTATS_HDR = '###### NIC extended statistics for port %d'


def peer_xstats(peer, port):
    """testpmd's extended counters of @port, {name: value}."""
    hdr = XSTATS_HDR % port
    n = peer.text().count(hdr)
    peer.send('show port xstats %d\n' % port)

    def block():
        t = peer.text()
        i = t.rfind(hdr)
        if t.count(hdr) <= n or 'testpmd>' not in t[i:]:
            return None
        return t[i:t.index('testpmd>', i)]
    b = wait_until(block, 10)
    check(b, 'peer: no extended statistics of port %d' % port)
    return {k: int(v) for k, v in re.findall(r'^(\w+): (\d+)\s*$', b, re.M)}


def peer_broadcasts(peer, port):
    """Broadcast frames port @port received (all its queues): the
    guest's gratuitous ARPs; nothing else on the wire is broadcast."""
    return sum(v for k, v in peer_xstats(peer, port).items()
               if re.match(r'rx_q\d+_broadcast_packets$', k))


# Seconds after the switch-over in which the guest's announces arrive.
ANNOUNCE_WINDOW = 3.0

# testpmd icmpecho, verbose: one line per frame's Ethernet header.
ANNOUNCE_RE = (r'^  ETH:  src=%s dst=FF:FF:FF:FF:FF:FF type=0x0806' %
               GUEST_MAC.upper())


def check_features(guest, dev, src=None):
    """The guest acked what its NIC offers (VERSION_1 unless legacy,
    GUEST_ANNOUNCE unless turned off) and @dev's VF runs with the guest's
    features and their net header length. A destination's console starts
    at the switch-over: the features are those @src's guest reported."""
    f = wait_until((src or guest).features, 10)
    check(f, '%s: the guest did not report its virtio features' %
          guest.name)
    nic = guest.nic
    v1, ann = f[32] == '1', f[21] == '1'
    check(v1 != nic.legacy, '%s: the guest acked %s VERSION_1' % (
        guest.name, 'no' if not v1 else ''))
    check(ann == nic.announce, '%s: GUEST_ANNOUNCE %sacked' % (
        guest.name, '' if ann else 'not '))
    sim = dpdk.telemetry(guest.env, '/vdpa_ifcvf_sim/info,' + dev)
    check(sim['status'] & VIRTIO_CONFIG_S_DRIVER_OK,
          '%s: the VF is not at DRIVER_OK: %s' % (dev, sim))
    feat, hdr = '0x%x' % sim['driver_features'], sim['net_header']
    leg = '' if sim['driver_features'] >> VIRTIO_F_VERSION_1 & 1 \
        else ' (legacy)'
    check(bool(leg) == nic.legacy and hdr == nic.hdr_len(),
          '%s runs with features %s%s, a %s-byte net header (want %s, %d)' %
          (dev, feat, leg, hdr, 'legacy' if nic.legacy else 'VERSION_1',
           nic.hdr_len()))
    print('  %s: guest features %s acked (VERSION_1 %s, GUEST_ANNOUNCE %s); '
          '%s runs with %s%s, %s-byte net header' % (
              guest.name, f[:40].rstrip('0') or '0', 'yes' if v1 else 'no',
              'yes' if ann else 'no', dev, feat, leg, hdr))


def boot_source(env, image, vdpa=None, pairs=1, **guest):
    src = Guest(env, 'src', image, env.sock(0), pairs=pairs, **guest)
    # (A checker that stops at a count may be done sooner.)
    s = src.wait_stats(lambda s: s['rcvd'] >= MIN_REPLIES and
                       (s['t'] >= 1000 or 0 < src.reload <= s['rcvd']),
                       BOOT_TIMEOUT,
                       '%d replies before the migration' % MIN_REPLIES)
    check_clean(s, 'source before migration')
    if pairs > 1:
        m = GUEST_QUEUES_RE.search(src.text())
        check(m and int(m.group(1)) == int(m.group(2)) == pairs,
              'the guest does not run %d queue pairs: %s' % (
                  pairs, m.group(0) if m else 'no queue report'))
        print('  guest: %s' % m.group(0)[len('MIG-GUEST: '):])
    if s['lost'] != 0 or s['late'] != 0:
        if vdpa is not None:
            print(format_stats(SIMS[0], query_stats(vdpa, SIMS[0],
                                                    2 * pairs)))
        raise Failure('source lost %d requests (%d answered late) before '
                      'migrating' % (s['lost'], s['late']))
    print('  before: %s (guest t=%d ms)' % (fmt(s), s['t']))
    return src


def start_migration(env, src, bandwidth):
    uri = 'unix:' + os.path.join(env.sockdir, 'mig')
    dst = Guest(env, 'dst', src.image, env.sock(1), incoming=uri,
                pairs=src.pairs, nic=src.nic)
    st = dst.qmp.cmd('query-status')
    check(st['status'] == 'inmigrate', 'destination is %s' % st['status'])
    src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': bandwidth})
    src.qmp.cmd('migrate', uri=uri)
    return dst


def start_vhost_peer(env, pairs=1):
    """The control: no vDPA, testpmd's net_vhost (DPDK's software vhost
    datapath) serves sock0 and sock1 and answers the echo requests."""
    argv = ['stdbuf', '-oL', 'dpdk-testpmd', '-l', '0,1', '--no-pci',
            '--no-huge', '-m', '512', '--file-prefix=' + env.prefix('peer')]
    for i in (0, 1):
        argv += ['--vdev', 'net_vhost%d,iface=%s,queues=%d' % (
            i, env.sock(i), pairs)]
    argv += ['--', '--forward-mode=icmpecho', '--port-topology=loop',
             '--rxq=%d' % pairs, '--txq=%d' % pairs,
             '--total-num-mbufs=%d' % (4096 * pairs), '--stats-period=0',
             '-a']
    tp = Proc(env, 'peer', argv, dpdk_env())
    tp.wait_log(r'Press enter to exit', 30, what='testpmd forwarding')
    return tp


def run_migration(env, image, extra, mode, pairs=1, nic=None):
    if mode == 'control':
        return run_control(env, image, pairs)
    vdpa = start_vdpa(env, extra, pairs)
    peer = start_peer(env, pairs)
    src = boot_source(env, image, vdpa, pairs, nic=nic)
    check_features(src, SIMS[0])
    print('  source, every pair before the migration:')
    check_pairs(vdpa, SIMS[0], src)
    t0 = time.monotonic()
    dst = start_migration(env, src, MIGRATE_BW)
    truth_start(env, SIMS[0])
    before = src.stats()
    info = poll_migration(src, lambda i: i.get('status') == 'completed',
                          MIGRATE_TIMEOUT, vdpa)
    took = time.monotonic() - t0
    during = src.stats()
    ram = info.get('ram', {})
    print('  migration: %.1f s wall, total-time %s ms, downtime %s ms, '
          '%.1f MB sent, %s dirty-sync rounds' % (
              took, info.get('total-time'), info.get('downtime'),
              ram.get('transferred', 0) / 1e6, ram.get('dirty-sync-count')))
    check(during['rcvd'] > before['rcvd'],
          'no reply during pre-copy (%d before, %d at the end)' % (
              before['rcvd'], during['rcvd']))
    print('  during pre-copy: %d more replies on the source' % (
        during['rcvd'] - before['rcvd']))

    # The device's log: logging started on A (truth_start()) in the
    # expected mode.
    check_log_mode(env, SIMS[0], 'hw' if mode == 'hw' else 'sw')

    # The destination (-S) pauses once it loaded the last of the stream.
    check(wait_until(lambda: not dst.proc.alive() or
                     dst.qmp.cmd('query-status')['status'] == 'paused',
                     20, 0.1) and dst.proc.alive(),
          'the destination did not finish loading')
    env.qemu_ram_diff = check_ram(env, SIMS[0], src, dst)
    # The announce: nothing broadcast on D's wire yet; the peer prints
    # each frame's header from now until check_announce().
    bc0 = peer_broadcasts(peer, 1)
    check(bc0 == 0, 'peer: %d broadcasts on the destination wire before '
          'the switch-over' % bc0)
    peer.send('set verbose 1\n')
    dst.qmp.cmd('cont')
    t_cont = time.monotonic()
    st = wait_until(lambda: dst.qmp.cmd('query-status')['status'] ==
                    'running' or not dst.proc.alive(), 20, 0.1)
    dst.check_kernel()
    check(st and dst.proc.alive(), 'destination is %s' % (
        dst.qmp.cmd('query-status')['status'] if dst.proc.alive() else
        'gone (exit %s)' % dst.proc.popen.returncode))
    check_ring_bases(vdpa, 2 * pairs)
    src_st = src.qmp.cmd('query-status')['status']
    check(src_st == 'postmigrate', 'source is %s' % src_st)
    src.check_kernel()
    last_src = src.stats()
    src_end = (src.checkers(), src.queues())
    src.quit()
    # QEMU announces in its first rounds after the switch-over (about
    # 1.3 s with its defaults): verbose only that long, then counted.
    time.sleep(max(0.0, ANNOUNCE_WINDOW - (time.monotonic() - t_cont)))
    check_announce(peer, dst)

    # After: the destination guest goes on, through B and D; past the
    # timeout every request of the switch-over is settled.
    base = dst.wait_stats(lambda s: True, 30, 'counters on the destination')
    s = dst.wait_stats(
        lambda s: s['rcvd'] >= base['rcvd'] + MIN_REPLIES and
        s['t'] >= base['t'] + 3000, 60,
        '%d replies after the migration' % MIN_REPLIES)
    check(s['rcvd'] > last_src['rcvd'], 'no reply on the destination')
    dst.check_kernel()
    print('  destination, every pair since the switch-over:')
    last = check_pairs(vdpa, SIMS[1], dst, src_end)
    check_clean(s, 'destination')
    bound = loss_bound(env)
    lost = {c: v['lost'] for c, v in last[0].items() if v['lost'] > bound}
    check(not lost, 'requests lost (bound %d a checker): %s' % (
        bound, ', '.join('checker %d %d' % kv for kv in lost.items())))
    check(dpdk.vf_info(env, SIMS[1])['configures'] > 0,
          'sim1 was never configured')
    check_features(dst, SIMS[1], src)
    print('  after (destination, guest t=%d ms): %s' % (s['t'], fmt(s)))
    print('  lost over the whole run: %d (bound %d a checker), late %d, '
          'corrupt 0' % (s['lost'], bound, s['late']))
    dst.quit()
    peer.stop('quit\n')
    check(vdpa.stop('quit\n') is not None, 'dpdk-vdpa did not quit')


def loss_bound(env):
    """Requests the run may lose: a window in flight at the switch-over,
    and one more at each restart of the source's VF, whose reset drops
    the frames it holds, as a NIC's does (a reconnect, a memory-table
    update). The VF's starts after its first, from the simulator's
    telemetry."""
    starts = dpdk.telemetry(env, '/vdpa_ifcvf_sim/info,' + SIMS[0])['starts']
    return LOSS_BOUND * max(1, starts)


def check_announce(peer, dst):
    """After the switch-over the guest announces itself when it acked
    GUEST_ANNOUNCE: QEMU's virtio-net sets VIRTIO_NET_S_ANNOUNCE after
    loading (a few rounds), the guest sends a gratuitous ARP from its MAC
    each time, and they reach the peer on the destination's wire (sim1 to
    sim3, testpmd's port 1): counted there (broadcast frames) and seen
    (icmpecho's verbose lines). The VF cannot send a RARP itself, so with
    guest_announce=off nothing announces the guest: QEMU asks the backend
    to (VHOST_USER_SEND_RARP) only if it has VHOST_USER_PROTOCOL_F_RARP,
    which the driver does not offer, and says so."""
    peer.send('set verbose 0\n')
    # Not at a line's start: a forwarding lcore's verbose line may still
    # be half written when testpmd's main thread answers.
    peer.wait_log(r'Change verbose level from 1 to 0', 10,
                  what='verbose off')
    n = peer_broadcasts(peer, 1)
    seen = peer.count(ANNOUNCE_RE)
    rarp = 'fails to broadcast fake RARP' in dst.proc.text()
    if dst.nic.announce:
        check(n > 0 and seen > 0, 'the migrated guest did not announce '
              'itself: %d broadcasts at the peer, %d ARPs from %s seen' % (
                  n, seen, GUEST_MAC))
        print('  announce: %d gratuitous ARPs from %s reached the peer on '
              'the destination wire (%d broadcasts counted there)' % (
                  seen, GUEST_MAC, n))
    else:
        check(n == 0 and seen == 0, 'guest_announce=off, yet %d broadcasts '
              'at the peer (%d ARPs from the guest)' % (n, seen))
        print('  announce: GUEST_ANNOUNCE off: 0 broadcasts reached the peer; '
              'QEMU %s "Vhost user backend fails to broadcast fake RARP"' % (
                  'said' if rarp else 'did not say'))


def run_control(env, image, pairs=1):
    """The same migration with DPDK's software vhost backend instead of
    dpdk-vdpa and the driver: what QEMU/TCG does by itself."""
    peer = start_vhost_peer(env, pairs)
    src = boot_source(env, image, pairs=pairs)
    dst = start_migration(env, src, MIGRATE_BW)
    info = poll_migration(src, lambda i: i.get('status') == 'completed',
                          MIGRATE_TIMEOUT)
    print('  migration: total-time %s ms, downtime %s ms' % (
        info.get('total-time'), info.get('downtime')))
    check(wait_until(lambda: not dst.proc.alive() or
                     dst.qmp.cmd('query-status')['status'] == 'paused',
                     20, 0.1) and dst.proc.alive(),
          'the destination did not finish loading')
    size, diff = compare_ram(src, dst)
    check(not diff, '%d guest pages differ between source and destination' %
          len(diff))
    print('  guest RAM: %d MiB identical on both sides' % (size >> 20))
    dst.qmp.cmd('cont')
    src.quit()
    s = dst.wait_stats(lambda s: s['t'] >= 3000 + src.stats()['t'], 60,
                       'replies after the migration')
    check_clean(s, 'destination')
    print('  after (destination): %s' % fmt(s))
    dst.quit()
    peer.stop('\n')


def run_cancel(env, image, extra, mode):
    vdpa = start_vdpa(env, extra)
    peer = start_peer(env)
    src = boot_source(env, image, vdpa)
    dst = start_migration(env, src, CANCEL_BW)
    # Half-way: a few MB out, logging on in the device.
    poll_migration(src, lambda i: i.get('status') == 'active' and
                   i.get('ram', {}).get('transferred', 0) > 8 << 20,
                   MIGRATE_TIMEOUT)
    check(wait_until(lambda: vf_logging(env, SIMS[0]) != 'off', 10),
          'the driver never logged on sim0 (VHOST_F_LOG_ALL)')
    during = src.stats()
    if mode in ('sw', 'virtio'):
        relayed = sim0_counts(vdpa)[1]
        time.sleep(0.3)
        if sim0_counts(vdpa)[1] <= relayed:
            print(format_stats(SIMS[0], query_stats(vdpa, SIMS[0], 2)))
            raise Failure('sim0 relays no used entry while logging (SW '
                          'mode): the datapath stalled on shadow rings')
    info = src.qmp.cmd('query-migrate')
    src.qmp.cmd('migrate_cancel')
    poll_migration(src, lambda i: i.get('status') == 'cancelled', 30)
    print('  cancelled after %.1f s, %.1f MB sent, %s dirty-sync rounds' % (
        info.get('total-time', 0) / 1e3,
        info.get('ram', {}).get('transferred', 0) / 1e6,
        info.get('ram', {}).get('dirty-sync-count')))
    check(wait_until(lambda: vf_logging(env, SIMS[0]) == 'off', 10),
          'the driver did not see LOG_ALL cleared on sim0')
    check(dst.proc.wait_exit(20) is not None,
          'the destination QEMU did not exit after the cancel')
    st = src.qmp.cmd('query-status')['status']
    check(st == 'running', 'source is %s after the cancel' % st)
    s = src.wait_stats(
        lambda s: s['rcvd'] >= during['rcvd'] + MIN_REPLIES and
        s['t'] >= during['t'] + 3000, 60,
        '%d replies after the cancel' % MIN_REPLIES)
    src.check_kernel()
    check_clean(s, 'source after the cancel')
    bound = loss_bound(env)
    check(s['lost'] <= bound, '%d requests lost (bound %d)' % (
        s['lost'], bound))
    # Back on the direct datapath: the device completes descriptors and
    # the relay copies no used entry any more.
    c0, r0 = sim0_counts(vdpa)
    time.sleep(0.5)
    c1, r1 = sim0_counts(vdpa)
    check(c1 > c0, 'sim0 completes no descriptor after the cancel')
    print('  after the cancel (source): %s' % fmt(s))
    if mode == 'virtio':
        # No ring-state registers: it stays on shadow rings (ifc.rst).
        check(r1 > r0, 'sim0 (virtio) relays nothing after the cancel')
        print('  sim0 after the cancel: %d descriptors completed in 0.5 s, '
              '%d relayed (a virtio VF stays on shadow rings)' % (
                  c1 - c0, r1 - r0))
        return finish(src, peer, vdpa)
    check(r1 == r0, 'sim0 still relays used entries after the cancel '
          '(%d -> %d): not back on the direct datapath' % (r0, r1))
    print('  sim0 after the cancel: %d descriptors completed in 0.5 s, '
          'none relayed' % (c1 - c0))
    return finish(src, peer, vdpa)


def used_indices(guest):
    """{queue: the used index in guest RAM} of the guest's rings (QEMU's
    ring addresses), read through QEMU's memfd."""
    idx = {}
    with open(ram_fd_path(guest.proc), 'rb') as ram:
        for q in range(guest.nr_vqs):
            st = queue_status(guest, q)
            check(st is not None, 'QEMU tells no ring address of queue %d' % q)
            ram.seek(st['vring-used'] + 2)
            idx[q] = int.from_bytes(ram.read(2), 'little')
    return idx


def stops_and_starts(vdpa):
    """vhost's GET_VRING_BASE and SET_VRING_BASE on sock0, cut into
    rounds: [('set'|'get', {queue: index})], a round holding at most one
    message of a kind per queue."""
    rounds = []
    for kind, q, i in vring_bases(vdpa, 'sock0'):
        if not rounds or rounds[-1][0] != kind or q in rounds[-1][1]:
            rounds.append((kind, {}))
        rounds[-1][1][q] = i
    return rounds


def restart_guest(guest, how):
    """Stop and restart the device as a guest driver reset does: the
    checker of phase 0 stops after guest.reload replies and virtio_net is
    reloaded, or QEMU resets the machine; the counters of phase 0 at the
    stop (the last reported ones for a reset) and, after a reload, the
    guest's per-queue counters."""
    if how == 'reload':
        check(wait_until(lambda: 'PING-DONE' in guest.phase_text() or
                         guest.check_kernel(), 30, 0.05),
              'the checker did not finish %d replies' % guest.reload)
        return guest.stats(), guest.queues()
    s = guest.stats()
    guest.qmp.cmd('system_reset')
    return s, {}


def vring_rounds(vdpa, n, kind, nq, timeout, what):
    """Wait for round @n (0 on) of stops_and_starts: a @kind message of
    every one of @nq vrings; its {queue: index}."""
    def ready():
        check_vdpa_alive(vdpa, 'waiting for %s' % what)
        r = stops_and_starts(vdpa)
        return len(r) > n and (len(r[n][1]) == nq or len(r) > n + 1) and r
    r = wait_until(ready, timeout, 0.1)
    check(r and all(k == ('set', 'get')[i % 2] and sorted(d) ==
                    list(range(nq)) for i, (k, d) in enumerate(r[:n + 1])),
          'vhost on sock0 did not see %s (a %s_VRING_BASE of every vring; '
          'it saw SET, GET, SET... of every vring, then this: %s)' % (
              what, kind.upper(), vring_bases(vdpa, 'sock0')))
    return r[n][1]


def more_replies(guest, since, what, lost_bound=0):
    """@guest's checker answers MIN_REPLIES more and runs 3 s (its own
    clock) past @since (counters, or None: from its first report), all
    replies intact, at most @lost_bound more requests lost."""
    since = since or guest.wait_stats(lambda s: True, BOOT_TIMEOUT,
                                      'counters %s' % what)
    s = guest.wait_stats(
        lambda s: s['rcvd'] >= since['rcvd'] + MIN_REPLIES and
        s['t'] >= since['t'] + 3000, 60, '%d replies %s' % (MIN_REPLIES, what))
    guest.check_kernel()
    check_clean(s, what)
    lost = s['lost'] - since['lost']
    check(lost <= lost_bound, '%s: %d requests lost (%d of them answered '
          'late), bound %d' % (what, lost, s['late'] - since['late'],
                                lost_bound))
    print('  %s (guest t=%d ms): %s' % (what, s['t'], fmt(s)))
    return s


def check_stop(guest, vdpa, n, first, mid, what):
    """QMP stop, the vhost round @n (GET_VRING_BASE of every vring): the
    indices handed back are the used indices of the guest's rings, and
    the driver's completed_descriptors, which counts on over every round
    since the last restart from index 0 (@first: the indices handed back
    before it), count exactly what the device completed, and grew since
    @mid (stats). The indices handed back and the stats."""
    guest.qmp.cmd('stop')
    got = vring_rounds(vdpa, n, 'get', 2, 20, 'every vring stopped (%s)' %
                       what)
    used = used_indices(guest)
    end = query_stats(vdpa, SIMS[0], 2)
    print(format_stats(SIMS[0], end))
    done = {q: end[q].get('completed_descriptors', 0) for q in range(2)}
    bad = ['queue %d: handed back %d, used index %d' % (q, got[q], used[q])
           for q in range(2) if got[q] != used[q]]
    bad += ['queue %d: completed_descriptors %d, %d mod 65536; the device '
            'completed %d before the restart and %d since' % (
                q, done[q], done[q] % 65536, first[q], got[q])
            for q in range(2)
            if done[q] % 65536 != (first[q] + got[q]) % 65536]
    bad += ['queue %d: no descriptor completed (%d, then %d)' %
            (q, mid[q].get('completed_descriptors', 0), done[q])
            for q in range(2)
            if done[q] <= mid[q].get('completed_descriptors', 0)]
    check(not bad, '%s, %s: %s' % (SIMS[0], what, '; '.join(bad)))
    print('  %s: indices %s handed back = the used rings; the driver '
          'counted %s = %s + these (mod 65536)' % (
              what, ' '.join('q%d=%d' % kv for kv in sorted(got.items())),
              ' '.join('q%d=%d' % kv for kv in sorted(done.items())),
              ' '.join('q%d=%d' % kv for kv in sorted(first.items()))))
    return got, end


def run_restart(env, image, extra, how):
    """One QEMU; the guest pings, its device is stopped and restarted on
    the same connection (GET_VRING_BASE of every vring, then SET_VRING_*
    again: a module reload or a reboot) and it pings again. Every reply
    of both phases is checked byte for byte, no request is lost, the
    indices handed back match the guest's counters and its used rings,
    and the driver's per-queue counters go on across the restart. Then
    QEMU's own stop and cont (the same rings again, from the indices
    handed back)."""
    vdpa = start_vdpa(env, extra)
    peer = start_peer(env)
    guest = boot_source(env, image, vdpa, phase=0, reboot=how == 'reset',
                        reload=RELOAD_REPLIES if how == 'reload' else 0)
    before, queues = restart_guest(guest, how)
    check_clean(before, 'before the %s' % how)
    print('  %s: the guest stopped at %s%s' % (
        how, fmt(before), ' (nothing in flight), guest rx0 %d tx0 %d' % (
            queues['rx0'], queues['tx0']) if queues else ''))

    # The restart, as vhost logged it: GET_VRING_BASE of every vring,
    # then every vring set up again.
    start0 = vring_rounds(vdpa, 0, 'set', 2, 5, 'the start')
    stop1 = vring_rounds(vdpa, 1, 'get', 2, 20, 'the stop at the ' + how)
    start1 = vring_rounds(vdpa, 2, 'set', 2, BOOT_TIMEOUT,
                          'every vring set up again after the ' + how)
    print('  vhost: SET_VRING_BASE %s, GET_VRING_BASE %s, SET_VRING_BASE %s '
          'again' % tuple(' '.join('q%d=%d' % kv for kv in sorted(d.items()))
                          for d in (start0, stop1, start1)))
    if queues:
        # Nothing was in flight: the device consumed what the guest sent
        # and filled what it received, no more, no less.
        want = {0: queues['rx0'] % 65536, 1: queues['tx0'] % 65536}
    else:
        # The guest saw these answered (a request and its reply each).
        want = {q: before['rcvd'] % 65536 for q in (0, 1)}
    behind = [q for q in (0, 1) if (stop1[q] - want[q]) % 65536 >
              (0 if queues else 32768)]
    check(not behind, 'indices handed back at the %s: %s; the guest %s %s '
          '(mod 65536)' % (how, stop1, 'counted' if queues else
                           'saw at least', want))

    guest.phase = 1
    # The counters before the replies below: they must grow from here.
    mid = query_stats(vdpa, SIMS[0], 2)
    more_replies(guest, None, 'after the ' + how)
    macs = [mac for mac, _ in guest.phases()]
    check(macs == [GUEST_MAC] * 2, 'eth0 came up as %s (phases of the '
          'checkers), not twice as %s' % (macs, GUEST_MAC))
    stop2, _ = check_stop(guest, vdpa, 3, stop1, mid, 'QMP stop')

    # QEMU's stop and cont: SET_VRING_* again from the indices handed
    # back, on the same rings (past index 0: a virtio VF restarts on
    # shadow rings). Requests in flight at the stop may be lost.
    last = guest.stats()
    guest.qmp.cmd('cont')
    start2 = vring_rounds(vdpa, 4, 'set', 2, 20, 'every vring set up again '
                          'after QMP cont')
    check(start2 == stop2, 'QEMU resumed at %s, not at the indices handed '
          'back %s' % (start2, stop2))
    mid = query_stats(vdpa, SIMS[0], 2)
    more_replies(guest, last, 'after QMP cont', LOSS_BOUND)
    _, end = check_stop(guest, vdpa, 5, stop1, mid, 'QMP stop again')
    relayed = sum(q.get('used_entries_relayed', 0) for q in end.values())
    print('  since cont: %d used entries relayed in all (%s)' % (
        relayed, 'shadow rings' if relayed else 'direct datapath'))
    finish(guest, peer, vdpa)


def finish(src, peer, vdpa):
    src.quit()
    peer.stop('quit\n')
    check(vdpa.stop('quit\n') is not None, 'dpdk-vdpa did not quit')


TESTS = {
    'qemu_hw': lambda env, img: run_migration(env, img, '', 'hw'),
    'qemu_sw': lambda env, img: run_migration(
        env, img, ',sw-live-migration=1', 'sw'),
    'qemu_virtio': lambda env, img: run_migration(
        env, img, ',profile=virtio', 'sw'),
    'qemu_cancel': lambda env, img: run_cancel(env, img, '', 'hw'),
    'control_vhost': lambda env, img: run_migration(env, img, '', 'control'),
    'control_vhost_mq': lambda env, img: run_migration(
        env, img, '', 'control', 4),
    'qemu_cancel_sw': lambda env, img: run_cancel(
        env, img, ',sw-live-migration=1', 'sw'),
    'qemu_cancel_virtio': lambda env, img: run_cancel(
        env, img, ',profile=virtio', 'virtio'),
    # Legacy guests (virtio 0.95: disable-modern=on), with MRG_RXBUF
    # (12-byte headers) and without (10); a guest that cannot announce.
    'qemu_legacy_hw': lambda env, img: run_migration(
        env, img, '', 'hw', nic=Nic(legacy=True)),
    'qemu_legacy_sw': lambda env, img: run_migration(
        env, img, ',sw-live-migration=1', 'sw', nic=Nic(legacy=True)),
    'qemu_legacy_nomrg': lambda env, img: run_migration(
        env, img, ',sw-live-migration=1', 'sw',
        nic=Nic(legacy=True, mrg=False)),
    'qemu_no_announce': lambda env, img: run_migration(
        env, img, '', 'hw', nic=Nic(announce=False)),
    'qemu_mq_hw': lambda env, img: run_migration(env, img, '', 'hw', 4),
    'qemu_mq_sw': lambda env, img: run_migration(
        env, img, ',sw-live-migration=1', 'sw', 4),
    'qemu_reload': lambda env, img: run_restart(env, img, '', 'reload'),
    'qemu_reload_virtio': lambda env, img: run_restart(
        env, img, ',profile=virtio', 'reload'),
    'qemu_reset': lambda env, img: run_restart(env, img, '', 'reset'),
}


def main(argv):
    args = argv[1:]
    guest_ping = None
    if '--guest-ping' in args:
        i = args.index('--guest-ping')
        guest_ping = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2 or args[1] not in TESTS:
        print('usage: %s <builddir> <test> [--guest-ping BIN]\ntests: %s' % (
            argv[0], ' '.join(TESTS)), file=sys.stderr)
        return 2
    build = os.path.abspath(args[0])
    name = args[1]
    guest_ping = guest_ping or os.path.join(build, 'app', 'test-vdpa',
                                            'migration', 'guest_ping')
    why = missing(QEMU, 'dpdk-testpmd')
    if why:
        print('skipped: %s' % why)
        return EXIT_SKIP
    catch_signals()
    return run_attempts(lambda: attempt(build, name, guest_ping),
                        os.path.join(build, 'migration'), name)


def attempt(build, name, guest_ping):
    """One run of test @name: its exit code, or EXIT_RETRY for a guest
    oops QEMU is proven to have caused."""
    env = Env(build, name)
    return run_guest_test(env, lambda: TESTS[name](env, build_image(
        env, ('app', 'test-vdpa', 'migration', 'image'),
        os.path.join(HERE, 'guest-init.sh'), guest_ping)))


if __name__ == '__main__':
    sys.exit(main(sys.argv))
