#!/bin/sh
# run.sh - `gspbot serve` under load while workers run: wrk (Debian's) for SECONDS (30) at 32
# connections on /batches/1/stats and on /batches/1/orders?status=failed, with 10,000 orders in
# batch 1 (a tenth of them failed), while 2 workers (`gspbot worker`) work a second batch against
# gspbot-sim. Prints requests/s, latency percentiles and errors for each route, and the workers'
# completed orders per minute and claim errors without and with the load.
#   tests/bench/api/run.sh [SECONDS]     build dir: $BENCH_BUILD (default build-bench-api, Release)
# Needs: apt-get install wrk.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${BENCH_BUILD:-$root/build-bench-api}
secs=${1:-30}
command -v wrk >/dev/null || { echo "run.sh: wrk missing: apt-get install wrk" >&2; exit 2; }
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 2; }
cmake --build "$build" -j2 --target gspbot gspbot-sim > "$build.build.log" 2>&1 ||
  { tail -n 30 "$build.build.log" >&2; exit 2; }
G="$build/src/cli/gspbot"
out="$build/bench-api-results"
rm -rf "$out"
mkdir -p "$out"
chmod 755 "$out"
pgdir="$out/pg"
DATABASE_URL=$(bash "$root/scripts/pg.sh" start "$pgdir")
export DATABASE_URL
export GSPBOT_API_TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export GSP_PASSWORD=demo GSP_USER_CODE=demo GSP_CYCLE=202605 GSPBOT_FLOW="$root/data/flows/gsp-sim.json"
export GSPBOT_SCREENSHOT_DIR="$out/evidence" GSPBOT_LOG_FORMAT=text
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  sleep 1
  bash "$root/scripts/pg.sh" stop "$pgdir"
}
trap cleanup EXIT INT TERM

"$G" migrate > /dev/null
psql -q "$DATABASE_URL" <<'SQL'
INSERT INTO batches (name, status, started_at) VALUES ('load test', 'running', now());
INSERT INTO orders (batch_id, seq, consultora_code, status, attempts, finished_at, last_error, error_class)
  SELECT 1, s, 'L' || s, CASE WHEN s % 10 = 0 THEN 'failed' ELSE 'completed' END, 1, now(),
         CASE WHEN s % 10 = 0 THEN 'La consultora L' || s || ' no existe' END,
         CASE WHEN s % 10 = 0 THEN 'fatal' END
  FROM generate_series(1, 10000) s;
INSERT INTO order_items (order_id, product_code, quantity) SELECT id, '80901', 2 FROM orders;
ANALYZE;
SQL

"$build/tests/sim/gspbot-sim" --port 0 --seed 1 > "$out/sim.out" 2> "$out/sim.err" &
pids="$pids $!"
url=
for _ in $(seq 100); do url=$(sed -n 's/^listening on //p' "$out/sim.out"); [ -n "$url" ] && break; sleep 0.1; done
export GSP_BASE_URL="$url"
"$G" serve --port 0 --host 127.0.0.1 > "$out/serve.out" 2> "$out/serve.err" &
pids="$pids $!"
api=
for _ in $(seq 100); do api=$(sed -n 's/^listening on //p' "$out/serve.out"); [ -n "$api" ] && break; sleep 0.1; done
[ -n "$api" ] || { echo "run.sh: serve did not start" >&2; cat "$out/serve.err" >&2; exit 2; }

# The workers' batch: enough orders for both phases.
echo "consultora_code,product_code,quantity" > "$out/work.csv"
i=0
while [ $i -lt 400 ]; do echo "$((20000001 + i)),80901,1" >> "$out/work.csv"; i=$((i + 1)); done
"$G" load "$out/work.csv" --name workers > /dev/null
"$G" start 2 > /dev/null
"$G" worker --concurrency 2 > "$out/worker.out" 2> "$out/worker.err" &
pids="$pids $!"

completed() { psql -tAq "$DATABASE_URL" -c "SELECT count(*) FROM orders WHERE batch_id = 2 AND status = 'completed'"; }
sleep 15 # the workers warm up (browsers launched, logged in)
c0=$(completed)
sleep "$secs"
c1=$(completed)
echo "workers alone: $(awk "BEGIN {printf \"%.1f\", ($c1 - $c0) * 60 / $secs}") orders/min over ${secs} s"

auth="Authorization: Bearer $GSPBOT_API_TOKEN"
for path in "/batches/1/stats" "/batches/1/orders?status=failed"; do
  c0=$(completed)
  wrk -t2 -c32 -d"${secs}s" --latency -H "$auth" "$api$path" > "$out/wrk.txt" 2>&1
  c1=$(completed)
  echo "== GET $path, 32 connections, ${secs} s"
  grep -E 'Requests/sec|Latency  |50%|90%|99%|Non-2xx|Socket errors|requests in' "$out/wrk.txt" | sed 's/^/   /'
  echo "   workers meanwhile: $(awk "BEGIN {printf \"%.1f\", ($c1 - $c0) * 60 / $secs}") orders/min"
done
echo "worker claim errors: $(grep -c 'claim:' "$out/worker.err" || true); failed orders of the workers' batch: $(psql -tAq "$DATABASE_URL" -c "SELECT count(*) FROM orders WHERE batch_id = 2 AND status = 'failed'")"
echo "load: $(uptime)"
