#!/usr/bin/env bash
# Runs `relais parse --json` on every file of the feedparser corpus, one process per file
# (so an abort or a stack overflow would show too), with a 10 s limit each, and counts:
# exit 0 (parsed), 1 (clean error), 101 (panic: must be 0), 124 (hang: must be 0), other.
#   bench/corpus.sh [CORPUS_DIR ...]     default ../shared/corpus/feedparser*
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --locked --quiet || exit 1
BIN="$CARGO_TARGET_DIR/release/relais"
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=(../shared/corpus/feedparser ../shared/corpus/feedparser-v6.0.14-only)
declare -A count
failures=()
total=0
while IFS= read -r -d '' f; do
  total=$((total + 1))
  timeout 10 "$BIN" parse --json "$f" > /dev/null 2>/tmp/relais-corpus-err.txt
  code=$?
  count[$code]=$(( ${count[$code]:-0} + 1 ))
  case $code in 0|1) ;; *) failures+=("$code $f");; esac
done < <(find "${dirs[@]}" -type f \( -name '*.xml' -o -name '*.json' -o -name '*.rdf' \) -print0 | sort -z)
echo "files: $total"
for code in "${!count[@]}"; do
  case $code in 0) what="parsed";; 1) what="clean error";; 101) what="PANIC";; 124) what="HANG";; *) what="other";; esac
  echo "exit $code ($what): ${count[$code]}"
done
for f in "${failures[@]}"; do echo "FAILED: $f"; done
[ ${#failures[@]} -eq 0 ]
