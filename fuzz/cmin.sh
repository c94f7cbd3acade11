#!/usr/bin/env bash
# Minimises every corpus in fuzz/corpus/ with `cargo fuzz cmin` (keeps the
# smallest set of inputs that covers what the whole set covers), so the
# committed corpus stays small. Uses the optimised build without sanitizer.
#
#   bash fuzz/cmin.sh [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(arena_ops scenario_parse c_api)
for t in "${targets[@]}"; do
  before=$(find "corpus/$t" -type f | wc -l)
  nice -n 19 cargo +nightly fuzz cmin -O -s none "$t" "corpus/$t" >"/tmp/cmin-$t.log" 2>&1
  echo "$t: $before -> $(find "corpus/$t" -type f | wc -l) files, $(du -sh "corpus/$t" | cut -f1)"
done
