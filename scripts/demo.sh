#!/usr/bin/env bash
# The whole pipeline on one machine, in one command:
#   migrate, start the handler, simulate the last few hours of traffic (faults on, and one
#   planted card approval drop) through it exactly as the Functions host would, close the
#   windows and judge the alerts (the drop fires and resolves), print what came out, check
#   it against the simulator's ground truth, and write the dashboard of the simulated
#   hours (the page `api/dashboard` serves) to an HTML file to open in a browser.
#
#   scripts/demo.sh                 # a private, throwaway PostgreSQL (needs its server binaries)
#   DATABASE_URL=postgres://... scripts/demo.sh   # an existing database
#
# Options (environment): DEMO_HOURS (3), DEMO_RATE (events/s, 5), DEMO_PORT (3000),
# DEMO_HTML (the dashboard's file; dashboard.html in the current directory).
set -euo pipefail
out="${DEMO_HTML:-dashboard.html}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
cd "$(dirname "$0")/.."

hours="${DEMO_HOURS:-3}"
rate="${DEMO_RATE:-5}"
port="${DEMO_PORT:-3000}"
work="$(mktemp -d -t paymetrics-demo.XXXXXX)"
pids=()
pg_data=""
pg_user=""

say() { printf '\n== %s\n' "$*"; }
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  if [ -n "$pg_data" ]; then
    if [ -n "$pg_user" ]; then runuser -u "$pg_user" -- "$pg_bin/pg_ctl" -D "$pg_data" -m fast stop >/dev/null 2>&1 || true
    else "$pg_bin/pg_ctl" -D "$pg_data" -m fast stop >/dev/null 2>&1 || true; fi
  fi
  rm -rf "$work"
}
trap cleanup EXIT

command -v curl >/dev/null || { echo "curl is needed: apt-get install curl (or brew install curl)" >&2; exit 1; }
command -v cargo >/dev/null || { echo "Rust is needed: see https://rustup.rs" >&2; exit 1; }

say "building (release)"
cargo build --release --quiet --bins
bin="${CARGO_TARGET_DIR:-target}/release"

if [ -z "${DATABASE_URL:-}" ]; then
  initdb_path="$(command -v initdb || find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$initdb_path" ]; then
    cat >&2 <<'MSG'
No DATABASE_URL and no PostgreSQL server binaries (initdb, pg_ctl) found.
Either set DATABASE_URL to a database you may write to, or install PostgreSQL 13 or newer:
  Debian/Ubuntu:  sudo apt-get install postgresql
  Fedora:         sudo dnf install postgresql-server
  macOS:          brew install postgresql@16
MSG
    exit 1
  fi
  pg_bin="$(dirname "$initdb_path")"
  pg_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)"
  pg_data="$work/pgdata"
  run_pg=()
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root; use its own account when there is one.
    pg_user="$(getent passwd postgres >/dev/null && echo postgres || echo nobody)"
    chown "$pg_user" "$work"
    run_pg=(runuser -u "$pg_user" --)
  fi
  say "starting a private PostgreSQL on 127.0.0.1:$pg_port (removed afterwards)"
  "${run_pg[@]}" "$pg_bin/initdb" -D "$pg_data" -U postgres --auth=trust >/dev/null
  "${run_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -l "$work/postgres.log" -w \
    -o "-p $pg_port -k $work -c listen_addresses=127.0.0.1" start >/dev/null
  export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
fi
export FUNCTIONS_CUSTOMHANDLER_PORT="$port"
export RUST_LOG="${RUST_LOG:-warn}"

say "handler migrate"
"$bin/handler" migrate

say "starting the handler on 127.0.0.1:$port"
# Something already answering there would take the demo's traffic into its own database.
if curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1; then
  echo "127.0.0.1:$port already answers (another handler?); set DEMO_PORT to a free port" >&2
  exit 1
fi
"$bin/handler" >"$work/handler.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
  sleep 0.1
done
if ! kill -0 "${pids[-1]}" 2>/dev/null; then
  echo "the handler exited:" >&2
  cat "$work/handler.log" >&2
  exit 1
fi
curl -fsS "http://127.0.0.1:$port/" >/dev/null

from="$(date -u -d "-$hours hours" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -v-"${hours}"H +%Y-%m-%dT%H:%M:%SZ)"
to="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
# The shipped scenario plus one planted incident a third of the way in, so the demo shows
# the example alert approval_drop (config/engine.yaml) firing and resolving.
incident_start=$((hours * 60 / 3))
grep -v '^incidents: \[\]$' config/simulator.yaml >"$work/scenario.yaml"
cat >>"$work/scenario.yaml" <<YAML

incidents:
  - kind: approval_drop
    payment_type: card
    currency: USD
    start: ${incident_start}m
    duration: 30m
    approval_rate: 0.5
YAML
say "simulating $from to $to at $rate events/s, faults on, card USD approvals halved for 30 minutes from ${incident_start} min in"
"$bin/simulator" run --config "$work/scenario.yaml" --from "$from" --to "$to" --rate "$rate" \
  --sink handler --target "http://127.0.0.1:$port" \
  --truth "$work/truth.json" --manifest "$work/manifest.ndjson" --quiet

say "closing windows and judging the alerts (POST /TimerTrigger)"
curl -fsS -X POST "http://127.0.0.1:$port/TimerTrigger" \
  -H 'Content-Type: application/json' --data-binary @tests/fixtures/timer_invocation.json \
  | python3 -c 'import json, sys; [print(line) for line in json.load(sys.stdin)["Logs"]]'

"$bin/simulator" report --limit 15

say "payment_metrics_5m against the simulator's ground truth"
"$bin/simulator" check --truth "$work/truth.json"

say "the dashboard of $from to now"
"$bin/simulator" report --html "$out" --from "$from"
echo "open $out in a browser"
