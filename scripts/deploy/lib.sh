# shellcheck shell=bash
# shellcheck disable=SC2034  # current_step and seen_expected are read by the sourcing scripts
# Shared steps of the deploy scripts in this folder. Sourced, not run.
#
# Every script runs its work as named steps; whatever fails, the script exits non-zero
# with a line that names the step ("deploy FAILED at <step>: <why>"), so a red job says
# what broke without reading the log above it. Azure is reached only through `az` and
# `curl` from PATH (tests put stand-ins there).
#
# Tunables (environment):
#   PAYMETRICS_HEALTH_ATTEMPTS   health checks before giving up (default 30)
#   PAYMETRICS_HEALTH_INTERVAL   seconds between them (default 10)
set -Eeuo pipefail

# The step in progress, named by every failure; the scripts set it through `step`.
current_step="start"
health_attempts="${PAYMETRICS_HEALTH_ATTEMPTS:-30}"
health_interval="${PAYMETRICS_HEALTH_INTERVAL:-10}"

step() {
  current_step="$*"
  printf '\n== %s\n' "$*"
}

fail() {
  printf 'deploy FAILED at %s: %s\n' "$current_step" "$*" >&2
  exit 1
}

# An unexpected failing command still names the step it broke.
trap 'fail "a command failed (exit $?): $BASH_COMMAND"' ERR

# slot_args SLOT: the az arguments that address SLOT ("" or "production" is the app).
slot_args() {
  case "${1:-}" in
    "" | production) ;;
    *) printf '%s\n' --slot "$1" ;;
  esac
}

slot_name() {
  case "${1:-}" in
    "" | production) echo production ;;
    *) echo "$1" ;;
  esac
}

# package_schema ZIP: the schema version the package's handler expects, which is the
# number of its newest migration (migrations/NNNN_name.sql).
package_schema() {
  local zip="$1" newest
  newest="$(unzip -Z1 "$zip" 'migrations/*.sql' 2>/dev/null \
    | sed -n 's|^migrations/\([0-9][0-9]*\)_.*\.sql$|\1|p' | sort -n | tail -n 1)"
  [ -n "$newest" ] || return 1
  echo "$((10#$newest))"
}

# check_package ZIP: the file is a Function App package this pipeline built.
check_package() {
  local zip="$1" entry
  [ -s "$zip" ] || fail "package $zip is missing or empty"
  for entry in host.json handler Health/function.json EventHubTrigger/function.json TimerTrigger/function.json; do
    unzip -Z1 "$zip" "$entry" >/dev/null 2>&1 || fail "package $zip has no $entry"
  done
  unzip -Z "$zip" handler | grep -q '^-rwx' || fail "package $zip: handler is not executable"
  package_schema "$zip" >/dev/null || fail "package $zip has no migrations"
}

# deploy_package RG APP SLOT ZIP: zip deploy (run-from-package) to the app or a slot.
deploy_package() {
  local rg="$1" app="$2" slot="$3" zip="$4"
  local -a slot_arg
  mapfile -t slot_arg < <(slot_args "$slot")
  az functionapp deployment source config-zip -g "$rg" -n "$app" "${slot_arg[@]}" --src "$zip" >/dev/null
}

# swap_slots RG APP SLOT: exchange SLOT and production.
swap_slots() {
  az functionapp deployment slot swap -g "$1" -n "$2" --slot "$3" --target-slot production >/dev/null
}

# health_once RG APP SLOT EXPECTED: one look at https://<host>/api/health. Succeeds when
# it answers 200 and the running build expects schema EXPECTED (so it is the package just
# deployed, not the one before it) with every migration of it applied; EXPECTED "any"
# accepts any build that answers 200. Prints what it saw, and leaves the schema the
# running build expects in $seen_expected ("" when it could not tell).
seen_expected=""
health_once() {
  local rg="$1" app="$2" slot="$3" expected="$4"
  local -a slot_arg
  local host key body status verdict
  seen_expected=""
  mapfile -t slot_arg < <(slot_args "$slot")
  # Both are asked anew on every attempt: right after a deploy or a restart the host may
  # not answer for its keys yet, and that is a reason to wait, not to fail.
  host="$(az functionapp show -g "$rg" -n "$app" "${slot_arg[@]}" --query defaultHostName -o tsv 2>/dev/null)" \
    || { echo "no host name yet"; return 1; }
  key="$(az functionapp keys list -g "$rg" -n "$app" "${slot_arg[@]}" --query functionKeys.default -o tsv 2>/dev/null)" \
    || { echo "no function key yet"; return 1; }
  [ -n "$host" ] && [ -n "$key" ] || { echo "no host name or function key yet"; return 1; }
  body="$(mktemp)"
  status="$(curl -sS --max-time 30 -o "$body" -w '%{http_code}' \
    -H "x-functions-key: $key" "https://$host/api/health" 2>/dev/null)" || status="000"
  verdict=0
  python3 - "$body" "$status" "$expected" "$body.expected" <<'PY' || verdict=$?
import json, sys
path, status, expected, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
try:
    with open(path, encoding="utf-8") as f:
        health = json.load(f)
except (OSError, ValueError):
    health = None
if not isinstance(health, dict):
    print(f"health answered {status} without a health document")
    sys.exit(1)
seen = (f"health answered {status}: version {health.get('version')}, schema "
        f"{health.get('schema_version')} (build expects {health.get('schema_expected')}), "
        f"database {health.get('database')}")
print(seen)
build = health.get("schema_expected")
if isinstance(build, int):
    with open(out, "w", encoding="utf-8") as f:
        f.write(str(build))
if expected == "any":
    ok = status == "200"
else:
    want = int(expected)
    ok = (status == "200" and build == want
          and isinstance(health.get("schema_version"), int) and health["schema_version"] >= want)
sys.exit(0 if ok else 1)
PY
  if [ -f "$body.expected" ]; then seen_expected="$(cat "$body.expected")"; fi
  rm -f "$body" "$body.expected"
  return "$verdict"
}

# wait_healthy RG APP SLOT EXPECTED: health_once until it passes or the attempts run out.
wait_healthy() {
  local rg="$1" app="$2" slot="$3" expected="$4" attempt
  for attempt in $(seq 1 "$health_attempts"); do
    if health_once "$rg" "$app" "$slot" "$expected"; then
      echo "$(slot_name "$slot") is healthy (schema $expected)"
      return 0
    fi
    echo "  (attempt $attempt of $health_attempts)"
    [ "$attempt" = "$health_attempts" ] || sleep "$health_interval"
  done
  return 1
}
