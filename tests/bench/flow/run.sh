#!/bin/sh
# run.sh - the issue 5 benchmark, on both UIs of the simulator (issue 13). For each UI, in ONE run
# against ONE gspbot-sim (--port 0 --seed 1, no faults, default overlay/late timings; the modern
# UI with --ui modern and its default --interrupt-rate 0, so no survey): N orders (default 50) one
# after another
#   (a) through the gspbot flow engine in one browser (bench_flow; data/flows/gsp-sim.json on the
#       classic UI, data/flows/gsp-sim-modern.json on the modern one),
#   (b) through playwright-core the way the original did (new context + login per order),
#   (c) through playwright-core reusing one logged-in context,
# (b) and (c) in bench_playwright.js with the same selectors as the UI's flow file; on the modern
# UI all three also accept the consent banner (once per browser context), submit every order
# (confirm() accepted) and read its number on the confirmation page. Each contender runs under
# bench_sample (CPU of the whole process tree, Chromium included; peak RSS) and is followed by a
# check of the simulator (bench_flow verify: the carts hold exactly the N orders; on the modern UI
# also exactly one submitted order per consultora with that cart, no confirm() dismissed; a
# contender whose orders did not land is invalid) and a reset. Prints a side-by-side table with
# the ratios per UI, then one summary line per UI: wall and CPU per order of each contender and
# the ratios to gspbot's.
#   tests/bench/flow/run.sh [N] [classic|modern|both]   (defaults: 50, both)
#   build dir: $BENCH_BUILD (default build-bench-flow, Release)
# Duration: the simulator delays alone are ~2.5 s per order (classic); classic N=50 took 13 min at
# load average 5-11 on the 2-core box (about 4 + 6.5 + 4.7 s per order). The modern walk has more
# to do per order (frame, submission, confirmation page): allow ~20 s per order over its three
# contenders, so `both` at N=50 is about half an hour on a quiet box, more under load (N=3 for
# both UIs took about 4 minutes at load average 25-34). Results stay in
# $BENCH_BUILD/bench-flow-results/<ui>/.
# Needs: npm install --prefix tests/bench (playwright-core; the browser is /usr/bin/chromium).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${BENCH_BUILD:-$root/build-bench-flow}
n=${1:-50}
uis=${2:-both}
usage="usage: run.sh [N] [classic|modern|both]"
case "$n" in '' | *[!0-9]*) echo "$usage" >&2; exit 2 ;; esac
[ "$n" -ge 1 ] || { echo "$usage" >&2; exit 2; }
case "$uis" in
  classic | modern) ;;
  both) uis="classic modern" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
[ -d "$root/tests/bench/node_modules/playwright-core" ] || {
  echo "run.sh: playwright-core missing: npm install --prefix $root/tests/bench" >&2; exit 2; }
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 2; }
cmake --build "$build" -j2 --target bench_flow bench_sample gspbot-sim > "$build.build.log" 2>&1 ||
  { tail -n 30 "$build.build.log" >&2; exit 2; }
bin="$build/tests/bench/flow"
results="$build/bench-flow-results"
rm -rf "$results"
mkdir -p "$results"
# The password reaches the simulator and the contenders through the environment only.
GSP_PASSWORD=${GSP_PASSWORD:-demo}
export GSP_PASSWORD
export NODE_PATH="$root/tests/bench/node_modules"

sim=
stop_sim() {
  if [ -n "$sim" ]; then
    kill "$sim" 2>/dev/null || true
    wait "$sim" 2>/dev/null || true
    sim=
  fi
}
trap 'stop_sim' EXIT
trap 'stop_sim; exit 130' INT TERM

# start_sim UI: a gspbot-sim serving UI; sets $url.
start_sim() {
  "$build/tests/sim/gspbot-sim" --port 0 --seed 1 --ui "$1" > "$out/sim.out" 2> "$out/sim.err" &
  sim=$!
  url=
  for _ in $(seq 100); do
    url=$(sed -n 's/^listening on //p' "$out/sim.out")
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "run.sh: gspbot-sim did not start" >&2; cat "$out/sim.err" >&2; exit 2; }
}

# run NAME LOGINS CMD...: reset the simulator, run CMD under bench_sample, verify the simulator.
run() {
  name=$1 logins=$2
  shift 2
  "$bin/bench_flow" reset "$url" || { echo "run.sh: cannot reset the simulator" >&2; exit 2; }
  echo "== $ui/$name: $(date +%T)"
  if ! "$bin/bench_sample" -- "$@" > "$out/$name.out" 2> "$out/$name.err"; then
    echo "run.sh: $ui/$name failed:" >&2; tail -n 20 "$out/$name.err" >&2; exit 1
  fi
  if ! "$bin/bench_flow" verify "$url" "$n" "$logins" > "$out/$name.verify" 2>> "$out/$name.err"; then
    echo "run.sh: $ui/$name is INVALID: its orders did not land exactly:" >&2
    cat "$out/$name.verify" >&2; grep '^verify:' "$out/$name.err" | head -n 20 >&2; exit 1
  fi
  grep '^{' "$out/$name.out" > "$out/$name.json"
}

# report table DIR UI N | report summary RESULTS N UI...: the per-UI table, the closing summary.
report() {
  node - "$@" <<'JS'
const fs = require('fs');
const [what, dir, nS, ...uis] = process.argv.slice(2);
const n = +nS;
const names = ['ours', 'original', 'reuse'];
const load = (d, name) => {
  const [run, cpu] = fs.readFileSync(`${d}/${name}.json`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const verify = JSON.parse(fs.readFileSync(`${d}/${name}.verify`, 'utf8'));
  return { run, cpu, verify };
};
const loadAll = (d) => Object.fromEntries(names.map((k) => [k, load(d, k)]));
const f = (x, d = 3) => x.toFixed(d).padStart(9);
const wall = (v) => v.run.wall_mean_s, cpu = (v) => v.cpu.cpu_s / n;
if (what === 'table') {
  const ui = uis[0], c = loadAll(dir);
  for (const [k, v] of Object.entries(c)) {
    const x = v.verify;
    console.log(`${k.padEnd(8)} ${v.run.impl}; valid=${x.valid} logins=${x.logins} ` +
      `pages=${x.pages} api=${x.api} overlay_clicks=${x.overlay_clicks}` +
      (x.ui === 'modern' ? ` orders=${x.orders} numbers_read=${v.run.references} consents=${x.consents} ` +
        `confirms=${x.confirms} surveys=${x.interrupts_shown}` : '') +
      `; processes seen=${v.cpu.procs}, leftover=${v.cpu.leftover}`);
  }
  const rows = [
    ['wall s/order (mean)', wall],
    ['wall s/order (median)', (v) => v.run.wall_median_s],
    ['CPU s/order (all procs)', cpu],
    ['  of which client', (v) => v.cpu.cpu_client_s / n],
    ['  of which Chromium', (v) => v.cpu.cpu_browser_s / n],
    ['peak RSS MiB (tree sum)', (v) => v.cpu.peak_rss_mb],
  ];
  console.log(`\n${ui} UI`.padEnd(26) + 'ours'.padStart(9) + 'original'.padStart(10) + 'reuse'.padStart(9) +
    '  original/ours  reuse/ours');
  for (const [label, get] of rows) {
    const o = get(c.ours), a = get(c.original), b = get(c.reuse);
    const d = label.startsWith('peak') ? 1 : 3;
    console.log(label.padEnd(25) + f(o, d) + ' ' + f(a, d) + f(b, d) + f(a / o, 2).padStart(15) + f(b / o, 2).padStart(12));
  }
  const r = (k, get) => get(c[k]) / get(c.ours);
  const goal2x = r('original', wall) >= 2 && r('original', cpu) >= 2;
  const ahead = r('reuse', wall) > 1 && r('reuse', cpu) > 1;
  console.log(`\n${ui}: goal "at least 2x the original's way on wall and CPU per order": ${goal2x ? 'MET' : 'NOT MET'}` +
    ` (wall ${r('original', wall).toFixed(2)}x, CPU ${r('original', cpu).toFixed(2)}x)`);
  console.log(`${ui}: goal "ahead of session-reusing Playwright": ${ahead ? 'MET' : 'NOT MET'}` +
    ` (wall ${r('reuse', wall).toFixed(2)}x, CPU ${r('reuse', cpu).toFixed(2)}x)`);
  console.log(`raw results and per-step timings: ${dir}/`);
} else {
  console.log(`== summary, per order (N=${n}): wall = mean s, CPU = s of the whole process tree; ` +
    'x = contender / ours (above 1: gspbot is ahead)');
  const cols = [['ours wall', 17], ['CPU', 9], ['original wall', 17], ['CPU', 9], ['x wall', 8], ['x CPU', 7],
    ['reuse wall', 14], ['CPU', 9], ['x wall', 8], ['x CPU', 7]];
  console.log('UI'.padEnd(8) + cols.map(([h, w]) => h.padStart(w)).join(''));
  for (const ui of uis) {
    const c = loadAll(`${dir}/${ui}`);
    const o = c.ours, cell = [wall(o).toFixed(3), cpu(o).toFixed(3)];
    for (const k of ['original', 'reuse']) {
      const v = c[k];
      cell.push(wall(v).toFixed(3), cpu(v).toFixed(3), `${(wall(v) / wall(o)).toFixed(2)}x`,
        `${(cpu(v) / cpu(o)).toFixed(2)}x`);
    }
    console.log(ui.padEnd(8) + cell.map((x, i) => x.padStart(cols[i][1])).join(''));
  }
}
JS
}

for ui in $uis; do
  out="$results/$ui"
  mkdir -p "$out"
  start_sim "$ui"
  echo "gspbot-sim --ui $ui $url (seed 1), $n orders per contender, 3 products each; load: $(uptime)"
  case $ui in
    classic) flow="$root/data/flows/gsp-sim.json" ;;
    modern) flow="$root/data/flows/gsp-sim-modern.json" ;;
  esac
  run ours -1 "$bin/bench_flow" run "$url" "$flow" "$n"
  run original "$n" node "$here/bench_playwright.js" original "$url" "$n" "$ui"
  run reuse 1 node "$here/bench_playwright.js" reuse "$url" "$n" "$ui"
  stop_sim
  echo "load after: $(uptime)"
  report table "$out" "$n" "$ui"
  echo
done
# shellcheck disable=SC2086 # $uis is a word list
report summary "$results" "$n" $uis
