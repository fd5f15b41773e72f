#!/usr/bin/env bash
# How cost grows (issue 14, item 4): the ingest bench at 1, 2, 4 and 8 concurrent
# partitions (clean stream, the handler's peak RSS with it), the close growth bench
# (close time against 10^5, 10^6 and 10^7 stored transactions, windows to close held
# constant and growing), into a fresh CSV, then the plot of both.
#
#   scripts/growth.sh                    # docs/benchmarks/growth.csv and docs/growth.png
#   PAYMETRICS_BENCH_EVENTS=20000 PAYMETRICS_BENCH_ROUNDS=1 \
#   PAYMETRICS_BENCH_HISTORY=0,10000,100000 PAYMETRICS_BENCH_WINDOW_TRANSACTIONS=10000 \
#   GROWTH_CSV=/tmp/growth.csv GROWTH_PNG=/tmp/growth.png scripts/growth.sh   # quick run
#
# Every PAYMETRICS_BENCH_* variable passes through to the benches (see benches/ingest.rs
# and benches/close_growth.rs); PAYMETRICS_BENCH_PARTITIONS defaults to 1,2,4,8 here.
# Needs PostgreSQL at PAYMETRICS_TEST_PG (default 127.0.0.1:5432) and a TTF font for the
# plot (GROWTH_PLOT_FONT, default DejaVu Sans). Runs one cargo command at a time.
set -euo pipefail
cd "$(dirname "$0")/.."

csv="${GROWTH_CSV:-docs/benchmarks/growth.csv}"
png="${GROWTH_PNG:-docs/growth.png}"
export PAYMETRICS_BENCH_PARTITIONS="${PAYMETRICS_BENCH_PARTITIONS:-1,2,4,8}"
export PAYMETRICS_BENCH_CASES=clean

mkdir -p "$(dirname "$csv")" "$(dirname "$png")"
partial="$csv.partial"
case "$partial" in
  /*) ;;
  *) partial="$PWD/$partial" ;;
esac
rm -f "$partial"
{
  echo "# scripts/growth.sh, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "# ingest,case,partitions,events,stored,handler_ms,copy_ms,handler_cpu_us_per_event,postgres_cpu_us_per_event,peak_rss_kb,ratio"
  echo "# close_constant,stored,windows,transactions_closed,ms  (144 windows held constant after the stored history)"
  echo "# close_growing,stored,windows,transactions_closed,ms   (every stored window closed)"
} >"$partial"
export PAYMETRICS_BENCH_CSV="$partial"

started=$SECONDS
echo "== ingest bench: partitions $PAYMETRICS_BENCH_PARTITIONS"
cargo bench --locked --bench ingest
echo "== close growth bench"
cargo bench --locked --bench close_growth
mv "$partial" "$csv"

echo "== plot"
cargo run --quiet --release --locked --manifest-path tools/growth-plot/Cargo.toml -- "$csv" "$png"
echo "growth.sh: $csv and $png in $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s"
