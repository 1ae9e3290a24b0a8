#!/usr/bin/env bash
# Loader benchmark (issue 4): on one throwaway PostgreSQL, each contender into its own fresh
# database: `gspbot load` of a 1,000,000-row CSV (200,000 orders) and of a 200,000-row XLSX; the
# floor, `psql \copy` of the same rows already normalised into orders + order_items; and the
# original's stack, pandas (+openpyxl) + psycopg2 doing the same validation and grouping.
# Prints wall time, rows/s and peak RSS (GNU time) per contender.
#
#   tests/bench/load/run.sh [ROWS [XLSX_ROWS]]     (defaults 1000000 200000; ~5 minutes)
#
# Needs: cmake, cc, libxlsxwriter-dev, PostgreSQL server, /usr/bin/time, and for the comparison
# Debian's python3-pandas python3-openpyxl python3-psycopg2 (run with /usr/bin/python3).
# Uses `gspbot` from the build when it links, else bench_load.c (the same library calls).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
rows=${1:-1000000}
xrows=${2:-200000}
build=${BUILD:-$repo/build-bench}
work=$(mktemp -d /tmp/gspbot-bench-load.XXXXXX)
chmod 755 "$work"
pgdir=$work/pg
cleanup() { "$repo/scripts/pg.sh" stop "$pgdir" || true; rm -rf "$work"; }
trap cleanup EXIT

echo "building (Release) in $build ..." >&2
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target loader >/dev/null
gspbot=""
if cmake --build "$build" -j2 --target gspbot >/dev/null 2>&1; then gspbot=$build/src/cli/gspbot; fi
libs=$(pkg-config --libs libpq libzip expat libcjson libcurl libcrypto)
cc -O2 -o "$work/gen" "$here/gen.c" $(pkg-config --cflags --libs xlsxwriter)
cc -O2 -I"$repo/loader" $(pkg-config --cflags libpq) -o "$work/bench_load" "$here/bench_load.c" "$build/loader/libloader.a" $libs -lm

echo "generating $rows CSV rows and $xrows XLSX rows ..." >&2
"$work/gen" "$work" "$rows" "$xrows"
ls -la "$work"/orders.csv "$work"/orders.xlsx >&2

conn=$("$repo/scripts/pg.sh" start "$pgdir")
newdb() { # prints the conninfo of a fresh migrated database
  local name="bench_$(date +%s%N)"
  psql "$conn" -qAtc "CREATE DATABASE $name" >/dev/null
  local db="$conn dbname=$name"
  if [ -n "$gspbot" ]; then (cd "$work" && DATABASE_URL="$db" "$gspbot" migrate >/dev/null)
  else for f in "$repo"/schema/*.sql; do psql "$db" -qAt -v ON_ERROR_STOP=1 -f "$f" >/dev/null; done; fi
  echo "$db"
}

printf '%-34s %9s %12s %10s\n' contender "wall s" "rows/s" "peak RSS" | tee "$work/results.txt"
measure() { # label rows command...
  local label=$1 nrows=$2; shift 2
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >"$work/out.txt" 2>"$work/err.txt" ||
    { echo "$label FAILED:" >&2; tail -5 "$work/err.txt" >&2; return 0; }
  read -r wall rss <"$work/time.txt"
  printf '%-34s %9.2f %12.0f %8.0f MB\n' "$label" "$wall" "$(echo "$nrows / $wall" | bc -l)" \
    "$(echo "$rss / 1024" | bc -l)" | tee -a "$work/results.txt"
}

load_cmd() { # db file
  if [ -n "$gspbot" ]; then (cd "$work" && DATABASE_URL="$1" exec "$gspbot" load "$2" --json)
  else "$work/bench_load" "$1" "$2"; fi
}
export -f load_cmd
export gspbot work

cat >"$work/floor.sql" <<SQL
BEGIN;
INSERT INTO batches (id, name) VALUES (1, 'floor');
\copy orders (id, batch_id, seq, consultora_code, consultora_name) from '$work/floor_orders.tsv'
\copy order_items (order_id, product_code, quantity, source_lines) from '$work/floor_items.tsv'
COMMIT;
SQL

loader=${gspbot:+gspbot load}
loader=${loader:-bench_load}
db=$(newdb); measure "psql \\copy floor (CSV rows)" "$rows" psql "$db" -qAt -v ON_ERROR_STOP=1 -f "$work/floor.sql"
db=$(newdb); measure "$loader CSV" "$rows" bash -c 'load_cmd "$0" "$1"' "$db" "$work/orders.csv"
check=$(psql "$db" -qAtc "SELECT count(*) || ' orders, ' || (SELECT count(*) FROM order_items) || ' items' FROM orders")
echo "  (loaded: $check)"
db=$(newdb); measure "$loader XLSX" "$xrows" bash -c 'load_cmd "$0" "$1"' "$db" "$work/orders.xlsx"
if /usr/bin/python3 -c 'import pandas, openpyxl, psycopg2' 2>/dev/null; then
  db=$(newdb); measure "pandas+psycopg2 CSV" "$rows" /usr/bin/python3 "$here/pandas_loader.py" "$db" "$work/orders.csv"
  db=$(newdb); measure "pandas+openpyxl+psycopg2 XLSX" "$xrows" /usr/bin/python3 "$here/pandas_loader.py" "$db" "$work/orders.xlsx"
else
  echo "pandas/openpyxl/psycopg2 missing: apt-get install python3-pandas python3-openpyxl python3-psycopg2" >&2
fi
