#!/usr/bin/env bash
# run.sh - the batch engine end to end, in ONE run against ONE gspbot-sim (classic UI, seed 1, no
# faults, default overlay/late timings): N orders (default 100) of 3 products, C (2) at a time,
#   1. gspbot: `gspbot run orders.csv --concurrency C` (load, start, C forked workers each with its
#      Chromium, summary) with data/flows/gsp-sim.json on a throwaway PostgreSQL;
#   2. the original system's way in playwright-core: C node processes side by side, each one
#      browser, a new context and a login per order, 3 retries, nothing blocked;
#   3. Playwright at its best: C node processes, one logged-in context reused each, images and
#      fonts blocked (bench_playwright.js);
#   4. the floor: the same portal requests over plain HTTP, no browser, C threads
#      (bench_http_floor.c, libcurl);
# each under bench_sample (CPU of the whole process tree, Chromium included, every descendant's
# /proc/PID/stat; peak RSS of the tree), each checked against the simulator's carts (bench_flow
# verify: exactly the N orders, each addition once) and its request counters (/__sim/state), the
# simulator reset in between. Prints a markdown table (orders/min, CPU per order, peak RSS,
# validity, portal requests per order, ratios) and where gspbot's time per order goes.
#   tests/bench/e2e/run.sh [N]     build dir: $BENCH_BUILD (default build-bench-e2e, Release)
#   env: BENCH_CONCURRENCY (2), CHROMIUM_PATH (/usr/bin/chromium), GSP_PASSWORD (demo)
# Needs: npm install --prefix tests/bench (playwright-core; the browser is /usr/bin/chromium),
# PostgreSQL server binaries (scripts/pg.sh), libcurl. Duration: about N x (2.7 + 5.3 + 4.2) / C
# seconds on an idle 2-core box (the per-order walls of tests/bench/flow), ~10 minutes for N=100;
# N=10 took 2 minutes at load average 25. Results stay in
# $BENCH_BUILD/bench-e2e-results/; the database, the profiles and every process started are removed
# on exit, failure and Ctrl-C included.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${BENCH_BUILD:-$root/build-bench-e2e}
n=${1:-100}
c=${BENCH_CONCURRENCY:-2}
case "$n$c" in *[!0-9]*) echo "usage: run.sh [N]   (BENCH_CONCURRENCY=C)" >&2; exit 2 ;; esac
[ "$n" -ge 1 ] && [ "$c" -ge 1 ] || { echo "run.sh: N and C must be >= 1" >&2; exit 2; }
[ -d "$root/tests/bench/node_modules/playwright-core" ] || {
  echo "run.sh: playwright-core missing: npm install --prefix $root/tests/bench" >&2; exit 2; }
export CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
[ -x "$CHROMIUM_PATH" ] || { echo "run.sh: no Chromium at $CHROMIUM_PATH (set CHROMIUM_PATH)" >&2; exit 2; }
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 2; }
cmake --build "$build" -j2 --target gspbot gspbot-sim bench_flow bench_sample bench_http_floor \
  > "$build.build.log" 2>&1 || { tail -n 30 "$build.build.log" >&2; exit 2; }
flowbin="$build/tests/bench/flow"
floor="$build/tests/bench/e2e/bench_http_floor"
G="$build/src/cli/gspbot"
out="$build/bench-e2e-results"
rm -rf "$out"
mkdir -p "$out"

# Everything temporary (the PostgreSQL cluster, the browsers' profiles: gspbot's launcher,
# Playwright and Chromium all honour TMPDIR) lives under $tmp, removed on exit. The postgres user
# must reach the cluster's directory.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gspbot-bench-e2e.XXXXXX")
chmod 755 "$tmp"
mkdir "$tmp/tmp"
pgdir="$tmp/pg"
pg_started=0
sim=

# The processes this script started: its descendants, and every member of their process groups
# (bench_sample runs each contender in a group of its own; gspbot's launcher and Playwright start
# Chromium in a group of its own, whose helpers may outlive their parent). Group ids seen stay in
# $tmp/pgids so a second look still finds helpers that were re-parented meanwhile. The script's
# own group is never used (it may be shared with whoever called us).
tree_pids() {
  local known mypg
  known=$(cat "$tmp/pgids" 2>/dev/null || true)
  mypg=$(ps -o pgid= -p $$ | tr -d ' ')
  ps -e -o pid=,ppid=,pgid= | awk -v self=$$ -v mypg="$mypg" -v subsh="$BASHPID" -v known="$known" -v pgfile="$tmp/pgids" '
    { pid[NR] = $1; ppid[NR] = $2; pg[NR] = $3 }
    END {
      nk = split(known, k, " "); for (i = 1; i <= nk; i++) ing[k[i]] = 1
      in_[self] = 1
      do {
        ch = 0
        for (i = 1; i <= NR; i++) {
          if (pid[i] in in_ || pid[i] == subsh || ppid[i] == subsh) continue
          if (ppid[i] in in_ || (pg[i] in ing)) {
            in_[pid[i]] = 1; ch = 1
            if (pg[i] != mypg) ing[pg[i]] = 1
          }
        }
      } while (ch)
      s = ""; for (g in ing) s = s " " g; print s > pgfile
      for (p in in_) if (p != self) print p
    }'
}

cleanup() {
  local rc=$? pids left
  trap - EXIT INT TERM
  set +e
  rm -f "$out/sampling"
  # (also the script's own jobs, should the look at /proc fail)
  pids="$(tree_pids) $(jobs -p) $sim"
  if [ -n "${pids// /}" ]; then
    kill -TERM $pids 2>/dev/null
    for _ in $(seq 50); do
      left=
      for p in $pids; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
      [ -z "$left" ] && break
      sleep 0.1
    done
    pids="$(tree_pids) $left"
    kill -KILL $pids 2>/dev/null
  fi
  wait 2>/dev/null
  [ "$pg_started" = 1 ] && bash "$root/scripts/pg.sh" stop "$pgdir" > /dev/null 2>&1
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

GSP_PASSWORD=${GSP_PASSWORD:-demo}
export GSP_PASSWORD NODE_PATH="$root/tests/bench/node_modules"
pg_started=1
DATABASE_URL=$(bash "$root/scripts/pg.sh" start "$pgdir")
export DATABASE_URL
export TMPDIR="$tmp/tmp"
"$build/tests/sim/gspbot-sim" --port 0 --seed 1 > "$out/sim.out" 2> "$out/sim.err" &
sim=$!
url=
for _ in $(seq 100); do
  url=$(sed -n 's/^listening on //p' "$out/sim.out")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "run.sh: gspbot-sim did not start" >&2; cat "$out/sim.err" >&2; exit 2; }
export GSP_BASE_URL="$url" GSP_USER_CODE=demo GSP_CYCLE=202605 GSPBOT_FLOW="$root/data/flows/gsp-sim.json"
export GSPBOT_SCREENSHOT_DIR="$out/evidence" GSPBOT_LOG_FORMAT=text
"$G" migrate > "$out/migrate.out" 2>&1 || { cat "$out/migrate.out" >&2; exit 2; }
# The same orders as bench_flow.c, bench_playwright.js and bench_http_floor.c: consultora
# 10000001+i, products 80000+10*i+k+1, quantity (i+k)%3+1.
csv="$out/orders.csv"
awk -v n="$n" 'BEGIN {
  print "consultora_code,consultora_name,product_code,quantity"
  for (i = 0; i < n; i++) for (k = 0; k < 3; k++)
    printf "%d,Consultora %d,%d,%d\n", 10000001 + i, i, 80000 + 10 * i + k + 1, (i + k) % 3 + 1 }' > "$csv"
tck=$(getconf CLK_TCK)
echo "gspbot-sim $url (seed 1), $n orders of 3 products per contender, concurrency $c; load: $(uptime)"

# The window bench_sample measures, and its wall clock: the whole command.
# mark OUTFILE CMD...: CMD's output goes to OUTFILE.
mark='f=$1; shift; echo MARK start; date +T0=%s.%N; "$@" > "$f" 2>&1; rc=$?; date +T1=%s.%N; echo MARK end; exit $rc'
# C node processes side by side, order ranges [j*n/c, (j+1)*n/c).
pw='mode=$1 u=$2 n=$3 c=$4 js=$5 o=$6; echo MARK start; date +T0=%s.%N; pids=; j=0
while [ $j -lt $c ]; do f=$((j * n / c)); t=$(((j + 1) * n / c))
  node "$js" "$mode" "$u" $f $((t - f)) > "$o-$j.json" 2> "$o-$j.err" & pids="$pids $!"; j=$((j + 1)); done
rc=0; for p in $pids; do wait $p || rc=1; done; date +T1=%s.%N; echo MARK end; exit $rc'

# The client processes of a contender (not Chromium), seen every 0.2 s: their pids (for the CPU
# breakdown) and the largest RSS of one of them.
client_sampler() {
  local name=$1 pattern=$2 max=0 r p
  : > "$out/$name.client_pids"
  while [ -f "$out/sampling" ]; do
    for p in $(pgrep -f -- "$pattern" 2>/dev/null); do
      grep -qx "$p" "$out/$name.client_pids" || echo "$p" >> "$out/$name.client_pids"
      r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
      if [ "${r:-0}" -gt "$max" ]; then max=$r; fi
    done
    echo "$max" > "$out/$name.client_rss_kb"
    sleep 0.2
  done
}

sim_ticks() { awk '{print $14 + $15}' "/proc/$sim/stat"; }

invalid=0
# run NAME CLIENT_PATTERN CMD...: reset the simulator, run CMD under bench_sample, verify the carts,
# keep the simulator's counters. A failed or invalid contender is reported, the others still run.
run() {
  local name=$1 pattern=$2 rc=0 s0 s1 sampler
  shift 2
  "$flowbin/bench_flow" reset "$url" || { echo "run.sh: cannot reset the simulator" >&2; exit 2; }
  echo "== $name: $(date +%T)"
  touch "$out/sampling"
  client_sampler "$name" "$pattern" &
  sampler=$!
  s0=$(sim_ticks)
  "$flowbin/bench_sample" -- "$@" > "$out/$name.out" 2> "$out/$name.err" &
  wait $! || rc=$?
  s1=$(sim_ticks)
  rm -f "$out/sampling"
  wait "$sampler" || true
  echo "{\"sim_cpu_s\": $(awk -v a="$s0" -v b="$s1" -v t="$tck" 'BEGIN {printf "%.3f", (b - a) / t}')}" > "$out/$name.sim"
  "$floor" stats "$url" > "$out/$name.stats" 2>> "$out/$name.err" || echo '{}' > "$out/$name.stats"
  if [ "$rc" != 0 ]; then
    echo "run.sh: $name failed (exit $rc):" >&2
    tail -n 20 "$out/$name.err" >&2
    for f in "$out/$name".run "$out/$name"-*.err; do
      if [ -s "$f" ]; then tail -n 5 "$f" >&2; fi
    done
    invalid=1
  fi
  if ! "$flowbin/bench_flow" verify "$url" "$n" -1 > "$out/$name.verify" 2>> "$out/$name.err"; then
    echo "run.sh: $name is INVALID: its orders did not land exactly:" >&2
    cat "$out/$name.verify" >&2; grep '^verify:' "$out/$name.err" | head -n 20 >&2
    invalid=1
  fi
  [ -s "$out/$name.verify" ] || echo '{"valid": false}' > "$out/$name.verify"
  [ "$rc" = 0 ] || echo "{\"exit\": $rc}" > "$out/$name.failed"
}

run gspbot "^$G run " sh -c "$mark" sh "$out/gspbot.run" "$G" run "$csv" --concurrency "$c" --quiet
run original "bench_playwright.js original $url" sh -c "$pw" sh original "$url" "$n" "$c" "$here/bench_playwright.js" "$out/original"
run best "bench_playwright.js best $url" sh -c "$pw" sh best "$url" "$n" "$c" "$here/bench_playwright.js" "$out/best"
run floor "^$floor run " sh -c "$mark" sh "$out/floor.run" env BENCH_NO_MARK=1 "$floor" run "$url" "$n" "$c"
echo "load after: $(uptime)"

node - "$out" "$n" "$c" <<'JS'
const fs = require('fs');
const [out, n, c] = [process.argv[2], +process.argv[3], +process.argv[4]];
const text = (f) => { try { return fs.readFileSync(`${out}/${f}`, 'utf8'); } catch (e) { return ''; } };
const json = (f) => { try { return JSON.parse(text(f).trim().split('\n').pop()); } catch (e) { return {}; } };
const load = (name) => {
  const o = text(`${name}.out`);
  const t0 = +(o.match(/^T0=(\S+)$/m) || [])[1], t1 = +(o.match(/^T1=(\S+)$/m) || [])[1];
  const cpuLine = o.split('\n').find((l) => l.startsWith('{"cpu_s"'));
  const cpu = cpuLine ? JSON.parse(cpuLine) : {};
  // bench_sample's per-process CPU (whole run): the contender's own processes vs the rest.
  const own = new Set(text(`${name}.client_pids`).split('\n').filter(Boolean).map(Number));
  let clientCpu = 0, otherCpu = 0, shellCpu = 0;
  for (const m of text(`${name}.err`).matchAll(/^\s+pid (\d+)\s+(\S+)\s+([\d.]+) s$/gm)) {
    if (m[2] === 'client') shellCpu += +m[3];
    else if (own.has(+m[1])) clientCpu += +m[3];
    else otherCpu += +m[3];
  }
  const wall = t1 - t0;
  const v = json(`${name}.verify`);
  return {
    // CPU: bench_sample's sampled window (the whole command), or wait4()'s rusage of the tree
    // when larger (the floor's whole run can be shorter than a clock tick of /proc).
    name, wall, perMin: wall > 0 ? n * 60 / wall : NaN, rss: cpu.peak_rss_mb,
    cpu: Math.max(cpu.cpu_s, cpu.run_cpu_rusage_s || 0) / n,
    valid: v.valid === true && !fs.existsSync(`${out}/${name}.failed`), stats: json(`${name}.stats`),
    clientCpu, otherCpu, shellCpu, clientRss: +text(`${name}.client_rss_kb`) / 1024 || 0,
    simCpu: json(`${name}.sim`).sim_cpu_s, leftover: cpu.leftover, procs: cpu.procs,
  };
};
const r = { gspbot: load('gspbot'), original: load('original'), best: load('best'), floor: load('floor') };
const pwRuns = (k) => [...Array(c).keys()].map((j) => json(`${k}-${j}.json`));
const retries = pwRuns('original').reduce((a, x) => a + (x.retries || 0), 0);
const fl = json('floor.run');
const label = {
  gspbot: `1. gspbot run --concurrency ${c}`,
  original: `2. original's way, playwright-core (${c} procs, context + login per order)`,
  best: `3. Playwright at its best (${c} procs, session reused, images/fonts blocked)`,
  floor: `4. floor: plain HTTP, no browser (libcurl, ${c} threads)`,
};
const f = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const fmtCpu = (x) => (x >= 0.1 ? f(x, 2) : x >= 0.001 ? f(x * 1000, 1) + ' ms' : f(x * 1e6, 0) + ' µs');
const reqs = (s) => (s.requests >= 0 ? `${f(s.requests / n, 1)} (${s.pages} pages, ${s.api} API, ${s.assets} assets)` : '-');
console.log(`\n${n} orders of 3 products, concurrency ${c}, gspbot-sim classic UI (seed 1, no faults)\n`);
console.log('| contender | orders/min | CPU s/order, whole tree | peak RSS, whole tree | carts exact | portal requests/order |');
console.log('|---|---|---|---|---|---|');
for (const k of ['gspbot', 'original', 'best', 'floor']) {
  const x = r[k];
  console.log(`| ${label[k]} | ${f(x.perMin, 1)} | ${fmtCpu(x.cpu)} | ${f(x.rss, 0)} MiB | ${x.valid ? 'yes' : 'NO'} | ${reqs(x.stats)} |`);
}
const g = r.gspbot;
const sg = r.gspbot.stats, sf = r.floor.stats;
const same = ['requests', 'pages', 'api', 'assets'].every((k) => sg[k] === sf[k]);
console.log(`\nportal requests (simulator's counters, whole run): gspbot ${sg.requests} (${sg.pages} pages, ${sg.api} API, ` +
  `${sg.assets} assets), floor ${sf.requests} (${sf.pages} pages, ${sf.api} API, ${sf.assets} assets): ` +
  (same ? 'the same' : 'DIFFERENT'));
console.log(`original's way: ${retries} retries`);
console.log(`gspbot : original's way = ${f(g.perMin / r.original.perMin, 2)}x the orders/min, ` +
  `${f(r.original.cpu / g.cpu, 2)}x less CPU per order`);
console.log(`gspbot : Playwright at its best = ${f(g.perMin / r.best.perMin, 2)}x the orders/min, ` +
  `${f(r.best.cpu / g.cpu, 2)}x less CPU per order`);
console.log(`gspbot = ${f(100 * g.perMin / r.floor.perMin, 2)} % of the floor's rate ` +
  `(floor: ${f(r.floor.perMin, 0)} orders/min over the whole command, ${f(fl.orders_per_min, 0)} inside its own threads)`);

// Where gspbot's time goes, per order and per worker (C workers share the N orders).
const perOrder = c * g.wall / n;
const waitMs = fl.sim_wait_ms_per_order;
console.log(`\ngspbot, per order and worker: ${f(perOrder, 2)} s of wall (${c} workers x ${f(g.wall, 1)} s / ${n} orders)`);
console.log(`  simulator's own delays a browser waits out (search overlay, max(overlay, late) of the cycle and cart`);
console.log(`  pages, each addition's overlay): ${Number.isFinite(waitMs) ? f(waitMs / 1000, 2) + ' s as drawn in the floor\'s run' : '-'}` +
  ` (expected 2.16 s: 0.35 + 0.38 + 0.38 + 3 x 0.35)`);
if (Number.isFinite(waitMs))
  console.log(`  the rest (engine, Chromium, page loads, startup and load amortised): ${f(perOrder - waitMs / 1000, 2)} s`);
console.log(`  CPU per order: gspbot's own processes ${fmtCpu(g.clientCpu / n)}, Chromium ${fmtCpu(g.otherCpu / n)}` +
  ` (whole run, bench_sample per process); largest gspbot process ${f(g.clientRss, 1)} MiB RSS`);
for (const k of ['original', 'best'])
  console.log(`  ${k}: node ${fmtCpu(r[k].clientCpu / n)}, Chromium ${fmtCpu(r[k].otherCpu / n)} CPU per order; largest node process ${f(r[k].clientRss, 0)} MiB`);
console.log(`  simulator CPU per order: ` + ['gspbot', 'original', 'best', 'floor'].map((k) => `${k} ${fmtCpu(r[k].simCpu / n)}`).join(', '));
console.log(`\nraw results: ${out}/`);
JS
exit "$invalid"
