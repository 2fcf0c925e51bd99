#!/usr/bin/env bash
# Ingest benchmark for relais and its peers (issues 2 and 8). See bench/README.md.
#
#   bench/run.sh [FEEDS] [ITEMS]      default 1000 x 50; RUNS=3 by default
#
# The farm is served by nginx on loopback (ETag, precompressed .gz with gzip_static).
# Each run, back to back on the same farm:
#   relais   `relais fetch` on an empty store (cold), then again (warm: every feed 304)
#   reader   lemon24/reader update_feeds() on an empty database (cold), then again (warm)
#   newsboat `newsboat -x reload` on an empty cache (cold), then again (warm)  [NEWSBOAT=0 skips]
#   ceilings benches/parse.rs on the same bytes (raw quick-xml scan, feed-rs, relais parse,
#            parse + normalise) and feedparser parse-only
# Figures of every run go to bench/out/ingest.tsv; the summary (median [min – max]) and the
# ratios are printed at the end. PEERS=0 measures relais alone.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
FEEDS=${1:-1000}
ITEMS=${2:-50}
RUNS=${RUNS:-3}
PEERS=${PEERS:-1}
NEWSBOAT=${NEWSBOAT:-1}
WORKERS=${WORKERS:-16}   # reader's update_feeds(workers=…) and newsboat's reload-threads
OUT=bench/out/farm
TSV=bench/out/ingest.tsv
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench: needs GNU time: apt-get install time" >&2; exit 1; }
need python3 "apt-get install python3"
need nginx "apt-get update && apt-get install -y nginx   (no service is started: this script runs its own)"
if [ "$PEERS" = 1 ]; then
  VENV=$(python_peers)
  if [ "$NEWSBOAT" = 1 ] && ! command -v newsboat > /dev/null; then
    echo "bench: newsboat missing (apt-get install -y newsboat); measuring without it" >&2
    NEWSBOAT=0
  fi
fi

machine
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "nginx:  $(nginx -v 2>&1 | sed 's/^nginx version: //')"
if [ "$PEERS" = 1 ]; then
  echo "peers:  $("$VENV/bin/python" bench/peers.py versions)"
  [ "$NEWSBOAT" = 1 ] && echo "        $(newsboat --version | head -1)"
fi

NGINX_PID=
cleanup() {
  # Only the nginx this script started, by its process id.
  [ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2> /dev/null && wait "$NGINX_PID" 2> /dev/null
  true
}
trap cleanup EXIT

PORT=$(free_port)
echo "== generating the farm ($FEEDS feeds x $ITEMS items), served on 127.0.0.1:$PORT"
rm -rf "$OUT"
python3 bench/gen_farm.py --feeds "$FEEDS" --items "$ITEMS" --out "$OUT" --base-url "http://127.0.0.1:$PORT"
start_nginx "$OUT/feeds" bench/out/nginx-farm "$PORT"
wait_for "nginx to serve the farm" 10 curl -sf -o /dev/null "$NGINX/$(head -1 "$OUT/urls.txt" | sed 's|.*/||')"
BIN=$(build_relais bench)

# cold_figures NAME ITEMS / warm_figures NAME: print and record the figures `timed` just
# measured (ITEMS: items stored).
cold_figures() {
  local name=$1 items=$2
  awk -v w="$WALL" -v c="$CPU" -v r="$RSS" -v n="$items" -v who="$name" 'BEGIN {
    printf "%s cold: %d items  wall %.2f s  cpu %.2f s  peak RSS %.1f MiB  %.0f items/s  %.3f cpu-s/1000 items\n",
      who, n, w, c, r, n / w, c * 1000 / n }'
  record "$TSV" "$name cold: items/s (end to end)" "$(awk -v n="$items" -v w="$WALL" 'BEGIN { print n / w }')" "items/s"
  record "$TSV" "$name cold: wall" "$WALL" "s"
  record "$TSV" "$name cold: CPU (user+sys)" "$CPU" "s"
  record "$TSV" "$name cold: CPU per 1,000 items" "$(awk -v n="$items" -v c="$CPU" 'BEGIN { print c * 1000 / n }')" "s"
  record "$TSV" "$name cold: peak RSS" "$RSS" "MiB"
}
warm_figures() {
  echo "$1 warm: wall $WALL s  cpu $CPU s  peak RSS $RSS MiB"
  record "$TSV" "$1 warm: wall" "$WALL" "s"
  record "$TSV" "$1 warm: CPU (user+sys)" "$CPU" "s"
  record "$TSV" "$1 warm: peak RSS" "$RSS" "MiB"
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
  cold_figures relais "$items"
  relais_cold_rate=$(awk -v n="$items" -v w="$WALL" 'BEGIN { print n / w }')
  cold_us=$(awk -v n="$items" -v c="$CPU" 'BEGIN { print c * 1e6 / n }')

  timed warm "$BIN" --config "$OUT/farm.toml" fetch
  # `id not-modified 304 …`: nginx answered the ETag relais sent back.
  unchanged=$(awk '$2 == "not-modified"' bench/out/warm.out | wc -l)
  [ "$unchanged" -eq "$FEEDS" ] || echo "bench: warm: only $unchanged of $FEEDS feeds answered 304 (see bench/out/warm.out)" >&2
  warm_figures relais
  relais_warm_wall=$WALL

  farm=$(du -sb --exclude='*.gz' "$OUT/feeds" | cut -f1)
  record "$TSV" "farm: feed bytes per item (for scale)" "$((farm / items))" "bytes"
  bytes=$(du -sb "$OUT/store" | cut -f1)
  echo "store: $bytes bytes on disk, $((bytes / items)) per item"
  record "$TSV" "store: bytes on disk" "$bytes" "bytes"
  record "$TSV" "store: bytes on disk per item" "$((bytes / items))" "bytes"

  RELAIS_FARM="$OUT/feeds" bench/out/bin/parse-bench --bench | tee bench/out/parse.out
  # `NAME  N items  T s  R items/s  U µs/item (best of 3)`: the figures counted from the end.
  for pair in "raw scan (quick-xml/serde):raw scan quick-xml/serde_json" \
              "feed-rs parse only:feed-rs parse-only" "relais parse:relais parse" \
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

  [ "$PEERS" = 1 ] || continue
  # lemon24/reader: same URLs, same nginx, a fresh database per run.
  rm -f bench/out/reader.sqlite
  timed reader-cold "$VENV/bin/python" bench/peers.py reader bench/out/reader.sqlite "$OUT/urls.txt" "$WORKERS"
  reader_items=$(awk '/^reader:/ { print $2 }' bench/out/reader-cold.out)
  cold_figures reader "$reader_items"
  reader_cold_rate=$(awk -v n="$reader_items" -v w="$WALL" 'BEGIN { print n / w }')
  timed reader-warm "$VENV/bin/python" bench/peers.py reader bench/out/reader.sqlite "$OUT/urls.txt" "$WORKERS"
  warm_figures reader
  record "$TSV" "ratio: relais / reader cold items/s" "$(awk -v a="$relais_cold_rate" -v b="$reader_cold_rate" 'BEGIN { print a / b }')" "x"
  record "$TSV" "ratio: reader / relais warm wall (times faster)" "$(awk -v a="$WALL" -v b="$relais_warm_wall" 'BEGIN { print a / b }')" "x"

  if [ "$NEWSBOAT" = 1 ]; then
    # Headless: `-x reload` fetches every URL of the list into a fresh cache and exits.
    rm -rf bench/out/newsboat && mkdir -p bench/out/newsboat
    printf 'reload-threads %s\n' "$WORKERS" > bench/out/newsboat/config
    nb=(env HOME="$PWD/bench/out/newsboat" newsboat -u "$OUT/urls.txt" -c bench/out/newsboat/cache.db
        -C bench/out/newsboat/config -x reload)
    timed newsboat-cold "${nb[@]}"
    nb_items=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from rss_item").fetchone()[0])' bench/out/newsboat/cache.db)
    cold_figures newsboat "$nb_items"
    timed newsboat-warm "${nb[@]}"
    warm_figures newsboat
  fi

  "$VENV/bin/python" bench/peers.py feedparser "$OUT/feeds" | tee bench/out/feedparser.out
  line=$(grep -F "feedparser parse only" bench/out/feedparser.out)
  record "$TSV" "feedparser parse-only: items/s" "$(awk '{ print $(NF-6) }' <<< "$line")" "items/s"
  record "$TSV" "feedparser parse-only: µs per item" "$(awk '{ print $(NF-4) }' <<< "$line")" "µs"
done

echo "== summary of $RUNS runs: median [min – max] ($TSV)"
python3 bench/summarise.py "$TSV"
