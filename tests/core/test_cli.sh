#!/usr/bin/env bash
# The gspbot command line end to end: help, exit codes, configuration errors, migrate twice,
# and the password never printed. Usage: test_cli.sh PATH/TO/gspbot (GSPBOT_TEST_PG must be set).
set -u
G=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd) # before the cd below: the script may be given by a relative path
: "${GSPBOT_TEST_PG:?GSPBOT_TEST_PG is not set: run through scripts/test.sh}"
pass=0; fail=0
work=$(mktemp -d /tmp/gspbot-cli-XXXXXX)
db="t_cli_$$"
cleanup() { psql "$GSPBOT_TEST_PG" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
unset DATABASE_URL GSP_PASSWORD GSP_PASSWORD_FILE GSPBOT_CONCURRENCY

# check NAME EXPECTED_EXIT EXPECTED_OUTPUT_REGEX -- COMMAND...
check() {
  local name=$1 want_rc=$2 want_out=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" = "$want_rc" ] && grep -qE -- "$want_out" <<<"$out"; then
    pass=$((pass + 1)); echo "ok   $name"
  else
    fail=$((fail + 1)); echo "FAIL $name: exit $rc (want $want_rc), output:"; sed 's/^/    /' <<<"$out" | head -20
  fi
}

check help 0 '^commands:' -- "$G" --help
check version 0 '^gspbot [0-9]+\.[0-9]+\.[0-9]+$' -- "$G" --version
check no_command 2 'usage: gspbot' -- "$G"
check unknown_command 2 'unknown command "frobnicate"' -- "$G" frobnicate
for c in migrate load start pause cancel retry retry-order delete status orders logs failures export verify \
         breaker worker serve run order flow preflight screenshot; do
  check "help_$c" 0 "^usage: gspbot $c" -- "$G" "$c" --help
done
check serve_needs_a_token 2 'GSPBOT_API_TOKEN is not set' -- env -u GSPBOT_API_TOKEN "$G" serve --port 0
check serve_insecure_only_on_loopback 2 'loopback only' -- env -u GSPBOT_API_TOKEN "$G" serve --port 0 --insecure-no-auth --host 0.0.0.0
check bad_config_exit_3 3 'GSPBOT_CONCURRENCY \(environment\): "abc" is not a whole number' -- \
  env GSPBOT_CONCURRENCY=abc "$G" status
printf 'GSPBOT_MAX_RETRIES=lots\n' > .env
check dotenv_error_names_line 3 'GSPBOT_MAX_RETRIES \(\.env:1\): "lots" is not a whole number' -- "$G" status
rm .env
check db_unavailable_exit_3 3 'database unavailable' -- env DATABASE_URL="host=/nonexistent port=1" "$G" status
check db_unavailable_names_database_url 3 'DATABASE_URL: host=/nonexistent port=1' -- \
  env DATABASE_URL="host=/nonexistent port=1 password=Hunter2-xyz" "$G" status
check db_unavailable_hides_the_password 3 '^[^H]*$' -- env DATABASE_URL="host=/nonexistent port=1 password=Hunter2-xyz" "$G" status
check db_unset_says_so 3 'DATABASE_URL is not set' -- env -u DATABASE_URL PGHOST=/nonexistent "$G" status

psql "$GSPBOT_TEST_PG" -qc "CREATE DATABASE $db" >/dev/null
export DATABASE_URL="$GSPBOT_TEST_PG dbname=$db"
check status_before_migrate 3 'run `gspbot migrate` first' -- "$G" status
check migrate_first 0 '^applied 001_init' -- "$G" migrate
check migrate_second_up_to_date 0 '^up to date \(2 migrations\)$' -- "$G" migrate
check migrate_rejects_args 2 'unexpected argument' -- "$G" migrate now
check status_empty 0 'no batches yet' -- "$G" status
check status_unknown_batch 2 'no batch 42' -- "$G" status 42
check status_bad_id 2 '"x1" is not a batch id' -- "$G" status x1
psql "$DATABASE_URL" -qc "INSERT INTO batches (name, status, started_at) VALUES ('campaña', 'running', now());
  INSERT INTO orders (batch_id, seq, consultora_code, status, finished_at)
  VALUES (1, 1, 'A1', 'completed', now()), (1, 2, 'A2', 'failed', now()), (1, 3, 'A3', 'queued', NULL);
  INSERT INTO order_items (order_id, product_code, quantity) SELECT id, '80901', 2 FROM orders" >/dev/null
check status_one_batch 0 '2/3 orders' -- "$G" status 1
check status_json 0 '"failed":[[:space:]]*1' -- "$G" status 1 --json
check status_list 0 'campaña' -- "$G" status
# The list pads by characters, not bytes: the status column stands where it does for ASCII names.
psql "$DATABASE_URL" -qc "INSERT INTO batches (name) VALUES ('plain name'), ('Día de la Madre ñandú')" >/dev/null
out=$("$G" status 2>&1)
col_plain=$(grep 'plain name' <<<"$out" | sed 's/pending.*//' | wc -m)
col_accent=$(grep 'Día de la Madre' <<<"$out" | sed 's/pending.*//' | wc -m)
if [ -n "$col_plain" ] && [ "$col_plain" = "$col_accent" ]; then
  pass=$((pass + 1)); echo "ok   status_pads_accented_names_by_characters"
else
  fail=$((fail + 1)); echo "FAIL status_pads_accented_names_by_characters ($col_plain vs $col_accent)"; echo "$out"
fi
check status_shows_engine 0 'workers 0 live \(0 busy\); breaker closed' -- "$G" status
check breaker_closed 0 '^breaker: closed \(0 of 10' -- "$G" breaker
check breaker_reset 0 'breaker reset: closed' -- "$G" breaker reset
check start_bad_time 2 '--at "soon": not a time' -- "$G" start 1 --at soon
check start_running 0 'is already running' -- "$G" start 1
check pause_then_start 0 'paused' -- "$G" pause 1
check resume 0 'resumed' -- "$G" start 1
check cancel 0 'cancelled: 1 waiting order cancelled, 0 in progress' -- "$G" cancel 1
check cancel_twice 2 'is already cancelled' -- "$G" cancel 1
check retry_cancelled 2 'was cancelled' -- "$G" retry 1
check retry_order_completed 2 'only a failed or cancelled order is retried' -- "$G" retry-order 1
check orders_list 0 'A2 .*failed' -- "$G" orders 1
check orders_bad_status 2 'not a status' -- "$G" orders 1 --status nope
check orders_unknown_batch 2 'no batch 99' -- "$G" orders 99
check logs_unknown_order 2 'no order 99' -- "$G" logs 99
check failures_groups 0 '1 failed order in 1 group' -- "$G" failures 1
check export_needs_output 2 '-o FILE.csv is required' -- "$G" export 1
check export_writes 0 '' -- "$G" export 1 -o out.csv
check export_reloads 0 'batch [0-9]+ ".*": 3 orders' -- "$G" load out.csv --allow-duplicate --name reloaded
check delete_unknown 2 'no batch 99' -- "$G" delete 99
check delete_cancelled 0 'deleted with its orders' -- "$G" delete 1
check worker_bad_concurrency 2 'a whole number in 1..64' -- "$G" worker --concurrency 0
check run_needs_file 2 'usage: gspbot run FILE' -- "$G" run
check verify_unknown_batch 2 'no batch 99' -- "$G" verify 99
check verify_bad_status 2 'a status' -- "$G" verify 1 --status nope

# A scheduled start: the batch is running, its orders queued but not due before the time given
# (the claim's condition), so no worker takes one; `status` shows the batch running with its orders
# queued. Then `status --watch` off a terminal: plain lines, still watching after its first
# print, and it ends by itself (exit 0) when the batch does.
b=$(psql "$DATABASE_URL" -Atc "SELECT id FROM batches WHERE name = 'reloaded'")
check start_at_schedules 0 'scheduled: its orders start at the time given' -- "$G" start "$b" --at +2h
check status_scheduled_batch_running 0 "batch $b \"reloaded\" \(running\)" -- "$G" status "$b"
check status_scheduled_orders_queued 0 'queued +3' -- "$G" status "$b"
check status_scheduled_none_started 0 '0/3 orders' -- "$G" status "$b"
check start_at_no_order_due_or_claimed 0 '^3\|0$' -- psql "$DATABASE_URL" -Atc \
  "SELECT count(*) FILTER (WHERE status = 'queued' AND next_attempt_at > now() + interval '1 hour'),
          count(*) FILTER (WHERE attempts > 0 OR lease_owner IS NOT NULL) FROM orders WHERE batch_id = $b"
timeout 60 "$G" status "$b" --watch > watch.out 2>&1 &
watch_pid=$!
until grep -q '^batch ' watch.out 2>/dev/null || ! kill -0 "$watch_pid" 2>/dev/null; do sleep 0.1; done
"$G" cancel "$b" >/dev/null 2>&1
wait "$watch_pid"; watch_rc=$?
if [ "$watch_rc" = 0 ] && [ "$(grep '^batch ' watch.out | tail -1)" = "batch $b \"reloaded\" (cancelled)" ] &&
   ! grep -q $'\033' watch.out; then
  pass=$((pass + 1)); echo "ok   status_watch_plain_lines_and_ends_with_the_batch"
else
  fail=$((fail + 1)); echo "FAIL status_watch_plain_lines_and_ends_with_the_batch: exit $watch_rc, output:"
  sed 's/^/    /' watch.out | cat -v | tail -20
fi

# Browser commands: usage errors, configuration errors and the flow checker's exit codes.
flow="$here/../../data/flows/gsp-sim.json"
check flow_check_shipped_flow_ok 0 'ok: flow "gsp-sim", 5 steps' -- "$G" flow check "$flow"
printf '{"steps": [{"name": "a", "actions": [{"clik": "#x"}, {"click": "#a["}]}]}' > bad-flow.json
check flow_check_lists_every_problem 2 'steps\[0\]\.actions\[1\]\.click: bad selector' -- "$G" flow check bad-flow.json
check flow_check_counts_problems 2 'bad-flow.json: 2 problems' -- "$G" flow check bad-flow.json
check flow_check_needs_a_file 2 'needs a FLOW file' -- "$G" flow check
check order_needs_products 2 'usage: gspbot order CONSULTORA CODE:QTY' -- "$G" order 12345678
check order_rejects_bad_consultora 2 'consultora "12 34" is not 1-20 characters' -- "$G" order "12 34" 1:1
check order_rejects_bad_quantity 2 'quantity "dos" is not a whole number in 1..999' -- "$G" order 1234 80901:dos
check order_rejects_zero_quantity 2 'quantity "0" is not a whole number' -- "$G" order 1234 80901:0
check order_without_base_url_is_config_error 3 'GSP_BASE_URL\} is not configured' -- env -u GSP_BASE_URL "$G" order 1234 80901:1
check order_with_invalid_flow_exit_2 2 'bad selector' -- "$G" order 1234 80901:1 --flow bad-flow.json
check preflight_rejects_arguments 2 'unexpected argument' -- "$G" preflight now
printf '<html><body style="margin:0;background:#3a6"><h1>hola</h1></body></html>' > page.html
check screenshot_writes_png 0 '' -- "$G" screenshot "file://$work/page.html" -o shot.png --width 400 --height 300
if [ "$(head -c 8 shot.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
   [ "$(od -An -tu1 -j16 -N8 shot.png | tr -s ' ')" = " 0 0 1 144 0 0 1 44" ]; then
  pass=$((pass + 1)); echo "ok   screenshot_is_a_400x300_png"
else
  fail=$((fail + 1)); echo "FAIL screenshot_is_a_400x300_png"
fi
check screenshot_needs_output 2 '' -- "$G" screenshot "file://$work/page.html"
check screenshot_unreachable_page_fails 1 'Page.navigate: net::ERR_CONNECTION_REFUSED' -- "$G" screenshot http://127.0.0.1:59999/ -o x.png
# --wait-for and --delay (issue 8 #18): a page whose 3000-px content arrives 300 ms after the load
# event, as a single-page app renders, comes out whole when the shot waits for it.
late="file://$here/../pages/late_tall.html"
png_height() { local b; b=($(od -An -tu1 -j20 -N4 "$1")); echo $(( (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3] )); }
check screenshot_wait_for_late_element 0 '' -- "$G" screenshot "$late" -o tall.png --full-page --wait-for '#tall'
h=$(png_height tall.png 2>/dev/null)
if [ -n "$h" ] && [ "$h" -ge 3000 ]; then
  pass=$((pass + 1)); echo "ok   screenshot_wait_for_is_tall ($h px)"
else
  fail=$((fail + 1)); echo "FAIL screenshot_wait_for_is_tall: height ${h:-none}, want >= 3000"
fi
# A selector that never appears: exit 1 naming it once the timeout passes; never hangs (the outer
# timeout is a generous bound for a loaded machine, not a measure).
rm -f never.png
check screenshot_wait_for_missing_names_it 1 'wait_for visible #never-there: timeout after 2000 ms' -- \
  timeout 60 env GSPBOT_TIMEOUT_MS=2000 "$G" screenshot "$late" -o never.png --wait-for '#never-there'
if [ ! -e never.png ]; then
  pass=$((pass + 1)); echo "ok   screenshot_wait_for_missing_writes_nothing"
else
  fail=$((fail + 1)); echo "FAIL screenshot_wait_for_missing_writes_nothing"
fi
check screenshot_delay_accepted 0 '' -- "$G" screenshot "$late" -o delayed.png --delay 200 --width 400 --height 300
if [ "$(od -An -tu1 -j16 -N8 delayed.png 2>/dev/null | tr -s ' ')" = " 0 0 1 144 0 0 1 44" ]; then
  pass=$((pass + 1)); echo "ok   screenshot_delay_writes_png"
else
  fail=$((fail + 1)); echo "FAIL screenshot_delay_writes_png"
fi
check screenshot_delay_rejects_words 2 '--delay: "soon" is not a number of milliseconds' -- \
  "$G" screenshot "$late" -o x.png --delay soon
check screenshot_wait_for_rejects_empty 2 '--wait-for: empty selector' -- "$G" screenshot "$late" -o x.png --wait-for ''

# The password and the token: set, used by a verbose run with a log file, never printed.
export GSP_PASSWORD='Pw-9f8e7d6c' GSPBOT_API_TOKEN='Tk-1a2b3c4d'
out=$("$G" --verbose --log-file "$work/log.txt" status 1 2>&1; GSPBOT_CONCURRENCY="$GSP_PASSWORD" "$G" status 2>&1)
if grep -qE 'Pw-9f8e7d6c|Tk-1a2b3c4d' <<<"$out" "$work/log.txt"; then
  fail=$((fail + 1)); echo "FAIL secrets_never_printed"
elif ! grep -q '"\*\*\*" is not a whole number' <<<"$out"; then
  fail=$((fail + 1)); echo "FAIL secrets_never_printed: expected the redacted error, got:"; echo "$out" | head
else
  pass=$((pass + 1)); echo "ok   secrets_never_printed"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
