#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Set up, build and run the test suites (all of them, or those named as
# arguments, e.g. "devtools/test.sh unit"). Then two sanitizer passes: the
# unit, e2e and migration suites (of those named) again from build-asan,
# where the plugin, the simulator and the test programs are built with ASan
# and UBSan, and from build-tsan, built with ThreadSanitizer; both without
# the QEMU migrations (suite "qemu": their QEMU/TCG guest oops, retried,
# comes more often there); a sanitizer report fails its test. Ends
# with "N passed, N failed", counting the meson tests of the three passes
# and the DPDK release check (devtools/check-dpdk.sh --ci:
# the driver and the simulator compiled with -Werror against every DPDK
# release whose headers this machine can get; it says which it skipped
# and why), which runs first, with the unit suite or all of them.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh devtools/build.sh
# gcc warns that TSan does not model rte_atomic.h's atomic_thread_fence
# (-Wtsan): a warning, not an error, in that build.
[ -f build-asan/build.ninja ] || meson setup build-asan \
	-Db_sanitize=address,undefined -Db_lundef=false >/dev/null
[ -f build-tsan/build.ninja ] || meson setup build-tsan \
	-Db_sanitize=thread -Db_lundef=false -Dc_args=-Wno-error=tsan >/dev/null
for b in build-asan build-tsan; do
	ninja -C $b >/dev/null || ninja -C $b
done

suites=""
san_suites=""
for s in "$@"; do
	suites="$suites --suite $s"
	case $s in
	unit|e2e|migration) san_suites="$san_suites --suite $s" ;;
	esac
done
if [ $# -eq 0 ]; then
	san_suites="--suite unit --suite e2e --suite migration"
fi
rc=0
check_dpdk=
case " $* " in
"  "|*" unit "*)
	check_dpdk=FAIL
	sh devtools/check-dpdk.sh --ci && check_dpdk=OK || rc=$?
	;;
esac
logs=build/meson-logs/testlog.json
rm -f $logs build-asan/meson-logs/testlog.json build-tsan/meson-logs/testlog.json
# shellcheck disable=SC2086
meson test -C build --print-errorlogs $suites || rc=$?
if [ -n "$san_suites" ]; then
	for b in build-asan build-tsan; do
		logs="$logs $b/meson-logs/testlog.json"
		# shellcheck disable=SC2086
		meson test -C $b --print-errorlogs $san_suites \
			--no-suite qemu || rc=$?
	done
fi

# shellcheck disable=SC2086
python3 - "$check_dpdk" $logs <<'PY'
import json, sys


def verdict(r):
    """The lines of a failed test that say why: those naming a failure and
    a sanitizer report's first lines, else the output's last lines."""
    out = ((r.get('stdout') or '') + (r.get('stderr') or '')).splitlines()
    lines = [ln for ln in out if 'FAIL' in ln][-4:]
    for i, ln in enumerate(out):
        if 'Sanitizer:' in ln or 'runtime error:' in ln:
            lines += out[i:i + 4]
            break
    return [ln[:300] for ln in lines or out[-6:]]


passed = failed = skipped = 0
failures = []
if sys.argv[1]:
    passed, failed = (1, 0) if sys.argv[1] == "OK" else (0, 1)
    if failed:
        failures.append('devtools/check-dpdk.sh --ci (its lines are above)')
for path in sys.argv[2:]:
    try:
        lines = open(path).readlines()
    except OSError:
        lines = []
    if not lines:
        failed += 1  # the pass did not run
        failures.append('%s: the pass did not run' % path)
    for line in lines:
        r = json.loads(line)
        if r["result"] in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r["result"] == "SKIP":
            skipped += 1
        else:
            failed += 1
            failures.append('%s: %s %s after %.1f s\n    %s' % (
                path.split('/')[0], r['name'], r['result'], r['duration'],
                '\n    '.join(verdict(r))))
# Said again last, so that the end of the output names what failed.
for f in failures:
    print('failed: ' + f)
tail = f", {skipped} skipped" if skipped else ""
print(f"{passed} passed, {failed} failed{tail}")
PY
exit $rc
