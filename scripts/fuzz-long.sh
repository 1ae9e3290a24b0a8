#!/usr/bin/env bash
# The long fuzzing run: libFuzzer targets (tests/fuzz/fuzz_*: CSV, XLSX, flow files, multipart
# uploads, HTTP requests, HTTP fields) under ASan + UBSan, SECONDS each, one after the other.
#
#   scripts/fuzz-long.sh [SECONDS (600)] [TARGET...]      all targets, or only those named
#                                                         (csv, xlsx, flow, upload, http, http_fields)
#   scripts/fuzz-long.sh 600 http upload                  e.g. the HTTP layer only
#   FUZZ_NICE=19 (default)                                the fuzzers' nice level (and the build's)
#   FUZZ_BUILD_DIR=/tmp/bf scripts/fuzz-long.sh           another build folder than build-fuzz/
#   FUZZ_HTTP_SPLIT=1 scripts/fuzz-long.sh 600 http       fuzz_http sends the requests of an input
#                                                         apart (one per read), not pipelined
#                                                         (slow: it waits for each answer)
#
# Builds build-fuzz/ (clang, -DGSPBOT_FUZZ=ON) as scripts/test.sh does, which runs the same
# targets for GSPBOT_FUZZ_SECONDS (20) each in CI. Each target starts from its seeds
# (tests/fuzz/corpus/NAME, read only) and from what earlier long runs found
# (build-fuzz/corpus/NAME, kept between runs; git ignores build-fuzz/). A crashing input is
# written to build-fuzz/fuzz_NAME-crash-* (or leak-*, timeout-*, oom-*) and the sanitizer's
# report is printed: fix it, add a regression test where the code's tests live, and add the
# input to tests/fuzz/corpus/NAME as regression-*. Logs: build-fuzz/fuzz-long-NAME.log. Prints
# per target: runs, runs/s, coverage (cov = edges, ft = features, corpus size) and peak RSS.
# Exit status 0 when no target crashed, 1 otherwise, 2 on bad usage, 3 when the build failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-600}
case "$seconds" in '' | *[!0-9]*) echo "usage: scripts/fuzz-long.sh [SECONDS (600)] [TARGET...]" >&2; exit 2 ;; esac
[ $# -gt 0 ] && shift
nice_level=${FUZZ_NICE:-19}
out=${FUZZ_BUILD_DIR:-$root/build-fuzz}

bash scripts/deps.sh
if [ ! -f "$out/CMakeCache.txt" ]; then
  CC=clang cmake -S "$root" -B "$out" -DCMAKE_BUILD_TYPE=Debug -DGSPBOT_FUZZ=ON >"$out.configure.log" 2>&1 ||
    { cat "$out.configure.log"; exit 3; }
fi
# Only the fuzz targets (and what they link), not the whole tree.
build_targets=$(cmake --build "$out" --target help 2>/dev/null | sed -n 's/^\.\.\. \(fuzz_[A-Za-z0-9_]*\).*/\1/p' | tr '\n' ' ')
if ! nice -n "$nice_level" cmake --build "$out" -j"$(nproc 2>/dev/null || echo 2)" ${build_targets:+--target $build_targets} \
     >"$out.build.log" 2>&1; then
  grep -E -A5 'error|Error' "$out.build.log" | head -60
  exit 3
fi

# Sanitizer settings as in scripts/test.sh: stop at the first report, with its stack.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_odr_violation=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"

targets=()
if [ $# -gt 0 ]; then
  for t in "$@"; do targets+=("$out/tests/fuzz/fuzz_${t#fuzz_}"); done
else
  for t in "$out"/tests/fuzz/fuzz_*; do [ -x "$t" ] && targets+=("$t"); done
fi

failed=()
summary=()
for t in "${targets[@]}"; do
  name=$(basename "$t")
  short=${name#fuzz_}
  [ -x "$t" ] || { echo "no such fuzz target: $t" >&2; failed+=("$name"); continue; }
  corpus="$out/corpus/$short"
  seeds="tests/fuzz/corpus/$short"
  mkdir -p "$corpus"
  log="$out/fuzz-long-$short.log"
  # Inputs big enough for bodies that arrive in several pieces (HTTP targets).
  extra=()
  case "$short" in upload | http) extra+=(-max_len=16384) ;; esac
  echo "-- $name: $seconds s (log $log)"
  start=$(date +%s)
  # -timeout: the HTTP targets take up to about 20 s to tell a hung server (fuzz_net.h).
  if nice -n "$nice_level" "$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
       -artifact_prefix="$out/$name-" -print_final_stats=1 "${extra[@]}" \
       "$corpus" $([ -d "$seeds" ] && echo "$seeds") >"$log" 2>&1; then
    status=ok
  else
    status=CRASH
    failed+=("$name")
    grep -E -A30 'ERROR:|runtime error:|SUMMARY:|broken promise|Test unit written' "$log" | head -80 || tail -40 "$log"
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  cov=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+)\/([^ ]+).*/cov \1, features \2, corpus \3 (\4)/')
  line=$(printf '%-18s %-5s %5ss  %10s runs  %6s/s  %s  peak %s MB' "$name" "$status" "$(($(date +%s) - start))" \
    "${execs:-?}" "${rate:-?}" "${cov:-cov ?}" "${rss:-?}")
  echo "$line"
  summary+=("$line")
done

echo
echo "==== fuzz-long: $seconds s per target"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "CRASHED: ${failed[*]} (inputs: $out/fuzz_*-crash-* and friends)"
  exit 1
fi
echo "no crash"
