#!/usr/bin/env bash
# Ingest benchmark for relais (issue: ingest spine). See bench/README.md.
#   bench/run.sh [FEEDS] [ITEMS]      default 1000 x 50
set -euo pipefail
cd "$(dirname "$0")/.."
FEEDS=${1:-1000}
ITEMS=${2:-50}
OUT=bench/out/farm
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}

echo "== machine"; nproc; grep -m1 'model name' /proc/cpuinfo || true; free -h | head -2
echo "== generating the farm ($FEEDS feeds x $ITEMS items)"
rm -rf "$OUT"
python3 bench/gen_farm.py --feeds "$FEEDS" --items "$ITEMS" --out "$OUT"
cargo build --release --locked --quiet
BIN="$CARGO_TARGET_DIR/release/relais"
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "needs GNU time (apt-get install time)"; exit 1; }

run() { # label, then the command
  local label=$1; shift
  "$TIME" -f "%e %U %S %M" -o bench/out/time.txt "$@" > bench/out/stdout.txt 2> bench/out/stderr.txt
  read -r wall user sys rss < bench/out/time.txt
  local stored
  stored=$(grep -c ' ok ' bench/out/stdout.txt || true)
  awk -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v n="$((FEEDS*ITEMS))" -v f="$stored" \
    'BEGIN { printf "%-34s wall %6.2f s  cpu %6.2f s  peak RSS %6.1f MiB  %9.0f items/s  %5.2f cpu-s/1000 items  (%d feeds stored)\n", l, w, u+s, r/1024, (w>0?n/w:0), (u+s)*1000/n, f }'
}

echo "== relais fetch (cold: empty store, every feed parsed and stored)"
rm -rf "$OUT/store"
run "relais fetch, cold" "$BIN" --config "$OUT/farm.toml" fetch
echo "== relais fetch (warm: same files, bodies unchanged)"
run "relais fetch, warm" "$BIN" --config "$OUT/farm.toml" fetch
du -sh "$OUT/store" | awk '{print "store on disk: " $1}'

echo "== parse-only ceilings on the same bytes"
RELAIS_FARM="$OUT/feeds" cargo bench --locked --quiet --bench parse
