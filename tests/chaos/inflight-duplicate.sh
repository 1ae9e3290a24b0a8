#!/usr/bin/env bash
# Reproducer of the duplicate the chaos suite found (a product added twice although the order
# completed): a cart addition that a worker's browser sent just before the worker was SIGKILLed is
# applied by the portal late (the portal is slow), after the attempt that took the order over has
# read the cart and added the product itself.
#
#   tests/chaos/inflight-duplicate.sh [BUILD_DIR (build)]
#
# One order of two products; a flow that pauses 3 s before each product; once the first product is
# in, the simulator answers every request 20 s late (so the second addition stays pending in the
# portal), then fast again; the worker is SIGKILLed; the reaper gives the order back at once. Before
# the fix the next attempt completed it in a few seconds and 20 s later the pending addition landed:
# the product twice. Now the order is due only after the takeover settle time
# (GSPBOT_TAKEOVER_SETTLE_MS, 25 s here: longer than the portal's 20 s), the next attempt finds the
# addition in the cart and adds nothing. Exit 0 when the order completed and the portal's cart holds
# exactly the order, 1 otherwise (1 with "DUPLICATE" for the bug), 3 when the run could not be set
# up. Uses GSPBOT_TEST_PG, else starts a throwaway PostgreSQL cluster. About a minute.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
gspbot=$build/src/cli/gspbot
sim=$build/tests/sim/gspbot-sim
[ -x "$gspbot" ] && [ -x "$sim" ] || { echo "build gspbot and gspbot-sim in $build first" >&2; exit 3; }

tmp=$(mktemp -d "${GSPBOT_TEST_TMP:-/tmp}/gspbot-inflight-XXXXXX")
chmod 755 "$tmp"
own_pg="" simpid="" pool="" db=""
cleanup() {
  [ -n "$pool" ] && kill -TERM "$pool" 2>/dev/null && sleep 3
  [ -n "$pool" ] && kill -KILL -- -"$pool" 2>/dev/null || true
  [ -n "$simpid" ] && kill "$simpid" 2>/dev/null || true
  [ -n "$db" ] && psql "$GSPBOT_TEST_PG" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  [ -n "$own_pg" ] && bash "$root/scripts/pg.sh" stop "$tmp/pg"
  rm -rf "$tmp"
}
trap cleanup EXIT
if [ -z "${GSPBOT_TEST_PG:-}" ]; then
  GSPBOT_TEST_PG=$(bash "$root/scripts/pg.sh" start "$tmp/pg")
  own_pg=1
fi
cd "$tmp"
db=inflight_$$
psql "$GSPBOT_TEST_PG" -qc "CREATE DATABASE $db"
export DATABASE_URL="$GSPBOT_TEST_PG dbname=$db"
q() { psql "$DATABASE_URL" -Atc "$1"; }
"$gspbot" migrate >/dev/null

export GSP_PASSWORD=demo GSP_USER_CODE=demo GSP_CYCLE=202605 GSPBOT_SCREENSHOT_DIR=$tmp/evidence
export GSPBOT_RETRY_DELAY_MS=200 GSPBOT_MAX_RETRIES=5 GSPBOT_LOG_FORMAT=text TMPDIR=$tmp
export GSPBOT_TIMEOUT_MS=30000 GSPBOT_TAKEOVER_SETTLE_MS=25000
"$sim" --port 0 --seed 5 --ui-scale 0.2 >sim.out 2>sim.err &
simpid=$!
for _ in $(seq 1 50); do grep -q listening sim.out 2>/dev/null && break; sleep 0.2; done
url=$(sed -n 's/.*\(http:[^ ]*\).*/\1/p' sim.out | head -1)
export GSP_BASE_URL=$url
sed 's/{"fill": "#code"/{"sleep_ms": 3000}, {"fill": "#code"/' "$root/data/flows/gsp-sim.json" >flow.json
export GSPBOT_FLOW=$tmp/flow.json
printf 'consultora_code,consultora_name,product_code,quantity\n41234567,Ana,11111,1\n41234567,Ana,22222,5\n' >o.csv
"$gspbot" load o.csv --name inflight >/dev/null
"$gspbot" start 1 >/dev/null
setsid "$gspbot" worker --concurrency 1 >pool.log 2>&1 &
pool=$!

for _ in $(seq 1 600); do
  [ "$(q "SELECT count(*) FROM order_logs WHERE message LIKE 'item 11111 %: added'")" -ge 1 ] && break
  sleep 0.2
done
curl -s -X POST -d '{"slow_rate": 1, "slow_ms": 20000}' "$url/__sim/config" >/dev/null
sleep 4.5 # the worker's 3 s pause, then its addition of 22222 x5: pending in the portal for 20 s
curl -s -X POST -d '{"slow_rate": 0}' "$url/__sim/config" >/dev/null
worker=$(pgrep -P "$pool" | head -1)
kill -KILL "$worker"
killed=$(date +%s)
echo "SIGKILL worker $worker while its addition of 22222 x5 is pending in the portal"
for _ in $(seq 1 600); do
  case "$(q "SELECT status FROM orders")" in completed | failed) break ;; esac
  sleep 0.2
done
# The pending addition lands 20 s after it was sent: look at the cart only after that.
left=$((killed + 22 - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
echo "order:  $(q "SELECT status || ', ' || attempts || ' attempts' FROM orders")"
echo "items:  $(q "SELECT string_agg(product_code || ' x' || quantity || ' ' || outcome, ', ' ORDER BY id) FROM order_items")"
cart=$(curl -s "$url/__sim/state" | sed -n 's/.*"carts":\({[^}]*}}\).*/\1/p')
echo "portal: $cart"
q "SELECT attempt, step, message, created_at::time FROM order_logs ORDER BY id" | tail -12
state=$(curl -s "$url/__sim/state")
n1=$(echo "$state" | grep -o '"11111":[0-9]*' | cut -d: -f2)
n2=$(echo "$state" | grep -o '"22222":[0-9]*' | cut -d: -f2)
if [ "${n2:-0}" -gt 5 ] || [ "${n1:-0}" -gt 1 ]; then
  echo "DUPLICATE: the cart holds more than the order"
  exit 1
fi
if [ "$(q "SELECT status FROM orders")" != completed ] || [ "$n1" != 1 ] || [ "$n2" != 5 ]; then
  echo "FAILED: the order did not complete with the cart exact"
  exit 1
fi
echo "exact: the order completed and the cart holds it exactly"
exit 0
