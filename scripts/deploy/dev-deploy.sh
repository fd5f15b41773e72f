#!/usr/bin/env bash
# Deploys a Function App package to an environment without slots (dev):
#
#   1. deploy the package to the app;
#   2. wait until /api/health answers 200 with the package's schema (the handler migrates
#      the database at start);
#   3. if the deploy or the health check fails: redeploy the previous package (the
#      artifact of the last successful pipeline run, never a copy taken from the app),
#      check that it is healthy again, and fail either way.
#
#   scripts/deploy/dev-deploy.sh <resource-group> <function-app> <package.zip> [<previous.zip>]
#
# Without a previous package (the first deploy) a failure is only reported. Needs az,
# curl, unzip and python3; see lib.sh for the tunables.
set -Eeuo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ $# = 3 ] || [ $# = 4 ] || {
  echo "usage: $0 <resource-group> <function-app> <package.zip> [<previous.zip>]" >&2
  exit 2
}
rg="$1"; app="$2"; package="$3"; previous="${4:-}"

step "check the package"
check_package "$package"
schema="$(package_schema "$package")"
echo "$package: a handler that expects schema $schema"
if [ -n "$previous" ]; then
  check_package "$previous"
  echo "$previous: the previous package, for a rollback (schema $(package_schema "$previous"))"
else
  echo "no previous package: a failure will not be rolled back"
fi

# roll_back WHY: redeploy the previous package and fail with WHY and how that went.
roll_back() {
  local why="$1" failed_step="$current_step"
  [ -n "$previous" ] || fail "$why; no previous package to roll back to"
  step "roll back to the previous package"
  deploy_package "$rg" "$app" "" "$previous" \
    || fail "$why; and redeploying the previous package failed too: dev is down"
  step "health after the rollback"
  wait_healthy "$rg" "$app" "" "$(package_schema "$previous")" \
    || fail "$why; the previous package was redeployed but is not healthy either"
  current_step="$failed_step"
  fail "$why; rolled back, dev runs the previous package"
}

step "deploy"
deploy_package "$rg" "$app" "" "$package" || roll_back "zip deploy failed"

step "health"
wait_healthy "$rg" "$app" "" "$schema" || roll_back "dev never became healthy with schema $schema"
echo "deployed: dev runs the new package (schema $schema)"
