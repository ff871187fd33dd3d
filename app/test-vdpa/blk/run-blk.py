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

    run-blk.py <builddir> <test> --guest-ping <guest_ping>
    tests: qemu_blk (1 queue), qemu_blk_mq (2 queues, 2 CPUs, a writer
           and a reader per CPU), qemu_blk_virtio (the virtio profile)

Logs in <builddir>/blk/<test>/.
"""

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
# pylint: disable=wrong-import-position
import e2e  # noqa: E402
from e2e import Failure, Proc, check, query_stats, wait_until  # noqa: E402

EXIT_SKIP = 77
QEMU = 'qemu-system-x86_64'
DEV = 'vdpa_ifcvf_sim0'
CAPACITY = 2048         # sectors: 1 MiB, as the guest writes it all
GUEST_MEM = '256M'
BOOT_TIMEOUT = 120      # boot, pattern, write, read back, compare (TCG)
RESULT_RE = re.compile(r'^BLK-GUEST: compare (ok|FAILED)', re.M)
OOPS_RE = re.compile(r'(Oops:|BUG: |Kernel panic|general protection fault|'
                     r'kernel BUG at)')


def pattern_md5(sectors):
    """The digest of guest-init.sh's pattern of @sectors sectors."""
    alpha = 'abcdefghijklmnopqrstuvwxyz0123456789'
    h = hashlib.md5()
    for s in range(sectors):
        line = 'sector %010d seed 5eed ' % s
        while len(line) < 511:
            line += alpha
        h.update((line[:511] + '\n').encode())
    return h.hexdigest()


def build_image(env, guest_ping):
    cache = env.path('app', 'test-vdpa', 'blk')
    cmd = ['sh', os.path.join(HERE, '..', 'migration', 'build-image.sh'),
           cache, os.path.join(HERE, 'guest-init.sh'), guest_ping]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=240,
                         check=False)
    if out.returncode != 0:
        raise Failure('the guest image could not be built: %s' %
                      out.stderr.strip()[-500:])
    return out.stdout.split()[-2:]


class Guest:
    """QEMU with a vhost-user-blk-pci on @sock; its console in a file."""

    def __init__(self, env, image, sock, queues):
        kernel, initrd = image
        self.serial = os.path.join(env.dir, 'guest.serial')
        argv = [
            QEMU, '-accel', 'tcg', '-M', 'pc', '-smp', str(queues),
            '-m', GUEST_MEM, '-object',
            'memory-backend-memfd,id=mem,size=%s,share=on' % GUEST_MEM,
            '-machine', 'memory-backend=mem',
            '-nodefaults', '-display', 'none', '-monitor', 'none',
            '-serial', 'file:' + self.serial, '-no-reboot',
            '-chardev', 'socket,id=vu0,path=' + sock,
            # vectors=0: INTx, as for virtio-net (QEMU 7.2 under TCG
            # crashes starting a vhost-user device with MSI-X).
            '-device', 'vhost-user-blk-pci,chardev=vu0,num-queues=%d,'
                       'romfile=' % queues,
            '-kernel', kernel, '-initrd', initrd,
            '-append', 'console=ttyS0 panic=-1 oops=panic loglevel=4 '
                       'blk_jobs=%d' % queues,
        ]
        self.proc = Proc(env, 'qemu', argv)

    def text(self):
        return e2e.read_text(self.serial)

    def line(self, what):
        m = re.search(r'^BLK-GUEST: %s.*$' % what, self.text(), re.M)
        return m.group(0) if m else None

    def wait_result(self):
        def ready():
            txt = self.text()
            m = OOPS_RE.search(txt)
            if m:
                raise Failure('guest kernel oops: %s' %
                              txt[m.start():m.start() + 200])
            if not self.proc.alive():
                raise Failure('QEMU exited (%s)' % self.proc.popen.returncode)
            return RESULT_RE.search(txt) is not None
        check(wait_until(ready, BOOT_TIMEOUT, step=0.5),
              'no verdict from the guest within %d s' % BOOT_TIMEOUT)
        return RESULT_RE.search(self.text()).group(1)


def run(env, image, queues, extra=''):
    vdpa = env.start_vdpa(['%s,type=blk,capacity=%d,queues=%d%s' % (
        DEV, CAPACITY, queues, extra)], interactive=True)
    env.create_ports(vdpa, [DEV])
    guest = Guest(env, image, env.sock(0), queues)
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
    env.wait_configured(DEV)
    stats = query_stats(vdpa, DEV, queues)
    print(e2e.format_stats(DEV, stats).replace('(rx)', '').replace(
        '(tx)', ''))
    for q in range(queues):
        done = stats.get(q, {}).get('completed_descriptors', 0)
        check(done > 0, 'queue %d completed no request' % q)
    guest.proc.kill()
    env.stop_vdpa(vdpa)


TESTS = {
    'qemu_blk': lambda env, image: run(env, image, 1),
    'qemu_blk_mq': lambda env, image: run(env, image, 2),
    'qemu_blk_virtio': lambda env, image: run(env, image, 1,
                                              ',profile=virtio'),
}


def main(argv):
    ap = argparse.ArgumentParser(description='The blk suite (QEMU).')
    ap.add_argument('build', help='the build folder')
    ap.add_argument('test', choices=sorted(TESTS))
    ap.add_argument('--guest-ping', required=True,
                    help='the static guest_ping the image carries')
    a = ap.parse_args(argv[1:])
    if shutil.which(QEMU) is None:
        print('skipped: %s is not installed' % QEMU)
        return EXIT_SKIP
    env = e2e.Env(os.path.abspath(a.build), a.test, suite='blk', tag='blk')
    return e2e.run_test(env, lambda: TESTS[a.test](
        env, build_image(env, a.guest_ping)))

if __name__ == '__main__':
    sys.exit(main(sys.argv))
