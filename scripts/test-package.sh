#!/usr/bin/env bash
# Checks that the Function App package runs, not just exists: unpacks it, checks the
# layout, the handler's execute bit and that nothing .funcignore excludes slipped in, then
# starts the unpacked handler with PAYMETRICS_MIGRATE=on-start against a fresh database and
# expects GET / to answer at once, the handler to migrate the database itself, and the
# Health function (POST /Health with the host's envelope, sent chunked as the host does)
# to report statusCode 200 in Outputs.res with this build's schema. Then `handler migrate`
# (nothing left to apply), `handler verify-schema` and `handler check-config` on the
# packaged engine file.
#
#   scripts/test-package.sh                              # builds with scripts/package.sh
#   PAYMETRICS_PACKAGE=dist/functionapp.zip scripts/test-package.sh   # tests that zip
#
# With PAYMETRICS_PACKAGE nothing is built: the CD pipeline builds the static musl zip
# once, tests that file with this script, and deploys the same file.
#
# Needs PostgreSQL (PAYMETRICS_TEST_PG, default 127.0.0.1:5432, user postgres, trust),
# psql, unzip, curl and python3.
set -euo pipefail
fail() { echo "package test FAILED: $*" >&2; exit 1; }
package="${PAYMETRICS_PACKAGE:-}"
if [ -n "$package" ]; then
  # Relative to where the script was called from.
  [ -f "$package" ] || fail "PAYMETRICS_PACKAGE=$package does not exist"
  package="$(cd "$(dirname "$package")" && pwd)/$(basename "$package")"
fi
cd "$(dirname "$0")/.."

pg="${PAYMETRICS_TEST_PG:-127.0.0.1:5432}"
work="$(mktemp -d)"
db="pm_package_$$"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; fi
  psql "postgres://postgres@$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "$package" ]; then
  zip_file="$package"
  echo "testing $package (not rebuilt)"
else
  zip_file="$work/functionapp.zip"
  scripts/package.sh "$zip_file"
fi
health_body="$(pwd)/tests/fixtures/health_invocation.json"
mkdir "$work/app"
(cd "$work/app" && unzip -q "$zip_file")

for path in host.json */function.json handler migrations/0001_initial_schema.sql config/engine.yaml; do
  [ -f "$work/app/$path" ] || fail "$path is missing from the zip"
done
[ -x "$work/app/handler" ] || fail "handler lost its execute bit"
unzip -Z "$zip_file" handler | grep -q '^-rwx' || fail "the zip entry for handler is not executable"
unexpected="$(cd "$work/app" && find . -type f | sed 's|^\./||' \
  | grep -v -E '^([A-Za-z0-9]+/function\.json|host\.json|handler|migrations/[^/]+\.sql|config/engine\.yaml)$' || true)"
[ -z "$unexpected" ] || fail "unexpected files in the zip: $unexpected"
# Nothing the Functions host would not get from `func azure functionapp publish` either.
while IFS= read -r pattern; do
  pattern="${pattern%%#*}"; pattern="${pattern%/}"; pattern="$(echo "$pattern" | xargs)"
  [ -n "$pattern" ] || continue
  while IFS= read -r file; do
    # shellcheck disable=SC2254 # the pattern is a glob on purpose
    case "$file" in $pattern|$pattern/*) fail "$file matches .funcignore pattern $pattern";; esac
  done < <(cd "$work/app" && find . -type f | sed 's|^\./||')
done < .funcignore

psql "postgres://postgres@$pg/postgres" -qc "CREATE DATABASE $db" >/dev/null
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cd "$work/app"
export DATABASE_URL="postgres://postgres@$pg/$db" FUNCTIONS_CUSTOMHANDLER_PORT="$port" RUST_LOG=info
PAYMETRICS_MIGRATE=on-start ./handler >"$work/handler.log" 2>&1 &
pid=$!

ready=""
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$work/handler.log" >&2; fail "the unpacked handler exited"; }
  sleep 0.1
done
[ -n "$ready" ] || { cat "$work/handler.log" >&2; fail "the unpacked handler did not answer GET / within 10 s"; }

# The caller's status and the schema versions from the host's view of POST /Health.
health() {
  curl -sS -X POST "http://127.0.0.1:$port/Health" \
    -H 'Content-Type: application/json; charset=utf-8' -H 'Transfer-Encoding: chunked' \
    -H 'X-Azure-Functions-InvocationId: 00000000-0000-4000-8000-00000000beef' \
    --data-binary "@$health_body" -w '\n%{http_code} %{content_type}' \
  | python3 -c '
import json, sys
*body, status = sys.stdin.read().split("\n")
code, _, content_type = status.partition(" ")
assert code == "200" and content_type.startswith("application/json"), status
res = json.loads("".join(body))["Outputs"]["res"]
assert res["headers"] == {"Content-Type": "application/json"}, res
report = json.loads(res["body"])
print(res["statusCode"], report["schema_version"], report["schema_expected"], report["version"])
'
}
answer=""
for _ in $(seq 1 150); do
  answer="$(health)" || { cat "$work/handler.log" >&2; fail "POST /Health did not answer in the host's shape"; }
  read -r status schema expected version <<<"$answer"
  if [ "$status" = 200 ]; then break; fi
  sleep 0.2
done
read -r status schema expected version <<<"$answer"
[ "$status" = 200 ] || { cat "$work/handler.log" >&2; fail "Health did not reach statusCode 200 within 30 s (last: $answer)"; }
[ "$schema" = "$expected" ] || fail "Health reports schema $schema, this build expects $expected"
grep -q 'database schema migrated' "$work/handler.log" || fail "the handler did not log its migration"

./handler migrate | grep -q 'schema is up to date' || fail "handler migrate found work after on-start"
./handler verify-schema >/dev/null || fail "handler verify-schema failed"
./handler check-config config/engine.yaml >/dev/null || fail "the packaged config/engine.yaml is not valid"
echo "package test passed: the unpacked handler ($version) answered GET / on port $port, migrated a fresh database to version $schema itself, and Health answered statusCode 200"
