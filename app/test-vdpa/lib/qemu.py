# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
"""QEMU as a vhost-user frontend, shared by the migration and blk suites:
the guest image, a QMP client, a guest's RAM and rings read through QEMU,
and a live migration watched to its end.

A guest here is a QemuGuest: .name, .proc (a harness.Proc), .qmp (a Qmp),
.vdev (the QOM path of its virtio device's backend), .nr_vqs (its
virtqueues) and .check_kernel() (raises what its console shows).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import dpdk
import harness
from harness import EXIT_FAIL, Failure, check

HERE = os.path.dirname(os.path.abspath(__file__))

QEMU = 'qemu-system-x86_64'
EXIT_RETRY = -1  # an attempt's end: a guest oops QEMU was proven to cause
RETRIES = 2  # attempts after one that EXIT_RETRY ended
OOPS_RE = re.compile(r'(Oops:|BUG: |Kernel panic|general protection fault|'
                     r'kernel BUG at)')


def missing(*programs):
    """Why a suite cannot run here: the first of @programs (QEMU's by
    default) not installed, or None."""
    for prog in programs or (QEMU,):
        if shutil.which(prog) is None:
            return '%s is not installed (devtools/setup.sh installs it)' % prog
    return None


def guest_oops(folder):
    """The first oops line on any guest console of the run, or None."""
    for f in sorted(os.listdir(folder)):
        if f.endswith('.serial'):
            with open(os.path.join(folder, f), 'rb') as fh:
                txt = fh.read().decode(errors='replace')
            m = OOPS_RE.search(txt)
            if m:
                i = txt.rfind('\n', 0, m.start()) + 1
                j = txt.find('\n', m.start())
                return '%s: %s' % (f[:-7], txt[i:j if j > 0 else None])
    return None


def run_attempts(attempt, folder, name):
    """@attempt() (an exit code, or EXIT_RETRY), again while it ends in
    EXIT_RETRY, RETRIES more times at most; each such attempt's logs
    (@folder/@name) are kept as @folder/@name.attemptN. Its exit code."""
    rc = attempt()
    for n in range(1, RETRIES + 1):
        if rc != EXIT_RETRY:
            break
        kept = os.path.join(folder, '%s.attempt%d' % (name, n))
        shutil.rmtree(kept, ignore_errors=True)
        os.rename(os.path.join(folder, name), kept)
        print('%s: the guest oopsed after QEMU lost guest CPU writes '
              '(QEMU-RAM-DIFF, no device or ring page): a QEMU/TCG flake; '
              'retry %d of %d (that attempt is in %s)' % (
                  name, n, RETRIES, kept))
        rc = attempt()
    return EXIT_FAIL if rc == EXIT_RETRY else rc


OOPS_NOTE = (
    '  (a guest kernel oops: QEMU 7.2/TCG shows one in about 26 migrations '
    'with any vhost backend,\n   but a page the device wrote and nobody '
    'logged does the same: a driver\n   that skips its dirty logging made '
    'the destination guest hit "kernel BUG at\n   lib/list_debug.c" here. '
    'Rerun; if it repeats, suspect the driver.)')


def run_guest_test(env, fn):
    """harness.run_test(@env, @fn), then a failure's guest oops said as a
    kind of its own: EXIT_RETRY if the run also proved that QEMU lost
    guest CPU writes (@env.qemu_ram_diff), else the exit code."""
    env.qemu_ram_diff = False
    rc = harness.run_test(env, fn)
    oops = guest_oops(env.dir) if rc == EXIT_FAIL else None
    if oops is None:
        return rc
    print('%s: [GUEST-OOPS] %s%s' % (
        env.name, oops, ' (QEMU lost guest CPU writes)'
        if env.qemu_ram_diff else ''))
    print(OOPS_NOTE)
    return EXIT_RETRY if env.qemu_ram_diff else rc


def build_image(env, cache, init, guest_ping):
    """(kernel, initrd) of the suites' guest: Debian's kernel, busybox,
    @guest_ping and @init as /init (migration/build-image.sh), cached in
    the build folder's @cache."""
    script = os.path.join(os.path.dirname(HERE), 'migration', 'build-image.sh')
    cmd = ['sh', script, env.path(*cache), init, guest_ping]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=240,
                         check=False)
    if out.returncode != 0:
        raise Failure('the guest image could not be built: %s' %
                      out.stderr.strip()[-500:])
    return out.stdout.split()[-2:]


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


class QemuGuest:
    """What the suites' guests share: a QEMU process (.proc) with QMP
    (.qmp), quit through QMP, killed if it does not exit."""

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
            if os.readlink(os.path.join(fd_dir, fd)).startswith(
                    '/memfd:memory-backend-memfd'):
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


def vf_logging(env, dev):
    """How the driver logs VF @dev's dirty pages: 'off', 'hw' or 'sw'."""
    return dpdk.vf_info(env, dev)['logging']


def check_log_mode(env, dev, mode):
    """VF @dev logged in @mode, 'hw' or 'sw' (telemetry's set-up counts)."""
    info = dpdk.vf_info(env, dev)
    key = 'hw_log_setups' if mode == 'hw' else 'shadow_setups'
    check(info[key] > 0, '%s did not log in %s mode: %s' % (
        dev, mode.upper(), info))
    print('  %s: %s %d' % (dev, key, info[key]))


def truth_start(env, dev, timeout=10):
    """Once the driver logs on VF @dev (a migration just started), reset
    the simulator's record of the pages its device wrote
    (/vdpa_ifcvf_sim/truth): from then on, each page of the record is one
    the device wrote while logging. Raise if it does not log within
    @timeout s."""
    check(harness.wait_until(lambda: vf_logging(env, dev) != 'off',
                             timeout, step=0.01),
          'the driver never logged on %s (VHOST_F_LOG_ALL)' % dev)
    dpdk.telemetry(env, '/vdpa_ifcvf_sim/truth_reset,' + dev)


def queue_status(guest, q):
    """QEMU's view of virtqueue @q of the guest's device (ring addresses,
    size), or None when this QEMU cannot tell."""
    try:
        return guest.qmp.cmd('x-query-virtio-queue-status', path=guest.vdev,
                             queue=q)
    except Failure:
        return None


def ring_pages(guest):
    """Guest frames of the device's rings (QEMU's view), or an empty set
    when this QEMU cannot tell."""
    pages = set()
    for q in range(guest.nr_vqs):
        st = queue_status(guest, q)
        if st is None:
            return set()
        size = st.get('vring-num', 0)
        for key, length in (('vring-desc', 16 * size),
                            ('vring-avail', 6 + 2 * size),
                            ('vring-used', 6 + 8 * size)):
            a = st.get(key, 0)
            pages.update(range(a >> 12, ((a + length - 1) >> 12) + 1))
    return pages


def check_ram(env, dev, src, dst, stable_buffers=True):
    """Source and destination guest RAM, page by page. A differing ring
    page is a dirty page the driver failed to log: a failure. So is a
    differing page the device wrote while logging (the simulator's
    record), where the guest keeps its device buffers (@stable_buffers: a
    network guest's RX buffers). A guest that frees and reuses them (a
    block guest's read buffers are its processes' memory) may have its
    CPU write over such a page later, so such a page is reported, and
    the log's completeness is left to the tests with the project's own
    frontend (blk_log). Other differing pages were written by the guest's
    CPU only: QEMU's own dirty tracking (the control_vhost run, without
    vDPA, shows them too); reported, and left to the guest's checks.
    @dev: the source VF, its record truth_start()ed. True when QEMU is
    shown to have lost guest CPU writes (pages differ, none a ring page
    nor one the device wrote), else False."""
    size, diff = compare_ram(src, dst)
    if not diff:
        print('  guest RAM: %d MiB identical on both sides' % (size >> 20))
        return False
    truth = dpdk.sim_truth(env, dev)
    rings = ring_pages(src)
    check(rings or stable_buffers, 'QEMU tells no ring address: the ring '
          'pages, the only pages that fail this check, are unknown')
    written = sorted(set(diff) & truth)
    ring = sorted(set(diff) & rings)
    check(not ring and (not written or not stable_buffers),
          '%d guest pages differ between source and destination; the '
          'device wrote %d of them while logging (%s), %d are ring pages '
          '(%s): dirty pages not logged' % (
              len(diff), len(written),
              ', '.join('0x%x' % p for p in written[:8]),
              len(ring), ', '.join('0x%x' % p for p in ring[:8])))
    if written:
        print('  RAM-DIFF: %d guest pages differ (%s), none a ring page (of '
              '%d); the device wrote %d of them at some time while logging '
              '(%s, of %d pages in its record), buffers the guest reuses: '
              'not told from QEMU/TCG losing guest CPU writes' % (
                  len(diff), ', '.join('0x%x' % p for p in diff[:8]),
                  len(rings), len(written),
                  ', '.join('0x%x' % p for p in written[:8]),
                  len(truth)))
        return False
    print('  QEMU-RAM-DIFF: %d guest pages differ (%s), none written by the '
          'device (%d pages in its record) nor a ring page (of %d): QEMU/TCG '
          'lost guest CPU writes (the control_vhost run shows the same)' % (
              len(diff), ', '.join('0x%x' % p for p in diff[:8]),
              len(truth), len(rings)))
    return True


def vring_bases(vdpa, sock):
    """The ring indices on socket @sock (sock0, ...) as vhost logged them,
    in order: ('get', queue, index) for each GET_VRING_BASE (the index
    handed back), ('set', queue, index) for each SET_VRING_BASE."""
    return [('get', int(q), int(g)) if g else ('set', int(q), int(a))
            for q, g, a in re.findall(
                r'/%s\) vring base idx:(\d+) (?:file:(\d+)|last_used_idx:'
                r'\d+ last_avail_idx:(\d+))' % sock, vdpa.text())]


def ring_bases(vdpa):
    """What the source's vhost handed back (GET_VRING_BASE on sock0) and
    where the destination's resumed (SET_VRING_BASE on sock1), per queue
    (the last of each)."""
    return ({q: i for k, q, i in vring_bases(vdpa, 'sock0') if k == 'get'},
            {q: i for k, q, i in vring_bases(vdpa, 'sock1') if k == 'set'})


def check_ring_bases(vdpa, nr_vqs):
    """Every one of @nr_vqs queues resumes on the destination (sock1) at
    the index the source (sock0) handed back (within 10 s)."""
    check_vdpa_alive(vdpa, 'before the ring indices were handed over')
    # A running destination has sent its SET_VRING_BASEs, which need no
    # reply: vhost may log them a little later.
    harness.wait_until(lambda: set(range(nr_vqs)) <= set(ring_bases(vdpa)[1]),
                       10, 0.1)
    got, put = ring_bases(vdpa)
    bad = ['queue %d: the source handed back %s, the destination resumed '
           'at %s' % (q, got.get(q, 'none'), put.get(q, 'none'))
           for q in sorted(set(got) | set(put) | set(range(nr_vqs)))
           if q not in got or got.get(q) != put.get(q)]
    check(not bad, 'ring indices (%d queues): %s' % (nr_vqs,
                                                     '; '.join(bad)))
    print('  ring indices handed over: %s' % ', '.join(
        'queue %d at %d' % kv for kv in sorted(got.items())))


def check_vdpa_alive(vdpa, when):
    """Raise, saying how, if dpdk-vdpa (the driver, the simulated VFs)
    died."""
    if vdpa is None:
        return
    rc = vdpa.popen.poll()
    if rc is None:
        try:  # a crash writing its core is not reaped yet
            with open('/proc/%d/status' % vdpa.pid) as f:
                if not re.search(r'^CoreDumping:\s*1', f.read(), re.M):
                    return
        except OSError:
            return
        how = 'a signal, dumping core'
    else:
        how = ('signal %s' % signal.Signals(-rc).name if rc < 0 else
               'exit %d' % rc)
    raise Failure('dpdk-vdpa died (%s) %s: the driver or a simulated VF '
                  'crashed (with "ulimit -c unlimited" its core is in %s)' %
                  (how, when, vdpa.env.dir))


def poll_migration(src, until, timeout, vdpa=None):
    """query-migrate until @until(info) is true; the last info."""
    end = time.monotonic() + timeout
    while True:
        info = src.qmp.cmd('query-migrate')
        st = info.get('status')
        check_vdpa_alive(vdpa, 'during the migration (%s, %.1f MB sent)' % (
            st, info.get('ram', {}).get('transferred', 0) / 1e6))
        if until(info):
            return info
        check(st not in ('failed', 'cancelled') or until(info),
              'migration %s: %s' % (st, info.get('error-desc', '')))
        src.check_kernel()
        check(time.monotonic() < end, 'migration still %s after %d s' % (
            st, timeout))
        time.sleep(0.1)
