#!/usr/bin/env bash
# The README's "run it" command: installs what is missing, builds gspbot, starts a private
# PostgreSQL under .gspbot/ (kept between runs, ignored by git), migrates, and runs the main job.
# The walk: migrate, start the portal simulator, the preflight canary, one order through real
# headless Chromium with a trace, then the whole sample with `gspbot run` (two workers) and its
# summary.
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
cmake --build build-demo -j"$(nproc)" --target gspbot gspbot-sim >"$state/build.log" 2>&1 ||
  { grep -E -A5 'error' "$state/build.log" | head -60; exit 1; }
G="$root/build-demo/src/cli/gspbot"

chmod 755 "$state"
export DATABASE_URL
DATABASE_URL=$(bash scripts/pg.sh start "$state/pg")
echo "demo: PostgreSQL running ($DATABASE_URL); stop it with: scripts/demo.sh stop"

echo; echo "\$ gspbot migrate"
"$G" migrate

# The portal simulator on a free loopback port; stopped when the demo ends.
sim_pid=""
trap '[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; true' EXIT
# The simulator and gspbot both take the password from the environment (never from arguments).
export GSP_USER_CODE=supervisora GSP_PASSWORD=demo-Natura-2026 GSP_CYCLE=202605
"$root/build-demo/tests/sim/gspbot-sim" --port 0 --seed 1 --user "$GSP_USER_CODE" >"$state/sim.out" 2>"$state/sim.log" &
sim_pid=$!
for _ in $(seq 50); do grep -q listening "$state/sim.out" 2>/dev/null && break; sleep 0.1; done
export GSP_BASE_URL
GSP_BASE_URL=$(awk '/listening on/ {print $3; exit}' "$state/sim.out")
[ -n "$GSP_BASE_URL" ] || { echo "demo: the simulator did not start"; cat "$state/sim.log"; exit 1; }
echo; echo "demo: portal simulator at $GSP_BASE_URL"

# The sample's largest order (the first with the most rows): its consultora and products.
read -r consultora items < <(awk -F, 'NR > 1 && $1 != "" { if (!($1 in n)) order[++k] = $1; n[$1]++; it[$1] = it[$1] " " $3 ":" $4 }
  END { best = order[1]; for (i = 1; i <= k; i++) if (n[order[i]] > n[best]) best = order[i]; print best, it[best] }' \
  data/sample_orders.csv)
echo; echo "\$ gspbot preflight --consultora $consultora"
"$G" preflight --consultora "$consultora"
echo; echo "\$ gspbot order $consultora $items --trace .gspbot/trace"
rc=0
"$G" order "$consultora" $items --trace "$state/trace" || rc=$?
if [ "$rc" != 0 ]; then
  echo "demo: the single order failed (exit $rc); see the trace at $state/trace/index.html"
  exit $rc
fi
# The whole sample: load, start and work it with two workers, then the summary.
echo; echo "\$ gspbot run data/sample_orders.csv --concurrency 2 --allow-duplicate --output .gspbot/results.json"
rc=0
"$G" run data/sample_orders.csv --concurrency 2 --allow-duplicate --output "$state/results.json" || rc=$?
echo; echo "\$ gspbot status"
"$G" status
echo
echo "demo: done (run exit code $rc)."
echo "  the single order's step-by-step timeline: $state/trace/index.html"
echo "  the run's results: $state/results.json"
echo "  look around: export DATABASE_URL='$DATABASE_URL'; $G orders 1; $G logs 1; $G failures 1"
# The dashboard on the demo's data: a token of its own, kept in .gspbot/ (0600), never printed in ps.
token_file="$state/api-token"
[ -s "$token_file" ] || { (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$token_file"); }
echo
echo "The dashboard on the demo's data:"
echo "  DATABASE_URL='$DATABASE_URL' GSPBOT_API_TOKEN_FILE=$token_file $G serve --port 8000"
echo "  then open http://127.0.0.1:8000/ and enter the token: $(cat "$token_file")"
exit $rc
