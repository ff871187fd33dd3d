#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
"""The nested suite: the driver in a Linux guest, on QEMU's virtio-net-pci
devices behind QEMU's emulated Intel IOMMU, through the real PCI + VFIO path.

It builds (or reuses) the guest image with build-image.sh, boots it under
TCG, and reads the verdicts /init (guest-init.sh) prints on the serial
console. Exit 0 when every guest test passed, 1 otherwise, 77 (with
"skipped: <reason>") only when QEMU cannot run at all: e2e.py's exit
codes, as every runner's.

usage: run-nested.py --cache DIR --driver SO --vdpa BIN --traffic BIN
                     --notifier BIN
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
# pylint: disable=wrong-import-position
from e2e import EXIT_FAIL, EXIT_PASS, EXIT_SKIP  # noqa: E402

QEMU = "qemu-system-x86_64"
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


def skip(reason):
    print(f"skipped: {reason}")
    sys.exit(EXIT_SKIP)


def qemu_usable():
    """None when QEMU can run this suite's machine, else why not."""
    qemu = shutil.which(QEMU)
    if qemu is None:
        return f"{QEMU} is not installed (devtools/setup.sh installs it)"
    try:
        out = subprocess.run(
            [qemu, "-accel", "tcg", "-M", "q35", "-device", "help"],
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
                             timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"FAIL: the guest image was not built in {BUILD_TIMEOUT} s")
        sys.exit(EXIT_FAIL)
    if out.returncode != 0:
        print(out.stderr, end="")
        print("FAIL: the guest image could not be built")
        sys.exit(EXIT_FAIL)
    kernel, initrd = out.stdout.split()[-2:]
    return kernel, initrd


def boot(kernel, initrd, log_path):
    """Run the guest; returns (verdicts, overall, timed_out)."""
    verdicts = {}
    qemu_errors = []
    overall = None
    proc = subprocess.Popen(qemu_cmd(kernel, initrd), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + BOOT_TIMEOUT
    timed_out = False
    os.set_blocking(proc.stdout.fileno(), False)
    buf = b""
    with open(log_path, "wb") as log:
        while True:
            if time.monotonic() > deadline:
                timed_out = True
                proc.kill()
            try:
                chunk = proc.stdout.read()
            except BlockingIOError:
                chunk = None
            if chunk:
                log.write(chunk)
                log.flush()
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    m = TEST_RE.match(line)
                    if m:
                        verdicts[m.group(1)] = (m.group(2), m.group(3).strip())
                        print(line, flush=True)
                    m = RESULT_RE.match(line)
                    if m:
                        overall = m.group(1)
                    m = QEMU_MSG_RE.match(line)
                    if m and not any(b in m.group(1) for b in QEMU_BENIGN):
                        qemu_errors.append(m.group(1))
            elif proc.poll() is not None:
                break
            else:
                time.sleep(0.05)
    proc.wait()
    if qemu_errors:
        verdicts["qemu-no-device-error"] = (
            "FAIL", f"{len(qemu_errors)} QEMU errors, first: {qemu_errors[0]}")
    else:
        verdicts["qemu-no-device-error"] = ("PASS", "")
    print(f"NESTED-TEST qemu-no-device-error: "
          f"{' '.join(verdicts['qemu-no-device-error']).strip()}")
    return verdicts, overall, timed_out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--vdpa", required=True)
    ap.add_argument("--traffic", required=True)
    ap.add_argument("--notifier", required=True)
    # The file meson install puts in DPDK's plugin folder
    # (librte_vdpa_ifcvf_oot.so): the guest's /opt/pmds holds it.
    ap.add_argument("--installed", required=True)
    args = ap.parse_args()

    why = qemu_usable()
    if why is not None:
        skip(why)
    start = time.monotonic()
    kernel, initrd = build_image(args)
    print(f"image: {kernel} {initrd} ({time.monotonic() - start:.1f} s)")
    log_path = os.path.join(args.cache, "serial.log")
    verdicts, overall, timed_out = boot(kernel, initrd, log_path)

    passed = failed = 0
    for name in EXPECTED:
        verdict, reason = verdicts.get(name, ("FAIL", "never reported"))
        if verdict == "PASS":
            passed += 1
        else:
            failed += 1
            if name not in verdicts:
                print(f"NESTED-TEST {name}: FAIL {reason}")
    for name in verdicts:
        if name not in EXPECTED:
            print(f"unexpected guest test {name}")
            failed += 1
    if timed_out:
        print(f"the guest did not finish in {BOOT_TIMEOUT} s")
    if overall is None:
        print("the guest printed no NESTED-RESULT line")
    if failed or overall != "PASS":
        print(f"serial console log: {log_path}")
        with open(log_path, "rb") as f:
            tail = f.read()[-20000:].decode("utf-8", "replace")
        print(tail)
    print(f"run time {time.monotonic() - start:.1f} s")
    print(f"{passed} passed, {failed} failed")
    return EXIT_PASS if failed == 0 and overall == "PASS" and not timed_out \
        else EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
