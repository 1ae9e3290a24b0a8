#!/usr/bin/env bash
# The full chaos run, one command:
#
#   tests/chaos/run.sh [ORDERS (300)] [SEED]
#
# Installs what is missing (scripts/deps.sh), builds the normal configuration in build/ (or
# $GSPBOT_BUILD_DIR) if needed, starts a throwaway PostgreSQL cluster unless GSPBOT_TEST_PG names
# one, runs the chaos program (tests/chaos/chaos.c: the rules are at its top) and removes the
# cluster on any exit. The chaos program stops everything it started itself, also when
# interrupted, and its children die with it if it is killed. Exit status: the chaos program's
# (0 passed, 1 a rule broken, 3 the run could not be set up).
# scripts/test.sh runs the 60-order version as the ctest `chaos`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
orders=${1:-300}
seed=${2:-}
build=${GSPBOT_BUILD_DIR:-$root/build}

bash "$root/scripts/deps.sh"
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=${CC:-gcc} cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug >/dev/null
fi
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target chaos gspbot gspbot-sim >/dev/null

tmp=$(mktemp -d /tmp/gspbot-chaos-run-XXXXXX)
chmod 755 "$tmp" # the postgres user must reach its cluster inside
own_pg=""
cleanup() {
  rc=$?
  [ -n "$own_pg" ] && bash "$root/scripts/pg.sh" stop "$tmp/pg" || true
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${GSPBOT_TEST_PG:-}" ]; then
  GSPBOT_TEST_PG=$(bash "$root/scripts/pg.sh" start "$tmp/pg")
  own_pg=1
fi
export GSPBOT_TEST_PG
# The chaos program's own folder (logs, evidence, the input, verify's report) is made under /tmp,
# removed when the run passes and kept, with its path printed, when it fails.
unset GSPBOT_TEST_TMP
"$build/tests/chaos/chaos" --orders "$orders" ${seed:+--seed "$seed"}
