#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Set up, build and run the test suites (all of them, or those named as
# arguments, e.g. "devtools/test.sh unit"). Ends with "N passed, N failed",
# counting meson tests.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh devtools/build.sh

suites=""
for s in "$@"; do
	suites="$suites --suite $s"
done
rc=0
# shellcheck disable=SC2086
meson test -C build --print-errorlogs $suites || rc=$?

python3 - build/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif r == "SKIP":
        skipped += 1
    else:
        failed += 1
tail = f", {skipped} skipped" if skipped else ""
print(f"{passed} passed, {failed} failed{tail}")
PY
exit $rc
