#!/usr/bin/env bash
# Installs the Debian packages gspbot needs to build, test and run, non-interactively, and only
# those that are missing (no apt-get at all when everything is there). Sourced or run.
set -euo pipefail
GSPBOT_PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev git procps ca-certificates curl jq
  libwebsockets-dev libcjson-dev libcurl4-openssl-dev libpq-dev libzip-dev libexpat1-dev
  libcmocka-dev libssl-dev libxlsxwriter-dev
  postgresql postgresql-client
  chromium fonts-liberation
)
missing=()
for p in "${GSPBOT_PACKAGES[@]}" ${GSPBOT_EXTRA_PACKAGES:-}; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's postgresql package starts a system cluster on port 5432; we never use it.
  if command -v pg_lsclusters >/dev/null && [ "$(id -u)" = 0 ]; then
    pg_lsclusters -h 2>/dev/null | while read -r ver name _; do
      pg_ctlcluster "$ver" "$name" stop 2>/dev/null || true
    done
  fi
fi
