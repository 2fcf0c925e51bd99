# shellcheck shell=bash
# Shared by the bench/*.sh scripts (sourced, not run). Each script records one figure per
# line in a TSV file, `name <TAB> value <TAB> unit`, once per run; summarise.py turns the
# runs into median [min – max]. New benchmarks (issue 8's peers, scale, story matching)
# add a script that writes the same TSV and reuse these functions.

# The machine, as BENCHMARKS.md records it.
machine() {
  echo "== machine"
  echo "cpus:   $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
  echo "memory: $(free -h | awk '/^Mem:/ {print $2}')"
  echo "os:     $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
  echo "rustc:  $(rustc --version 2>/dev/null || echo unknown)"
  echo "load:   $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine makes figures noisy)"
}

# python_peers: a virtual environment under bench/out/venv with the Python peers
# (lemon24/reader, feedparser) from PyPI, created on first use; prints its path. reader
# vendors a feedparser that imports sgmllib, gone from Python 3: sgmllib3k brings it back.
python_peers() {
  local venv=bench/out/venv
  if ! "$venv/bin/python" -c 'import reader, feedparser, sgmllib' > /dev/null 2>&1; then
    echo "== installing the Python peers into $venv (pip install reader feedparser sgmllib3k)" >&2
    python3 -m venv "$venv" >&2 && "$venv/bin/pip" install -q reader feedparser sgmllib3k >&2 || {
      echo "bench: could not install reader and feedparser into $venv" >&2
      return 1
    }
  fi
  echo "$venv"
}

# timed LABEL CMD…: run CMD under GNU time, its output in $TIMED_DIR/LABEL.out and .err
# (TIMED_DIR defaults to bench/out); stops the script if CMD fails. Sets WALL (s), CPU
# (user + sys of all threads, s) and RSS (peak, MiB).
timed() {
  local label=$1 dir=${TIMED_DIR:-bench/out} user sys kib
  shift
  /usr/bin/time -f "%e %U %S %M" -o "$dir/time.txt" "$@" > "$dir/$label.out" 2> "$dir/$label.err" || {
    echo "bench: $label failed (see $dir/$label.err)" >&2
    exit 1
  }
  read -r WALL user sys kib < "$dir/time.txt"
  CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  RSS=$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')
}

# need CMD HINT: stop with a message naming how to install CMD when it is missing.
need() {
  command -v "$1" > /dev/null 2>&1 || {
    echo "bench: needs \`$1\`: $2" >&2
    exit 1
  }
}

# record TSV NAME VALUE UNIT: one figure of one run.
record() {
  printf '%s\t%s\t%s\n' "$2" "$3" "$4" >> "$1"
}

# build_relais [bench]: build this checkout's release binary (and, with `bench`, the parse
# benchmark), copy them to bench/out/bin/ (relais, parse-bench) and print the path of the
# relais binary to measure.
#
# Why the ceremony: the target folder may be shared with other checkouts of relais
# (CARGO_TARGET_DIR). Cargo names a unit's output by package name, version and settings,
# not by checkout, and calls it fresh when this checkout's files are older than the
# output. So a plain `cargo build` here can keep (and `cargo run` run) a binary compiled
# from another checkout's sources. Touching one file per unit makes cargo compile them from
# this checkout; the build must report each unit as compiled (not fresh), and the copies
# are taken at once, before anyone else can build.
#
# RELAIS_BIN=PATH measures that binary instead (before/after comparisons of a change);
# the parse benchmark, when asked for, is still this checkout's.
build_relais() {
  mkdir -p bench/out/bin || return 1
  # BUILD=0: measure the binaries a previous script run left in bench/out/bin (saves a
  # release build when only the farm or the peers changed).
  if [ "${BUILD:-1}" = 0 ] && [ -x bench/out/bin/relais ] && { [ "${1:-}" != bench ] || [ -x bench/out/bin/parse-bench ]; }; then
    echo "== measuring the binaries already in bench/out/bin (BUILD=0)" >&2
    echo "${RELAIS_BIN:-bench/out/bin/relais}"
    return
  fi
  if [ -z "${RELAIS_BIN:-}" ]; then
    # The binary as `cargo build --release` makes it (no dev-dependencies unified in).
    compile_fresh bin --bin relais || return 1
    cp "$ARTIFACT" bench/out/bin/relais || return 1
  fi
  if [ "${1:-}" = bench ]; then
    compile_fresh bench --bench parse || return 1
    cp "$ARTIFACT" bench/out/bin/parse-bench || return 1
  fi
  if [ -n "${RELAIS_BIN:-}" ]; then
    echo "== measuring $RELAIS_BIN (RELAIS_BIN)" >&2
    [ -x "$RELAIS_BIN" ] || { echo "bench: RELAIS_BIN=$RELAIS_BIN is not an executable" >&2; return 1; }
    echo "$RELAIS_BIN"
    return
  fi
  echo bench/out/bin/relais
}

# compile_fresh KIND CARGO-ARGS…: `cargo build --release CARGO-ARGS` until the relais
# library and the KIND (bin or bench) target were compiled by this call from this
# checkout (see build_relais); sets ARTIFACT to the executable's path.
compile_fresh() {
  local kind=$1 try name
  shift
  # The unit's name: the argument after --bin or --bench (`relais`, `parse`, `scale`, …).
  name=${2:-relais}
  for try in 1 2 3; do
    echo "== building this checkout (release): $*" >&2
    touch src/lib.rs src/main.rs || return 1
    [ ! -f "benches/$name.rs" ] || touch "benches/$name.rs" || return 1
    cargo build --release --locked "$@" --message-format=json \
      > bench/out/build.json 2> bench/out/build.err || { cat bench/out/build.err >&2; return 1; }
    ARTIFACT=$(python3 - bench/out/build.json "$kind" "$name" <<'PY'
import json, sys
seen = {}
for line in open(sys.argv[1], encoding="utf-8"):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] in ("relais", sys.argv[3]):
        seen[m["target"]["kind"][0]] = (m["fresh"], m.get("executable"))
if all(k in seen and not seen[k][0] for k in ("lib", sys.argv[2])):
    print(seen[sys.argv[2]][1])
PY
)
    [ -z "$ARTIFACT" ] || return 0
    echo "bench: cargo reused another build's output (try $try); building again" >&2
  done
  echo "bench: could not build this checkout's $kind" >&2
  return 1
}

# wait_for WHAT SECONDS CMD…: retry CMD every 0.1 s until it succeeds, at most SECONDS.
wait_for() {
  local what=$1 tries=$(($2 * 10))
  shift 2
  until "$@" > /dev/null 2>&1; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || { echo "bench: timed out waiting for $what" >&2; exit 1; }
    sleep 0.1
  done
}

# free_port: a TCP port free on 127.0.0.1 now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_nginx ROOT DIR [PORT]: serve the files under ROOT statically on 127.0.0.1:PORT
# (default: a free port),
# with ETags and precompressed FILE.gz (gzip_static), from a configuration written to
# DIR/nginx.conf; pid, logs and temporary files stay in DIR. No system service is used:
# nginx runs in the foreground as the current user, in the background of this script.
# Sets NGINX (its base URL) and NGINX_PID; the caller stops it (kill -QUIT "$NGINX_PID").
start_nginx() {
  local root prefix port user_line=
  mkdir -p "$2/tmp" || return 1
  root=$(cd "$1" && pwd) && prefix=$(cd "$2" && pwd) || return 1
  port=${3:-$(free_port)}
  # As root, nginx's workers would otherwise switch to `nobody`, who may not read ROOT.
  [ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);"
  cat > "$prefix/nginx.conf" <<NGINX
# Written by bench/lib.sh (start_nginx): a static server set up as for production
# (sendfile, open file cache, keep-alive connections kept for as many requests as the
# client sends, as relais's hyper does), one worker per CPU.
$user_line
daemon off;
worker_processes auto;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    types {
        application/atom+xml atom;
        application/rss+xml rss;
        application/feed+json json;
    }
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    open_file_cache max=1000 inactive=60s;
    server {
        listen 127.0.0.1:$port;
        root $root;
        gzip_static on;
        etag on;
    }
}
NGINX
  nginx -t -q -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/error.log" || return 1
  nginx -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/error.log" &
  # shellcheck disable=SC2034 # for the caller
  NGINX_PID=$!
  # shellcheck disable=SC2034 # for the caller
  NGINX=http://127.0.0.1:$port
}
