#!/usr/bin/env bash
# Checks deploy/relais.service with `systemd-analyze verify`, as systemd would read it.
# verify insists that ExecStart's binary exists, so the unit is checked in a scratch root
# holding the unit and the relais binary at the path the unit names
# (/usr/local/bin/relais); nothing is installed on this machine.
#   deploy/verify.sh [path/to/relais]   # default: target/release/relais, else target/debug/relais
# Needs systemd-analyze (Debian/Ubuntu: apt-get install systemd).
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-}"
if [[ -z "$binary" ]]; then
  target="${CARGO_TARGET_DIR:-target}"
  for candidate in "$target/release/relais" "$target/debug/relais"; do
    if [[ -x "$candidate" ]]; then binary="$candidate"; break; fi
  done
fi
if [[ -z "$binary" || ! -x "$binary" ]]; then
  echo "verify.sh: no relais binary: run cargo build --release --locked first, or pass its path" >&2
  exit 1
fi
command -v systemd-analyze >/dev/null || { echo "verify.sh: systemd-analyze not found (apt-get install systemd)" >&2; exit 1; }

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
install -D -m 0755 "$binary" "$root/usr/local/bin/relais"
install -D -m 0755 /bin/kill "$root/bin/kill"
install -D -m 0644 deploy/relais.service "$root/etc/systemd/system/relais.service"
# The targets the unit is ordered against (network-online, multi-user, sysinit…).
mkdir -p "$root/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
# verify prints problems and exits non-zero on errors; warnings are errors here too.
output="$(systemd-analyze verify --man=no --generators=no --root="$root" \
  "$root/etc/systemd/system/relais.service" 2>&1)" || { echo "$output" >&2; exit 1; }
if [[ -n "$output" ]]; then
  echo "$output" >&2
  exit 1
fi
echo "deploy/relais.service: systemd-analyze verify ok ($(systemd-analyze --version | head -1))"
