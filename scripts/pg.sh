#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests and the demo.
#
#   scripts/pg.sh start DIR   initdb (if DIR/data is missing) and start a server whose data and
#                             Unix socket live in DIR; listens on no TCP port. Prints the libpq
#                             conninfo of its `postgres` database on stdout.
#   scripts/pg.sh stop DIR    fast shutdown (no error if not running).
#   scripts/pg.sh conninfo DIR
#
# GSPBOT_PG_EXTRA_OPTS (optional): more server options for `start`, appended to the defaults, e.g.
# "-c shared_preload_libraries=pg_stat_statements" (tests/bench/capacity/run.sh). Unset: unchanged.
#
# initdb and postgres refuse to run as root, so as root the server runs as the `postgres` user
# (created by Debian's postgresql package) and DIR is handed to it.
set -euo pipefail

cmd=${1:?usage: pg.sh start|stop|conninfo DIR}
dir=${2:?usage: pg.sh start|stop|conninfo DIR}
pgbin=${PGBIN:-}
if [ -z "$pgbin" ]; then
  for v in 17 16 15; do
    [ -x "/usr/lib/postgresql/$v/bin/initdb" ] && { pgbin=/usr/lib/postgresql/$v/bin; break; }
  done
fi
[ -n "$pgbin" ] || { echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 3; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
port=${PGPORT_TEST:-5432}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_pg "$pgbin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 3; }
    fi
    if ! as_pg "$pgbin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-k $dir -c listen_addresses='' -p $port -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200${GSPBOT_PG_EXTRA_OPTS:+ $GSPBOT_PG_EXTRA_OPTS}" \
        start >/dev/null || { tail -20 "$dir/server.log" >&2; exit 3; }
    fi
    echo "host=$dir port=$port user=postgres dbname=postgres"
    ;;
  stop)
    if [ -f "$dir/data/PG_VERSION" ]; then
      as_pg "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
  conninfo)
    echo "host=$dir port=$port user=postgres dbname=postgres"
    ;;
  *) echo "pg.sh: unknown command $cmd" >&2; exit 2 ;;
esac
