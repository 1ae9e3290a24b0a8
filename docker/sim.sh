#!/bin/bash
# The demo's portal simulator in a container: gspbot-sim listens on 127.0.0.1 only, so socat
# forwards port 8088 of every interface to it (the workers reach http://sim:8088). The portal
# password comes from GSP_PASSWORD_FILE (the same secret the workers read), the login from
# GSP_USER_CODE; other arguments go to gspbot-sim (--seed, --ui-scale, --fail-rate, ...).
# gspbot-sim takes the password only from its environment (never from arguments): it is put in
# that one process's environment, not exported to this script's other children.
set -euo pipefail
if [ -n "${GSP_PASSWORD_FILE:-}" ]; then
  pw=$(cat "$GSP_PASSWORD_FILE")
else
  pw=${GSP_PASSWORD:-}
fi
unset GSP_PASSWORD GSP_PASSWORD_FILE
GSP_PASSWORD=$pw gspbot-sim --port 8089 --user "${GSP_USER_CODE:-demo}" "$@" &
sim=$!
unset pw
socat TCP-LISTEN:8088,fork,reuseaddr TCP:127.0.0.1:8089 &
fwd=$!
trap 'kill -TERM $sim $fwd 2>/dev/null' TERM INT
# Whichever ends first ends the other.
wait -n $sim $fwd || true
kill -TERM $sim $fwd 2>/dev/null || true
wait
