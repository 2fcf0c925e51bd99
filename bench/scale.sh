#!/usr/bin/env bash
# Scale benchmark for relais (issue 8, figure e). See bench/README.md.
#
#   bench/scale.sh          ITEMS=1000000 SOURCES=10000 by default; REBUILD=1 rebuilds the store
#
# 1. builds a store of ITEMS items from SOURCES sources through the library
#    (benches/scale.rs: a generated `relais backup` file loaded by Store::restore), unless
#    bench/out/scale/store already holds one built with the same ITEMS and SOURCES;
#    parks its sources (not due for a year) so the daemon measured below polls nothing;
# 2. disk bytes per item (`du -sb` of the store folder);
# 3. `relais items --channel reseau --limit 50` and `relais digest preview` under GNU time:
#    a channel's selection and a weekly digest built from the 1M-item store, each in a
#    process of its own (store open included);
# 4. `relais run` on the store: start-up time (until it prints `serving on`), the first
#    request of the channel's Atom feed (rendered from the store) and a second one
#    (cached), then peak RSS of the daemon (GNU time) after a clean stop.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ITEMS=${ITEMS:-1000000}
SOURCES=${SOURCES:-10000}
OUT=bench/out/scale
TSV=bench/out/scale.tsv
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench: needs GNU time: apt-get install time" >&2; exit 1; }
need curl "apt-get install -y curl"

machine
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
BIN=$(build_relais)
mkdir -p "$OUT"
if [ "${REBUILD:-0}" = 1 ] || [ "$(cat "$OUT/built-for" 2>/dev/null)" != "$ITEMS $SOURCES" ]; then
  compile_fresh bench --bench scale
  cp "$ARTIFACT" bench/out/bin/scale-bench
  rm -rf "$OUT/store" "$OUT/built-for"
  echo "== building a store of $ITEMS items from $SOURCES sources (benches/scale.rs)"
  RELAIS_SCALE_STORE="$OUT/store" RELAIS_SCALE_ITEMS=$ITEMS RELAIS_SCALE_SOURCES=$SOURCES \
    "$TIME" -f "%e %U %S %M" -o "$OUT/build.time" bench/out/bin/scale-bench | tee "$OUT/build.out"
  RELAIS_SCALE_STORE="$OUT/store" RELAIS_SCALE_SOURCES=$SOURCES RELAIS_SCALE_PARK=1 bench/out/bin/scale-bench
  echo "$ITEMS $SOURCES" > "$OUT/built-for"
fi

# The configuration: every source of the store, one channel of the 50 newest stories of
# all of them, one weekly digest of that channel (its SMTP server is never reached: the
# digest is only previewed).
{
  echo '# Written by bench/scale.sh.'
  printf '[server]\nlisten = "127.0.0.1:0"\n\n[store]\npath = "store"\nretention = "3650d"\n\n'
  printf '[smtp]\nhost = "127.0.0.1"\nport = 9\nsecurity = "none"\n\n'
  for s in $(seq 0 $((SOURCES - 1))); do
    printf '[[source]]\nid = "s%05d"\nurl = "http://127.0.0.1:9/s%05d.rss"\n\n' "$s" "$s"
  done
  printf '[[channel]]\nid = "reseau"\ntitle = "Tout le réseau"\nmax_items = 50\n\n'
  printf '[[digest]]\nid = "hebdo"\ntitle = "La lettre du réseau"\nschedule = "0 0 8 * * Mon"\n'
  printf 'timezone = "Europe/Paris"\nchannels = ["reseau"]\nfrom = "veille@reseau.example.org"\n'
  printf 'to = ["membres@reseau.example.org"]\nlocale = "fr"\n'
} > "$OUT/scale.toml"

rm -f "$TSV"
bytes=$(du -sb "$OUT/store" | cut -f1)
echo "store: $bytes bytes on disk for $ITEMS items: $((bytes / ITEMS)) per item"
record "$TSV" "scale: store bytes on disk per item" "$((bytes / ITEMS))" "bytes"

TIMED_DIR=$OUT
timed items "$BIN" --config "$OUT/scale.toml" items --channel reseau --limit 50
echo "channel selection (relais items --channel, own process): wall $WALL s, peak RSS $RSS MiB"
record "$TSV" "scale: relais items --channel (process) wall" "$WALL" "s"
timed digest "$BIN" --config "$OUT/scale.toml" digest preview hebdo --period 2026-W47 --out "$OUT/digest.html"
echo "digest build (relais digest preview, own process): wall $WALL s, peak RSS $RSS MiB"
record "$TSV" "scale: digest preview (process) wall" "$WALL" "s"
record "$TSV" "scale: digest preview peak RSS" "$RSS" "MiB"

# GNU time does not pass signals on: the daemon (its child) is stopped by its own id.
TIME_PID=
RELAIS_PID=
cleanup() {
  [ -n "$RELAIS_PID" ] && kill -TERM "$RELAIS_PID" 2> /dev/null
  [ -n "$TIME_PID" ] && wait "$TIME_PID" 2> /dev/null
  true
}
trap cleanup EXIT
now() { date +%s.%N; }
t0=$(now)
"$TIME" -f "%e %M" -o "$OUT/daemon.time" "$BIN" --config "$OUT/scale.toml" run > "$OUT/daemon.out" 2> "$OUT/daemon.err" &
TIME_PID=$!
wait_for "relais to start" 10 pgrep -P "$TIME_PID"
RELAIS_PID=$(pgrep -P "$TIME_PID")
wait_for "relais to listen (see $OUT/daemon.err)" 120 grep -q 'serving on http://' "$OUT/daemon.out"
t1=$(now)
startup=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
URL=$(grep -o 'http://[0-9.:]*' "$OUT/daemon.out" | head -1)
first=$(curl -sf -o "$OUT/reseau.atom" -w '%{time_total}' "$URL/feeds/reseau.atom")
second=$(curl -sf -o /dev/null -w '%{time_total}' "$URL/feeds/reseau.atom")
entries=$(grep -c '<entry>' "$OUT/reseau.atom" || true)
echo "daemon: start-up $startup s (to 'serving on'); channel feed: first $first s ($entries entries, rendered), second $second s (cached)"
record "$TSV" "scale: daemon start-up" "$startup" "s"
record "$TSV" "scale: channel render (first request)" "$first" "s"
record "$TSV" "scale: channel (second request, cached)" "$second" "s"
kill -TERM "$RELAIS_PID"
wait "$TIME_PID" || true
RELAIS_PID=
TIME_PID=
read -r _ kib < "$OUT/daemon.time"
rss=$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')
echo "daemon: peak RSS $rss MiB"
record "$TSV" "scale: daemon peak RSS" "$rss" "MiB"
python3 bench/summarise.py "$TSV"
