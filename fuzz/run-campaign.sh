#!/usr/bin/env bash
# A fuzzing campaign: every target for MINUTES minutes with debug
# assertions and AddressSanitizer (cargo fuzz's default build), then as long
# again optimised without a sanitizer (faster, more executions). Two targets
# run at a time, at the lowest priority. Logs go to fuzz/logs/; the corpus
# grows in fuzz/corpus/<target>/ (minimise it afterwards: fuzz/cmin.sh).
#
#   bash fuzz/run-campaign.sh [MINUTES]      (default 16)
set -euo pipefail
cd "$(dirname "$0")"
minutes="${1:-16}"
secs=$((minutes * 60))
mkdir -p logs
run() { # target mode
  local target=$1 mode=$2 flags=()
  [ "$mode" = opt ] && flags=(-O -s none)
  mkdir -p "corpus/$target"
  /usr/bin/time -f "$target $mode: %U s user, %S s sys, %e s wall" -o "logs/$target-$mode.time" \
    nice -n 19 cargo +nightly fuzz run "${flags[@]}" "$target" "corpus/$target" -- \
    -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=4096 -max_len=4096 \
    >"logs/$target-$mode.log" 2>&1 || echo "$target $mode: exited $?" >>"logs/$target-$mode.time"
}
for mode in asan opt; do
  run arena_ops "$mode" &
  run c_api "$mode" &
  wait
  run scenario_parse "$mode"
done
cat logs/*.time
