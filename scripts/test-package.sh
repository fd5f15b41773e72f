#!/usr/bin/env bash
# Checks that the Function App package runs, not just exists: builds it with
# scripts/package.sh, unpacks it, checks the layout, the handler's execute bit and that
# nothing .funcignore excludes slipped in, then runs the unpacked `handler migrate` and
# `handler` against a fresh database and expects GET / to answer.
#
# Needs PostgreSQL (PAYMETRICS_TEST_PG, default 127.0.0.1:5432, user postgres, trust).
set -euo pipefail
cd "$(dirname "$0")/.."

pg="${PAYMETRICS_TEST_PG:-127.0.0.1:5432}"
work="$(mktemp -d)"
db="pm_package_$$"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  psql "postgres://postgres@$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "package test FAILED: $*" >&2; exit 1; }

scripts/package.sh "$work/functionapp.zip"
mkdir "$work/app"
(cd "$work/app" && unzip -q ../functionapp.zip)

for path in host.json EventHubTrigger/function.json TimerTrigger/function.json handler \
            migrations/0001_initial_schema.sql config/engine.yaml; do
  [ -f "$work/app/$path" ] || fail "$path is missing from the zip"
done
[ -x "$work/app/handler" ] || fail "handler lost its execute bit"
unzip -Z "$work/functionapp.zip" handler | grep -q '^-rwx' || fail "the zip entry for handler is not executable"
unexpected="$(cd "$work/app" && find . -type f | sed 's|^\./||' \
  | grep -v -E '^(host\.json|EventHubTrigger/function\.json|TimerTrigger/function\.json|handler|migrations/[^/]+\.sql|config/[^/]+\.yaml)$' || true)"
[ -z "$unexpected" ] || fail "unexpected files in the zip: $unexpected"
# Nothing the Functions host would not get from `func azure functionapp publish` either.
while IFS= read -r pattern; do
  pattern="${pattern%%#*}"; pattern="${pattern%/}"; pattern="$(echo "$pattern" | xargs)"
  [ -n "$pattern" ] || continue
  for file in $(cd "$work/app" && find . -type f | sed 's|^\./||'); do
    case "$file" in $pattern|$pattern/*) fail "$file matches .funcignore pattern $pattern";; esac
  done
done < .funcignore

psql "postgres://postgres@$pg/postgres" -qc "CREATE DATABASE $db" >/dev/null
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cd "$work/app"
export DATABASE_URL="postgres://postgres@$pg/$db" FUNCTIONS_CUSTOMHANDLER_PORT="$port" RUST_LOG=warn
./handler migrate
./handler >"$work/handler.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1; then
    ./handler verify-schema
    echo "package test passed: the unpacked handler migrated, answered GET / on port $port and verified the schema"
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || { cat "$work/handler.log" >&2; fail "the unpacked handler exited"; }
  sleep 0.1
done
cat "$work/handler.log" >&2
fail "the unpacked handler did not answer GET / within 10 s"
