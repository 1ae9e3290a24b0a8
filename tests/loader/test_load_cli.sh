#!/usr/bin/env bash
# `gspbot load` end to end: a whole-file error is printed once, --sheet on a CSV is refused, singular
# and plural in the dry run and the summary, an Excel "sep=;" line, and a real load into a fresh
# database (created from GSPBOT_TEST_PG, like tests/core/test_cli.sh).
# Usage: test_load_cli.sh PATH/TO/gspbot (GSPBOT_TEST_PG must be set).
set -u
G=$(realpath "$1")
: "${GSPBOT_TEST_PG:?GSPBOT_TEST_PG is not set: run through scripts/test.sh}"
pass=0; fail=0
work=$(mktemp -d /tmp/gspbot-load-cli-XXXXXX)
db="t_load_cli_$$"
cleanup() { psql "$GSPBOT_TEST_PG" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
unset DATABASE_URL GSP_PASSWORD GSP_PASSWORD_FILE GSPBOT_CONCURRENCY

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; sed 's/^/    /' <<<"$3" | head -20; }

# check NAME EXPECTED_EXIT EXPECTED_OUTPUT_REGEX -- COMMAND...
check() {
  local name=$1 want_rc=$2 want_out=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" = "$want_rc" ] && grep -qE -- "$want_out" <<<"$out"; then ok "$name"; else bad "$name" "exit $rc (want $want_rc)" "$out"; fi
}

# once NAME EXPECTED_EXIT FIXED_TEXT -- COMMAND...: the text appears on exactly one line of the output.
once() {
  local name=$1 want_rc=$2 text=$3; shift 4
  local out rc n
  out=$("$@" 2>&1); rc=$?
  n=$(grep -cF -- "$text" <<<"$out")
  if [ "$rc" = "$want_rc" ] && [ "$n" = 1 ]; then ok "$name"; else bad "$name" "exit $rc (want $want_rc), $n lines with the message (want 1)" "$out"; fi
}

# absent NAME REGEX -- COMMAND...: no line of the output matches.
absent() {
  local name=$1 re=$2; shift 3
  local out
  out=$("$@" 2>&1)
  if grep -qE -- "$re" <<<"$out"; then bad "$name" "matches /$re/" "$out"; else ok "$name"; fi
}

# Whole-file errors: printed once, exit 2, no database needed.
once missing_file_error_once 2 'cannot open /nonexistent/orders.csv: No such file or directory' -- \
  "$G" load /nonexistent/orders.csv
printf '\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest of an old workbook' > old.xls
once xls_error_once 2 'old.xls: an Excel 97-2003 workbook (.xls) is not read' -- "$G" load old.xls
: > empty.csv
once empty_file_error_once 2 'empty.csv: the file is empty' -- "$G" load empty.csv

printf 'consultora_code,product_code,quantity\n100,1,1\n' > one.csv
check sheet_on_csv_is_an_error 2 '^gspbot load: one\.csv: --sheet applies to XLSX files only$' -- \
  "$G" load one.csv --sheet Hoja1 --dry-run
once sheet_on_csv_error_once 2 '--sheet applies to XLSX files only' -- "$G" load one.csv --sheet Hoja1 --dry-run

# Row errors: each listed once, then one summary line.
printf 'consultora_code,product_code,quantity\n100,1,dos\n200,2,1\n' > bad.csv
once row_error_listed_once 2 'bad.csv:2: quantity: "dos" is not a whole number' -- "$G" load bad.csv --dry-run
check row_error_summary 2 '^gspbot load: bad\.csv: 1 error, nothing loaded$' -- "$G" load bad.csv --dry-run

# Singular and plural.
check dry_run_singular 0 'would load batch "one\.csv": 1 order, 1 item from 1 row; nothing written' -- \
  "$G" load one.csv --dry-run
check dry_run_one_unit 0 '^ +1  100 +1 item +1 unit +-$' -- "$G" load one.csv --dry-run
absent dry_run_no_1_units '\b1 units\b' -- "$G" load one.csv --dry-run
printf 'consultora_code,product_code,quantity\n100,1,2\n100,2,1\n200,1,1\n' > two.csv
check dry_run_plural 0 'would load batch "two\.csv": 2 orders, 3 items from 3 rows; nothing written' -- \
  "$G" load two.csv --dry-run
check dry_run_three_units 0 '^ +1  100 +2 items +3 units +-$' -- "$G" load two.csv --dry-run

# Excel's "sep=;" first line.
printf 'sep=;\r\nconsultora_code;consultora_name;product_code;quantity\r\n100;Pérez, Ana;1;2\r\n' > excel.csv
check excel_sep_line 0 '1 order, 1 item from 1 row' -- "$G" load excel.csv --dry-run
check excel_sep_line_name 0 'Pérez, Ana' -- "$G" load excel.csv --dry-run

# Real loads: the summary line's counts.
psql "$GSPBOT_TEST_PG" -qc "CREATE DATABASE $db" >/dev/null
export DATABASE_URL="$GSPBOT_TEST_PG dbname=$db"
check migrate 0 '^applied' -- "$G" migrate
check sheet_on_csv_with_database 2 '--sheet applies to XLSX files only' -- "$G" load one.csv --sheet Hoja1
check sheet_on_csv_writes_nothing 0 '^0$' -- psql "$DATABASE_URL" -Atc "SELECT count(*) FROM batches"
check load_singular 0 '^batch [0-9]+ "one\.csv": 1 order, 1 item from 1 row \(0 warnings\)$' -- "$G" load one.csv
printf 'consultora_code,consultora_name,product_code,quantity\n100,Ana,1,1\n100,Ana,1,2\n' > warn1.csv
check load_one_warning 0 '^batch [0-9]+ "warn1\.csv": 1 order, 1 item from 2 rows \(1 warning\)$' -- "$G" load warn1.csv
printf 'consultora_code,consultora_name,product_code,quantity\n100,Ana,1,1\n100,Bea,1,2\n' > warn2.csv
check load_two_warnings 0 '^batch [0-9]+ "warn2\.csv": 1 order, 1 item from 2 rows \(2 warnings\)$' -- "$G" load warn2.csv
check duplicate_refused 2 'already loaded as batch' -- "$G" load one.csv
once duplicate_error_once 2 'already loaded as batch' -- "$G" load one.csv
check three_batches 0 '^3$' -- psql "$DATABASE_URL" -Atc "SELECT count(*) FROM batches"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
