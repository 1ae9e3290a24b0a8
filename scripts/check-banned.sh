#!/usr/bin/env bash
# Fails when C sources call a banned function (house style: sprintf strcpy strcat strtok atoi
# gets; use snprintf, memcpy with lengths, strtol with checks). Prints every offending line.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets)[[:space:]]*\('
files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null || find . -name '*.c' -o -name '*.h')
[ -n "$files" ] || exit 0
# Strip // comments before matching so prose may name the functions.
if hits=$(grep -nE "$pattern" $files | grep -vE ':[0-9]+:[[:space:]]*(//|/?\*)'); then
  echo "banned functions used (use snprintf, memcpy with lengths, strtol with checks instead):"
  echo "$hits"
  exit 1
fi
echo "no banned functions in $(echo "$files" | wc -w) files"
