#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
"""The two plugins as binutils read them: the driver (the build's file and
the copy meson installs) holds no simulator symbol and exports exactly its
bus interface (version.map's INTERNAL node); the simulator's plugin needs
the driver by its soname, reaches it through that interface only, and
exports nothing.

usage: test_plugins.py <version.map> <driver.so> <installed.so> <sim.so>
"""

import os
import re
import subprocess
import sys

# A simulator name: sim_*, ifcvf_sim*, *_sim (not __sanitizer's).
SIM_RE = re.compile(r'(^|_)sim(_|$)', re.I)


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True,
                          timeout=60).stdout


def interface(version_map):
    """The names version.map's INTERNAL node exports."""
    with open(version_map) as f:
        text = f.read()
    node = re.search(r'INTERNAL\s*{\s*global:(.*?)local:', text, re.S)
    return sorted(re.findall(r'(\w+);', node.group(1)))


def dynamic(so, which):
    """@so's dynamic symbols, --defined-only or --undefined-only: name,
    version ('' if none); not the version nodes (absolute symbols)."""
    out = run('nm', '-D', which, so)
    syms = []
    for line in out.splitlines():
        kind, name = line.split()[-2:]
        if kind == 'A':
            continue
        base, _, ver = name.replace('@@', '@').partition('@')
        syms.append((base, ver))
    return syms


def check_driver(so, api):
    errs = []
    exported = [(n, v) for n, v in dynamic(so, '--defined-only')
                if n not in ('_init', '_fini')]
    if sorted(exported) != [(n, 'INTERNAL') for n in api]:
        errs.append('exports %s, want %s@INTERNAL' % (exported, api))
    sim = [l for l in run('nm', so).splitlines()
           if SIM_RE.search(l.split()[-1])]
    if sim:
        errs.append('simulator symbols: %s' % sim[:5])
    if 'vdpa_ifcvf_sim' in run('strings', so):
        errs.append('the string vdpa_ifcvf_sim is in it')
    return errs


def soname(so):
    m = re.search(r'\(SONAME\)\s+Library soname: \[(.*)\]',
                  run('readelf', '-d', so))
    return m.group(1) if m else None


def check_sim(so, driver, installed, api):
    errs = []
    needed = re.findall(r'\(NEEDED\)\s+Shared library: \[(.*)\]',
                        run('readelf', '-d', so))
    name = os.path.basename(installed)
    if soname(driver) != name or name not in needed:
        errs.append('needs %s; the driver\'s soname is %s, its installed '
                    'name %s' % (needed, soname(driver), name))
    # Whatever of the driver it takes (ifcvf_*): the interface, @INTERNAL,
    # the build check and the registration among it.
    used = sorted((n, v) for n, v in dynamic(so, '--undefined-only')
                  if n.startswith('ifcvf_'))
    if any(v != 'INTERNAL' or n not in api for n, v in used) or \
            any((n, 'INTERNAL') not in used
                for n in ('ifcvf_bus_attach', 'ifcvf_bus_register')):
        errs.append('uses %s of the driver, the interface is %s@INTERNAL' %
                    (used, api))
    exported = [n for n, _ in dynamic(so, '--defined-only')
                if n not in ('_init', '_fini')]
    if exported:
        errs.append('exports %s' % exported[:5])
    return errs


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    api = interface(argv[1])
    results = [(argv[2], check_driver(argv[2], api)),
               (argv[3], check_driver(argv[3], api)),
               (argv[4], check_sim(argv[4], argv[2], argv[3], api))]
    for so, errs in results:
        for e in errs:
            print('FAIL %s: %s' % (so, e))
        if not errs:
            print('ok   %s' % so)
    failed = sum(1 for _, e in results if e)
    print('%d passed, %d failed' % (len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
