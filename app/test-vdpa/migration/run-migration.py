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
  control_vhost  the migration with DPDK's software vhost backend, no vDPA

Asserted: the destination QEMU (-S) holds, once loaded, exactly the
source's guest RAM, page for page (a page the device wrote after its last
transfer and nobody logged differs); replies flow before, during
(pre-copy) and after the migration (on the destination), no reply is corrupt or duplicated, and the requests
lost over the whole run are at most LOSS_BOUND (one window of requests in
flight; none may be lost away from the switch-over). A guest kernel oops
is a failure kind of its own (GUEST-OOPS), since QEMU 7.2 under TCG shows
one in about 26 migrations with any vhost backend.

    run-migration.py <builddir> <test> [--guest-ping BIN]
    exit 0 pass, 1 fail, 77 skipped. Logs: <builddir>/migration/<test>/
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
# pylint: disable=wrong-import-position
import e2e  # noqa: E402
from e2e import (PLUGIN, LOG_LEVEL, Failure, Proc, Skip,  # noqa: E402
                 check, format_stats, query_stats, wait_until)

EXIT_PASS, EXIT_FAIL, EXIT_SKIP = 0, 1, 77
EXIT_RETRY = -1  # internal: a guest oops QEMU caused
QEMU = 'qemu-system-x86_64'
GUEST_MAC = '52:54:00:12:34:56'
PEER_MAC = '02:00:00:00:00:01'
WINDOW = 32            # echo requests the guest keeps in flight
# (128 overruns the guest's RX ring under TCG: loss without a migration)
LOSS_BOUND = WINDOW    # lost over a whole run, switch-over included
MIN_REPLIES = 2000     # replies asked for in each phase
GUEST_MEM = '256M'
BOOT_TIMEOUT = 90
MIGRATE_TIMEOUT = 120
# Pre-copy bandwidth: long enough for several dirty-page rounds under
# traffic (the aim is to catch a page the device wrote but did not log).
MIGRATE_BW = 32 << 20
CANCEL_BW = 4 << 20

PING_RE = re.compile(
    r'^PING t=(\d+) sent=(\d+) rcvd=(\d+) lost=(\d+) bad=(\d+) dup=(\d+) '
    r'late=(\d+) txerr=(\d+) out=(\d+) junk=(\d+)', re.M)
PING_KEYS = ('t', 'sent', 'rcvd', 'lost', 'bad', 'dup', 'late', 'txerr',
             'out', 'junk')
OOPS_RE = re.compile(r'(Oops:|BUG: |Kernel panic|general protection fault|'
                     r'kernel BUG at)')
WARN_RE = re.compile(r'WARNING: CPU: .*')
# At loglevel=4 the console shows errors only: any from virtio-net (a
# ring the device broke: "id 3 is not a head!") fails the run.
VIRTIO_ERR_RE = re.compile(r'(virtio_net virtio\d+: .*|NETDEV WATCHDOG.*)')


OOPS_NOTE = (
    '  (a guest kernel oops: QEMU 7.2/TCG shows one in about 26 migrations '
    'with any vhost backend,\n   but a page the device wrote and nobody '
    'logged does the same: a driver\n   that skips its dirty logging made '
    'the destination guest hit "kernel BUG at\n   lib/list_debug.c" here. '
    'Rerun; if it repeats, suspect the driver.)')


class GuestOops(Failure):
    """The guest kernel oopsed (a failure kind of its own)."""


class Env(e2e.Env):
    """One test run, in build/migration/<name>."""

    def __init__(self, build, name):
        super().__init__(build, name, suite='migration', tag='mig')
        self.qemu_ram_diff = False

    def report_logs(self, lines=15):
        super().report_logs(lines)


# -- QMP -----------------------------------------------------------------------

class Qmp:
    """A minimal QMP client on QEMU's unix socket."""

    def __init__(self, path, timeout=30):
        self.sock = None
        end = time.monotonic() + timeout
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                self.sock = s
                break
            except OSError:
                s.close()
                if time.monotonic() > end:
                    raise Failure('no QMP on %s within %d s' % (path, timeout))
                time.sleep(0.1)
        self.sock.settimeout(30)
        self.buf = b''
        self.events = []
        self._read()  # greeting
        self.cmd('qmp_capabilities')

    def _read(self):
        while b'\n' not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Failure('QMP connection closed')
            self.buf += chunk
        line, self.buf = self.buf.split(b'\n', 1)
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {'execute': name}
        if args:
            msg['arguments'] = args
        self.sock.sendall(json.dumps(msg).encode() + b'\n')
        while True:
            r = self._read()
            if 'event' in r:
                self.events.append(r)
                continue
            if 'error' in r:
                raise Failure('QMP %s: %s' % (name, r['error'].get('desc')))
            return r.get('return')

    def close(self):
        if self.sock:
            self.sock.close()


# -- the guest -----------------------------------------------------------------

def build_image(env, guest_ping):
    cache = env.path('app', 'test-vdpa', 'migration')
    cmd = ['sh', os.path.join(HERE, 'build-image.sh'), cache,
           os.path.join(HERE, 'guest-init.sh'), guest_ping]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=240,
                         check=False)
    if out.returncode != 0:
        raise Failure('the guest image could not be built: %s' %
                      out.stderr.strip()[-500:])
    kernel, initrd = out.stdout.split()[-2:]
    return kernel, initrd


class Guest:
    """A QEMU process: serial console in a file, QMP on a socket."""

    def __init__(self, env, name, image, sock, incoming=None):
        self.env = env
        self.name = name
        self.serial = os.path.join(env.dir, name + '.serial')
        self.qmp_path = os.path.join(env.sockdir, name + '.qmp')
        self.image = image
        kernel, initrd = image
        argv = [
            QEMU, '-accel', 'tcg', '-M', 'pc', '-smp', '1',
            '-m', GUEST_MEM, '-object',
            'memory-backend-memfd,id=mem,size=%s,share=on' % GUEST_MEM,
            '-machine', 'memory-backend=mem',
            '-nodefaults', '-display', 'none', '-no-reboot',
            '-monitor', 'none', '-serial', 'file:' + self.serial,
            '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_path,
            '-chardev', 'socket,id=vu0,path=' + sock,
            '-netdev', 'vhost-user,id=net0,chardev=vu0',
            # vectors=0: QEMU 7.2 crashes starting a vhost-user device
            # with MSI-X under TCG (see the suite's README).
            '-device', 'virtio-net-pci,id=nic0,netdev=net0,vectors=0,'
                       'romfile=,mac=' + GUEST_MAC,
            '-kernel', kernel, '-initrd', initrd,
            '-append', 'console=ttyS0 panic=-1 oops=panic loglevel=4 '
                       'mig_peer=%s mig_window=%d' % (PEER_MAC, WINDOW),
        ]
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
            raise GuestOops('%s: guest kernel oops: %s' % (
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

    def stats(self):
        """The last PING counters on the console, a dict, or None."""
        found = PING_RE.findall(self.text())
        if not found:
            return None
        return dict(zip(PING_KEYS, (int(x) for x in found[-1])))

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

    def quit(self):
        try:
            self.qmp.cmd('quit')
        except (Failure, OSError):
            pass
        self.qmp.close()
        if self.proc.wait_exit(10) is None:
            self.proc.kill()


def ram_fd_path(proc):
    """/proc path of QEMU's guest RAM (the memfd of memory-backend-memfd)."""
    fd_dir = '/proc/%d/fd' % proc.pid
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(os.path.join(fd_dir, fd)).startswith('/memfd:memory-backend-memfd'):
                return os.path.join(fd_dir, fd)
        except OSError:
            pass
    raise Failure('%s: no guest RAM memfd among its files' % proc.name)


def compare_ram(src, dst):
    """The 4 KiB pages (guest frame numbers) whose content differs between
    the stopped source and the paused destination: pages written after
    their last transfer and never reported dirty."""
    diff = []
    chunk = 1 << 20
    with open(ram_fd_path(src.proc), 'rb') as a, \
            open(ram_fd_path(dst.proc), 'rb') as b:
        off = 0
        while True:
            x, y = a.read(chunk), b.read(chunk)
            check(len(x) == len(y), 'guest RAM sizes differ')
            if not x:
                break
            if x != y:
                for p in range(0, len(x), 4096):
                    if x[p:p + 4096] != y[p:p + 4096]:
                        diff.append((off + p) >> 12)
                        if len(diff) <= 8:
                            show_diff(off + p, x[p:p + 4096], y[p:p + 4096])
            off += len(x)
    return off, diff


def show_diff(gpa, x, y):
    """Print the byte ranges of a page that differ (at most 6)."""
    runs, i = [], 0
    while i < len(x) and len(runs) < 6:
        if x[i] != y[i]:
            j = i
            while j < len(x) and x[j] != y[j]:
                j += 1
            runs.append((i, j))
            i = j
        i += 1
    print('  page 0x%x differs at %s' % (gpa >> 12, '; '.join(
        '+0x%x..0x%x src %s dst %s' % (i, j, x[i:min(j, i + 8)].hex(),
                                        y[i:min(j, i + 8)].hex())
        for i, j in runs)))


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


def start_vdpa(env, extra):
    """Interactive dpdk-vdpa (for its stats command): sockN is simN."""
    args = [SIMS[0] + ',wire=' + SIMS[2] + ',truth=' + truth_path(env) + extra,
            SIMS[1] + ',wire=' + SIMS[3] + extra, SIMS[2], SIMS[3]]
    argv = ['stdbuf', '-oL', env.path('app', 'test-vdpa', 'dpdk-vdpa'),
            '-l', '0', '--no-pci', '--no-huge', '-m', '256',
            '--file-prefix=' + env.prefix('vdpa'), '-d', PLUGIN, LOG_LEVEL]
    for v in args:
        argv += ['--vdev', v]
    argv += ['--', '--interactive']
    vdpa = Proc(env, 'vdpa', argv, {
        'LD_LIBRARY_PATH': env.path('drivers', 'vdpa', 'ifc')})
    for i, dev in enumerate(SIMS):
        vdpa.send('create %s %s\n' % (env.sock(i), dev))

    def ready():
        if not vdpa.alive():
            raise Failure('dpdk-vdpa exited (%s)' % vdpa.popen.returncode)
        return all(os.path.exists(env.sock(i)) for i in range(4))
    check(wait_until(ready, 20), 'dpdk-vdpa sockets did not appear')
    return vdpa


def truth_path(env):
    """sim0 writes there, at each close, the guest frames it wrote since
    dirty logging started (the simulator's ground truth)."""
    return os.path.join(env.dir, 'truth0')


def read_truth(env):
    try:
        with open(truth_path(env)) as f:
            return {int(x, 16) for x in f.read().split()}
    except OSError:
        return None


def ring_pages(guest):
    """Guest frames of the virtio-net rings (QEMU's view), or an empty set
    when this QEMU cannot tell."""
    pages = set()
    for q in (0, 1):
        try:
            st = guest.qmp.cmd('x-query-virtio-queue-status',
                               path='/machine/peripheral/nic0/virtio-backend',
                               queue=q)
        except Failure:
            return set()
        size = st.get('vring-num', 0)
        for key, length in (('vring-desc', 16 * size),
                            ('vring-avail', 6 + 2 * size),
                            ('vring-used', 6 + 8 * size)):
            a = st.get(key, 0)
            pages.update(range(a >> 12, ((a + length - 1) >> 12) + 1))
    return pages


def check_ram(env, src, dst):
    """Source and destination guest RAM, page by page. A differing page
    the device wrote while logging (the simulator's record) or a ring page
    is a dirty page the driver failed to log: a failure. Other differing
    pages were written by the guest's CPU only: QEMU's own dirty tracking
    (the control_vhost run, without vDPA, shows them too); reported, and
    left to the guest's checks."""
    size, diff = compare_ram(src, dst)
    if not diff:
        print('  guest RAM: %d MiB identical on both sides' % (size >> 20))
        return
    truth = read_truth(env)
    check(truth is not None, 'no ground truth from sim0 (%s)' %
          truth_path(env))
    rings = ring_pages(src)
    dev = sorted(set(diff) & truth)
    ring = sorted(set(diff) & rings)
    check(not dev and not ring,
          '%d guest pages differ between source and destination; the '
          'device wrote %d of them while logging (%s), %d are ring pages '
          '(%s): dirty pages not logged' % (
              len(diff), len(dev), ', '.join('0x%x' % p for p in dev[:8]),
              len(ring), ', '.join('0x%x' % p for p in ring[:8])))
    env.qemu_ram_diff = True
    print('  QEMU-RAM-DIFF: %d guest pages differ (%s), none written by the '
          'device (%d pages in its record) nor a ring page (of %d): QEMU/TCG '
          'lost guest CPU writes (the control_vhost run shows the same)' % (
              len(diff), ', '.join('0x%x' % p for p in diff[:8]),
              len(truth), len(rings)))


def sim0_counts(vdpa):
    """(completed descriptors, used entries relayed) of sim0's queues."""
    st = query_stats(vdpa, SIMS[0], 2)
    return (sum(q.get('completed_descriptors', 0) for q in st.values()),
            sum(q.get('used_entries_relayed', 0) for q in st.values()))


def ring_bases(vdpa):
    """What the source's vhost handed back (GET_VRING_BASE on sock0) and
    where the destination's resumed (SET_VRING_BASE on sock1), per queue."""
    txt = vdpa.text()
    got = dict(re.findall(r'sock0\) vring base idx:(\d+) file:(\d+)', txt))
    put = dict(re.findall(r'sock1\) vring base idx:(\d+) last_used_idx:\d+ '
                          r'last_avail_idx:(\d+)', txt))
    return got, put


def start_peer(env):
    """testpmd icmpecho on C (sock2) and D (sock3), each port answering
    on itself."""
    argv = ['stdbuf', '-oL', 'dpdk-testpmd', '-l', '0,1', '--no-pci',
            '--no-huge', '-m', '512', '--file-prefix=' + env.prefix('peer')]
    for i, s in ((0, 2), (1, 3)):
        argv += ['--vdev', 'net_virtio_user%d,path=%s,queues=1,mac=%s' % (
            i, env.sock(s), PEER_MAC)]
    argv += ['--', '--forward-mode=icmpecho', '--port-topology=loop',
             '--total-num-mbufs=4096', '--stats-period=0', '-a']
    tp = Proc(env, 'peer', argv)
    tp.wait_log(r'Press enter to exit', 30, what='testpmd forwarding')
    return tp


def boot_source(env, image, vdpa=None):
    src = Guest(env, 'src', image, env.sock(0))
    s = src.wait_stats(lambda s: s['rcvd'] >= MIN_REPLIES and
                       s['t'] >= 1000, BOOT_TIMEOUT,
                       '%d replies before the migration' % MIN_REPLIES)
    check_clean(s, 'source before migration')
    if s['lost'] != 0 or s['late'] != 0:
        if vdpa is not None:
            print(format_stats(SIMS[0], query_stats(vdpa, SIMS[0], 2)))
        raise Failure('source lost %d requests (%d answered late) before '
                      'migrating' % (s['lost'], s['late']))
    print('  before: %s (guest t=%d ms)' % (fmt(s), s['t']))
    return src


def start_migration(env, src, bandwidth):
    uri = 'unix:' + os.path.join(env.sockdir, 'mig')
    dst = Guest(env, 'dst', src.image, env.sock(1), incoming=uri)
    st = dst.qmp.cmd('query-status')
    check(st['status'] == 'inmigrate', 'destination is %s' % st['status'])
    src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': bandwidth})
    src.qmp.cmd('migrate', uri=uri)
    return dst


def poll_migration(src, until, timeout):
    """query-migrate until @until(info) is true; the last info."""
    end = time.monotonic() + timeout
    while True:
        info = src.qmp.cmd('query-migrate')
        st = info.get('status')
        if until(info):
            return info
        check(st not in ('failed', 'cancelled') or until(info),
              'migration %s: %s' % (st, info.get('error-desc', '')))
        src.check_kernel()
        check(time.monotonic() < end, 'migration still %s after %d s' % (
            st, timeout))
        time.sleep(0.1)


def vdpa_lines(vdpa, pattern):
    return re.findall(pattern, vdpa.text(), re.M)


def start_vhost_peer(env):
    """The control: no vDPA, testpmd's net_vhost (DPDK's software vhost
    datapath) serves sock0 and sock1 and answers the echo requests."""
    argv = ['stdbuf', '-oL', 'dpdk-testpmd', '-l', '0,1', '--no-pci',
            '--no-huge', '-m', '512', '--file-prefix=' + env.prefix('peer')]
    for i in (0, 1):
        argv += ['--vdev', 'net_vhost%d,iface=%s,queues=1' % (i, env.sock(i))]
    argv += ['--', '--forward-mode=icmpecho', '--port-topology=loop',
             '--total-num-mbufs=4096', '--stats-period=0', '-a']
    tp = Proc(env, 'peer', argv)
    tp.wait_log(r'Press enter to exit', 30, what='testpmd forwarding')
    return tp


def run_migration(env, image, extra, mode):
    if mode == 'control':
        return run_control(env, image)
    vdpa = start_vdpa(env, extra)
    peer = start_peer(env)
    src = boot_source(env, image, vdpa)
    t0 = time.monotonic()
    dst = start_migration(env, src, MIGRATE_BW)
    before = src.stats()
    info = poll_migration(src, lambda i: i.get('status') == 'completed',
                          MIGRATE_TIMEOUT)
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

    # The device's log: logging started on A in the expected mode.
    check(vdpa_lines(vdpa, r'vdpa_ifcvf_sim0: dirty logging on'),
          'the driver never saw VHOST_F_LOG_ALL on sim0')
    if mode == 'hw':
        check(vdpa_lines(vdpa, r'vdpa_ifcvf_sim0: HW dirty logging'),
              'sim0 did not log in HW mode')
    else:
        check(vdpa_lines(vdpa, r'vdpa_ifcvf_sim0: queues on shadow rings'),
              'sim0 did not go to shadow rings (SW mode)')

    # The destination (-S) pauses once it loaded the last of the stream.
    check(wait_until(lambda: not dst.proc.alive() or
                     dst.qmp.cmd('query-status')['status'] == 'paused',
                     20, 0.1) and dst.proc.alive(),
          'the destination did not finish loading')
    check_ram(env, src, dst)
    dst.qmp.cmd('cont')
    st = wait_until(lambda: dst.qmp.cmd('query-status')['status'] ==
                    'running' or not dst.proc.alive(), 20, 0.1)
    dst.check_kernel()
    check(st and dst.proc.alive(), 'destination is %s' % (
        dst.qmp.cmd('query-status')['status'] if dst.proc.alive() else
        'gone (exit %s)' % dst.proc.popen.returncode))
    got, put = ring_bases(vdpa)
    check(sorted(got) == ['0', '1'] and got == put,
          'ring indices: the source handed back %s, the destination '
          'resumed at %s' % (got, put))
    print('  ring indices handed over: %s' % ', '.join(
        'queue %s at %s' % kv for kv in sorted(got.items())))
    src_st = src.qmp.cmd('query-status')['status']
    check(src_st == 'postmigrate', 'source is %s' % src_st)
    src.check_kernel()
    last_src = src.stats()
    src.quit()

    # After: the destination guest goes on, through B and D; past the
    # timeout every request of the switch-over is settled.
    base = dst.wait_stats(lambda s: True, 30, 'counters on the destination')
    s = dst.wait_stats(
        lambda s: s['rcvd'] >= base['rcvd'] + MIN_REPLIES and
        s['t'] >= base['t'] + 3000, 60,
        '%d replies after the migration' % MIN_REPLIES)
    check(s['rcvd'] > last_src['rcvd'], 'no reply on the destination')
    dst.check_kernel()
    check_clean(s, 'destination')
    check(s['lost'] <= LOSS_BOUND, '%d requests lost (bound %d)' % (
        s['lost'], LOSS_BOUND))
    check(vdpa_lines(vdpa, r'vdpa_ifcvf_sim1: configured'),
          'sim1 was never configured')
    print('  after (destination, guest t=%d ms): %s' % (s['t'], fmt(s)))
    print('  lost over the whole run: %d (bound %d), late %d, corrupt 0' % (
        s['lost'], LOSS_BOUND, s['late']))
    dst.quit()
    peer.stop('\n')
    check(vdpa.stop('quit\n') is not None, 'dpdk-vdpa did not quit')


def run_control(env, image):
    """The same migration with DPDK's software vhost backend instead of
    dpdk-vdpa and the driver: what QEMU/TCG does by itself."""
    peer = start_vhost_peer(env)
    src = boot_source(env, image, vdpa)
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
    check(wait_until(lambda: vdpa_lines(
        vdpa, r'vdpa_ifcvf_sim0: dirty logging on'), 10),
          'the driver never saw VHOST_F_LOG_ALL on sim0')
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
    check(wait_until(lambda: vdpa_lines(
        vdpa, r'vdpa_ifcvf_sim0: dirty logging off'), 10),
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
    check(s['lost'] <= LOSS_BOUND, '%d requests lost (bound %d)' % (
        s['lost'], LOSS_BOUND))
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
        return finish_cancel(src, peer, vdpa)
    check(r1 == r0, 'sim0 still relays used entries after the cancel '
          '(%d -> %d): not back on the direct datapath' % (r0, r1))
    print('  sim0 after the cancel: %d descriptors completed in 0.5 s, '
          'none relayed' % (c1 - c0))
    return finish_cancel(src, peer, vdpa)


def finish_cancel(src, peer, vdpa):
    src.quit()
    peer.stop('\n')
    check(vdpa.stop('quit\n') is not None, 'dpdk-vdpa did not quit')


TESTS = {
    'qemu_hw': lambda env, img: run_migration(env, img, '', 'hw'),
    'qemu_sw': lambda env, img: run_migration(
        env, img, ',sw-live-migration=1', 'sw'),
    'qemu_virtio': lambda env, img: run_migration(
        env, img, ',profile=virtio', 'sw'),
    'qemu_cancel': lambda env, img: run_cancel(env, img, '', 'hw'),
    'control_vhost': lambda env, img: run_migration(env, img, '', 'control'),
    'qemu_cancel_sw': lambda env, img: run_cancel(
        env, img, ',sw-live-migration=1', 'sw'),
    'qemu_cancel_virtio': lambda env, img: run_cancel(
        env, img, ',profile=virtio', 'virtio'),
}


def guest_oops(env):
    """The first oops line on any guest console of the run, or None."""
    for f in sorted(os.listdir(env.dir)):
        if f.endswith('.serial'):
            with open(os.path.join(env.dir, f), 'rb') as fh:
                txt = fh.read().decode(errors='replace')
            m = OOPS_RE.search(txt)
            if m:
                i = txt.rfind('\n', 0, m.start()) + 1
                j = txt.find('\n', m.start())
                return '%s: %s' % (f[:-7], txt[i:j if j > 0 else None])
    return None


def qemu_usable():
    if shutil.which(QEMU) is None:
        return '%s is not installed (devtools/setup.sh installs it)' % QEMU
    if shutil.which('dpdk-testpmd') is None:
        return 'dpdk-testpmd is not installed'
    return None


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
                                            'guest_ping')
    why = qemu_usable()
    if why:
        print('skipped: %s' % why)
        return EXIT_SKIP
    rc = attempt(build, name, guest_ping)
    if rc == EXIT_RETRY:
        # Evidence that QEMU, not the driver, broke the guest: once more.
        first = os.path.join(build, 'migration', name + '.attempt1')
        shutil.rmtree(first, ignore_errors=True)
        os.rename(os.path.join(build, 'migration', name), first)
        print('%s: the guest oopsed after QEMU lost guest CPU writes '
              '(QEMU-RAM-DIFF, no device or ring page): a QEMU/TCG flake; '
              'retrying once (first attempt in %s)' % (name, first))
        rc = attempt(build, name, guest_ping)
        if rc == EXIT_RETRY:
            rc = EXIT_FAIL
    return rc


def attempt(build, name, guest_ping):
    """One run of test @name: EXIT_PASS, EXIT_FAIL, EXIT_SKIP, or
    EXIT_RETRY for a guest oops QEMU is proven to have caused."""
    env = Env(build, name)
    start = time.monotonic()
    try:
        image = build_image(env, guest_ping)
        TESTS[name](env, image)
        print('%s: passed in %.1f s' % (name, time.monotonic() - start))
        return EXIT_PASS
    except Skip as e:
        print('skipped: %s' % e)
        return EXIT_SKIP
    except Failure as e:
        oops = str(e) if isinstance(e, GuestOops) else guest_oops(env)
        if oops:
            print('%s: FAILED [GUEST-OOPS] after %.1f s: %s' % (
                name, time.monotonic() - start, oops))
            if not isinstance(e, GuestOops):
                print('  (then: %s)' % e)
            print(OOPS_NOTE)
            env.report_logs()
            return EXIT_RETRY if env.qemu_ram_diff else EXIT_FAIL
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
