#!/usr/bin/env bash
# `gspbot run` on the simulator's modern UI with the shipped modern flow, as staff run it: every
# order ends completed with the order number the portal answered (the flow's `capture ... as
# portal_reference`), and that number is the simulator's own, in the database, in `run --output`,
# in `orders` and in `export`. One order per cart: the confirm() before the submission was answered
# once.
#   test_run_modern.sh PATH/TO/gspbot PATH/TO/gspbot-sim MODERN_FLOW   (GSPBOT_TEST_PG must be set)
set -u
G=$(realpath "$1")
SIM=$(realpath "$2")
FLOW=$(realpath "$3")
: "${GSPBOT_TEST_PG:?GSPBOT_TEST_PG is not set: run through scripts/test.sh}"
pass=0; fail=0
work=$(mktemp -d /tmp/gspbot-run-modern-XXXXXX)
db="t_run_modern_$$"
sim_pid=
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  pkill -KILL -f -- "--user-data-dir=$work" 2>/dev/null
  psql "$GSPBOT_TEST_PG" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
unset GSP_PASSWORD_FILE GSPBOT_CONCURRENCY
export TMPDIR="$work"

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/    /' <<<"$2" | head -40; }

"$SIM" --port 0 --ui modern --seed 11 --interrupt-rate 0.2 >"$work/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$work/sim.log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/sim.log" | head -1)
[ -n "$url" ] || { echo "simulator did not start"; cat "$work/sim.log"; exit 1; }
psql "$GSPBOT_TEST_PG" -qc "CREATE DATABASE $db" >/dev/null || exit 1
export DATABASE_URL="$GSPBOT_TEST_PG dbname=$db"
export GSP_BASE_URL="$url" GSP_USER_CODE=demo GSP_PASSWORD=demo GSP_CYCLE=202605 GSPBOT_FLOW="$FLOW"
export GSPBOT_SCREENSHOT_DIR="$work/evidence" GSPBOT_RETRY_DELAY_MS=100 GSPBOT_TIMEOUT_MS=20000

"$G" migrate >/dev/null || { echo "migrate failed"; exit 1; }
cat >orders.csv <<'EOF'
consultora_code,consultora_name,product_code,quantity
61000001,Ana Pérez,80901,2
61000002,Beatriz Soto,80455,1
61000001,Ana Pérez,70001,3
61000003,Carla Díaz,80901,1
61000002,Beatriz Soto,80901,4
EOF
out=$("$G" run orders.csv --concurrency 2 --output results.json --quiet 2>&1); rc=$?
if [ "$rc" = 0 ] && grep -q '3 orders with a portal reference' <<<"$out"; then
  ok "run completes the 3 orders and counts their references"
else
  bad "run: exit $rc (want 0, '3 orders with a portal reference')" "$out"
fi

state=$(curl -s -m 10 "$url/__sim/state")
# The simulator's orders, "consultora number" lines, and the references gspbot kept, the same shape.
sim_refs=$(jq -r '.orders[] | "\(.consultora) \(.number)"' <<<"$state" | sort)
out_refs=$(jq -r '.portal_references[] | "\(.consultora_code) \(.portal_reference)"' results.json 2>/dev/null | sort)
db_refs=$(psql "$DATABASE_URL" -Atc "SELECT consultora_code || ' ' || coalesce(portal_reference, '-') FROM orders" | sort)
if [ "$(wc -l <<<"$sim_refs")" = 3 ] && [ "$(jq '[.orders[].consultora] | unique | length' <<<"$state")" = 3 ]; then
  ok "the portal has one submitted order per consultora"
else
  bad "the portal's orders (want 3, one per consultora)" "$sim_refs"
fi
if [ -n "$out_refs" ] && [ "$out_refs" = "$sim_refs" ]; then
  ok "run --output holds the portal's numbers"
else
  bad "run --output references differ from the portal's" "$(printf 'output:\n%s\nportal:\n%s' "$out_refs" "$sim_refs")"
fi
if [ "$db_refs" = "$sim_refs" ]; then
  ok "the database keeps each order's portal reference"
else
  bad "database references differ from the portal's" "$(printf 'db:\n%s\nportal:\n%s' "$db_refs" "$sim_refs")"
fi
cart_ok=$(jq -r '[.carts["61000001|202605"]["80901"], .carts["61000001|202605"]["70001"],
                  .carts["61000002|202605"]["80455"], .carts["61000002|202605"]["80901"],
                  .carts["61000003|202605"]["80901"]] | map(tostring) | join(" ")' <<<"$state")
if [ "$cart_ok" = "2 3 1 4 1" ]; then ok "carts exact"; else bad "carts: $cart_ok (want 2 3 1 4 1)"; fi

first=$(head -n1 <<<"$sim_refs" | cut -d' ' -f2)
listing=$("$G" orders 1 2>&1)
if grep -q "ref $first" <<<"$listing"; then ok "orders shows the reference"; else bad "orders lacks ref $first" "$listing"; fi
"$G" export 1 --output export.csv >/dev/null 2>&1
if grep -q ",\"$first\"" export.csv 2>/dev/null; then ok "export has the reference column"; else bad "export lacks $first" "$(cat export.csv 2>&1)"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
