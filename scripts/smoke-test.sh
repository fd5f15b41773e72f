#!/usr/bin/env bash
# Smoke test of a deployed Function App (or one of its slots), as the CD pipeline runs it:
# the host reports Running, both functions are listed, and the handler answers a
# synthetic TimerTrigger invocation (through the host's admin API).
#
#   scripts/smoke-test.sh <resource-group> <function-app> [slot]
# Needs the Azure CLI, logged in with rights to read the app's keys.
set -euo pipefail
rg="$1"; app="$2"; slot="${3:-}"
slot_args=(); host="$app.azurewebsites.net"
if [ -n "$slot" ]; then slot_args=(--slot "$slot"); host="$app-$slot.azurewebsites.net"; fi

key="$(az functionapp keys list -g "$rg" -n "$app" "${slot_args[@]}" --query masterKey -o tsv)"
auth=(-H "x-functions-key: $key")

for attempt in $(seq 1 30); do
  state="$(curl -fsS "${auth[@]}" "https://$host/admin/host/status" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("state",""))' || true)"
  [ "$state" = "Running" ] && break
  echo "host state: ${state:-unreachable} (attempt $attempt)"; sleep 10
done
[ "$state" = "Running" ] || { echo "the host is not running on $host"; exit 1; }

functions="$(curl -fsS "${auth[@]}" "https://$host/admin/functions" | python3 -c 'import json,sys; print(" ".join(sorted(f["name"] for f in json.load(sys.stdin))))')"
for f in EventHubTrigger TimerTrigger; do
  case " $functions " in *" $f "*) ;; *) echo "function $f is missing on $host (found: $functions)"; exit 1;; esac
done

status="$(curl -sS -o /dev/null -w '%{http_code}' "${auth[@]}" -H 'Content-Type: application/json' \
  -X POST "https://$host/admin/functions/TimerTrigger" -d '{"input": ""}')"
[ "$status" = 202 ] || { echo "synthetic TimerTrigger invocation answered $status"; exit 1; }
echo "smoke test passed on $host: host Running, functions: $functions, TimerTrigger accepted"
