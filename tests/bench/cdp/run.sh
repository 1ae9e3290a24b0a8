#!/bin/sh
# run.sh - cdp vs playwright-core: median Runtime.evaluate("1+1") round trip and navigate-and-wait,
# and client CPU per call, in the same run, against the same Chromium and the same loopback server.
#   tests/bench/cdp/run.sh [BUILD_DIR] [N_EVAL] [N_NAV]     (defaults: build, 10000, 500)
# Needs: npm install --prefix tests/bench (playwright-core; no browser download: /usr/bin/chromium).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${1:-$root/build}
n_eval=${2:-10000}
n_nav=${3:-500}
bench="$build/tests/bench/cdp/bench_cdp"
if [ ! -x "$bench" ]; then
  # tests/bench is not part of the default build: compile against the built cdp library
  lib=$(find "$build" -name libcdp.a | head -n 1)
  [ -n "$lib" ] || { echo "run.sh: no libcdp.a under $build (build the tree first)" >&2; exit 2; }
  bench="$build/bench_cdp"
  cc -O2 -std=c11 -D_GNU_SOURCE -I"$root/cdp" -I"$root/tests/support" -o "$bench" \
    "$here/bench_cdp.c" "$root/tests/support/static_server.c" "$lib" \
    $(pkg-config --cflags --libs libwebsockets libcjson) -lm -lpthread
fi
[ -d "$root/tests/bench/node_modules/playwright-core" ] || {
  echo "run.sh: playwright-core missing: npm install --prefix $root/tests/bench" >&2; exit 2; }

fifo=$(mktemp -u /tmp/bench-cdp-XXXXXX)
mkfifo "$fifo"
# the server runs until its stdin (the fifo's writer, fd 9) closes
"$bench" --serve "$root/tests/pages" < "$fifo" > "$fifo.port" &
server=$!
exec 9> "$fifo"
trap 'exec 9>&-; wait $server 2>/dev/null; rm -f "$fifo" "$fifo.port"' EXIT
for _ in $(seq 50); do [ -s "$fifo.port" ] && break; sleep 0.1; done
base="http://127.0.0.1:$(cat "$fifo.port")"

ours=$("$bench" "$base" "$n_eval" "$n_nav")
theirs=$(NODE_PATH="$root/tests/bench/node_modules" node "$here/bench_playwright.js" "$base" "$n_eval" "$n_nav")
echo "$ours"
echo "$theirs"
node -e '
const a = JSON.parse(process.argv[1]), b = JSON.parse(process.argv[2]);
const row = (k, u) => console.log(`${k.padEnd(16)} gspbot-cdp ${String(a[k]).padStart(9)} ${u}   ` +
  `playwright ${String(b[k]).padStart(9)} ${u}   ratio ours/theirs ${(a[k] / b[k]).toFixed(2)}`);
row("eval_median_us", "us"); row("eval_cpu_us", "us"); row("nav_median_ms", "ms"); row("nav_cpu_us", "us");
' "$ours" "$theirs"
