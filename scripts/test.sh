#!/usr/bin/env bash
# The README's test command (and what .ci/run calls). On a fresh Debian 12 machine: installs what
# is missing, builds the normal (gcc) and the sanitizer (clang, ASan + UBSan) configurations,
# starts a throwaway PostgreSQL cluster, runs every ctest of both builds (side by side), the
# fuzzers and the Docker deployment check, and exits non-zero on any failure. The cluster and its
# temp dir are removed on any exit.
#
#   scripts/test.sh              everything
#   GSPBOT_TEST_QUICK=1 ...      normal build only, no fuzzing, no Docker (for quick local iterations)
#   GSPBOT_TEST_DOCKER=0 ...     everything but the Docker check (scripts/docker-check.sh, needs root)
#   GSPBOT_FUZZ_SECONDS=N        seconds per fuzz target (default 20; scripts/fuzz-long.sh for long runs)
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
  # Suites still running in the background (an interrupted run): stop them first.
  for p in $(jobs -p); do pkill -TERM -P "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; done
  for d in "$tmp"/pg*; do [ -d "$d" ] && bash "$root/scripts/pg.sh" stop "$d"; done || true
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
# One cluster per suite: the two suites run side by side, and some tests stop and restart their
# cluster on purpose (the worker suite's PostgreSQL outage, the chaos suite's restart).
export GSPBOT_TEST_PG
pg_normal=$(bash scripts/pg.sh start "$tmp/pg-normal")
pg_asan=""
if [ -z "${GSPBOT_TEST_QUICK:-}" ] && [ -f build-asan/CMakeCache.txt ]; then
  pg_asan=$(bash scripts/pg.sh start "$tmp/pg-asan")
fi
GSPBOT_TEST_PG=$pg_normal
echo "throwaway clusters: $pg_normal${pg_asan:+; $pg_asan}"
export GSPBOT_TEST_TMP="$tmp"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_odr_violation=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# LeakSanitizer reports for system libraries' own one-time allocations are not ours.
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"

# The two builds' suites run side by side: most tests wait on a browser or the simulator, not the
# CPU, and every test has its own databases, ports, profiles and temp files. Each suite's output is
# printed whole once it ends.
run_ctest() { # run_ctest BUILD_DIR LABEL CLUSTER
  (cd "$1" && GSPBOT_TEST_PG=$3 ctest --output-on-failure --timeout 900 -j1) >"$tmp/ctest-$2.log" 2>&1
}
suites=()
[ -d build ] && suites+=("build:normal")
if [ -z "${GSPBOT_TEST_QUICK:-}" ] && [ -f build-asan/CMakeCache.txt ]; then
  suites+=("build-asan:asan+ubsan")
fi
step "ctest: ${suites[*]#*:} (side by side)"
pids=()
for s in "${suites[@]}"; do
  if [ "${s#*:}" = normal ]; then cluster=$pg_normal; else cluster=$pg_asan; fi
  run_ctest "${s%%:*}" "${s#*:}" "$cluster" &
  pids+=("$!")
done
for i in "${!suites[@]}"; do
  label=${suites[$i]#*:}
  if wait "${pids[$i]}"; then rc=0; else rc=$?; fi
  step "ctest: $label (exit $rc)"
  cat "$tmp/ctest-$label.log"
  [ "$rc" = 0 ] || failed+=("ctest-$label")
done

# The fuzzers (one core each, in the background) while the Docker check builds and runs its stacks.
fuzz() {
  if ! build build-fuzz clang -DGSPBOT_FUZZ=ON; then
    echo "build-fuzz" >>"$tmp/fuzz-failed"
    return
  fi
  for t in build-fuzz/tests/fuzz/fuzz_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    corpus="$tmp/corpus-$name"
    mkdir -p "$corpus"
    seeds="tests/fuzz/corpus/${name#fuzz_}"
    echo "-- $name"
    # A crashing input is kept in build-fuzz/ (ignored by git) and named in the log.
    if "$t" -max_total_time="${GSPBOT_FUZZ_SECONDS:-20}" -timeout=10 -rss_limit_mb=2048 \
         -artifact_prefix="$root/build-fuzz/$name-" \
         -print_final_stats=1 "$corpus" $( [ -d "$seeds" ] && echo "$seeds" ) >"$tmp/$name.log" 2>&1; then
      grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$tmp/$name.log" | tr '\n' ' '; echo
    else
      grep -E -A24 'ERROR:|runtime error:|SUMMARY:' "$tmp/$name.log" | head -60 || tail -40 "$tmp/$name.log"
      echo "$name" >>"$tmp/fuzz-failed"
    fi
  done
}
fuzz_pid=""
if [ -z "${GSPBOT_TEST_QUICK:-}" ] && [ -f tests/fuzz/CMakeLists.txt ]; then
  step "fuzz (clang libFuzzer, ${GSPBOT_FUZZ_SECONDS:-20}s per target), in the background"
  fuzz >"$tmp/fuzz.log" 2>&1 &
  fuzz_pid=$!
fi

# The Docker deployment, built and run for real (a private dockerd; needs root). GSPBOT_TEST_DOCKER=0 skips it.
if [ -z "${GSPBOT_TEST_QUICK:-}" ] && [ "${GSPBOT_TEST_DOCKER:-1}" != 0 ]; then
  step "docker"
  bash scripts/docker-check.sh || failed+=("docker-check")
fi

if [ -n "$fuzz_pid" ]; then
  wait "$fuzz_pid" || true
  step "fuzz results"
  cat "$tmp/fuzz.log"
  if [ -s "$tmp/fuzz-failed" ]; then
    while read -r f; do failed+=("$f"); done <"$tmp/fuzz-failed"
  fi
fi

step "done"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all test suites passed"
