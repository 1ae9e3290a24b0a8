#!/bin/sh
# run_e2e.sh - the batch engine end to end, in ONE run against ONE gspbot-sim (seed 1, no faults,
# default timings): N orders (default 100) of 3 products at concurrency 1 and 2
#   (a) `gspbot run orders.csv --concurrency C` (load, start, C forked workers, summary) on a
#       throwaway PostgreSQL,
#   (b) the original's way in playwright-core: C processes side by side, each one browser, a new
#       context and a login per order,
#   (c) playwright-core at its best: C processes, one logged-in context reused each,
# each under bench_sample (CPU of the whole process tree, Chromium included; peak RSS), each checked
# against the simulator's carts (a contender whose orders did not land exactly is invalid).
# While (a) runs, the largest RSS of one gspbot process (supervisor or worker, Chromium excluded)
# is sampled every 0.2 s.
#   tests/bench/queue/run_e2e.sh [N]      build dir: $BENCH_BUILD (default build-bench-queue, Release)
# Needs: npm install --prefix tests/bench (playwright-core; the browser is /usr/bin/chromium).
# Duration: roughly N x (2.7 + 5.3 + 4.2) s / C per concurrency: about 30 minutes for N=100.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${BENCH_BUILD:-$root/build-bench-queue}
n=${1:-100}
[ -d "$root/tests/bench/node_modules/playwright-core" ] || {
  echo "run_e2e.sh: playwright-core missing: npm install --prefix $root/tests/bench" >&2; exit 2; }
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 2; }
cmake --build "$build" -j2 --target gspbot gspbot-sim bench_flow bench_sample > "$build.build.log" 2>&1 ||
  { tail -n 30 "$build.build.log" >&2; exit 2; }
flowbin="$build/tests/bench/flow"
G="$build/src/cli/gspbot"
out="$build/bench-e2e-results"
rm -rf "$out"
mkdir -p "$out"
chmod 755 "$out"
GSP_PASSWORD=${GSP_PASSWORD:-demo}
export GSP_PASSWORD NODE_PATH="$root/tests/bench/node_modules"

pgdir="$out/pg"
DATABASE_URL=$(bash "$root/scripts/pg.sh" start "$pgdir")
export DATABASE_URL
"$build/tests/sim/gspbot-sim" --port 0 --seed 1 > "$out/sim.out" 2> "$out/sim.err" &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null; bash "$root/scripts/pg.sh" stop "$pgdir"' EXIT INT TERM
url=
for _ in $(seq 100); do
  url=$(sed -n 's/^listening on //p' "$out/sim.out")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "run_e2e.sh: gspbot-sim did not start" >&2; exit 2; }
export GSP_BASE_URL="$url" GSP_USER_CODE=demo GSP_CYCLE=202605 GSPBOT_FLOW="$root/data/flows/gsp-sim.json"
export GSPBOT_SCREENSHOT_DIR="$out/evidence" GSPBOT_LOG_FORMAT=text
"$G" migrate > /dev/null
# The same orders as bench_flow.c and bench_playwright.js: consultora 10000001+i, products
# 80000+10*i+k+1, quantity (i+k)%3+1.
csv="$out/orders.csv"
echo "consultora_code,consultora_name,product_code,quantity" > "$csv"
i=0
while [ $i -lt "$n" ]; do
  for k in 0 1 2; do
    echo "$((10000001 + i)),Consultora $i,$((80000 + 10 * i + k + 1)),$(((i + k) % 3 + 1))" >> "$csv"
  done
  i=$((i + 1))
done
echo "gspbot-sim $url (seed 1), $n orders of 3 products per contender; load: $(uptime)"

# run NAME CMD...: reset the simulator, run CMD under bench_sample, verify the carts.
run() {
  name=$1
  shift
  "$flowbin/bench_flow" reset "$url" || { echo "run_e2e.sh: cannot reset the simulator" >&2; exit 2; }
  echo "== $name: $(date +%T)"
  t0=$(date +%s.%N)
  if ! "$flowbin/bench_sample" -- "$@" > "$out/$name.out" 2> "$out/$name.err"; then
    echo "run_e2e.sh: $name failed:" >&2; tail -n 20 "$out/$name.err" >&2; exit 1
  fi
  t1=$(date +%s.%N)
  if ! "$flowbin/bench_flow" verify "$url" "$n" -1 > "$out/$name.verify" 2>> "$out/$name.err"; then
    echo "run_e2e.sh: $name is INVALID: its orders did not land exactly:" >&2
    cat "$out/$name.verify" >&2; grep '^verify:' "$out/$name.err" | head -n 20 >&2; exit 1
  fi
  grep '^{"cpu_s"' "$out/$name.out" > "$out/$name.cpu"
  echo "$t1 $t0" | awk '{printf "{\"wall_s\": %.3f}\n", $1 - $2}' > "$out/$name.wall"
}

# The largest RSS of one gspbot process while `gspbot run` works (Chromium is not gspbot).
rss_sampler() {
  max=0
  while [ -f "$out/sampling" ]; do
    for p in $(pgrep -f "^$G run" 2>/dev/null); do
      r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
      [ "${r:-0}" -gt "$max" ] && max=$r
    done
    echo "$max" > "$out/$1.gspbot_rss_kb"
    sleep 0.2
  done
}

for c in 1 2; do
  per=$((n / c))
  touch "$out/sampling"
  rss_sampler "ours-c$c" &
  sampler=$!
  run "ours-c$c" sh -c "echo MARK start; '$G' run '$csv' --concurrency $c --allow-duplicate --quiet > '$out/ours-c$c.run' 2>&1; rc=\$?; echo MARK end; exit \$rc"
  rm -f "$out/sampling"
  wait $sampler || true
  for mode in original reuse; do
    script=""
    j=0
    while [ $j -lt "$c" ]; do
      script="$script BENCH_FIRST=$((j * per)) BENCH_NO_MARK=1 node '$root/tests/bench/flow/bench_playwright.js' $mode '$url' $per > '$out/$mode-c$c-$j.json' 2>&1 &"
      j=$((j + 1))
    done
    run "$mode-c$c" sh -c "echo MARK start; $script wait; echo MARK end"
  done
done
echo "load after: $(uptime)"

node - "$out" "$n" <<'JS'
const fs = require('fs');
const [out, n] = [process.argv[2], +process.argv[3]];
const rd = (f) => JSON.parse(fs.readFileSync(`${out}/${f}`, 'utf8').trim().split('\n').pop());
const row = (name) => {
  const cpu = rd(`${name}.cpu`), wall = rd(`${name}.wall`).wall_s;
  return { name, wall, per_min: n / (wall / 60), cpu_per_order: cpu.cpu_s / n, peak_rss_mb: cpu.peak_rss_mb,
           gspbot_rss_mb: fs.existsSync(`${out}/${name}.gspbot_rss_kb`) ?
             +fs.readFileSync(`${out}/${name}.gspbot_rss_kb`, 'utf8') / 1024 : null };
};
for (const c of [1, 2]) {
  const ours = row(`ours-c${c}`), orig = row(`original-c${c}`), reuse = row(`reuse-c${c}`);
  console.log(`\nconcurrency ${c}, ${n} orders`);
  console.log('| contender | orders/min | CPU s/order (whole tree) | peak RSS, whole tree | largest gspbot process |');
  console.log('|---|---|---|---|---|');
  for (const r of [ours, orig, reuse])
    console.log(`| ${r.name} | ${r.per_min.toFixed(1)} | ${r.cpu_per_order.toFixed(2)} | ${r.peak_rss_mb.toFixed(0)} MB | ` +
      `${r.gspbot_rss_mb === null ? '-' : r.gspbot_rss_mb.toFixed(1) + ' MB'} |`);
  console.log(`gspbot vs the original's way: ${(ours.per_min / orig.per_min).toFixed(2)}x orders/min, ` +
    `${(orig.cpu_per_order / ours.cpu_per_order).toFixed(2)}x less CPU per order; vs Playwright reusing its ` +
    `session: ${(ours.per_min / reuse.per_min).toFixed(2)}x, ${(reuse.cpu_per_order / ours.cpu_per_order).toFixed(2)}x`);
  console.log(`per Chromium tree (gspbot, estimate): ${((ours.peak_rss_mb - (ours.gspbot_rss_mb || 0) * (c + 1)) / c).toFixed(0)} MB`);
}
JS
