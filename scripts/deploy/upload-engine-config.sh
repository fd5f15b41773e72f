#!/usr/bin/env bash
# Puts a reviewed engine settings file (rules, windows, clustering) in force on a running
# Function App without redeploying it:
#
#   1. validate the file with the handler's own validator (`handler check-config`);
#   2. upload it to /home/data/paymetrics/engine.yaml on the app (and on each slot given),
#      through the app's Kudu VFS API with a Microsoft Entra token;
#   3. read it back and compare, byte for byte.
#
# The app reads PAYMETRICS_CONFIG=/home/data/paymetrics/engine.yaml (Terraform sets it, with
# the packaged config/engine.yaml as PAYMETRICS_CONFIG_FALLBACK until a file is uploaded),
# and every instance picks a changed valid file up within 2 seconds (it polls the file).
#
#   scripts/deploy/upload-engine-config.sh <resource-group> <function-app> <engine.yaml> <handler> [<slot>...]
#
# <handler> is a handler binary that runs here (the one built from the same commit).
set -Eeuo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -ge 4 ] || {
  echo "usage: $0 <resource-group> <function-app> <engine.yaml> <handler> [<slot>...]" >&2
  exit 2
}
rg="$1"; app="$2"; file="$3"; handler="$4"; shift 4
targets=(production "$@")
remote_path="data/paymetrics/engine.yaml"

step "validate $file"
[ -s "$file" ] || fail "$file is missing or empty"
"$handler" check-config "$file" || fail "$file is not valid (above: the file, line and key); nothing was uploaded"

step "token for the Kudu API"
token="$(az account get-access-token --resource https://appservice.azure.com --query accessToken -o tsv)" \
  || fail "no Microsoft Entra token for App Service"
[ -n "$token" ] || fail "an empty Microsoft Entra token for App Service"
[ "${GITHUB_ACTIONS:-}" != true ] || echo "::add-mask::$token"
# The token goes to curl in a header file, not on its command line.
headers="$(mktemp)"
trap 'rm -f "$headers"' EXIT
chmod 600 "$headers"
printf 'Authorization: Bearer %s\n' "$token" >"$headers"

for target in "${targets[@]}"; do
  step "upload to $(slot_name "$target")"
  mapfile -t slot_arg < <(slot_args "$target")
  scm="$(az functionapp show -g "$rg" -n "$app" "${slot_arg[@]}" \
    --query "hostNameSslStates[?hostType=='Repository'].name | [0]" -o tsv)" \
    || fail "could not find the Kudu host of $(slot_name "$target")"
  [ -n "$scm" ] || fail "$(slot_name "$target") has no Kudu (Repository) host name"
  url="https://$scm/api/vfs/$remote_path"
  # If-Match: * overwrites an existing file (Kudu answers 412 without it); a new file gets
  # its folders created.
  status="$(curl -sS --max-time 60 -o /dev/null -w '%{http_code}' -X PUT \
    -H "@$headers" -H 'If-Match: *' \
    -H 'Content-Type: application/octet-stream' --data-binary "@$file" "$url")" || status="000"
  case "$status" in
    2??) ;;
    *) fail "Kudu answered $status to the upload of $file to $url" ;;
  esac

  step "read back from $(slot_name "$target")"
  copy="$(mktemp)"
  status="$(curl -sS --max-time 60 -o "$copy" -w '%{http_code}' \
    -H "@$headers" "$url")" || status="000"
  [ "$status" = 200 ] || fail "Kudu answered $status when reading back $url"
  cmp -s "$file" "$copy" || fail "the file read back from $url differs from $file"
  rm -f "$copy"
  echo "in force on $(slot_name "$target") within 2 seconds: /home/$remote_path"
done
