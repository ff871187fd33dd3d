#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
"""QEMU's vhost-user-blk-pci on dpdk-vdpa and this driver on a simulated
virtio-blk VF (vdpa_ifcvf_sim, type=blk).

A Linux guest (TCG; the migration suite's image with blk/guest-init.sh as
/init) writes a pattern over the whole disk with O_DIRECT, flushes, drops
its page cache, reads the disk back with O_DIRECT and compares every
byte; the host checks the guest's verdict, the pattern's and the read
back data's digests against its own, the capacity the guest saw and, for
several queues, that the driver completed requests on each of them.

The migration tests give the source's VF (sim0) and the destination's
(sim1) one disk file (disk=, shared storage) and live-migrate the guest
while it writes and reads the disk in rounds, each with a pattern of its
own: the rounds that end on the destination must read back what was
written, partly by the source (each round first checks the last one's
pattern); the guest RAM of both sides must agree on every ring page
(other differing pages are reported: see qemu.check_ram), each queue
resumes where the source stopped, and the disk file ends holding only
whole sectors of the last two rounds' patterns.

    run-blk.py <builddir> <test> --guest-ping <guest_ping>
    tests: qemu_blk (1 queue), qemu_blk_mq (2 queues, 2 CPUs, a writer
           and a reader per CPU), qemu_blk_virtio (the virtio profile),
           qemu_blk_mig_hw, qemu_blk_mig_sw (sw-live-migration=1),
           qemu_blk_mig_mq_hw, qemu_blk_mig_mq_sw (2 queues on 2 CPUs; by
           hand: two-CPU TCG loses guest writes in migrations),
           qemu_blk_mig_virtio (the virtio profile: SW mode); demo
           (devtools/demo.sh blk: qemu_blk_mig_hw)

Logs in <builddir>/blk/<test>/.
"""

import argparse
import hashlib
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'lib'))
# pylint: disable=wrong-import-position
import dpdk  # noqa: E402
from harness import (EXIT_SKIP, Failure, Proc, catch_signals,  # noqa: E402
                     check, read_text, wait_until)
from dpdk import format_stats, query_stats  # noqa: E402
from qemu import (OOPS_RE, QEMU, QemuGuest, Qmp,  # noqa: E402
                  build_image, check_log_mode, check_ram, check_ring_bases,
                  check_vdpa_alive, missing, poll_migration, run_attempts,
                  run_guest_test, truth_start)

DEV = 'vdpa_ifcvf_sim0'
DST = 'vdpa_ifcvf_sim1'
CAPACITY = 2048         # sectors: 1 MiB, as the guest writes it all
GUEST_MEM = '256M'
BOOT_TIMEOUT = 120      # boot, pattern, write, read back, compare (TCG)
RESULT_RE = re.compile(r'^BLK-GUEST: compare (ok|FAILED)', re.M)
ROUND_RE = re.compile(r'^BLK-GUEST: round (\d+) seed (\w+) ([0-9a-f]+) '
                      r'before (ok|FAILED) after (ok|FAILED)\b', re.M)
MIGRATE_BW = 32 << 20   # pre-copy takes a few seconds: rounds run meanwhile
MIGRATE_TIMEOUT = 120
ROUNDS_AFTER = 2        # rounds the destination completes
ROUND_TIMEOUT = 60      # a round under TCG: a few seconds


def pattern(sectors, seed='5eed'):
    """guest-init.sh's pattern of @sectors sectors and @seed: a list of
    sectors."""
    alpha = 'abcdefghijklmnopqrstuvwxyz0123456789'
    out = []
    for s in range(sectors):
        line = 'sector %010d seed %s ' % (s, seed)
        while len(line) < 511:
            line += alpha
        out.append((line[:511] + '\n').encode())
    return out


def pattern_md5(sectors, seed='5eed'):
    return hashlib.md5(b''.join(pattern(sectors, seed))).hexdigest()


class Guest(QemuGuest):
    """QEMU with a vhost-user-blk-pci on @sock; its console in a file, QMP
    on a socket. @incoming: a migration's destination, paused once
    loaded. @rounds: the guest goes on writing and reading in rounds."""

    vdev = '/machine/peripheral/blk0/virtio-backend'

    def __init__(self, env, image, sock, queues, name='guest',
                 incoming=None, rounds=False):
        kernel, initrd = image
        self.name = name
        self.nr_vqs = queues
        self.image = image
        self.serial = os.path.join(env.dir, name + '.serial')
        qmp = os.path.join(env.sockdir, name + '.qmp')
        argv = [
            QEMU, '-accel', 'tcg', '-M', 'pc', '-smp', str(queues),
            '-m', GUEST_MEM, '-object',
            'memory-backend-memfd,id=mem,size=%s,share=on' % GUEST_MEM,
            '-machine', 'memory-backend=mem',
            '-nodefaults', '-display', 'none', '-monitor', 'none',
            '-serial', 'file:' + self.serial, '-no-reboot',
            '-qmp', 'unix:%s,server=on,wait=off' % qmp,
            '-chardev', 'socket,id=vu0,path=' + sock,
            # vectors=0: INTx, as for virtio-net (QEMU 7.2 under TCG
            # crashes starting a vhost-user device with MSI-X).
            '-device', 'vhost-user-blk-pci,id=blk0,chardev=vu0,'
                       'num-queues=%d,romfile=' % queues,
            '-kernel', kernel, '-initrd', initrd,
            '-append', 'console=ttyS0 panic=-1 oops=panic loglevel=4 '
                       'blk_jobs=%d%s' % (queues,
                                          ' blk_rounds=1' if rounds else ''),
        ]
        if incoming:
            argv += ['-S', '-incoming', incoming]
        self.proc = Proc(env, name, argv)
        self.qmp = Qmp(qmp)

    def text(self):
        return read_text(self.serial)

    def line(self, what):
        m = re.search(r'^BLK-GUEST: %s.*$' % what, self.text(), re.M)
        return m.group(0) if m else None

    def check_kernel(self):
        txt = self.text()
        m = OOPS_RE.search(txt)
        if m:
            raise Failure('%s: guest kernel oops: %s' % (
                self.name, txt[m.start():m.start() + 200]))
        if not self.proc.alive():
            raise Failure('%s: QEMU exited (%s)' % (
                self.name, self.proc.popen.returncode))

    def rounds(self):
        """[(round, seed, the pattern's digest, the disk held the last
        round's pattern, it holds this one's)] on the console."""
        return [(int(r), seed, md5, b == 'ok', a == 'ok')
                for r, seed, md5, b, a in ROUND_RE.findall(self.text())]

    def wait_result(self):
        def ready():
            self.check_kernel()
            return RESULT_RE.search(self.text()) is not None
        check(wait_until(ready, BOOT_TIMEOUT, step=0.5),
              'no verdict from the guest within %d s' % BOOT_TIMEOUT)
        return RESULT_RE.search(self.text()).group(1)

    def wait_rounds(self, n, timeout):
        """Until @n rounds are on the console; all of them."""
        def ready():
            self.check_kernel()
            return len(self.rounds()) >= n
        check(wait_until(ready, timeout, step=0.5),
              '%s: %d rounds of writes and reads within %d s, %d wanted' % (
                  self.name, len(self.rounds()), timeout, n))
        return self.rounds()


def check_first_pass(guest, queues):
    """The guest's first pass: the capacity it saw, the pattern written
    and read back whole."""
    verdict = guest.wait_result()
    for what in ('vda', 'pattern', 'read back'):
        print('  %s' % guest.line(what))
    check(verdict == 'ok', 'the guest read back other bytes than it wrote')
    vda = guest.line('vda')
    check(vda is not None and
          vda.startswith('BLK-GUEST: vda %d sectors, ro 0, hw queues %d,' % (
              CAPACITY, queues)), 'the guest saw: %s' % vda)
    want = pattern_md5(CAPACITY)
    for what in ('pattern', 'read back'):
        got = guest.line(what)
        check(got is not None and got.split()[-3:] == [
            want, str(CAPACITY * 512), 'bytes'],
            'guest %s: %s, want %s' % (what, got, want))


def check_queues_served(vdpa, dev, queues, since=None):
    """The driver completed requests on each of @dev's queues (since the
    stats @since)."""
    stats = query_stats(vdpa, dev, queues)
    print(format_stats(dev, stats).replace('(rx)', '').replace(
        '(tx)', ''))
    for q in range(queues):
        done = stats.get(q, {}).get('completed_descriptors', 0)
        before = (since or {}).get(q, {}).get('completed_descriptors', 0)
        check(done > before, '%s: queue %d completed no request (%d, then '
              '%d)' % (dev, q, before, done))
    return stats


def run(env, image, queues, extra=''):
    vdpa = env.start_vdpa(['%s,type=blk,capacity=%d,queues=%d%s' % (
        DEV, CAPACITY, queues, extra)], interactive=True)
    env.create_ports(vdpa, [DEV])
    guest = Guest(env, image, env.sock(0), queues)
    check_first_pass(guest, queues)
    env.wait_configured(DEV)
    check_queues_served(vdpa, DEV, queues)
    guest.quit()
    env.stop_vdpa(vdpa)


def check_rounds(guest, rounds):
    """Every round found the last round's pattern on the disk, wrote its
    own and read it back (the guest compares each slice's digest)."""
    for r, seed, md5, before, after in rounds:
        check(before, '%s: round %d: the disk does not hold what round %d '
              'wrote' % (guest.name, r, r - 1))
        check(after and md5 == pattern_md5(CAPACITY, seed),
              '%s: round %d (seed %s): pattern %s, read back %s; the '
              'pattern is %s' % (guest.name, r, seed, md5,
                                 'ok' if after else 'other bytes',
                                 pattern_md5(CAPACITY, seed)))


def check_disk_file(path, rounds):
    """Each sector of the disk file is whole, in its place, of one of the
    last two rounds (the destination was quit in the middle of one)."""
    last = rounds[-1][0]
    seeds = ['r%03d' % (r % 1000) for r in (last, last + 1)]
    pats = [pattern(CAPACITY, seed) for seed in seeds]
    with open(path, 'rb') as f:
        disk = f.read()
    check(len(disk) == CAPACITY * 512, 'the disk file holds %d bytes, not '
          '%d' % (len(disk), CAPACITY * 512))
    bad = [s for s in range(CAPACITY)
           if disk[s * 512:(s + 1) * 512] not in (pats[0][s], pats[1][s])]
    check(not bad, 'the disk file: %d sectors of neither round %d nor %d '
          '(first: sector %d: %r)' % (
              len(bad), last, last + 1, bad[0] if bad else 0,
              disk[bad[0] * 512:bad[0] * 512 + 40] if bad else b''))
    newer = sum(disk[s * 512:(s + 1) * 512] == pats[1][s]
                for s in range(CAPACITY))
    print('  disk file: %d sectors of round %d, %d of round %d, none '
          'else' % (CAPACITY - newer, last, newer, last + 1))


def migrate(env, src, vdpa):
    """Live-migrate @src to a destination on sock1, paused once loaded,
    the simulator's record of @src's VF started once the driver logs
    (truth_start()); the destination."""
    uri = 'unix:' + os.path.join(env.sockdir, 'mig')
    dst = Guest(env, src.image, env.sock(1), src.nr_vqs, name='dst',
                incoming=uri, rounds=True)
    src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': MIGRATE_BW})
    before = query_stats(vdpa, DEV, src.nr_vqs)
    t0 = time.monotonic()
    src.qmp.cmd('migrate', uri=uri)
    truth_start(env, DEV)
    info = poll_migration(src, lambda i: i.get('status') == 'completed',
                          MIGRATE_TIMEOUT, vdpa)
    ram = info.get('ram', {})
    print('  migration: %.1f s wall, downtime %s ms, %.1f MB sent, %s '
          'dirty-sync rounds' % (time.monotonic() - t0, info.get('downtime'),
                                 ram.get('transferred', 0) / 1e6,
                                 ram.get('dirty-sync-count')))
    print('  source, requests during pre-copy:')
    check_queues_served(vdpa, DEV, src.nr_vqs, before)
    check(wait_until(lambda: not dst.proc.alive() or
                     dst.qmp.cmd('query-status')['status'] == 'paused',
                     20, 0.1) and dst.proc.alive(),
          'the destination did not finish loading')
    return dst


def run_migration(env, image, queues, mode, extra=''):
    disk = os.path.join(env.dir, 'disk')
    vf = '%%s,type=blk,capacity=%d,queues=%d,disk=%s%s' % (
        CAPACITY, queues, disk, extra)
    vdpa = env.start_vdpa([vf % DEV, vf % DST],
                          interactive=True)
    env.create_ports(vdpa, [DEV, DST])
    src = Guest(env, image, env.sock(0), queues, name='src', rounds=True)
    check_first_pass(src, queues)
    first = src.wait_rounds(1, ROUND_TIMEOUT)
    check_rounds(src, first)
    dst = migrate(env, src, vdpa)
    check_log_mode(env, DEV, mode)
    env.qemu_ram_diff = check_ram(env, DEV, src, dst, stable_buffers=False)
    dst.qmp.cmd('cont')
    check(wait_until(lambda: not dst.proc.alive() or
                     dst.qmp.cmd('query-status')['status'] == 'running',
                     20, 0.1), 'the destination does not run')
    check_ring_bases(vdpa, queues)
    src_rounds = src.rounds()
    check_rounds(src, src_rounds)
    src.quit()
    dst.check_kernel()
    mid = query_stats(vdpa, DST, queues)
    rounds = dst.wait_rounds(ROUNDS_AFTER, ROUND_TIMEOUT * ROUNDS_AFTER)
    check_rounds(dst, rounds)
    # A console line cut at the switch-over matches on neither side: then
    # the round it reported is the one before the destination's first.
    cut = not dst.text().startswith('BLK-GUEST: ')
    check(rounds[0][0] - src_rounds[-1][0] in ((1, 2) if cut else (1,)),
          'the destination\'s first round is %d, the source\'s last %d%s' % (
              rounds[0][0], src_rounds[-1][0],
              ' (a line cut at the switch-over)' if cut else ''))
    print('  rounds: %d to %d on the source, %d to %d on the destination '
          '(round %d under way at the switch-over); each found the last '
          'round\'s pattern on the disk and read its own back' % (
              src_rounds[0][0], src_rounds[-1][0], rounds[0][0],
              rounds[-1][0], rounds[0][0]))
    print('  destination, requests since the switch-over:')
    check_queues_served(vdpa, DST, queues, mid)
    dst.quit()
    check_vdpa_alive(vdpa, 'after the destination quit')
    rounds = dst.rounds()
    env.stop_vdpa(vdpa)
    check_disk_file(disk, rounds)


TESTS = {
    'qemu_blk': lambda env, image: run(env, image, 1),
    'qemu_blk_mq': lambda env, image: run(env, image, 2),
    'qemu_blk_virtio': lambda env, image: run(env, image, 1,
                                              ',profile=virtio'),
    'qemu_blk_mig_hw': lambda env, image: run_migration(env, image, 1, 'hw'),
    'qemu_blk_mig_mq_hw': lambda env, image: run_migration(
        env, image, 2, 'hw'),
    'qemu_blk_mig_sw': lambda env, image: run_migration(
        env, image, 1, 'sw', ',sw-live-migration=1'),
    'qemu_blk_mig_mq_sw': lambda env, image: run_migration(
        env, image, 2, 'sw', ',sw-live-migration=1'),
    'qemu_blk_mig_virtio': lambda env, image: run_migration(
        env, image, 1, 'sw', ',profile=virtio'),
}


def main(argv):
    ap = argparse.ArgumentParser(description='The blk suite (QEMU).')
    ap.add_argument('build', help='the build folder')
    ap.add_argument('test', choices=sorted(TESTS) + ['demo'])
    ap.add_argument('--guest-ping', required=True,
                    help='the static guest_ping the image carries')
    a = ap.parse_args(argv[1:])
    why = missing()
    if why:
        print('skipped: %s' % why)
        return EXIT_SKIP
    build = os.path.abspath(a.build)
    if a.test == 'demo':
        print(DEMO)
    catch_signals()
    return run_attempts(lambda: attempt(build, a.test, a.guest_ping),
                        os.path.join(build, 'blk'), a.test)


# devtools/demo.sh blk: qemu_blk_mig_hw, said first.
DEMO = '''demo: dpdk-vdpa with this driver on two simulated IFCVF block VFs
      that share one disk file; QEMU's vhost-user-blk-pci on the first: a
      Linux guest writes a pattern over the disk, reads it back and
      compares, then goes on in rounds while it is live-migrated (HW dirty
      logging) to a second QEMU on the second VF.'''


def attempt(build, name, guest_ping):
    """One run of test @name: its exit code, or EXIT_RETRY when it failed
    with a guest oops after QEMU was proven to lose guest CPU writes."""
    env = dpdk.Env(build, name, suite='blk', tag='blk')
    test = TESTS['qemu_blk_mig_hw' if name == 'demo' else name]
    return run_guest_test(env, lambda: test(env, build_image(
        env, ('app', 'test-vdpa', 'blk', 'image'),
        os.path.join(HERE, 'guest-init.sh'), guest_ping)))


if __name__ == '__main__':
    sys.exit(main(sys.argv))
