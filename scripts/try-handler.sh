#!/usr/bin/env bash
# Brings the handler up against $DATABASE_URL (creating the database if it is missing),
# migrates, serves, posts a host-shaped sample batch and then a timer invocation, prints
# the answers and what was stored, and stops the handler again.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/paymetrics scripts/try-handler.sh
set -euo pipefail
cd "$(dirname "$0")/.."

: "${DATABASE_URL:?set DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/paymetrics}"
export DATABASE_URL
export FUNCTIONS_CUSTOMHANDLER_PORT="${FUNCTIONS_CUSTOMHANDLER_PORT:-3000}"
fixture="${1:-tests/fixtures/eventhub_mixed_batch.json}"

command -v curl >/dev/null || { echo "curl is needed: apt-get install curl" >&2; exit 1; }

if command -v psql >/dev/null && ! psql "$DATABASE_URL" -Atqc 'SELECT 1' >/dev/null 2>&1; then
  base="${DATABASE_URL%%\?*}"
  name="${base##*/}"
  echo "creating database $name"
  psql "${base%/*}/postgres" -qc "CREATE DATABASE \"$name\"" || true
fi

cargo build --release --quiet --bin handler
bin="${CARGO_TARGET_DIR:-target}/release"
"$bin/handler" migrate

"$bin/handler" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT/" >/dev/null 2>&1 && break
  sleep 0.2
done

echo
echo "POST /EventHubTrigger  <  $fixture"
curl -sS -X POST "http://127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT/EventHubTrigger" \
  -H 'Content-Type: application/json' \
  -H "X-Azure-Functions-InvocationId: $(cat /proc/sys/kernel/random/uuid 2>/dev/null || echo local)" \
  --data-binary "@$fixture"
echo

echo
echo "POST /TimerTrigger  <  tests/fixtures/timer_invocation.json"
curl -sS -X POST "http://127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT/TimerTrigger" \
  -H 'Content-Type: application/json' --data-binary @tests/fixtures/timer_invocation.json
echo

if command -v psql >/dev/null; then
  echo
  psql "$DATABASE_URL" -P pager=off -c \
    "SELECT transaction_id, occurred_at, amount, currency, payment_type, status, source_format
       FROM normalized_transactions ORDER BY occurred_at DESC LIMIT 10"
  psql "$DATABASE_URL" -P pager=off -c \
    "SELECT reason, count(*), min(detail) AS example FROM rejected_events GROUP BY reason ORDER BY reason"
  psql "$DATABASE_URL" -P pager=off -c \
    "SELECT window_start, payment_type, currency, txn_count, approved_count, total_amount,
            p95_amount, approval_rate, late_events, revision
       FROM payment_metrics_5m ORDER BY window_start DESC, payment_type, currency LIMIT 20"
fi
