#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
"""The nested suite: the driver in a Linux guest, on QEMU's virtio-net-pci
devices behind QEMU's emulated Intel IOMMU, through the real PCI + VFIO path.

It builds (or reuses) the guest image with build-image.sh, boots it under
TCG, and reads the verdicts /init (guest-init.sh) prints on the serial
console. Exit 0 when every guest test passed, 1 otherwise, 77 (with
"skipped: <reason>") only when QEMU cannot run at all: lib/harness.py's
exit codes, as every runner's. The console log is
<builddir>/nested/guest/guest.log.

usage: run-nested.py --build DIR --cache DIR --driver SO --vdpa BIN
                     --traffic BIN --notifier BIN --installed SO
"""

import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'lib'))
# pylint: disable=wrong-import-position
from harness import (Env, Failure, Proc, Skip, catch_signals,  # noqa: E402
                     check, run_test)
from qemu import QEMU, missing  # noqa: E402

BUILD_TIMEOUT = 240  # seconds for the image (a first run downloads a kernel)
BOOT_TIMEOUT = 300  # seconds for the whole guest run (about 15 s here)
EXPECTED = [
    "vfio-bind", "vdpa-probe", "traffic", "reconnect-vf0", "via-macswap",
    "reconnect-vf1", "dma-unmapped", "msix-vfio", "vdpa-exit",
    "dpdk-ifc-coexist", "host-notifier", "host-notifier-sw-lm",
    "host-notifier-refused", "legacy-frontend",
    "devargs-refused", "class-vdpa", "net-virtio", "net-virtio-devargs",
    "no-dmar-fault",
    "qemu-no-device-error",
]
# QEMU's own complaints about what a driver did to its devices (e.g.
# "wrong value for queue_enable 0", "Guest moved used index from ...").
QEMU_MSG_RE = re.compile(r"^qemu-system-x86_64: (.*)$")
QEMU_BENIGN = ("hub 0 is not connected to host network",)
TEST_RE = re.compile(r"^NESTED-TEST (\S+): (PASS|FAIL)(.*)$")
RESULT_RE = re.compile(r"^NESTED-RESULT: (PASS|FAIL)")


def qemu_usable():
    """None when QEMU can run this suite's machine, else why not."""
    why = missing()
    if why:
        return why
    try:
        out = subprocess.run(
            [QEMU, "-accel", "tcg", "-M", "q35", "-device", "help"],
            capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{QEMU} does not run: {e}"
    if out.returncode != 0:
        return f"{QEMU} does not run: {out.stderr.strip()[:200]}"
    for dev in ("intel-iommu", "virtio-net-pci"):
        if f'"{dev}"' not in out.stdout:
            return f"{QEMU} has no {dev} device"
    return None


def qemu_cmd(kernel, initrd):
    cmd = [
        QEMU, "-accel", "tcg", "-M", "q35,kernel-irqchip=split",
        "-cpu", "max", "-smp", "2", "-m", "1024",
        "-nodefaults", "-display", "none", "-no-reboot",
        "-serial", "stdio", "-monitor", "none",
        "-device", "intel-iommu,intremap=on,caching-mode=on,aw-bits=39",
        "-kernel", kernel, "-initrd", initrd,
        "-append", "console=ttyS0 intel_iommu=on iommu=pt hugepages=128 "
                   "panic=-1 loglevel=4",
    ]
    # VF0 has each queue's doorbell on a page of its own (page-per-vq):
    # the driver offers it host notifiers. VF1 keeps QEMU's default,
    # doorbells 4 bytes apart (notify_off_multiplier 4): none for it.
    for i, ppv in enumerate(("on", "off")):
        cmd += ["-netdev", f"hubport,id=hp{i},hubid=0",
                "-device", f"virtio-net-pci,netdev=hp{i},disable-legacy=on,"
                           f"iommu_platform=on,ats=on,romfile=,"
                           f"page-per-vq={ppv},"
                           f"mac=52:54:00:00:00:0{i + 1}"]
    return cmd


def build_image(args):
    cmd = ["sh", os.path.join(HERE, "build-image.sh"), args.cache,
           os.path.join(HERE, "guest-init.sh"), args.driver, args.vdpa,
           args.traffic, args.notifier, args.installed]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=BUILD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as e:
        raise Failure(f"the guest image was not built in {BUILD_TIMEOUT} s"
                      ) from e
    check(out.returncode == 0,
          f"the guest image could not be built: {out.stderr.strip()[-500:]}")
    return out.stdout.split()[-2:]


def verdicts_of(console):
    """{test: (PASS|FAIL, reason)} and the overall NESTED-RESULT (None if
    the guest printed none) from the guest's console; QEMU's own complaints
    about what the driver did to its devices are a test of their own."""
    verdicts, overall, qemu_errors = {}, None, []
    for line in console.splitlines():
        line = line.rstrip("\r")
        m = TEST_RE.match(line)
        if m:
            verdicts[m.group(1)] = (m.group(2), m.group(3).strip())
        m = RESULT_RE.match(line)
        if m:
            overall = m.group(1)
        m = QEMU_MSG_RE.match(line)
        if m and not any(b in m.group(1) for b in QEMU_BENIGN):
            qemu_errors.append(m.group(1))
    verdicts["qemu-no-device-error"] = ("FAIL", (
        f"{len(qemu_errors)} QEMU errors, first: {qemu_errors[0]}")
    ) if qemu_errors else ("PASS", "")
    return verdicts, overall


def run(env, args):
    """Build the image, boot the guest to its end, count its verdicts."""
    kernel, initrd = build_image(args)
    print(f"image: {kernel} {initrd}")
    guest = Proc(env, "guest", qemu_cmd(kernel, initrd))
    rc = guest.wait_exit(BOOT_TIMEOUT)
    guest.kill()
    verdicts, overall = verdicts_of(guest.text())
    passed = failed = 0
    for name in EXPECTED:
        verdict, reason = verdicts.get(name, ("FAIL", "never reported"))
        print(f"NESTED-TEST {name}: {verdict} {reason}".rstrip())
        passed += verdict == "PASS"
        failed += verdict != "PASS"
    unexpected = sorted(set(verdicts) - set(EXPECTED))
    print(f"{passed} passed, {failed + len(unexpected)} failed")
    if failed or unexpected or overall != "PASS" or rc is None:
        print(f"the console's end ({guest.log}):\n{guest.text()[-20000:]}")
    check(rc is not None, f"the guest did not finish in {BOOT_TIMEOUT} s")
    check(not unexpected, f"unexpected guest tests: {unexpected}")
    check(overall is not None, "the guest printed no NESTED-RESULT line")
    check(failed == 0 and overall == "PASS",
          f"{failed} guest tests failed; NESTED-RESULT: {overall}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--vdpa", required=True)
    ap.add_argument("--traffic", required=True)
    ap.add_argument("--notifier", required=True)
    # The file meson install puts in DPDK's plugin folder
    # (librte_vdpa_ifcvf_oot.so): the guest's /opt/pmds holds it.
    ap.add_argument("--installed", required=True)
    args = ap.parse_args()

    catch_signals()
    env = Env(os.path.abspath(args.build), "guest", suite="nested",
              tag="nested")

    def test():
        why = qemu_usable()
        if why is not None:
            raise Skip(why)
        run(env, args)
    return run_test(env, test)


if __name__ == "__main__":
    sys.exit(main())
