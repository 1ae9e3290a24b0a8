#!/usr/bin/env bash
# The README's test command (and what .ci/run calls). On a fresh Debian 12 machine: installs what
# is missing, builds the normal (gcc) and the sanitizer (clang, ASan + UBSan) configurations,
# starts a throwaway PostgreSQL cluster, runs every ctest of both builds and the fuzzers, and
# exits non-zero on any failure. The cluster and its temp dir are removed on any exit.
#
#   scripts/test.sh              everything
#   GSPBOT_TEST_QUICK=1 ...      normal build only, no fuzzing (for quick local iterations)
#   GSPBOT_FUZZ_SECONDS=N        seconds per fuzz target (default 60)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)
start=$(date +%s)

step() { printf '\n==== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "dependencies"
bash scripts/deps.sh

tmp=$(mktemp -d /tmp/gspbot-test-XXXXXX)
chmod 755 "$tmp" # the postgres user must reach its cluster inside
cleanup() {
  rc=$?
  bash "$root/scripts/pg.sh" stop "$tmp/pg" || true
  # Anything a failed test left behind: Chromium profiles and processes under our temp dir.
  pkill -KILL -f -- "--user-data-dir=$tmp" 2>/dev/null || true
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failed=()
build() { # build DIR CC [cmake args...]
  local dir=$1 cc=$2; shift 2
  CC=$cc cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Debug "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; return 1; }
  if ! cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1; then
    grep -E -A5 'error|Error' "$dir.build.log" | head -80
    return 1
  fi
  echo "built $dir ($(grep -c 'Building C object' "$dir.build.log") objects compiled)"
}

step "build: normal (gcc)"
mkdir -p build
build build gcc || failed+=("build-normal")
if [ -z "${GSPBOT_TEST_QUICK:-}" ]; then
  step "build: sanitizers (clang, ASan + UBSan)"
  build build-asan clang -DGSPBOT_SANITIZE=ON || failed+=("build-asan")
fi

step "PostgreSQL"
export GSPBOT_TEST_PG
GSPBOT_TEST_PG=$(bash scripts/pg.sh start "$tmp/pg")
echo "throwaway cluster: $GSPBOT_TEST_PG"
export GSPBOT_TEST_TMP="$tmp"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_odr_violation=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# LeakSanitizer reports for system libraries' own one-time allocations are not ours.
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"

run_ctest() { # run_ctest BUILD_DIR LABEL
  step "ctest: $2"
  (cd "$1" && ctest --output-on-failure --timeout 600 -j1) || failed+=("ctest-$2")
}
[ -d build ] && run_ctest build normal
if [ -z "${GSPBOT_TEST_QUICK:-}" ] && [ -f build-asan/CMakeCache.txt ]; then
  run_ctest build-asan asan+ubsan
fi

if [ -z "${GSPBOT_TEST_QUICK:-}" ] && [ -f tests/fuzz/CMakeLists.txt ]; then
  step "fuzz (clang libFuzzer, ${GSPBOT_FUZZ_SECONDS:-60}s per target)"
  if build build-fuzz clang -DGSPBOT_FUZZ=ON; then
    for t in build-fuzz/tests/fuzz/fuzz_*; do
      [ -x "$t" ] || continue
      name=$(basename "$t")
      corpus="$tmp/corpus-$name"
      mkdir -p "$corpus"
      seeds="tests/fuzz/corpus/${name#fuzz_}"
      echo "-- $name"
      # A crashing input is kept in build-fuzz/ (ignored by git) and named in the log.
      if "$t" -max_total_time="${GSPBOT_FUZZ_SECONDS:-60}" -timeout=10 -rss_limit_mb=2048 \
           -artifact_prefix="$root/build-fuzz/$name-" \
           -print_final_stats=1 "$corpus" $( [ -d "$seeds" ] && echo "$seeds" ) >"$tmp/$name.log" 2>&1; then
        grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$tmp/$name.log" | tr '\n' ' '; echo
      else
        grep -E -A24 'ERROR:|runtime error:|SUMMARY:' "$tmp/$name.log" | head -60 || tail -40 "$tmp/$name.log"
        failed+=("$name")
      fi
    done
  else
    failed+=("build-fuzz")
  fi
fi

step "done"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all test suites passed"
