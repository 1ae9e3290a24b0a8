#!/usr/bin/env bash
# run.sh - the figures of the README's Capacity section (issue 12), in ONE run on ONE throwaway
# PostgreSQL (with pg_stat_statements) and ONE gspbot-sim (classic UI, seed 1, no faults):
#   1. `gspbot run orders.csv --concurrency C` on N orders of 3 products (the orders of
#      tests/bench/e2e/run.sh), under bench_sample (CPU of the whole process tree, Chromium
#      included; tests/bench/flow/bench_sample.c) and capacity_sample (every 0.5 s each process of
#      the tree: CPU ticks, RSS, PSS: one worker, one Chromium, the steady part of the run); the
#      carts checked against the simulator (bench_flow verify);
#   2. the database's side of that run: statements (pg_stat_statements), transactions
#      (pg_stat_database), WAL (pg_current_wal_lsn) and table bytes (pg_total_relation_size), per order;
#   3. the queue's ceiling on the same cluster: tests/bench/queue/run.sh (claim+finish cycles/s with
#      1, 4 and 16 connections);
# then prints a markdown table of the figures and a planning table: workers and 2-core machines for
# 10,000 and 100,000 orders in an 8-hour night, and the worker count at which PostgreSQL, not the
# browsers, becomes the limit.
#
#   tests/bench/capacity/run.sh [N (40)] [C (2)]
#   env: BENCH_BUILD (build dir, default build-bench-capacity, Release), CHROMIUM_PATH
#        (/usr/bin/chromium), GSP_PASSWORD (demo), BENCH_QUEUE_SECONDS (5), BENCH_QUEUE_ROUNDS (200),
#        planning assumptions: BENCH_NIGHT_H (8), BENCH_MACHINE_CORES (2), BENCH_MACHINE_MB (4096),
#        BENCH_CPU_TARGET (0.7: share of the cores the workers may use), BENCH_MEM_TARGET (0.75)
# Needs: PostgreSQL server binaries with pg_stat_statements (Debian's postgresql-15 has it; without
# it the statement figures are "-"), psql, node, Chromium. Duration: about N x 3 / C s of gspbot on
# an idle 2-core box plus ~1 min for the queue; N=10 and N=40 (C=2) each took 2 to 3.5 min at load
# average 10 to 45. Machines are sized by CPU per order (the load inflates the wall, not the CPU);
# workers by the wall per order (a real portal's latency sets it). Results
# stay in $BENCH_BUILD/bench-capacity-results/; the database, the simulator, the browsers' profiles
# and every process started are removed on exit, failure and Ctrl-C included.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${BENCH_BUILD:-$root/build-bench-capacity}
n=${1:-40}
c=${2:-2}
case "$n$c" in *[!0-9]*|"") echo "usage: run.sh [N (40)] [C (2)]" >&2; exit 2 ;; esac
[ "$n" -ge 1 ] && [ "$c" -ge 1 ] || { echo "run.sh: N and C must be >= 1" >&2; exit 2; }
export CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
[ -x "$CHROMIUM_PATH" ] || { echo "run.sh: no Chromium at $CHROMIUM_PATH (set CHROMIUM_PATH)" >&2; exit 2; }
for t in psql node; do
  command -v "$t" > /dev/null || { echo "run.sh: $t is needed" >&2; exit 2; }
done
# Long commands run in the background and are waited for: a signal's trap then runs at once (bash
# defers it until a foreground command ends).
bgwait() { "$@" & wait $!; }
bgwait cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 2; }
bgwait cmake --build "$build" -j2 --target gspbot gspbot-sim bench_sample bench_flow bench_queue capacity_sample \
  > "$build.build.log" 2>&1 || { tail -n 30 "$build.build.log" >&2; exit 2; }
G="$build/src/cli/gspbot"
flowbin="$build/tests/bench/flow"
sampler_bin="$build/tests/bench/capacity/capacity_sample"
out="$build/bench-capacity-results"
rm -rf "$out"
mkdir -p "$out"

# Everything temporary (the cluster, the browsers' profiles: gspbot's launcher and Chromium honour
# TMPDIR) lives under $tmp, removed on exit. The postgres user must reach the cluster's directory.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gspbot-bench-capacity.XXXXXX")
chmod 755 "$tmp"
mkdir "$tmp/tmp"
pgdir="$tmp/pg"
pg_started=0
sim=

# The processes this script started: its descendants, and every member of their process groups
# (bench_sample runs gspbot in a group of its own; gspbot's launcher starts each Chromium in a group
# of its own, whose helpers may outlive their parent). Group ids seen stay in $tmp/pgids so a second
# look still finds helpers re-parented meanwhile. The script's own group is never used (it may be
# shared with whoever called us). (As tests/bench/e2e/run.sh.)
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

# ---- PostgreSQL with pg_stat_statements, and the simulator ----
GSP_PASSWORD=${GSP_PASSWORD:-demo}
export GSP_PASSWORD
pg_started=1
DATABASE_URL=$(GSPBOT_PG_EXTRA_OPTS="-c shared_preload_libraries=pg_stat_statements" \
  bash "$root/scripts/pg.sh" start "$pgdir")
export DATABASE_URL
export TMPDIR="$tmp/tmp"
# The measuring queries run in a database of their own (capacity_meta), so the statements and the
# transactions counted for `postgres` (gspbot's) are gspbot's alone.
psql "$DATABASE_URL" -XAtq -v ON_ERROR_STOP=1 -c "CREATE DATABASE capacity_meta" > /dev/null
meta="$DATABASE_URL dbname=capacity_meta"
mq() { psql "$meta" -XAtq -v ON_ERROR_STOP=1 -F $'\t' -c "$1"; }
gq() { psql "$DATABASE_URL" -XAtq -v ON_ERROR_STOP=1 -F $'\t' -c "$1"; }
pgss=1
mq "CREATE EXTENSION pg_stat_statements" > /dev/null 2> "$out/pgss.err" || {
  pgss=0; echo "run.sh: pg_stat_statements unavailable, statement figures skipped: $(cat "$out/pgss.err")" >&2; }

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
bgwait "$G" migrate > "$out/migrate.out" 2>&1 || { cat "$out/migrate.out" >&2; exit 2; }
# consultora 10000001+i, products 80000+10*i+k+1, quantity (i+k)%3+1 (as tests/bench/e2e/run.sh).
csv="$out/orders.csv"
awk -v n="$n" 'BEGIN {
  print "consultora_code,consultora_name,product_code,quantity"
  for (i = 0; i < n; i++) for (k = 0; k < 3; k++)
    printf "%d,Consultora %d,%d,%d\n", 10000001 + i, i, 80000 + 10 * i + k + 1, (i + k) % 3 + 1 }' > "$csv"
echo "gspbot-sim $url (classic UI, seed 1, no faults), $n orders of 3 products, concurrency $c"
echo "load before: $(uptime)"
uptime > "$out/load.before"

# ---- 1. gspbot run, measured ----
sizes_sql="SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c
  WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1"
db_stat_sql="SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted
  FROM pg_stat_database WHERE datname = 'postgres'"
gq "$sizes_sql" > "$out/sizes.before"
sleep 1 # the stats of the psql sessions above are flushed when they end
[ "$pgss" = 1 ] && mq "SELECT pg_stat_statements_reset()" > /dev/null
mq "SELECT pg_current_wal_lsn()" > "$out/lsn.before"
mq "$db_stat_sql" > "$out/dbstat.before"

# The wrapper bench_sample runs: its pid for capacity_sample, the window (the whole command).
mark='f=$1 pf=$2; shift 2; echo $$ > "$pf"; echo MARK start; date +T0=%s.%N; "$@" > "$f" 2>&1; rc=$?
date +T1=%s.%N; echo MARK end; exit $rc'
echo "== gspbot run: $(date +%T)"
rc=0
"$flowbin/bench_sample" -- sh -c "$mark" sh "$out/gspbot.run" "$out/wrapper.pid" \
  "$G" run "$csv" --concurrency "$c" --quiet > "$out/gspbot.out" 2> "$out/gspbot.err" &
bs=$!
for _ in $(seq 200); do [ -s "$out/wrapper.pid" ] && break; sleep 0.05; done
[ -s "$out/wrapper.pid" ] || { echo "run.sh: bench_sample did not start gspbot" >&2; cat "$out/gspbot.err" >&2; exit 2; }
"$sampler_bin" -i 500 "$(cat "$out/wrapper.pid")" > "$out/samples.txt" 2> "$out/sampler.err" &
sampler=$!
wait "$bs" || rc=$?
wait "$sampler" || true
invalid=0
if [ "$rc" != 0 ]; then
  echo "run.sh: gspbot run failed (exit $rc):" >&2
  tail -n 20 "$out/gspbot.run" "$out/gspbot.err" >&2
  invalid=1
fi
if ! bgwait "$flowbin/bench_flow" verify "$url" "$n" -1 > "$out/verify.json" 2> "$out/verify.err"; then
  echo "run.sh: INVALID: the orders did not land exactly in the simulator's carts:" >&2
  cat "$out/verify.json" >&2; head -n 20 "$out/verify.err" >&2
  invalid=1
fi
sleep 1 # gspbot's sessions ended; their statistics are flushed

# ---- 2. the database's side ----
dboid=$(mq "SELECT oid FROM pg_database WHERE datname = 'postgres'")
if [ "$pgss" = 1 ]; then
  mq "SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0), coalesce(sum(rows), 0)
      FROM pg_stat_statements WHERE dbid = $dboid" > "$out/pgss.total"
  mq "SELECT calls, round(total_exec_time::numeric, 1), regexp_replace(left(query, 400), '\s+', ' ', 'g')
      FROM pg_stat_statements WHERE dbid = $dboid ORDER BY calls DESC, total_exec_time DESC" > "$out/pgss.all"
  mq "SELECT calls, round(total_exec_time::numeric, 1), regexp_replace(left(query, 400), '\s+', ' ', 'g')
      FROM pg_stat_statements WHERE dbid = $dboid ORDER BY total_exec_time DESC LIMIT 5" > "$out/pgss.toptime"
fi
mq "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$(cat "$out/lsn.before")')" > "$out/wal.bytes"
mq "$db_stat_sql" > "$out/dbstat.after"
gq "$sizes_sql" > "$out/sizes.after"
gq "SELECT count(*), count(*) FILTER (WHERE status = 'completed'), coalesce(sum(attempts), 0),
      extract(epoch FROM min(started_at)) * 1000, extract(epoch FROM max(finished_at)) * 1000,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)),
      percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at))
    FROM orders" > "$out/orders.db"
gq "SELECT count(*) FROM order_logs" > "$out/order_logs.count"

# ---- 3. the queue's ceiling, same cluster ----
echo "== queue benchmark: $(date +%T)"
export GSPBOT_TEST_PG="$DATABASE_URL"
bgwait bash "$root/tests/bench/queue/run.sh" "$build" \
  "${BENCH_QUEUE_SECONDS:-5}" "${BENCH_QUEUE_ROUNDS:-200}" > "$out/queue.out" 2> "$out/queue.err" ||
  { echo "run.sh: the queue benchmark failed:" >&2; tail -n 20 "$out/queue.err" >&2; invalid=1; }
echo "load after: $(uptime)"
uptime > "$out/load.after"

# ---- 4. the report ----
node - "$out" "$n" "$c" "$(getconf CLK_TCK)" "$pgss" <<'JS'
const fs = require('fs');
const [out, N, C, TCK, PGSS] = [process.argv[2], +process.argv[3], +process.argv[4], +process.argv[5], process.argv[6] === '1'];
const env = (k, d) => (process.env[k] !== undefined && process.env[k] !== '' ? +process.env[k] : d);
const NIGHT_H = env('BENCH_NIGHT_H', 8), CORES = env('BENCH_MACHINE_CORES', 2), MACHINE_MB = env('BENCH_MACHINE_MB', 4096);
const CPU_TARGET = env('BENCH_CPU_TARGET', 0.7), MEM_TARGET = env('BENCH_MEM_TARGET', 0.75);
const text = (f) => { try { return fs.readFileSync(`${out}/${f}`, 'utf8'); } catch (e) { return ''; } };
const rows = (f) => text(f).split('\n').filter(Boolean).map((l) => l.split('\t'));
const f = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const ff = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
const median = (a) => { if (!a.length) return NaN; const s = [...a].sort((x, y) => x - y); return s[Math.floor((s.length - 1) / 2)]; };
const max = (a) => (a.length ? Math.max(...a) : NaN);
const mib = (kb) => kb / 1024;

// -- the run: wall, whole-run CPU (bench_sample), its per-process split
const o = text('gspbot.out');
const T0 = +(o.match(/^T0=(\S+)$/m) || [])[1] * 1000, T1 = +(o.match(/^T1=(\S+)$/m) || [])[1] * 1000;
const wall = (T1 - T0) / 1000;
const bsLine = o.split('\n').find((l) => l.startsWith('{"cpu_s"'));
const bs = bsLine ? JSON.parse(bsLine) : {};
const cpuRun = Math.max(bs.cpu_s || 0, bs.run_cpu_rusage_s || 0);

// -- capacity_sample's series: classify each process (pid + start time)
const samples = [];
let cur = null;
for (const l of text('samples.txt').split('\n')) {
  const p = l.split(' ');
  if (p[0] === 'T') { cur = { t: +p[1], procs: [] }; samples.push(cur); }
  else if (p[0] === 'P' && cur) cur.procs.push({ pid: +p[1], ppid: +p[2], pgrp: +p[3], key: `${p[1]}:${p[4]}`, ticks: +p[5], rss: +p[6], pss: +p[7], comm: p[8] });
}
const cls = new Map(); // key -> {kind: 'run'|'worker'|'chromium'|'other', worker: pid}
for (const s of samples) {
  const byPid = new Map(s.procs.map((x) => [x.pid, x]));
  const gsp = new Set(s.procs.filter((x) => x.comm === 'gspbot').map((x) => x.pid));
  for (const x of s.procs) {
    if (x.comm === 'gspbot') { cls.set(x.key, { kind: gsp.has(x.ppid) ? 'worker' : 'run', worker: x.pid }); continue; }
    if (cls.has(x.key) && cls.get(x.key).kind === 'chromium') continue;
    // a Chromium process: its group leader (the browser) or an ancestor is a worker's child
    let w = null;
    const leader = byPid.get(x.pgrp);
    if (leader && gsp.has(leader.ppid)) w = leader.ppid;
    for (let y = x, hops = 0; !w && y && hops < 64; y = byPid.get(y.ppid), hops++) if (gsp.has(y.ppid) && y.comm !== 'gspbot') w = y.ppid;
    if (w && byPid.get(w) && gsp.has(byPid.get(w).ppid)) cls.set(x.key, { kind: 'chromium', worker: w });
    else if (!cls.has(x.key)) cls.set(x.key, { kind: 'other', worker: 0 });
  }
}
// the steady part: from the first claim to the last finish (the database's timestamps)
const od = (rows('orders.db')[0] || []).map(Number);
const [ordersN, completed, attempts, S0, S1, p50, p90] = od;
const steady = (S1 - S0) / 1000;
const inSteady = (s) => s.t >= S0 && s.t <= S1;
// memory: per sample, each worker's own RSS/PSS and its Chromium tree's sum
const wRss = [], wPss = [], cRss = [], cPss = [], cProcs = [], totPss = [], totRss = [];
const wRssAll = [], wPssAll = [], cRssAll = [], cPssAll = [];
for (const s of samples) {
  const per = new Map();
  let tp = 0, tr = 0;
  for (const x of s.procs) {
    const k = cls.get(x.key);
    tr += x.rss; tp += Math.max(x.pss, 0);
    if (!k || (k.kind !== 'worker' && k.kind !== 'chromium')) continue;
    if (!per.has(k.worker)) per.set(k.worker, { wr: 0, wp: 0, cr: 0, cp: 0, cn: 0, hasW: false });
    const e = per.get(k.worker);
    if (k.kind === 'worker') { e.wr += x.rss; e.wp += Math.max(x.pss, 0); e.hasW = true; }
    else { e.cr += x.rss; e.cp += Math.max(x.pss, 0); e.cn++; }
  }
  totPss.push(tp); totRss.push(tr);
  for (const e of per.values()) {
    if (!e.hasW) continue;
    wRssAll.push(e.wr); wPssAll.push(e.wp);
    if (e.cn) { cRssAll.push(e.cr); cPssAll.push(e.cp); }
    if (inSteady(s)) { wRss.push(e.wr); wPss.push(e.wp); if (e.cn) { cRss.push(e.cr); cPss.push(e.cp); cProcs.push(e.cn); } }
  }
}
// CPU from the series: ticks at a time = the last sample at or before it (0 before the first)
const series = new Map(); // key -> [[t, ticks]]
for (const s of samples) for (const x of s.procs) { if (!series.has(x.key)) series.set(x.key, []); series.get(x.key).push([s.t, x.ticks]); }
const ticksAt = (arr, t) => { let v = 0; for (const [tt, k] of arr) { if (tt <= t) v = k; else break; } return v; };
let sGsp = 0, sChr = 0, sOther = 0, wholeSampled = 0;
for (const [key, arr] of series) {
  const d = (ticksAt(arr, S1) - ticksAt(arr, S0)) / TCK;
  wholeSampled += arr[arr.length - 1][1] / TCK;
  const k = (cls.get(key) || {}).kind;
  if (k === 'run' || k === 'worker') sGsp += d; else if (k === 'chromium') sChr += d; else sOther += d;
}
// (bench_sample's own sampled sum, not its wait4() rusage: Chromium's helpers are partly reaped
// outside the tree, so the rusage undercounts)
const coverage = bs.run_cpu_sampled_s > 0 ? wholeSampled / bs.run_cpu_sampled_s : NaN;
// whole run, exact per process (bench_sample's list): gspbot's pids vs everything else (Chromium)
const gspPids = new Set([...cls].filter(([, v]) => v.kind === 'run' || v.kind === 'worker').map(([k]) => +k.split(':')[0]));
let rGsp = 0, rChr = 0, rShell = 0;
for (const m of text('gspbot.err').matchAll(/^\s+pid (\d+)\s+(\S+)\s+([\d.]+) s$/gm)) {
  if (m[2] === 'client') rShell += +m[3]; else if (gspPids.has(+m[1])) rGsp += +m[3]; else rChr += +m[3];
}
const workers = [...cls.values()].filter((v) => v.kind === 'worker').length;

// -- database
const tot = (rows('pgss.total')[0] || []).map(Number);
const stmts = PGSS ? tot[0] : NaN, dbMs = PGSS ? tot[1] : NaN;
// The supervisor's progress poll (`gspbot run` reads the batch's counts every pool tick): once per
// supervisor and per ~0.2 s, not per order or per worker. Told apart by its text (stats_batch).
const poll = PGSS ? rows('pgss.all').filter((r) => /count\(o\.id\) FILTER/.test(r[2])).reduce((s, r) => s + +r[0], 0) : 0;
const b = (rows('dbstat.before')[0] || []).map(Number), a = (rows('dbstat.after')[0] || []).map(Number);
const xacts = a[0] + a[1] - b[0] - b[1];
const tuples = a[2] + a[3] + a[4] - b[2] - b[3] - b[4];
const wal = +text('wal.bytes').trim();
const sz0 = new Map(rows('sizes.before')), sz1 = rows('sizes.after');
const grown = sz1.map(([r, s]) => [r, +s - +(sz0.get(r) || 0)]).filter(([, d]) => d > 0).sort((x, y) => y[1] - x[1]);
const bytesTotal = grown.reduce((s, [, d]) => s + d, 0);
const logs = +text('order_logs.count').trim();

// -- queue ceiling
const q = [...text('queue.out').matchAll(/^\s+(\d+) connections?\s+(\d+) claim\+finish cycles\/s/gm)].map((m) => [+m[1], +m[2]]);
const qBest = q.reduce((best, x) => (x[1] > best[1] ? x : best), [0, -1]);
const Q = qBest[1] > 0 ? qBest[1] : NaN;
const qLat = (text('queue.out').match(/start -> first claim.*$/m) || [''])[0].trim();

// -- derived
const wCmd = C * wall / N;                 // s of one worker per order, whole command
const wSteady = C * steady / N;            // s of one worker per order, first claim .. last finish
const cpuSteady = (sGsp + sChr + sOther) / N;
const cpuPlan = Number.isFinite(cpuSteady) && cpuSteady > 0 ? cpuSteady : cpuRun / N;
const wPlan = Number.isFinite(wSteady) && wSteady > 0 ? wSteady : wCmd;
const perHour = 3600 / wPlan;
const perCore = wPlan / cpuPlan;
const memWorkerMb = mib(max(wPssAll) + max(cPssAll));
// A machine's rate: CPU-bound (cores x target / CPU per order: does not depend on the wall, which
// the load inflates and a real portal sets), unless its memory cannot hold the workers that rate
// needs (rate x wall per order of them).
const rateCpu = CORES * CPU_TARGET / cpuPlan;                     // orders/s per machine
const memWorkers = Math.floor(MACHINE_MB * MEM_TARGET / memWorkerMb);
const rateMem = memWorkers / wPlan;
const rateMachine = Math.min(rateCpu, rateMem);
const workersPerMachine = Math.max(1, Math.round(rateMachine * wPlan));
const night = NIGHT_H * 3600;
const stmtsOrder = (stmts - poll) / N;     // per order, the supervisor's poll left out
const xactsOrder = (xacts - poll) / N;     // each poll is a transaction of its own
const pollRate = poll / wall;              // statements/s of one supervisor
// The queue's cycle is 2 statements, 2 transactions (claim; finish: src/queue/claim.c). Bounds in
// orders/s where the database is full: the queue alone (one cycle per order), or an order's every
// statement (transaction) as costly as a claim or a finish.
const qStmts = 2 * Q;
const bQueue = Q, bStmts = qStmts / stmtsOrder, bXacts = qStmts / xactsOrder;
const bDb = Math.min(...[bStmts, bXacts].filter(Number.isFinite));

console.log(`\n## Capacity figures: ${N} orders of 3 products, --concurrency ${C}, gspbot-sim classic UI (seed 1, no faults)\n`);
console.log(`Measured under load: ${text('load.before').trim().replace(/^.*load average/, 'load average')} before, ` +
  `${text('load.after').trim().replace(/^.*load average/, 'load average')} after (2-core box shared with other work): ` +
  `wall figures (*) are inflated, CPU figures much less so.\n`);
console.log('| figure | value |');
console.log('|---|---|');
const row = (k, v) => console.log(`| ${k} | ${v} |`);
row('orders completed / in the batch', `${completed} / ${ordersN} (${/"valid": *true/.test(text('verify.json')) ? 'carts exact' : 'carts NOT exact'}), ${attempts} attempts`);
row('wall, whole command (load, start, Chromium start, work, summary) *', `${f(wall, 1)} s = ${f(wall / N, 2)} s per order`);
row('wall per order and worker, whole command *', `${f(wCmd, 2)} s`);
row('wall per order and worker, steady (first claim to last finish) *', `${f(wSteady, 2)} s (one order, claim to finish: median ${f(p50, 2)} s, p90 ${f(p90, 2)} s)`);
row('orders per hour per worker, steady *', `${f(perHour, 0)} (whole command: ${f(3600 / wCmd, 0)})`);
row('CPU per order, whole tree, whole run (bench_sample)', `${f(cpuRun / N, 2)} s: gspbot ${f(rGsp / N, 3)} s, Chromium ${f(rChr / N, 2)} s`);
row('CPU per order, whole tree, steady (capacity_sample)', `${f(cpuSteady, 2)} s: gspbot ${f(sGsp / N, 3)} s, Chromium ${f(sChr / N, 2)} s (its 0.5 s samples saw ${f(100 * coverage, 0)} % of bench_sample's whole-run CPU)`);
row('workers per core (steady wall / steady CPU per order) *', `${f(perCore, 1)}`);
row('orders per hour per core (CPU-bound, 100 % busy)', `${f(3600 / cpuPlan, 0)}`);
row('worker process (gspbot), RSS / PSS', `median ${f(mib(median(wRss)), 1)} / ${f(mib(median(wPss)), 1)} MiB, peak ${f(mib(max(wRssAll)), 1)} / ${f(mib(max(wPssAll)), 1)} MiB`);
row("one worker's Chromium (all its processes), PSS", `median ${f(mib(median(cPss)), 0)} MiB, peak ${f(mib(max(cPssAll)), 0)} MiB (${f(median(cProcs), 0)} processes)`);
row("one worker's Chromium, RSS summed over its processes", `median ${f(mib(median(cRss)), 0)} MiB, peak ${f(mib(max(cRssAll)), 0)} MiB (shared pages counted once per process)`);
row(`whole tree (${workers} workers, supervisor, Chromiums), peak`, `PSS ${f(mib(max(totPss)), 0)} MiB, RSS sum ${f(mib(max(totRss)), 0)} MiB`);
if (PGSS) {
  row('database statements per order (pg_stat_statements; load, work, summary)', `${f(stmtsOrder, 1)}, plus the supervisor's progress poll: ${ff(poll)} in all = ${f(pollRate, 1)}/s per supervisor (${f(stmts / N, 1)} per order with it)`);
  row('database server time per order (pg_stat_statements total_exec_time) *', `${f(dbMs / N, 1)} ms`);
} else row('database statements per order', '- (no pg_stat_statements)');
row('transactions per order (pg_stat_database xact_commit + xact_rollback)', `${f(xactsOrder, 1)} without the poll (${f(xacts / N, 1)} with it); ${f(tuples / N, 1)} rows written per order`);
row('WAL per order (pg_current_wal_lsn difference; full_page_writes=off)', `${ff(wal / N)} bytes`);
row('table bytes per order (pg_total_relation_size growth: tables, indexes, TOAST)', `${ff(bytesTotal / N)} bytes: ` +
  grown.map(([r, d]) => `${r} ${ff(d / N)}`).join(', ') + ` (8 kB pages: coarse for small N); ${f(logs / N, 1)} order_logs rows per order`);
row('queue ceiling, claim+finish cycles/s (same cluster) *', q.map(([k, v]) => `${k} conn ${ff(v)}`).join(', ') + ` → ${ff(Q)}/s (${qBest[0]} connections)`);
if (qLat) row('queue: start to first claim *', qLat.replace(/^start -> first claim, /, ''));
console.log('\n\\* measured under load (see above): pessimistic for a dedicated machine.');
if (PGSS) {
  console.log('\nTop 5 statements by calls (gspbot\'s database, the whole run):\n');
  console.log('| calls | per order | total ms | statement |');
  console.log('|---|---|---|---|');
  for (const [calls, ms, qtext] of rows('pgss.all').slice(0, 5))
    console.log(`| ${ff(+calls)} | ${f(+calls / N, 2)} | ${ms} | \`${qtext.slice(0, 90).replace(/\|/g, '\\|')}${qtext.length > 90 ? '…' : ''}\` |`);
}

console.log(`\n## Planning: ${NIGHT_H}-hour night, ${CORES}-core ${f(MACHINE_MB / 1024, 0)} GiB machines\n`);
console.log(`One worker: ${f(wPlan, 2)} s per order (${f(perHour, 0)} orders/hour), ${f(cpuPlan, 2)} CPU s per order, ` +
  `${f(memWorkerMb, 0)} MiB (worker + its Chromium, PSS peaks). One machine: ${f(rateMachine * 3600, 0)} orders/hour ` +
  `(CPU: ${CORES} cores x ${CPU_TARGET} / ${f(cpuPlan, 2)} s = ${f(rateCpu * 3600, 0)}/h; memory: ${MACHINE_MB} MiB x ${MEM_TARGET} ` +
  `holds ${memWorkers} workers = ${f(rateMem * 3600, 0)}/h) with ${workersPerMachine} workers.\n`);
console.log('| orders per night | orders/s | workers | machines | DB statements/s | DB transactions/s | WAL per night | table growth per night |');
console.log('|---|---|---|---|---|---|---|---|');
for (const orders of [10000, 100000]) {
  const ps = orders / night;
  const wk = Math.ceil(ps * wPlan);
  const m = Math.ceil(ps / rateMachine);
  console.log(`| ${ff(orders)} | ${f(ps, 2)} | ${wk} | ${m} | ${f(ps * stmtsOrder + m * pollRate, 0)} | ${f(ps * xactsOrder + m * pollRate, 0)} | ` +
    `${f(wal * orders / N / 1048576, 0)} MiB | ${f(bytesTotal * orders / N / 1048576, 0)} MiB |`);
}
console.log(`\n(statements/s and transactions/s count one supervisor per machine polling at ${f(pollRate, 1)}/s.)`);
console.log(`\nWhere PostgreSQL, not the browsers, becomes the limit (the queue's ceiling on this box: ${ff(Q)} claim+finish ` +
  `cycles/s = ${ff(qStmts)} statements and transactions/s):\n`);
console.log('| bound | orders/s | orders per night | workers | machines |');
console.log('|---|---|---|---|---|');
const lim = (name, r) => console.log(`| ${name} | ${f(r, 1)} | ${ff(r * night)} | ${ff(r * wPlan)} | ${ff(Math.ceil(r / rateMachine))} |`);
lim('the queue alone (one claim + one finish per order)', bQueue);
if (PGSS) lim(`every statement of an order as costly as a claim or finish (${f(stmtsOrder, 1)})`, bStmts);
lim(`every transaction of an order as costly as a claim or finish (${f(xactsOrder, 1)})`, bXacts);
console.log(`\nConservatively the database is full at ~${f(bDb, 1)} orders/s (${ff(bDb * night)} orders per ${NIGHT_H}-hour night): ` +
  `~${ff(bDb * wPlan)} workers on ~${ff(Math.ceil(bDb / rateMachine))} machines; the queue alone would allow ${ff(bQueue * night)} per night.`);
console.log(`\nraw results: ${out}/`);
JS
exit "$invalid"
