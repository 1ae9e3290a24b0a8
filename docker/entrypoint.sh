#!/bin/sh
# Entry point of the gspbot image (run under tini): `docker run IMAGE migrate` runs `gspbot migrate`.
# A first argument naming one of the image's programs (gspbot, gspbot-sim, gspbot-sim-demo,
# gspbot-healthcheck, sh, bash) runs that program instead.
#
# DATABASE_PASSWORD_FILE (a Compose or Swarm secret) gives libpq the database password without
# putting it in DATABASE_URL or the environment: it is written to ~/.pgpass (mode 0600), which
# libpq reads for every connection of this container — `docker exec ... gspbot status` included.
set -eu
if [ -n "${DATABASE_PASSWORD_FILE:-}" ]; then
  if [ ! -r "$DATABASE_PASSWORD_FILE" ]; then
    echo "gspbot-entrypoint: DATABASE_PASSWORD_FILE: cannot read $DATABASE_PASSWORD_FILE" \
      "(is the secret readable by uid $(id -u)?)" >&2
    exit 3
  fi
  umask 077
  tmp=$(mktemp "$HOME/.pgpass.XXXXXX")
  # One trailing newline dropped (as for GSP_PASSWORD_FILE); ':' and '\' escaped for pgpass.
  printf '*:*:*:*:%s\n' "$(sed -e 's/[\\:]/\\&/g' "$DATABASE_PASSWORD_FILE")" >"$tmp"
  mv -f "$tmp" "$HOME/.pgpass"
  umask 022
fi
case "${1:-}" in
  gspbot | gspbot-sim | gspbot-sim-demo | gspbot-healthcheck | sh | bash) exec "$@" ;;
  *) exec gspbot "$@" ;;
esac
