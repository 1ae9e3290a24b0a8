#!/bin/bash
# Entry point of the postgres:15 stand-in (see Dockerfile): as root, fixes the data folder's owner,
# then runs as postgres: on first start reads the password (POSTGRES_PASSWORD or the file
# POSTGRES_PASSWORD_FILE), runs initdb (scram-sha-256 over TCP, trust on the local socket),
# creates POSTGRES_DB, and listens on every interface; then runs the server in the foreground.
set -euo pipefail
if [ "${1:-}" != postgres ]; then
  exec "$@"
fi
if [ "$(id -u)" = 0 ]; then
  install -d -o postgres -g postgres -m 0700 "$PGDATA"
  install -d -o postgres -g postgres -m 2775 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  # A shell variable only: no child process gets it in its environment.
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
  fi
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "postgres-standin: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE" >&2
    exit 1
  fi
  initdb --username="$user" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") --encoding=UTF8 \
    --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" >/dev/null
  printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
  if [ "$db" != postgres ]; then
    printf 'CREATE DATABASE "%s";\n' "${db//\"/\"\"}" |
      postgres --single -j -D "$PGDATA" postgres >/dev/null
  fi
  echo "postgres-standin: initialised $PGDATA (user $user, database $db)"
fi
unset POSTGRES_PASSWORD
exec "$@"
