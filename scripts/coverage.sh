#!/usr/bin/env bash
# Line coverage of the library and both binaries with cargo tarpaulin (settings and the
# one exclusion in tarpaulin.toml). Prints `line coverage: NN.NN%` and fails below the
# floor.
#
#   scripts/coverage.sh                 # floor 90 (COVERAGE_FLOOR), report in the target dir
#   COVERAGE_FLOOR=0 scripts/coverage.sh   # just measure
#
# Installs cargo-tarpaulin (pinned) into TOOLS_ROOT when it is missing. Needs what the
# tests need: PostgreSQL at PAYMETRICS_TEST_PG (default 127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."

TARPAULIN_VERSION=0.37.5
floor="${COVERAGE_FLOOR:-90}"
tools="${TOOLS_ROOT:-/var/tmp/paymetrics-ci-tools}"
# Instrumented objects differ from the plain build's: keep them in a cache of their own.
target="${COVERAGE_TARGET_DIR:-/var/tmp/paymetrics-ci-cov-target}"
export PATH="$tools/bin:$PATH"

if [ "$(cargo tarpaulin --version 2>/dev/null | awk '{print $NF}')" != "$TARPAULIN_VERSION" ]; then
  echo "installing cargo-tarpaulin $TARPAULIN_VERSION into $tools"
  CARGO_TARGET_DIR="$tools/build" cargo install --quiet --locked --root "$tools" \
    cargo-tarpaulin --version "$TARPAULIN_VERSION"
fi

out="$target/coverage"
rm -rf "$out"
cargo tarpaulin --target-dir "$target" --output-dir "$out" --color never
report="$out/tarpaulin-report.json"
python3 - "$report" "$floor" <<'PY'
import json, sys

report, floor = sys.argv[1], float(sys.argv[2])
data = json.load(open(report))
covered, coverable = data["covered"], data["coverable"]
percent = 100.0 * covered / coverable
print(f"line coverage: {percent:.2f}%")
print(f"({covered} of {coverable} lines; floor {floor:g}%)")
if percent < floor:
    for f in sorted(data["files"], key=lambda f: f["covered"] - f["coverable"])[:10]:
        if f["coverable"] > f["covered"]:
            path = "/".join(f["path"])
            path = path[path.find("/src/") + 1:]
            print(f"  {path}: {f['covered']}/{f['coverable']}")
    sys.exit(f"line coverage {percent:.2f}% is below {floor:g}%")
PY
