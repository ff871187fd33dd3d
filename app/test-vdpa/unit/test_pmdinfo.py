#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
"""DPDK's dpdk-pmdinfo.py on the built plugins (the driver, its installed
copy, the simulator): each field the build embedded through DPDK's
pmdinfogen, and no simulator in the driver.

usage: test_pmdinfo.py <dpdk-pmdinfo.py> driver|sim=<plugin.so>...
"""

import json
import subprocess
import sys

DRIVER = {
    'vdpa_ifcvf_oot': {
        'kmod': '* vfio-pci',
        'params': ['class=vdpa', 'vdpa=1', 'sw-live-migration=0|1'],
        # vendor, device, subsystem vendor, subsystem device (None: any)
        'pci_ids': [('1af4', '1041', '8086', '001a'),
                    ('1af4', '1000', '8086', '0001'),
                    ('1af4', '1041', None, None),
                    ('1af4', '1042', '8086', '0002'),
                    ('1af4', '1001', '8086', '0002')],
    },
}
SIM = {
    'vdpa_ifcvf_sim': {
        'kmod': None,
        'params': ['qp=<1-32>', 'profile=ifcvf|virtio', 'wire=loop|<vdev>',
                   'mac=<addr>', 'sw-live-migration=0|1', 'type=net|blk',
                   'capacity=<sectors>', 'disk=<file>'],
        'pci_ids': [],
    },
}
# dpdk-pmdinfo.py follows a file's DT_NEEDED: the simulator's plugin
# shows the driver it needs too, the driver nothing of the simulator.
WANTS = {'driver': DRIVER, 'sim': dict(DRIVER, **SIM)}


def pci_id(e):
    return (e.get('vendor'), e.get('device'), e.get('subsystem_vendor'),
            e.get('subsystem_device'))


def check(tool, so, want_all):
    out = subprocess.run([sys.executable, tool, so], capture_output=True,
                         text=True, timeout=60)
    if out.returncode != 0:
        return ['%s: exit %d: %s' % (tool, out.returncode, out.stderr)]
    drivers = {d['name']: d for d in json.loads(out.stdout)}
    errs = []
    if sorted(drivers) != sorted(want_all):
        errs.append('drivers %s, want %s' % (sorted(drivers),
                                             sorted(want_all)))
    for name, want in want_all.items():
        d = drivers.get(name)
        if d is None:
            continue
        if d.get('kmod') != want['kmod']:
            errs.append('%s: kmod %r, want %r' % (name, d.get('kmod'),
                                                  want['kmod']))
        params = d.get('params', '').split()
        for p in want['params']:
            if p not in params:
                errs.append('%s: no devarg %s in %r' % (name, p, params))
        ids = [pci_id(e) for e in d.get('pci_ids', [])]
        if ids != want['pci_ids']:
            errs.append('%s: PCI IDs %s, want %s' % (name, ids,
                                                     want['pci_ids']))
    return errs


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    failed = 0
    for arg in argv[2:]:
        kind, so = arg.split('=', 1)
        errs = check(argv[1], so, WANTS[kind])
        for e in errs:
            print('FAIL %s: %s' % (so, e))
        if not errs:
            print('ok   %s: %s' % (so, ', '.join(sorted(WANTS[kind]))))
        failed += bool(errs)
    print('%d passed, %d failed' % (len(argv) - 2 - failed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
