#!/usr/bin/env bash
# Deploys a Function App package to an environment with slots (staging, production):
#
#   1. deploy the package to the `staging` slot (its triggers are disabled there);
#   2. wait until the slot's /api/health answers 200 with the package's schema (the slot's
#      handler migrates the database at start, expand-only, so the release still in
#      production keeps working on it); if it never does: stop, no swap;
#   3. swap the slot into production;
#   4. wait until production's /api/health answers 200 with the package's schema; if it
#      never does: swap back, so production runs the previous release again, and fail.
#
#   scripts/deploy/slot-deploy.sh <resource-group> <function-app> <package.zip>
#
# Needs az (logged in, allowed to deploy, swap and read the app's keys), curl, unzip and
# python3. PAYMETRICS_SLOT names the slot (default staging); see lib.sh for the rest.
set -Eeuo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ $# = 3 ] || { echo "usage: $0 <resource-group> <function-app> <package.zip>" >&2; exit 2; }
rg="$1"; app="$2"; package="$3"
slot="${PAYMETRICS_SLOT:-staging}"

step "check the package"
check_package "$package"
schema="$(package_schema "$package")"
echo "$package: a handler that expects schema $schema"

step "look at production before"
# What production runs now, to know what a swap back must bring back (nothing on the
# first deploy). Only looked at, never required.
health_once "$rg" "$app" production any || true
previous="${seen_expected:-any}"
echo "production's build expects schema ${seen_expected:-(unknown)}"

step "deploy to the $slot slot"
deploy_package "$rg" "$app" "$slot" "$package" || fail "zip deploy to the $slot slot failed; production is unchanged"

step "health of the $slot slot"
wait_healthy "$rg" "$app" "$slot" "$schema" \
  || fail "the $slot slot never became healthy with schema $schema; not swapped, production is unchanged"

step "swap $slot into production"
swap_slots "$rg" "$app" "$slot" || fail "the swap failed; check which release production runs"

step "health of production"
if wait_healthy "$rg" "$app" production "$schema"; then
  echo "deployed: production runs the new package (schema $schema)"
  exit 0
fi

step "swap back"
swap_slots "$rg" "$app" "$slot" || fail "production was unhealthy after the swap AND the swap back failed: production may still run the new release"
step "health of production after the swap back"
wait_healthy "$rg" "$app" production "$previous" \
  || fail "swapped back, but production is not healthy with the previous release either; look at it now"
# Name the step that failed, not the recovery that worked.
current_step="health of production"
fail "production never became healthy with schema $schema after the swap; swapped back, production runs the previous release"
