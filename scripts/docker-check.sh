#!/usr/bin/env bash
# Proves on this machine that the Docker deployment works, for real: the image builds, the Compose
# stack works the sample batch (and keeps every order while the workers scale 1 -> 3 -> 1), and
# the Swarm stack works it too. What .ci/run calls; run as root on Debian 12.
#
#   scripts/docker-check.sh
#
# No Docker engine needs to be running and no image registry reachable: it installs Debian's
# docker.io, docker-compose and debootstrap (apt-get, only what is missing), starts a private
# dockerd with everything under a temp dir, builds the base image `debian:bookworm-slim` with
# debootstrap from the mirror of this machine's apt sources (docker/base-image.sh), and builds a
# stand-in tagged `postgres:15` (docker/postgres-standin). Then:
#   1. build the gspbot image with docker-compose (and the stand-in);
#   2. docker-compose --profile demo up -d; wait until every service is healthy;
#   3. upload data/sample_orders.csv through the API with the token, start it, wait until the
#      batch is completed, and compare the simulator's carts with the file, exactly;
#   4. the same again from empty carts while scaling the workers to 3 and back to 1: every order
#      completed, carts exact (nothing lost, nothing added twice); docker-compose down -v;
#   5. a one-node swarm on loopback: docker stack deploy (docker-stack.yml), the same batch
#      through the API, carts exact, docker stack rm, docker swarm leave --force. If the swarm
#      cannot start here, it says so with the daemon's error and the rest still counts.
# On every exit (Ctrl-C included) it removes what it made and checks that nothing is left:
# dockerd stopped by its PID, no mount or temp dir, docker0/docker_gwbridge removed, nftables
# (or legacy iptables) rules, ip_forward and the bridge netfilter switches as they were.
# Exit 0 when everything passed, 1 on any failure (the reason is printed), 2 not run as root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$SECONDS
proj=gspbot-check           # Compose project
stack=gspcheck              # Swarm stack
image=gspbot:check
cycle=202605
log() { printf 'docker-check: %s\n' "$*"; }
# Each phase's time, printed at the end (the CI budget is tight).
phases=() phase="" phase_t=0
end_phase() {
  [ -z "$phase" ] || phases+=("$(printf '%5s s  %s' "$((SECONDS - phase_t))" "$phase")")
  phase=""
}
step() {
  end_phase
  phase=${2:-$1} phase_t=$SECONDS
  printf '\n==== docker-check: %s (%ss)\n' "$1" "$((SECONDS - start))"
}
die() {
  log "FAILED: $*" >&2
  exit 1
}
# A running (not zombie) dockerd, any.
dockerd_running() { ps -C dockerd -o pid=,stat= | awk '$2 !~ /^Z/ { print $1 }' | grep .; }

if [ "$(id -u)" != 0 ]; then
  log "run as root: it starts a private Docker engine"
  exit 2
fi
# One run at a time (the lock is on this file: nothing to clean up).
exec 9<"$0"
flock -n 9 || die "another scripts/docker-check.sh is running"
if pid=$(dockerd_running); then
  die "a Docker engine is already running (pid $(echo "$pid" | tr '\n' ' ')); this check starts its own: stop that one first"
fi

step "packages"
need=(docker.io docker-compose debootstrap nftables iproute2 curl jq ca-certificates tini)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
log "$(/usr/bin/docker --version), $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /')"
# Compose v2 (the `docker compose` plugin) is not in Debian 12; this check runs Compose v1.29.
if v2=$(/usr/bin/docker compose version 2>/dev/null); then
  log "also present: $v2 (this check uses docker-compose v1)"
else
  log "docker compose v2: not installed (Debian 12 ships docker-compose 1.29 only)"
fi

# ------------------------------------------------------------------ the machine as it was
legacy=false
case $(iptables -V 2>/dev/null) in *legacy*) legacy=true ;; esac
links() { ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort; }
is_docker_link() { [[ $1 =~ ^(docker0|docker_gwbridge|br-[0-9a-f]{12}|veth[0-9a-f]{7}|vx-.*)$ ]]; }
nft_tables() { nft list tables 2>/dev/null | sort; }
rules_now() { if $legacy; then iptables-legacy-save | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'; else nft -s list ruleset 2>/dev/null; fi; }
bridge_sysctls=(/proc/sys/net/bridge/bridge-nf-call-iptables /proc/sys/net/bridge/bridge-nf-call-ip6tables)
# dockerd 20.10 writes the resolv.conf of the swarm's load-balancer sandboxes (lb_*) under
# /var/lib/docker/network/files whatever its --data-root: what appears there is removed too.
varlib=/var/lib/docker
varlib_new() { [ ! -f "$T/state/varlib" ] || comm -13 "$T/state/varlib" <(find "$varlib" -mindepth 1 2>/dev/null | sort); }

T=""
made=()
dockerd_pid=""
bg_pids=()
compose_up=false
swarm_on=false

# The processes below PID (children first-level and on), by PID.
descendants() {
  local c
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$c"
    descendants "$c"
  done
}
# Every mount below $T, deepest first.
our_mounts() { awk -v t="$T" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r; }

stop_docker() {
  [ -n "$dockerd_pid" ] || return 0
  if kill -0 "$dockerd_pid" 2>/dev/null; then
    local t0=$SECONDS
    if $compose_up; then
      compose down -v --remove-orphans >/dev/null 2>&1 || true
      log "cleanup: docker-compose down -v ($((SECONDS - t0)) s)"
    fi
    if $swarm_on; then
      timeout 60 docker stack rm "$stack" >/dev/null 2>&1 || true
      timeout 60 docker swarm leave --force >/dev/null 2>&1 || true
      log "cleanup: stack removed, swarm left ($((SECONDS - t0)) s)"
    fi
    local ids
    ids=$(timeout 30 docker ps -aq 2>/dev/null || true)
    [ -z "$ids" ] || timeout 60 docker rm -f $ids >/dev/null 2>&1 || true
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 1; done
    log "cleanup: dockerd $dockerd_pid stopped ($((SECONDS - t0)) s)"
    if kill -0 "$dockerd_pid" 2>/dev/null; then
      log "dockerd $dockerd_pid did not stop in 60 s: killing it"
      kill -KILL "$dockerd_pid" 2>/dev/null || true
    fi
  fi
  wait "$dockerd_pid" 2>/dev/null || true
  # Its containerd and shims, if any outlived it: only processes whose command line names our
  # temp dir, each by its PID.
  local f
  for f in $(grep -lsF -- "$T/" /proc/[0-9]*/cmdline); do
    f=${f#/proc/}
    kill -KILL "${f%/cmdline}" 2>/dev/null || true
  done
  dockerd_pid=""
}

cleanup() {
  local rc=$?
  trap '' INT TERM
  set +e
  if [ -z "$T" ]; then exit "$rc"; fi
  if [ ! -f "$T/state/complete" ]; then # stopped while looking at the machine: nothing started
    rm -rf "$T"
    exit "$rc"
  fi
  step "cleaning up"
  for p in "${bg_pids[@]}"; do
    # shellcheck disable=SC2046 # one PID per word
    kill -TERM "$p" $(descendants "$p") 2>/dev/null
    wait "$p" 2>/dev/null
  done
  stop_docker
  local m
  for m in $(our_mounts); do umount "$m" 2>/dev/null || umount -l "$m"; done
  for l in $(comm -13 "$T/state/links" <(links)); do
    if is_docker_link "$l"; then ip link delete "$l" 2>/dev/null; fi
  done
  if [ "$(rules_now)" != "$(cat "$T/state/rules")" ]; then
    if $legacy; then
      for t in filter nat mangle raw; do
        iptables-legacy -t "$t" -F 2>/dev/null
        iptables-legacy -t "$t" -X 2>/dev/null
      done
      iptables-legacy-restore <"$T/state/iptables-legacy"
    else
      # Tables Docker added go; tables that were there get their old contents back, atomically.
      while read -r _ fam name; do
        if [ -f "$T/state/table.$fam.$name" ]; then
          { echo "delete table $fam $name"; cat "$T/state/table.$fam.$name"; } | nft -f - 2>/dev/null
        else
          nft delete table "$fam" "$name" 2>/dev/null
        fi
      done < <(nft_tables)
    fi
  fi
  cat "$T/state/ip_forward" >/proc/sys/net/ipv4/ip_forward
  for f in "${bridge_sysctls[@]}"; do
    [ -f "$T/state/${f##*/}" ] && [ -e "$f" ] && cat "$T/state/${f##*/}" >"$f"
  done
  for p in "${made[@]}"; do rm -rf "$p"; done
  varlib_new | sort -r | while read -r p; do rm -rf "$p"; done

  # Nothing left?
  local left=()
  [ -z "$(our_mounts)" ] || left+=("mounts: $(our_mounts | tr '\n' ' ')")
  local new
  new=$(comm -13 "$T/state/links" <(links) | while read -r l; do is_docker_link "$l" && echo "$l"; done | tr '\n' ' ')
  [ -z "$new" ] || left+=("network links: $new")
  [ "$(rules_now)" = "$(cat "$T/state/rules")" ] || left+=("firewall rules differ")
  [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$(cat "$T/state/ip_forward")" ] || left+=("ip_forward")
  dockerd_running >/dev/null && left+=("a dockerd process")
  for p in "${made[@]}"; do [ -e "$p" ] && left+=("$p"); done
  [ -z "$(varlib_new)" ] || left+=("under $varlib: $(varlib_new | tr '\n' ' ')")
  if [ -z "$(our_mounts)" ]; then
    rm -rf "$T"
    [ -e "$T" ] && left+=("$T")
  else
    left+=("$T")
  fi
  if [ ${#left[@]} -gt 0 ]; then
    log "cleanup left behind: ${left[*]}"
    [ "$rc" != 0 ] || rc=1
  else
    log "cleanup: dockerd stopped, no mount, link, rule or temp dir left; ip_forward $(cat /proc/sys/net/ipv4/ip_forward)"
  fi
  end_phase
  log "time per phase:"
  printf '  %s\n' "${phases[@]}"
  log "$( [ "$rc" = 0 ] && echo passed || echo "failed (exit $rc)") in $((SECONDS - start)) s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T=$(mktemp -d /tmp/gspbot-docker-check.XXXXXX)
chmod 700 "$T"
mkdir -p "$T/state"
links >"$T/state/links"
cat /proc/sys/net/ipv4/ip_forward >"$T/state/ip_forward"
for f in "${bridge_sysctls[@]}"; do
  if [ -e "$f" ]; then cat "$f" >"$T/state/${f##*/}"; fi
done
rules_now >"$T/state/rules"
if $legacy; then
  iptables-legacy-save >"$T/state/iptables-legacy"
else
  nft_tables >"$T/state/tables"
  while read -r _ fam name; do
    nft -s list table "$fam" "$name" >"$T/state/table.$fam.$name" 2>/dev/null
  done <"$T/state/tables"
fi
for p in /etc/docker /etc/docker/key.json /run/containerd /run/docker /var/run/docker.sock "$varlib"; do
  [ -e "$p" ] || made+=("$p")
done
if [ -e "$varlib" ]; then find "$varlib" -mindepth 1 | sort >"$T/state/varlib"; fi
touch "$T/state/complete"
# Runs a long command in the background and waits for it, so that Ctrl-C or SIGTERM ends the
# wait at once (a foreground `timeout` sits in its own process group and would not see Ctrl-C).
bgwait() {
  "$@" &
  local p=$! rc=0
  bg_pids+=("$p")
  wait "$p" || rc=$?
  forget "$p"
  return $rc
}
forget() {
  local keep=() q
  for q in "${bg_pids[@]}"; do [ "$q" = "$1" ] || keep+=("$q"); done
  bg_pids=("${keep[@]}")
}

# ------------------------------------------------------------------ a private Docker engine
step "dockerd (everything under $T)" "dockerd"
mkdir -p "$T/bin" "$T/data" "$T/exec" "$T/config"
# The Debian CLI that matches the engine, first on PATH (docker-compose calls `docker` too).
ln -s /usr/bin/docker "$T/bin/docker"
export PATH="$T/bin:$PATH" DOCKER_HOST="unix://$T/docker.sock" DOCKER_CONFIG="$T/config"
unset DOCKER_BUILDKIT COMPOSE_DOCKER_CLI_BUILD DOCKER_CONTEXT
# Containers get the MTU of the way out (a smaller one than 1500 would stall downloads).
mtu=$(ip -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n1)
mtu=$(cat "/sys/class/net/${mtu:-eth0}/mtu" 2>/dev/null || echo 1500)
# Niced: the image builds run in its containers, next to other work on this machine.
nice -n 10 dockerd --data-root "$T/data" --exec-root "$T/exec" --pidfile "$T/dockerd.pid" \
  -H "unix://$T/docker.sock" --storage-driver overlay2 --mtu "$mtu" --log-level warn \
  >"$T/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 60); do
  docker info >/dev/null 2>&1 && break
  kill -0 "$dockerd_pid" 2>/dev/null || { tail -n 20 "$T/dockerd.log"; die "dockerd exited"; }
  sleep 1
done
docker info >/dev/null 2>&1 || { tail -n 20 "$T/dockerd.log"; die "dockerd did not answer in 60 s"; }
log "dockerd $dockerd_pid up: $(docker version -f '{{.Server.Version}}'), storage $(docker info -f '{{.Driver}}'), mtu $mtu"

# ------------------------------------------------------------------ images
step "base image debian:bookworm-slim (debootstrap)"
# The mirror of this machine's apt sources (deb822 .sources files or sources.list lines).
apt_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
      { deb = 0; bw = 0; uri = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:.*(^|[ \t])deb([ \t]|$)/) deb = 1
          if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) bw = 1
          if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] } }
        if (deb && bw && uri != "") { print uri; exit } }' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while (i <= NF && $i !~ /\]$/) i++; if ($2 ~ /^\[/) i++
      if ($(i + 1) == "bookworm") print $i }'
}
mirror=$(apt_mirror | head -n1) || true
[ -n "$mirror" ] || die "no Debian bookworm mirror in /etc/apt/sources.list*"
t=$SECONDS
DOCKER=docker bgwait nice -n 10 bash docker/base-image.sh "$T/rootfs" "$mirror" debian:bookworm-slim ||
  die "could not build the base image"
rm -rf "$T/rootfs"
log "base image from $mirror in $((SECONDS - t)) s"

step "build: gspbot image (docker-compose build) and the postgres:15 stand-in" "build"
secrets="$T/secrets"
mkdir -m 700 "$secrets"
printf '%s' "demo-Natura-2026" >"$secrets/gsp_password"
head -c 24 /dev/urandom | base64 >"$secrets/api_token"
head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$secrets/db_password"
chmod 644 "$secrets"/* # readable by the containers' user; the folder stays private
token=$(cat "$secrets/api_token")

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 10000))
    [ -z "$(ss -Hltn "sport = :$p")" ] && { echo "$p"; return; }
  done
}
api_port=$(free_port)
sim_port=$(free_port)
cat >"$T/compose.env" <<EOF
GSPBOT_IMAGE=$image
SECRETS_DIR=$secrets
GSP_USER_CODE=supervisora
GSP_CYCLE=$cycle
GSPBOT_CONCURRENCY=1
GSPBOT_RETRY_DELAY_MS=500
GSPBOT_API_ADDR=127.0.0.1
GSPBOT_API_PORT=$api_port
GSPBOT_SIM_PORT=$sim_port
GSPBOT_SIM_UI_SCALE=0.2
EOF
compose() { timeout 900 docker-compose -p "$proj" --env-file "$T/compose.env" --profile demo "$@"; }

t=$SECONDS
nice -n 10 docker build -t postgres:15 docker/postgres-standin >"$T/build-postgres.log" 2>&1 &
pg_build=$!
bg_pids+=("$pg_build")
if ! bgwait compose build >"$T/build-gspbot.log" 2>&1; then
  tail -n 40 "$T/build-gspbot.log"
  die "docker-compose build failed"
fi
log "gspbot image built in $((SECONDS - t)) s"
if ! wait "$pg_build"; then
  tail -n 40 "$T/build-postgres.log"
  die "the postgres:15 stand-in did not build"
fi
forget "$pg_build"
image_mb=$(docker image inspect -f '{{.Size}}' "$image" | awk '{ printf "%.0f", $1 / 1e6 }')
log "images: $image $image_mb MB, postgres:15 (stand-in) $(docker image inspect -f '{{.Size}}' postgres:15 |
  awk '{ printf "%.0f", $1 / 1e6 }') MB, built in $((SECONDS - t)) s"
log "image user $(docker image inspect -f '{{.Config.User}}' "$image"), entrypoint $(docker image inspect -f '{{json .Config.Entrypoint}}' "$image")"

# ------------------------------------------------------------------ helpers for the batches
api() { curl -fsS -m 60 -H "Authorization: Bearer $token" "$@"; }
expected_carts() {
  awk -F, -v cyc="$cycle" '{ sub(/\r$/, "") } NR > 1 && $1 != "" { q[$1 "|" cyc " " $(NF - 1)] += $NF }
    END { for (k in q) print k, q[k] }' data/sample_orders.csv | sort
}
sim_state() { docker exec "$1" curl -fsS -m 30 http://127.0.0.1:8089/__sim/state; }
check_carts() { # SIM_CONTAINER WHAT
  local state
  state=$(sim_state "$1") || die "$2: cannot read the simulator's state"
  if ! diff <(expected_carts) <(jq -r '.carts | to_entries[] | .key as $k | .value | to_entries[]
      | "\($k) \(.key) \(.value)"' <<<"$state" | sort) >"$T/carts.diff"; then
    cat "$T/carts.diff"
    die "$2: the simulator's carts differ from data/sample_orders.csv (< file, > carts)"
  fi
  log "$2: carts match data/sample_orders.csv exactly ($(expected_carts | wc -l) products in $(jq '.carts | length' <<<"$state") carts)"
}
upload_start() { # BASE NAME -> batch id
  local r id
  r=$(api -F "file=@data/sample_orders.csv" -F "name=$2" -F "allow_duplicate=1" "$1/batches/upload") ||
    die "upload to $1 failed"
  id=$(jq -r .batch_id <<<"$r")
  [ "$(jq -r .orders <<<"$r")" = 25 ] || die "upload: expected 25 orders: $r"
  api -X POST "$1/batches/$id/start" >/dev/null || die "start of batch $id failed"
  echo "$id"
}
stats() { api "$1/batches/$2/stats" 2>/dev/null || echo '{}'; }
wait_done() { # BASE ID TIMEOUT_S
  local deadline=$((SECONDS + $3)) s
  while :; do
    s=$(stats "$1" "$2")
    case $(jq -r '.status // ""' <<<"$s") in completed | failed | cancelled) break ;; esac
    [ $SECONDS -lt $deadline ] || die "batch $2 not finished after $3 s: $s"
    sleep 3
  done
  [ "$(jq -c '[.status, .total, .counts.completed]' <<<"$s")" = '["completed",25,25]' ] ||
    die "batch $2 did not complete every order: $s"
  log "batch $2: $(jq -c '{status, total, counts}' <<<"$s")"
}
wait_completed_at_least() { # BASE ID N TIMEOUT_S
  local deadline=$((SECONDS + $4)) s
  while :; do
    s=$(stats "$1" "$2")
    [ "$(jq -r '.counts.completed // 0' <<<"$s")" -ge "$3" ] && return 0
    case $(jq -r '.status // ""' <<<"$s") in completed | failed | cancelled) return 0 ;; esac
    [ $SECONDS -lt $deadline ] || die "batch $2: fewer than $3 orders completed after $4 s: $s"
    sleep 1
  done
}
wait_workers() { # BASE N TIMEOUT_S: until /health counts N live workers
  local deadline=$((SECONDS + $3)) w
  while :; do
    w=$(curl -fsS -m 10 "$1/health" 2>/dev/null | jq -r '.workers_alive // -1') || w=-1
    [ "$w" = "$2" ] && return 0
    [ $SECONDS -lt $deadline ] || die "$w live workers after $3 s, not $2"
    sleep 2
  done
}
# No secret in any container's configuration, logs, or processes' command lines and environments
# (read from the host's /proc, so that Chromium's non-dumpable processes count too), nor in the
# command line of any process of this machine. One exception: the demo simulator's own process,
# which takes the portal password from its environment (gspbot-sim has no file option).
no_secret_leaks() { # WHAT CONTAINER...
  local what=$1 c f s pid name text nproc=0
  shift
  for c; do
    for pid in $(docker top "$c" -eo pid 2>/dev/null | tail -n +2); do
      nproc=$((nproc + 1))
      for f in "$secrets"/*; do
        name=${f##*/} s=$(cat "$f")
        if [ "$name" = gsp_password ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = gspbot-sim ]; then
          continue
        fi
        # (a process that has ended meanwhile has nothing to show)
        text=$({ tr '\0' '\n' <"/proc/$pid/cmdline"; tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null) || true
        if grep -qF -- "$s" <<<"$text"; then
          die "$what: the secret $name is in the command line or environment of $(cat "/proc/$pid/comm" 2>/dev/null) (pid $pid) of container $c"
        fi
      done
    done
    text=$(docker inspect "$c"; docker logs "$c" 2>&1)
    for f in "$secrets"/*; do
      if grep -qF -- "$(cat "$f")" <<<"$text"; then die "$what: the secret ${f##*/} shows in docker inspect or docker logs of $c"; fi
    done
  done
  text=$(ps -eww -o args)
  for f in "$secrets"/*; do
    if grep -qF -- "$(cat "$f")" <<<"$text"; then die "$what: the secret ${f##*/} is in a command line (ps)"; fi
  done
  log "$what: no secret in docker inspect, docker logs, ps, or the environment of any of $nproc processes in $# containers"
}
health_of() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$1"; }

# ------------------------------------------------------------------ Docker Compose
step "docker-compose --profile demo up -d"
compose_up=true
t=$SECONDS
bgwait compose up -d >"$T/compose-up.log" 2>&1 || { cat "$T/compose-up.log"; die "docker-compose up failed"; }
deadline=$((SECONDS + 300))
while :; do
  bad=""
  for svc in db api worker sim; do
    id=$(compose ps -q "$svc")
    h=$([ -n "$id" ] && health_of "$id" || echo missing)
    [ "$h" = healthy ] || bad+=" $svc:$h"
  done
  [ -z "$bad" ] && break
  if [ $SECONDS -ge $deadline ]; then
    compose ps
    for svc in db api worker sim; do
      for id in $(compose ps -q "$svc"); do
        echo "--- $svc: $(docker inspect -f 'exit {{.State.ExitCode}}, restarts {{.RestartCount}}, oom {{.State.OOMKilled}} {{.State.Error}}; last health: {{if .State.Health}}{{range .State.Health.Log}}{{.Output}}{{end}}{{end}}' "$id")"
        docker logs --tail 40 "$id" 2>&1
      done
    done
    die "not healthy after 300 s:$bad"
  fi
  sleep 3
done
[ "$(docker inspect -f '{{.State.ExitCode}}' "$(compose ps -q migrate)")" = 0 ] || die "migrate did not exit 0"
log "db, migrate (exit 0), api, worker and sim healthy in $((SECONDS - t)) s"
base="http://127.0.0.1:$api_port"
curl -fsS -m 10 "$base/health" >/dev/null || die "GET /health on $base failed"
code=$(curl -s -o /dev/null -w '%{http_code}' -m 10 "$base/batches")
[ "$code" = 401 ] || die "GET /batches without the token answered $code, not 401"
log "API on $base: /health 200, no token 401"
sim=$(compose ps -q sim)

step "compose: the sample batch through the API"
t=$SECONDS
b=$(upload_start "$base" "docker-check compose")
wait_done "$base" "$b" 600
check_carts "$sim" "compose"
log "compose batch in $((SECONDS - t)) s"
# shellcheck disable=SC2046 # one container ID per word
no_secret_leaks compose $(compose ps -q)
# What an operator types (README): a command in the running api container (no entry point, so
# the database password comes from the ~/.pgpass the entry point wrote).
out=$(compose exec -T api gspbot status 2>&1) || { echo "$out"; die "docker-compose exec api gspbot status failed"; }
log "docker-compose exec -T api gspbot status: $(grep -c 'completed' <<<"$out") completed batch, $(grep -o 'workers [0-9]* live' <<<"$out")"

step "compose: scale workers 1 -> 3 -> 1 during a batch"
t=$SECONDS
docker exec "$sim" curl -fsS -m 10 -X POST http://127.0.0.1:8089/__sim/reset >/dev/null
b=$(upload_start "$base" "docker-check scaling")
bgwait compose up -d --no-deps --no-recreate --scale worker=3 worker >"$T/scale.log" 2>&1 ||
  { cat "$T/scale.log"; die "scale to 3 failed"; }
n=$(compose ps -q worker | wc -l)
[ "$n" = 3 ] || die "expected 3 worker containers, found $n"
wait_workers "$base" 3 180
wait_completed_at_least "$base" "$b" 6 300
log "3 worker containers, 3 live workers; $(stats "$base" "$b" | jq -c '{status, counts}')"
bgwait compose up -d --no-deps --no-recreate --scale worker=1 worker >"$T/scale.log" 2>&1 ||
  { cat "$T/scale.log"; die "scale to 1 failed"; }
n=$(compose ps -q worker | wc -l)
[ "$n" = 1 ] || die "expected 1 worker container, found $n"
wait_workers "$base" 1 120
log "back to 1 worker container, 1 live worker; $(stats "$base" "$b" | jq -c '{status, counts}')"
wait_done "$base" "$b" 600
check_carts "$sim" "compose, scaled"
log "scaled batch in $((SECONDS - t)) s"

step "docker-compose down -v"
bgwait compose down -v --remove-orphans >"$T/compose-down.log" 2>&1 || { cat "$T/compose-down.log"; die "down failed"; }
compose_up=false
[ -z "$(docker ps -aq -f "label=com.docker.compose.project=$proj")" ] || die "containers left after down"
[ -z "$(docker volume ls -q -f "label=com.docker.compose.project=$proj")" ] || die "volumes left after down -v"
log "no container or volume of $proj left"

# ------------------------------------------------------------------ Docker Swarm
step "swarm: one node on loopback"
swarm_result="passed"
if ! out=$(docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 2>&1); then
  swarm_result="could not start: $out"
  log "Swarm cannot start on this machine; the daemon said: $out"
else
  swarm_on=true
  t=$SECONDS
  for s in db_password gsp_password api_token; do
    docker secret create "gspbot_$s" "$secrets/$s" >/dev/null
  done
  swarm_port=$(free_port)
  # `docker stack deploy` reads no .env: the configuration comes from the shell's environment.
  deploy() {
    set -a
    . "$T/compose.env"
    # shellcheck disable=SC2034 # exported by set -a, read by docker stack deploy
    GSPBOT_API_PORT=$swarm_port GSPBOT_WORKER_REPLICAS=2 GSPBOT_SIM_REPLICAS=1
    set +a
    timeout 300 docker stack deploy --resolve-image never -c docker-stack.yml "$stack"
  }
  bgwait deploy >"$T/stack-deploy.log" 2>&1 || { cat "$T/stack-deploy.log"; die "docker stack deploy failed"; }
  sbase="http://127.0.0.1:$swarm_port"
  deadline=$((SECONDS + 300))
  while :; do
    reps=$(docker service ls -f "label=com.docker.stack.namespace=$stack" --format '{{.Name}}={{.Replicas}}' | sort | tr '\n' ' ')
    if [[ $reps == *"${stack}_api=1/1"*"${stack}_db=1/1"*"${stack}_sim=1/1"*"${stack}_worker=2/2"* ]] &&
      curl -fsS -m 5 "$sbase/health" >/dev/null 2>&1; then
      break
    fi
    if [ $SECONDS -ge $deadline ]; then
      docker service ls
      docker stack ps --no-trunc "$stack" | head -30
      die "swarm stack not running after 300 s: $reps"
    fi
    sleep 3
  done
  log "stack $stack running in $((SECONDS - t)) s: $reps"
  log "API on $sbase (published in host mode): $(curl -fsS -m 5 "$sbase/health")"
  ssim=$(docker ps -q -f "label=com.docker.swarm.service.name=${stack}_sim" | head -n1)
  [ -n "$ssim" ] || die "no simulator container in the stack"
  t=$SECONDS
  b=$(upload_start "$sbase" "docker-check swarm")
  wait_done "$sbase" "$b" 600
  check_carts "$ssim" "swarm"
  log "swarm batch in $((SECONDS - t)) s"
  # shellcheck disable=SC2046 # one container ID per word
  no_secret_leaks swarm $(docker ps -q -f "label=com.docker.stack.namespace=$stack")

  step "docker stack rm; docker swarm leave --force"
  docker stack rm "$stack" >/dev/null
  for _ in $(seq 60); do
    [ -z "$(docker ps -aq -f "label=com.docker.stack.namespace=$stack")" ] &&
      [ -z "$(docker network ls -q -f "label=com.docker.stack.namespace=$stack")" ] && break
    sleep 1
  done
  [ -z "$(docker ps -aq -f "label=com.docker.stack.namespace=$stack")" ] || die "containers left after docker stack rm"
  docker swarm leave --force >/dev/null
  swarm_on=false
  log "stack removed, swarm left"
fi

step "summary"
log "image $image: $image_mb MB"
log "compose (docker-compose $(docker-compose version --short)): passed"
log "swarm: $swarm_result"
