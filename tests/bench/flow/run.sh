#!/bin/sh
# run.sh - the issue 5 benchmark, in ONE run against ONE gspbot-sim (--port 0 --seed 1, no faults,
# default overlay/late timings): N orders (default 50) one after another
#   (a) through the gspbot flow engine in one browser (bench_flow, data/flows/gsp-sim.json),
#   (b) through playwright-core the way the original did (new context + login per order),
#   (c) through playwright-core reusing one logged-in context,
# each under bench_sample (CPU of the whole process tree, Chromium included; peak RSS), each
# followed by a check of the simulator's carts (a contender whose orders did not land is invalid)
# and a reset. Prints a side-by-side table with the ratios.
#   tests/bench/flow/run.sh [N]        build dir: $BENCH_BUILD (default build-bench-flow, Release)
# Duration: the simulator delays alone are ~2.5 s per order; N=50 took 13 min at load average 5-11
# on the 2-core box (about 4 + 6.5 + 4.7 s per order). Results stay in $BENCH_BUILD/bench-flow-results/.
# Needs: npm install --prefix tests/bench (playwright-core; the browser is /usr/bin/chromium).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${BENCH_BUILD:-$root/build-bench-flow}
n=${1:-50}
[ -d "$root/tests/bench/node_modules/playwright-core" ] || {
  echo "run.sh: playwright-core missing: npm install --prefix $root/tests/bench" >&2; exit 2; }
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 2; }
cmake --build "$build" -j2 --target bench_flow bench_sample gspbot-sim > "$build.build.log" 2>&1 ||
  { tail -n 30 "$build.build.log" >&2; exit 2; }
bin="$build/tests/bench/flow"
out="$build/bench-flow-results"
rm -rf "$out"
mkdir -p "$out"
# The password reaches the simulator and the contenders through the environment only.
GSP_PASSWORD=${GSP_PASSWORD:-demo}
export GSP_PASSWORD
export NODE_PATH="$root/tests/bench/node_modules"

"$build/tests/sim/gspbot-sim" --port 0 --seed 1 > "$out/sim.out" 2> "$out/sim.err" &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null || true' EXIT INT TERM
url=
for _ in $(seq 100); do
  url=$(sed -n 's/^listening on //p' "$out/sim.out")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "run.sh: gspbot-sim did not start" >&2; cat "$out/sim.err" >&2; exit 2; }
echo "gspbot-sim $url (seed 1), $n orders per contender, 3 products each; load: $(uptime)"

# run NAME LOGINS CMD...: reset the simulator, run CMD under bench_sample, verify the carts.
run() {
  name=$1 logins=$2
  shift 2
  "$bin/bench_flow" reset "$url" || { echo "run.sh: cannot reset the simulator" >&2; exit 2; }
  echo "== $name: $(date +%T)"
  if ! "$bin/bench_sample" -- "$@" > "$out/$name.out" 2> "$out/$name.err"; then
    echo "run.sh: $name failed:" >&2; tail -n 20 "$out/$name.err" >&2; exit 1
  fi
  if ! "$bin/bench_flow" verify "$url" "$n" "$logins" > "$out/$name.verify" 2>> "$out/$name.err"; then
    echo "run.sh: $name is INVALID: its orders did not land exactly:" >&2
    cat "$out/$name.verify" >&2; grep '^verify:' "$out/$name.err" | head -n 20 >&2; exit 1
  fi
  grep '^{' "$out/$name.out" > "$out/$name.json"
}
run ours -1 "$bin/bench_flow" run "$url" "$root/data/flows/gsp-sim.json" "$n"
run original "$n" node "$here/bench_playwright.js" original "$url" "$n"
run reuse 1 node "$here/bench_playwright.js" reuse "$url" "$n"
echo "load after: $(uptime)"

node - "$out" "$n" <<'JS'
const fs = require('fs');
const [out, n] = [process.argv[2], +process.argv[3]];
const load = (name) => {
  const [run, cpu] = fs.readFileSync(`${out}/${name}.json`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const verify = JSON.parse(fs.readFileSync(`${out}/${name}.verify`, 'utf8'));
  return { run, cpu, verify };
};
const c = { ours: load('ours'), original: load('original'), reuse: load('reuse') };
for (const [k, v] of Object.entries(c))
  console.log(`${k.padEnd(8)} ${v.run.impl}; valid=${v.verify.valid} logins=${v.verify.logins} ` +
    `pages=${v.verify.pages} api=${v.verify.api} overlay_clicks=${v.verify.overlay_clicks}; ` +
    `processes seen=${v.cpu.procs}, leftover=${v.cpu.leftover}`);
const rows = [
  ['wall s/order (mean)', (v) => v.run.wall_mean_s],
  ['wall s/order (median)', (v) => v.run.wall_median_s],
  ['CPU s/order (all procs)', (v) => v.cpu.cpu_s / n],
  ['  of which client', (v) => v.cpu.cpu_client_s / n],
  ['  of which Chromium', (v) => v.cpu.cpu_browser_s / n],
  ['peak RSS MiB (tree sum)', (v) => v.cpu.peak_rss_mb],
];
const f = (x, d = 3) => x.toFixed(d).padStart(9);
console.log('\n' + ''.padEnd(25) + 'ours'.padStart(9) + 'original'.padStart(10) + 'reuse'.padStart(9) +
  '  original/ours  reuse/ours');
for (const [label, get] of rows) {
  const o = get(c.ours), a = get(c.original), b = get(c.reuse);
  const d = label.startsWith('peak') ? 1 : 3;
  console.log(label.padEnd(25) + f(o, d) + ' ' + f(a, d) + f(b, d) + f(a / o, 2).padStart(15) + f(b / o, 2).padStart(12));
}
const r = (k, get) => get(c[k]) / get(c.ours);
const wall = (v) => v.run.wall_mean_s, cpu = (v) => v.cpu.cpu_s;
const goal2x = r('original', wall) >= 2 && r('original', cpu) >= 2;
const ahead = r('reuse', wall) > 1 && r('reuse', cpu) > 1;
console.log(`\ngoal "at least 2x the original's way on wall and CPU per order": ${goal2x ? 'MET' : 'NOT MET'}` +
  ` (wall ${r('original', wall).toFixed(2)}x, CPU ${r('original', cpu).toFixed(2)}x)`);
console.log(`goal "ahead of session-reusing Playwright": ${ahead ? 'MET' : 'NOT MET'}` +
  ` (wall ${r('reuse', wall).toFixed(2)}x, CPU ${r('reuse', cpu).toFixed(2)}x)`);
console.log(`raw results and per-step timings: ${out}/`);
JS
