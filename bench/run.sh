#!/usr/bin/env bash
# Ingest benchmark for relais (issue 2). See bench/README.md.
#
#   bench/run.sh [FEEDS] [ITEMS]      default 1000 x 50; RUNS=3 by default
#
# Each run: `relais fetch` on an empty store (cold), again on the same files (warm: every
# body unchanged), the store's size, then the parse-only ceilings on the same bytes
# (benches/parse.rs, the program `cargo bench --bench parse` runs). Figures of every run
# go to bench/out/ingest.tsv; the summary (median [min – max]) is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
FEEDS=${1:-1000}
ITEMS=${2:-50}
RUNS=${RUNS:-3}
OUT=bench/out/farm
TSV=bench/out/ingest.tsv
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench: needs GNU time: apt-get install time" >&2; exit 1; }
need python3 "apt-get install python3"

machine
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "== generating the farm ($FEEDS feeds x $ITEMS items)"
rm -rf "$OUT"
python3 bench/gen_farm.py --feeds "$FEEDS" --items "$ITEMS" --out "$OUT"
BIN=$(build_relais bench)

# timed LABEL CMD…: run CMD under GNU time; sets WALL, CPU (user + sys, s), RSS (MiB).
timed() {
  local label=$1; shift
  "$TIME" -f "%e %U %S %M" -o bench/out/time.txt "$@" > "bench/out/$label.out" 2> "bench/out/$label.err" || {
    echo "bench: $label failed (see bench/out/$label.err)" >&2
    exit 1
  }
  local user sys kib
  read -r WALL user sys kib < bench/out/time.txt
  CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  RSS=$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')
}

rm -f "$TSV"
for run in $(seq 1 "$RUNS"); do
  echo "== run $run/$RUNS"
  rm -rf "$OUT/store"
  timed cold "$BIN" --config "$OUT/farm.toml" fetch
  # One line per source: `id ok 200 N new, M updated, K unchanged (… ms)`.
  ok=$(awk '$2 == "ok"' bench/out/cold.out | wc -l)
  items=$(awk '$2 == "ok" { n += $4 } END { print n + 0 }' bench/out/cold.out)
  [ "$ok" -eq "$FEEDS" ] || echo "bench: only $ok of $FEEDS feeds stored (see bench/out/cold.out)" >&2
  [ "$items" -gt 0 ] || { echo "bench: no item stored" >&2; exit 1; }
  awk -v w="$WALL" -v c="$CPU" -v r="$RSS" -v n="$items" -v f="$ok" 'BEGIN {
    printf "cold fetch: %d feeds, %d items  wall %.2f s  cpu %.2f s  peak RSS %.1f MiB  %.0f items/s  %.3f cpu-s/1000 items\n",
      f, n, w, c, r, n / w, c * 1000 / n }'
  record "$TSV" "cold: items/s (end to end)" "$(awk -v n="$items" -v w="$WALL" 'BEGIN { print n / w }')" "items/s"
  record "$TSV" "cold: wall" "$WALL" "s"
  record "$TSV" "cold: CPU (user+sys)" "$CPU" "s"
  record "$TSV" "cold: CPU per 1,000 items" "$(awk -v n="$items" -v c="$CPU" 'BEGIN { print c * 1000 / n }')" "s"
  record "$TSV" "cold: peak RSS" "$RSS" "MiB"
  cold_us=$(awk -v n="$items" -v c="$CPU" 'BEGIN { print c * 1e6 / n }')

  timed warm "$BIN" --config "$OUT/farm.toml" fetch
  unchanged=$(awk '$2 == "unchanged"' bench/out/warm.out | wc -l)
  [ "$unchanged" -eq "$FEEDS" ] || echo "bench: warm: only $unchanged of $FEEDS feeds unchanged (see bench/out/warm.out)" >&2
  echo "warm fetch: $unchanged feeds unchanged  wall $WALL s  cpu $CPU s  peak RSS $RSS MiB"
  record "$TSV" "warm: wall" "$WALL" "s"
  record "$TSV" "warm: CPU (user+sys)" "$CPU" "s"
  record "$TSV" "warm: peak RSS" "$RSS" "MiB"

  farm=$(du -sb "$OUT/feeds" | cut -f1)
  record "$TSV" "farm: feed bytes per item (for scale)" "$((farm / items))" "bytes"
  bytes=$(du -sb "$OUT/store" | cut -f1)
  echo "store: $bytes bytes on disk, $((bytes / items)) per item"
  record "$TSV" "store: bytes on disk" "$bytes" "bytes"
  record "$TSV" "store: bytes on disk per item" "$((bytes / items))" "bytes"

  RELAIS_FARM="$OUT/feeds" bench/out/bin/parse-bench --bench | tee bench/out/parse.out
  # `NAME  N items  T s  R items/s  U µs/item (best of 3)`: the figures counted from the end.
  for pair in "feed-rs parse only:feed-rs parse-only" "relais parse:relais parse" \
              "relais parse + normalise:relais parse + normalise"; do
    label=${pair%%:*} name=${pair#*:}
    line=$(grep -F "$label " bench/out/parse.out | grep -v "$label +" | head -1)
    [ -n "$line" ] || { echo "bench: no \`$label\` line in the parse benchmark" >&2; exit 1; }
    record "$TSV" "$name: items/s" "$(awk '{ print $(NF-6) }' <<< "$line")" "items/s"
    record "$TSV" "$name: µs per item" "$(awk '{ print $(NF-4) }' <<< "$line")" "µs"
  done
  feedrs_us=$(grep -F "feed-rs parse only " bench/out/parse.out | awk '{ print $(NF-4) }')
  for pair in "relais parse:relais parse" "relais parse + normalise:relais parse + normalise"; do
    label=${pair%%:*} name=${pair#*:}
    us=$(grep -F "$label " bench/out/parse.out | grep -v "$label +" | head -1 | awk '{ print $(NF-4) }')
    record "$TSV" "ratio: $name / feed-rs parse-only" "$(awk -v a="$us" -v b="$feedrs_us" 'BEGIN { print a / b }')" "x"
  done
  ratio=$(awk -v a="$cold_us" -v b="$feedrs_us" 'BEGIN { print a / b }')
  echo "relais CPU per item (cold fetch) / feed-rs parse-only: $ratio"
  record "$TSV" "ratio: relais cold CPU per item / feed-rs parse-only" "$ratio" "x"
done

echo "== summary of $RUNS runs: median [min – max] ($TSV)"
python3 bench/summarise.py "$TSV"
