#!/usr/bin/env bash
# Builds the release `handler`, without the simulator (`--no-default-features`: none of
# its crates is compiled in), and writes the deployable Function App zip:
#   host.json, every function folder's function.json (EventHubTrigger, TimerTrigger,
#   Health and the HTTP API's Metrics5m, RuleMetrics, Clusters, Dashboard, Alerts),
#   handler (executable), migrations/, config/engine.yaml
# which is also what `func azure functionapp publish` uploads from a clean checkout's root
# (after `cp target/release/handler .`), since .funcignore excludes the rest of the
# tracked files.
#
#   scripts/package.sh [OUT]            # default dist/functionapp.zip
#   PAYMETRICS_TARGET=x86_64-unknown-linux-musl scripts/package.sh   # static binary (CI)
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-dist/functionapp.zip}"
target="${PAYMETRICS_TARGET:-}"
command -v zip >/dev/null || { echo "zip is needed: apt-get install zip" >&2; exit 1; }

build=(cargo build --release --locked --bin handler --no-default-features)
if [ -n "$target" ]; then
  "${build[@]}" --target "$target"
  binary="${CARGO_TARGET_DIR:-target}/$target/release/handler"
else
  "${build[@]}"
  binary="${CARGO_TARGET_DIR:-target}/release/handler"
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp host.json "$stage/"
# A function folder is a directory at the root holding a function.json.
for definition in */function.json; do
  function="$(dirname "$definition")"
  mkdir -p "$stage/$function"
  cp "$definition" "$stage/$function/"
done
cp "$binary" "$stage/handler"
chmod 0755 "$stage/handler"
cp -R migrations "$stage/"
# The engine settings only: config/simulator.yaml belongs to the simulator, not the app.
mkdir -p "$stage/config"
cp config/engine.yaml "$stage/config/"

mkdir -p "$(dirname "$out")"
out_abs="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
rm -f "$out_abs"
(cd "$stage" && zip -q -r -X "$out_abs" .)
echo "wrote $out ($(du -h "$out_abs" | cut -f1)): $(cd "$stage" && find . -type f | sort | tr '\n' ' ')"
