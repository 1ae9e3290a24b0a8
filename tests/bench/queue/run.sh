#!/usr/bin/env bash
# The queue alone: claim+finish cycles/s with 1, 4 and 16 connections on 100,000 orders in 100
# batches (and the claim's plan), and start-to-first-claim latency with idle workers.
#   tests/bench/queue/run.sh [BUILD_DIR (build)] [SECONDS (5)] [ROUNDS (200)]
# Starts its own throwaway PostgreSQL unless GSPBOT_TEST_PG is set.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$root/build}
cmake --build "$build" -j2 --target bench_queue >/dev/null
if [ -z "${GSPBOT_TEST_PG:-}" ]; then
  tmp=$(mktemp -d /tmp/gspbot-benchq-XXXXXX); chmod 755 "$tmp"
  trap 'bash "$root/scripts/pg.sh" stop "$tmp/pg"; rm -rf "$tmp"' EXIT
  GSPBOT_TEST_PG=$(bash "$root/scripts/pg.sh" start "$tmp/pg")
  export GSPBOT_TEST_PG
fi
"$build/tests/bench/queue/bench_queue" "${2:-5}" "${3:-200}"
