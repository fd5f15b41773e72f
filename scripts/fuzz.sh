#!/usr/bin/env bash
# Coverage-guided fuzzing of the input paths (docs/TESTING-PROCEDURES.md, "Fuzzing"):
# builds the cargo-fuzz targets of fuzz/ and runs each for its share of a time budget,
# starting from the committed corpus (fuzz/corpus/<target>/). Prints, per target, the
# executions and whether anything was found; exits non-zero when a target crashed (a
# panic, a broken invariant, a timeout or running out of memory), leaving the input in
# fuzz/artifacts/<target>/ with the command that reproduces it.
#
#   scripts/fuzz.sh                      # every target, 120 s in all (CI)
#   FUZZ_SECONDS=1800 scripts/fuzz.sh    # a longer run, shared the same way
#   scripts/fuzz.sh rules scenario       # some targets only
#
# New corpus entries go to a temporary directory, never into fuzz/corpus/, so a run leaves
# the tree clean; FUZZ_KEEP_CORPUS=dir keeps them in dir/<target>/ to add the useful ones.
#
# Stable Rust only: cargo-fuzz drives libFuzzer with `--sanitizer none`, which needs no
# nightly flag (the sanitizers are -Z options). libFuzzer's coverage instrumentation
# (SanitizerCoverage) is stable rustc -C options, and Rust's own checks (panics,
# overflow, debug assertions, which cargo-fuzz turns on) are the crashes looked for here:
# the library forbids unsafe code, so AddressSanitizer would add little.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
tools_root="${TOOLS_ROOT:-/var/tmp/paymetrics-ci-tools}"
# Its own cache: the instrumented build shares nothing with the main crate's.
target_dir="${FUZZ_TARGET_DIR:-/var/tmp/paymetrics-fuzz-target}"
total="${FUZZ_SECONDS:-120}"
# build.rs bakes the git commit into the library and rebuilds it whenever HEAD moves;
# the fuzz targets never report it, so a fixed one keeps a commit from costing a rebuild.
export PAYMETRICS_GIT_COMMIT=fuzz
export PATH="$tools_root/bin:$PATH"

log() { printf '\n== %s\n' "$*"; }

if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION into $tools_root"
  # Not into a CARGO_TARGET_DIR the caller may have set for the main crate.
  env -u CARGO_TARGET_DIR cargo install --locked --quiet --root "$tools_root" \
    cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi
[[ "$total" =~ ^[0-9]+$ ]] || { echo "FUZZ_SECONDS=$total is not a number of seconds" >&2; exit 2; }
share=$((total / ${#targets[@]}))
[ "$share" -ge 1 ] || share=1

log "building ${#targets[*]} fuzz targets (cache: $target_dir)"
# The fuzz crate's lock file is committed: refuse to build from one cargo would change.
cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null
started=$SECONDS
cargo fuzz build --fuzz-dir fuzz --sanitizer none --target-dir "$target_dir"
echo "built in $((SECONDS - started)) s"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
keep="${FUZZ_KEEP_CORPUS:-}"

failed=()
for target in "${targets[@]}"; do
  log "fuzzing $target for $share s"
  new="$work/corpus/$target"
  mkdir -p "$new" "fuzz/artifacts/$target"
  output="$work/$target.log"
  options=(-max_total_time="$share" -timeout=10 -print_final_stats=1)
  # The words of the input's language (keys, operators, durations), for the mutations.
  [ -f "fuzz/dicts/$target.dict" ] && options+=(-dict="fuzz/dicts/$target.dict")
  status=0
  # The first corpus directory receives the new entries; the committed one is only read.
  cargo fuzz run --fuzz-dir fuzz --sanitizer none --target-dir "$target_dir" \
    "$target" "$new" "fuzz/corpus/$target" -- "${options[@]}" >"$output" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$output" | tail -n 1)
  found=$(find "$new" -type f | wc -l)
  if [ "$status" -eq 0 ]; then
    echo "$target: ${runs:-?} executions, no crash ($found new corpus entries)"
  else
    failed+=("$target")
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$output" | tail -n 1)
    echo "$target: FAILED after ${runs:-?} executions (exit $status):"
    # The panic and libFuzzer's verdict; the whole output is long and mostly progress.
    grep -E -A3 'panicked at|ERROR: libFuzzer|SUMMARY: libFuzzer|ERROR: AddressSanitizer' "$output" | head -n 40 || true
    if [ -n "$artifact" ]; then
      echo "the input is $artifact; reproduce it with:"
      echo "  PATH=\"$tools_root/bin:\$PATH\" cargo fuzz run --fuzz-dir fuzz --sanitizer none --target-dir $target_dir $target $artifact"
    else
      echo "no input was written (not a crash of the target?); the end of its output:"
      tail -n 20 "$output"
    fi
  fi
  if [ -n "$keep" ]; then
    mkdir -p "$keep/$target"
    find "$new" -type f -exec cp {} "$keep/$target/" \;
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzzing: ${#targets[@]} targets, no crash"
