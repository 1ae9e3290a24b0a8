#!/usr/bin/env bash
# The README's "run it" command: installs what is missing, builds gspbot, starts a private
# PostgreSQL under .gspbot/ (kept between runs, ignored by git), migrates, and runs the main job.
# Each capability that lands extends this walk; today: migrate, load the sample orders, status.
#
#   scripts/demo.sh          run the demo
#   scripts/demo.sh stop     stop the private PostgreSQL (and anything else the demo started)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
state="$root/.gspbot"
mkdir -p "$state"

if [ "${1:-}" = stop ]; then
  bash scripts/pg.sh stop "$state/pg"
  echo "demo: stopped"
  exit 0
fi

bash scripts/deps.sh
echo "demo: building (build-demo/)"
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$state/configure.log" 2>&1 ||
  { cat "$state/configure.log"; exit 1; }
cmake --build build-demo -j"$(nproc)" --target gspbot >"$state/build.log" 2>&1 ||
  { grep -E -A5 'error' "$state/build.log" | head -60; exit 1; }
G="$root/build-demo/src/gspbot"

chmod 755 "$state"
export DATABASE_URL
DATABASE_URL=$(bash scripts/pg.sh start "$state/pg")
echo "demo: PostgreSQL running ($DATABASE_URL); stop it with: scripts/demo.sh stop"

echo; echo "\$ gspbot migrate"
"$G" migrate
if "$G" load --help >/dev/null 2>&1 && [ -f data/sample_orders.csv ] && "$G" load --help | grep -qv 'not built'; then
  echo; echo "\$ gspbot load data/sample_orders.csv --allow-duplicate"
  "$G" load data/sample_orders.csv --allow-duplicate || true
fi
echo; echo "\$ gspbot status"
"$G" status
echo
echo "demo: done. Try: DATABASE_URL='$DATABASE_URL' $G status 1"
