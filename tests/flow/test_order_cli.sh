#!/usr/bin/env bash
# `gspbot order` and `preflight` end to end against a real gspbot-sim and real Chromium, from the
# command line as staff run them: a stop request in the middle of a walk (Ctrl-C, SIGTERM), the
# abort class (rejected credentials, a bad or unknown GSP_BASE_URL), and the password in no file,
# log or trace after a failed walk.
#   test_order_cli.sh PATH/TO/gspbot PATH/TO/gspbot-sim FLOW
set -u
G=$(realpath "$1")
SIM=$(realpath "$2")
FLOW=$(realpath "$3")
pass=0; fail=0
work=$(mktemp -d /tmp/gspbot-order-cli-XXXXXX)
chmod 700 "$work"
PW='S3cr3t-Pw-7f1d'
sim_pid=
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  pkill -KILL -f -- "--user-data-dir=$work" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
unset DATABASE_URL GSP_PASSWORD_FILE GSPBOT_FLOW
export TMPDIR="$work" # Chromium profiles land here: a leftover browser is found by its path

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/    /' <<<"$2" | head -30; }

# The simulator, with a password of its own (never "demo": it must be findable if it leaks).
"$SIM" --port 0 --password "$PW" --seed 3 >"$work/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$work/sim.log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/sim.log" | head -1)
[ -n "$url" ] || { echo "simulator did not start"; cat "$work/sim.log"; exit 1; }
export GSP_BASE_URL="$url" GSP_USER_CODE=demo GSP_PASSWORD="$PW" GSP_CYCLE=202605
export GSPBOT_SCREENSHOT_DIR="$work/evidence" GSPBOT_RETRY_DELAY_MS=100 GSPBOT_TIMEOUT_MS=15000
stat_of() { curl -s "$url/__sim/state" | grep -o "\"$1\":[0-9]*" | cut -d: -f2; }
chromium_left() { pgrep -f -- "--user-data-dir=$work" >/dev/null; }

# A flow that parks in a long sleep after the login: the walk is surely in a wait when we signal.
sed 's|{"goto": "/consultoras"},|{"goto": "/consultoras"}, {"sleep_ms": 120000},|' "$FLOW" >slow-flow.json
for sig in INT TERM; do
  "$G" order 12345678 80901:1 --flow slow-flow.json >"out-$sig.txt" 2>&1 &
  pid=$!
  for _ in $(seq 300); do grep -q 'goto /consultoras' "out-$sig.txt" && break; sleep 0.1; done
  sleep 0.5
  t0=$(date +%s%N)
  kill -"$sig" "$pid"
  wait "$pid"; rc=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  # Never hangs: the stop must end the 120 s sleep; the bound is wide (a loaded CI machine).
  if [ "$rc" = 130 ] && [ "$ms" -lt 5000 ] && grep -q '^interrupted' "out-$sig.txt"; then
    ok "SIG$sig mid-walk: exit 130 after ${ms} ms"
  else
    bad "SIG$sig mid-walk: exit $rc after ${ms} ms (want 130, < 5000 ms)" "$(cat "out-$sig.txt")"
  fi
  sleep 0.5 # init reaps re-parented helpers a moment later
  if chromium_left; then bad "SIG$sig: no Chromium left" "$(pgrep -af -- "--user-data-dir=$work")"; else ok "SIG$sig: no Chromium left"; fi
done

# Rejected credentials: the abort class stops at once, one login attempt, exit 3 naming the cause.
before=$(stat_of login_failures)
out=$(GSP_PASSWORD=wrong-password "$G" order 12345678 80901:1 2>&1); rc=$?
after=$(stat_of login_failures)
if [ "$rc" = 3 ] && [ $((after - before)) = 1 ] && grep -q 'Usuario o contraseña incorrectos' <<<"$out" &&
   ! grep -q 'attempt 2' <<<"$out"; then
  ok "wrong password: exit 3 after one login"
else
  bad "wrong password: exit $rc, $((after - before)) failed logins (want 3, 1)" "$out"
fi
out=$(GSP_PASSWORD=wrong-password "$G" preflight 2>&1); rc=$?
if [ "$rc" = 3 ] && grep -q 'stopped: ' <<<"$out"; then ok "preflight wrong password: exit 3"; else bad "preflight wrong password: exit $rc" "$out"; fi

# A GSP_BASE_URL that is not a URL, and one whose host does not exist: exit 3 at once, naming it.
out=$(GSP_BASE_URL='htp:/portal' "$G" order 12345678 80901:1 2>&1); rc=$?
if [ "$rc" = 3 ] && grep -q 'GSP_BASE_URL "htp:/portal" is not an http' <<<"$out"; then ok "invalid GSP_BASE_URL: exit 3"; else bad "invalid GSP_BASE_URL: exit $rc" "$out"; fi
t0=$(date +%s)
out=$(GSP_BASE_URL='http://portal.invalid' "$G" order 12345678 80901:1 2>&1); rc=$?
if [ "$rc" = 3 ] && grep -q 'GSP_BASE_URL "http://portal.invalid" cannot be reached' <<<"$out" &&
   ! grep -q 'attempt 2' <<<"$out"; then
  ok "unknown host: exit 3 after one attempt ($(( $(date +%s) - t0 )) s)"
else
  bad "unknown host: exit $rc" "$out"
fi

# A selector only the browser can tell is not valid CSS (the flow checker's syntax check passes it):
# a flow error, so the run stops at once naming the action (no retries, no backoff), exit 3.
sed 's|{"wait_url": "/ciclo"}|{"wait_for": "p:no-such-pseudo-class"}|' "$FLOW" >bad-selector-flow.json
out=$("$G" order 12345678 80901:1 --flow bad-selector-flow.json 2>&1); rc=$?
if [ "$rc" = 3 ] && grep -q 'flow error at steps\[1\]\.actions\[4\]' <<<"$out" && grep -q 'not a valid CSS selector' <<<"$out" &&
   ! grep -q 'attempt 2' <<<"$out"; then
  ok "invalid selector: flow error at once, exit 3"
else
  bad "invalid selector: exit $rc" "$out"
fi

# A failed walk (unknown consultora, fatal) with a trace, a verbose log and evidence: the password
# is in none of them, and evidence is private (0700 folder, 0600 files).
out=$("$G" --verbose --log-file "$work/order.log" order 99000001 80901:1 --trace "$work/trace" 2>&1); rc=$?
if [ "$rc" = 1 ] && ls "$work"/evidence/*.html >/dev/null 2>&1; then ok "failed walk leaves evidence"; else bad "failed walk: exit $rc" "$out"; fi
leaks=$( (grep -rl -- "$PW" "$work/evidence" "$work/trace" "$work/order.log"; grep -l -- "$PW" <<<"$out") 2>/dev/null)
if [ -z "$leaks" ]; then ok "password in no evidence, trace or log"; else bad "password found in: $leaks"; fi
modes=$(find "$work/evidence" "$work/trace" -newer slow-flow.json \( -type d -not -perm 700 -o -type f -not -perm 600 \) | head)
if [ -z "$modes" ]; then ok "evidence and trace are private (0700/0600)"; else bad "not private: $modes" "$(ls -la "$work/evidence" "$work/trace" | head -20)"; fi
# The trace does not distort the walk: no capture waited out a timeout (it used to take 10 s after a
# click that navigates).
slow=$(grep -o '<td class="ms">[0-9]*</td></tr>' "$work/trace/index.html" | grep -oE '[0-9]+' | awk '$1 >= 8000' | head -1)
if [ -z "$slow" ]; then ok "no trace capture waited out a timeout"; else bad "a trace capture took $slow ms"; fi

# Messages (issue 8 #15, #18). A detector is named as the flow file writes it, errors[N] counted
# over the whole "errors" array (cdp only knows its index among the step's guards: the detector
# added as errors[8] is the 8th guard of login_ok, since errors[2] applies to another step). #user
# is an input: no text of its own, so the message is the detector's name.
sed 's|^    {"selector": "#login-form", "class": "session",|    {"selector": "#user", "class": "fatal", "steps": ["login_ok"]},\n&|' "$FLOW" >detector-flow.json
# The text filter of an action reads expanded in the printed walk.
sed 's|{"click": "#search"},|&\n      {"click": "#search", "text": "${order.consultora_code}", "optional": true, "timeout_ms": 500},|' \
  "$FLOW" >text-flow.json
# Without the detectors of the 503 page (they would name it instead) and without step retries.
sed -e '/Servicio no disponible/d' -e 's|"step_retries": 3|"step_retries": 0|' "$FLOW" >plain-flow.json
out=$("$G" order 12345678 80901:1 --flow detector-flow.json 2>&1); rc=$?
if [ "$rc" = 1 ] && grep -q 'FAILED (fatal) at step login_ok: errors\[8\] matched (#user)' <<<"$out" &&
   ! grep -q 'error detector' <<<"$out"; then
  ok "detector message names errors[8] as in the file"
else
  bad "detector message: exit $rc (want 1, errors[8] named)" "$out"
fi
out=$("$G" order 12345678 80901:1 --flow text-flow.json 2>&1); rc=$?
if [ "$rc" = 0 ] && grep -q 'click #search (text "12345678")' <<<"$out" && ! grep -qF '${order.' <<<"$out"; then
  ok "printed walk shows the text option expanded"
else
  bad "text option in the printed walk: exit $rc" "$out"
fi
# A goto that fails says "goto /login" once, not "goto /login: goto /login: ...": an unreachable
# portal, and one that answers 503 (the simulator failing every request for a moment).
once() { # MESSAGE_LINE: "goto /login" exactly once
  [ "$(grep -o 'goto /login' <<<"$1" | wc -l)" = 1 ]
}
out=$(GSP_BASE_URL=http://127.0.0.1:59999 GSPBOT_MAX_RETRIES=0 "$G" order 12345678 80901:1 --flow plain-flow.json 2>&1); rc=$?
line=$(grep '^FAILED' <<<"$out")
if [ "$rc" = 1 ] && grep -q 'goto /login: Page.navigate: ' <<<"$line" && once "$line" &&
   ! grep -q 'goto /login: goto /login' <<<"$out"; then
  ok "unreachable goto: \"goto /login\" said once"
else
  bad "unreachable goto: exit $rc" "$out"
fi
curl -s -X POST -d '{"fail_rate": 1}' "$url/__sim/config" >/dev/null
out=$(GSPBOT_MAX_RETRIES=0 "$G" order 12345678 80901:1 --flow plain-flow.json 2>&1); rc=$?
curl -s -X POST -d '{"fail_rate": 0}' "$url/__sim/config" >/dev/null
line=$(grep '^FAILED' <<<"$out")
if [ "$rc" = 1 ] && grep -q 'goto /login: HTTP 503' <<<"$line" && once "$line" &&
   ! grep -q 'goto /login: goto /login' <<<"$out"; then
  ok "goto answered 503: \"goto /login\" said once"
else
  bad "goto answered 503: exit $rc" "$out"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
