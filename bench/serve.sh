#!/usr/bin/env bash
# Serving benchmark for relais (issue 3). See bench/README.md.
#
#   bench/serve.sh          RUNS=3 DURATION=10s THREADS=2 CONNECTIONS=32 by default
#
# `relais run` serves a 50-item channel's Atom feed; nginx, started here on another
# loopback port, serves the very same bytes (and relais's own gzip bytes as a .gz with
# gzip_static) from files. wrk loads each server in turn, in three modes:
#   fresh  200, identity body
#   gzip   200, Accept-Encoding: gzip
#   304    If-None-Match with that server's own ETag
# Everything listens on 127.0.0.1; every load run lasts DURATION; both servers are stopped
# on exit. Figures of every run go to bench/out/serve.tsv; the summary is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
FEEDS=20          # 20 partner feeds x 10 items: a channel of the 50 newest of 200 items
ITEMS=10
OUT=bench/out/serve
TSV=bench/out/serve.tsv
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}

need nginx "apt-get update && apt-get install -y nginx   (no service is started: this script runs its own)"
need wrk "apt-get update && apt-get install -y wrk"
need curl "apt-get install -y curl"
need python3 "apt-get install -y python3"

machine
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "nginx:  $(nginx -v 2>&1 | sed 's/^nginx version: //'), wrk: $(wrk -v 2>&1 | head -1 | cut -d' ' -f2)"
BIN=$(build_relais relais)

RELAIS_PID=
NGINX_PID=
cleanup() {
  # Only the two servers this script started, by their process ids.
  [ -n "$RELAIS_PID" ] && kill -TERM "$RELAIS_PID" 2> /dev/null && wait "$RELAIS_PID" 2> /dev/null
  [ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2> /dev/null && wait "$NGINX_PID" 2> /dev/null
  true
}
trap cleanup EXIT

echo "== relais: a farm of $FEEDS feeds x $ITEMS items, one channel of 50"
rm -rf "$OUT"
mkdir -p "$OUT/www/feeds"
# A long interval and retention: no poll or prune may change the store (and so the
# cached document) while the load runs.
python3 bench/gen_farm.py --feeds "$FEEDS" --items "$ITEMS" --out "$OUT/farm" \
  --interval 24h --retention 3650d --channel 50 > /dev/null
"$BIN" --config "$OUT/farm/farm.toml" run > "$OUT/relais.out" 2> "$OUT/relais.err" &
RELAIS_PID=$!
wait_for "relais to listen (see $OUT/relais.err)" 30 grep -q 'serving on http://' "$OUT/relais.out"
RELAIS=$(grep -o 'http://[0-9.:]*' "$OUT/relais.out" | head -1)
# Every source polled once (one log line per poll), so the channel is complete and stays so.
polled() { [ "$(grep -c 'polled\|poll failed' "$OUT/relais.err")" -ge "$FEEDS" ]; }
wait_for "relais to poll its $FEEDS sources (see $OUT/relais.err)" 60 polled
if grep -q 'poll failed' "$OUT/relais.err"; then
  echo "bench: a poll failed (see $OUT/relais.err)" >&2
  exit 1
fi
URL_PATH=/feeds/farm.atom
curl -sS -D "$OUT/relais.h" -o "$OUT/www$URL_PATH" "$RELAIS$URL_PATH"
curl -sS -H 'Accept-Encoding: gzip' -o "$OUT/www$URL_PATH.gz" "$RELAIS$URL_PATH"
header() { grep -i "^$1:" "$2" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
RELAIS_ETAG=$(header etag "$OUT/relais.h")
entries=$(grep -o '<entry' "$OUT/www$URL_PATH" | wc -l)
[ "$entries" -eq 50 ] || { echo "bench: $URL_PATH has $entries entries, not 50" >&2; exit 1; }
gunzip -c "$OUT/www$URL_PATH.gz" | cmp -s - "$OUT/www$URL_PATH" ||
  { echo "bench: relais's gzip body does not decompress to its identity body" >&2; exit 1; }
touch -r "$OUT/www$URL_PATH" "$OUT/www$URL_PATH.gz"
echo "relais on $RELAIS: $URL_PATH $(stat -c %s "$OUT/www$URL_PATH") bytes" \
  "($(stat -c %s "$OUT/www$URL_PATH.gz") gzipped), $entries entries, ETag $RELAIS_ETAG"

echo "== nginx: the same bytes from $OUT/www"
start_nginx "$OUT/www" "$OUT/nginx"
wait_for "nginx to listen (see $OUT/nginx/error.log)" 30 curl -sf -o /dev/null "$NGINX$URL_PATH"
curl -sS -D "$OUT/nginx.h" -o "$OUT/nginx.body" "$NGINX$URL_PATH"
NGINX_ETAG=$(header etag "$OUT/nginx.h")
cmp -s "$OUT/nginx.body" "$OUT/www$URL_PATH" || { echo "bench: nginx serves other bytes" >&2; exit 1; }
echo "nginx on $NGINX: same bytes, ETag $NGINX_ETAG"

# The request each mode sends, as wrk and curl options, for a server's ETag.
mode_headers() { # MODE ETAG
  case $1 in
    fresh) ;;
    gzip) printf '%s\n' -H 'Accept-Encoding: gzip' ;;
    304) printf '%s\n' -H "If-None-Match: $2" ;;
  esac
}

echo "== checking each mode once"
for server in relais nginx; do
  if [ $server = relais ]; then base=$RELAIS etag=$RELAIS_ETAG; else base=$NGINX etag=$NGINX_ETAG; fi
  for mode in fresh gzip 304; do
    mapfile -t opts < <(mode_headers $mode "$etag")
    got=$(curl -sS -o /dev/null -w '%{http_code} %{size_download} %header{content-encoding}' "${opts[@]}" "$base$URL_PATH")
    echo "$server $mode: status, bytes, encoding = $got"
    want=200; [ $mode = 304 ] && want=304
    [ "${got%% *}" = "$want" ] || { echo "bench: $server $mode answered ${got%% *}, not $want" >&2; exit 1; }
    if [ $mode = gzip ]; then
      [ "${got##* }" = gzip ] || { echo "bench: $server did not gzip" >&2; exit 1; }
    fi
  done
done

rm -f "$TSV"
for run in $(seq 1 "$RUNS"); do
  echo "== run $run/$RUNS: wrk -t$THREADS -c$CONNECTIONS -d$DURATION per mode and server"
  for mode in fresh gzip 304; do
    for server in relais nginx; do
      if [ $server = relais ]; then base=$RELAIS etag=$RELAIS_ETAG; else base=$NGINX etag=$NGINX_ETAG; fi
      mapfile -t opts < <(mode_headers $mode "$etag")
      wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s bench/wrk_report.lua "${opts[@]}" \
        "$base$URL_PATH" > "$OUT/wrk.out"
      read -r _ requests duration p50 p99 errors < <(grep '^WRK ' "$OUT/wrk.out")
      rps=$(awk -v n="$requests" -v d="$duration" 'BEGIN { printf "%.0f", n / (d / 1e6) }')
      printf '%-6s %-6s %9s req/s  p50 %6.2f ms  p99 %6.2f ms  errors %s\n' "$mode" "$server" "$rps" \
        "$(awk -v v="$p50" 'BEGIN { print v / 1000 }')" "$(awk -v v="$p99" 'BEGIN { print v / 1000 }')" "$errors"
      [ "$errors" -eq 0 ] || echo "bench: $server $mode: $errors errors (see $OUT/wrk.out)" >&2
      record "$TSV" "$mode: $server req/s" "$rps" "req/s"
      record "$TSV" "$mode: $server p99" "$(awk -v v="$p99" 'BEGIN { print v / 1000 }')" "ms"
      eval "rps_$server=$rps"
    done
    # shellcheck disable=SC2154 # set by the eval above
    record "$TSV" "$mode: ratio relais/nginx req/s" "$(awk -v a="$rps_relais" -v b="$rps_nginx" 'BEGIN { print a / b }')" "x"
  done
done

# A poll or prune during the runs would have changed the document under test.
now_etag=$(curl -sS -D - -o /dev/null "$RELAIS$URL_PATH" | grep -i '^etag:' | cut -d' ' -f2- | tr -d '\r')
[ "$now_etag" = "$RELAIS_ETAG" ] || echo "bench: relais's ETag changed during the runs ($now_etag)" >&2

echo "== summary of $RUNS runs: median [min – max] ($TSV)"
python3 bench/summarise.py "$TSV"
echo "== relais beside nginx (medians of $RUNS runs); target: relais >= 0.5 x nginx's req/s"
python3 - "$TSV" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1], encoding="utf-8"):
    name, value, _ = line.rstrip("\n").split("\t")
    runs.setdefault(name, []).append(float(value))
med = {name: statistics.median(values) for name, values in runs.items()}
print(f"{'mode':<6} {'relais req/s':>12} {'p99 ms':>7} {'nginx req/s':>12} {'p99 ms':>7} {'ratio':>6}  target")
for mode in ("fresh", "gzip", "304"):
    ratio = med[f"{mode}: ratio relais/nginx req/s"]
    print(f"{mode:<6} {med[f'{mode}: relais req/s']:>12.0f} {med[f'{mode}: relais p99']:>7.2f} "
          f"{med[f'{mode}: nginx req/s']:>12.0f} {med[f'{mode}: nginx p99']:>7.2f} {ratio:>6.2f}  "
          + ("met" if ratio >= 0.5 else "MISSED"))
PY
