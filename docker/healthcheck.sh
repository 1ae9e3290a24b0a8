#!/bin/bash
# HEALTHCHECK of the gspbot image, whichever role the container has. It looks at the processes:
#   gspbot serve    healthy when GET /health answers 200 (the database is reachable)
#   gspbot worker   healthy while the supervisor runs with at least one worker process (a
#                   database outage is not a reason to restart workers: they reconnect)
#   gspbot-sim      (the demo's simulator) healthy when its login page answers
#   anything else   (migrate, a one-off command) healthy
set -u
role="" pid="" port=""
for f in /proc/[0-9]*/cmdline; do
  argv=()
  mapfile -d '' -t argv 2>/dev/null <"$f" || continue
  [ ${#argv[@]} -gt 0 ] || continue
  case "${argv[0]##*/}" in
    gspbot)
      # A worker process is a fork of the supervisor (same command line): skip it.
      ppid=$(awk '{ print $4 }' "${f%/cmdline}/stat" 2>/dev/null)
      parent=$(tr '\0' ' ' 2>/dev/null <"/proc/$ppid/cmdline")
      case $parent in gspbot\ * | */gspbot\ *) continue ;; esac
      skip=0
      for ((i = 1; i < ${#argv[@]}; i++)); do
        a=${argv[i]}
        if [ $skip = 1 ]; then skip=0; continue; fi
        case $a in
          --log-file) skip=1 ;;
          -*) ;;
          serve | worker)
            role=$a pid=${f#/proc/} pid=${pid%/cmdline}
            for ((j = i + 1; j < ${#argv[@]}; j++)); do
              case ${argv[j]} in
                --port) port=${argv[j + 1]:-} ;;
                --port=*) port=${argv[j]#--port=} ;;
              esac
            done
            break 2 ;;
          *) break ;;
        esac
      done ;;
    gspbot-sim) role=sim; break ;;
  esac
done

case $role in
  serve)
    exec curl -fsS -m 8 -o /dev/null "http://127.0.0.1:${port:-${GSPBOT_PORT:-8000}}/health" ;;
  worker)
    children=$(cat /proc/"$pid"/task/*/children 2>/dev/null | wc -w)
    if [ "$children" -lt 1 ]; then
      echo "worker supervisor $pid has no worker process"
      exit 1
    fi
    echo "worker supervisor $pid with $children worker processes" ;;
  sim)
    exec curl -fsS -m 8 -o /dev/null "http://127.0.0.1:8088/login" ;;
esac
exit 0
