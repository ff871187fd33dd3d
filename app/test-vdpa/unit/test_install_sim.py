#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
"""What `meson install` installs, by the build's own plan (meson
introspect --installed): the default build installs the driver alone;
a build configured with -Dinstall_sim=true installs the simulator's
plugin too, in the driver's folder (where the plugin finds the driver).

usage: test_install_sim.py <source dir> <build dir> <scratch dir>
"""

import json
import os
import shutil
import subprocess
import sys

DRIVER = 'librte_vdpa_ifcvf_oot.so'
SIM = 'librte_vdpa_ifc_sim.so'


def installed(build):
    """{installed file name: its folder} of the build at @build."""
    out = subprocess.run(['meson', 'introspect', build, '--installed'],
                         capture_output=True, text=True, check=True,
                         timeout=60).stdout
    return {os.path.basename(d): os.path.dirname(d)
            for d in json.loads(out).values()}


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    src, build, scratch = argv[1:]
    failed = 0
    default = installed(build)
    if sorted(default) != [DRIVER]:
        print('FAIL default build installs %s, want %s only' % (
            sorted(default), DRIVER))
        failed += 1
    else:
        print('ok   default build: %s into %s' % (DRIVER, default[DRIVER]))
    shutil.rmtree(scratch, ignore_errors=True)
    setup = subprocess.run(['meson', 'setup', scratch, src,
                            '-Dinstall_sim=true'],
                           capture_output=True, text=True, timeout=120)
    if setup.returncode != 0:
        print('FAIL meson setup -Dinstall_sim=true: %s' % setup.stdout[-500:])
        return 1
    with_sim = installed(scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    if sorted(with_sim) != sorted([DRIVER, SIM]) or \
            with_sim[SIM] != with_sim[DRIVER] or \
            with_sim[DRIVER] != default.get(DRIVER):
        print('FAIL -Dinstall_sim=true installs %s, want %s and %s in %s' % (
            with_sim, DRIVER, SIM, default.get(DRIVER)))
        failed += 1
    else:
        print('ok   -Dinstall_sim=true: %s and %s into %s' % (
            DRIVER, SIM, with_sim[SIM]))
    print('%d passed, %d failed' % (2 - failed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
