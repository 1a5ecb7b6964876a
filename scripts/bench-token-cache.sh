#!/usr/bin/env bash
# What the token cache saves, and what each `credentials.token_cache` setting costs per command.
#
# 1. Ten `cybedefend auth token` calls in a row against the platform double with the default
#    file cache: how many token exchanges the double received (target: exactly 1).
# 2. `auth token` timed with hyperfine under `token_cache: file`, `keyring` (a real
#    gnome-keyring on a private D-Bus) and `off` (an exchange every time), and each one's ratio
#    to `file`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v hyperfine >/dev/null; then
  echo "installing hyperfine (Debian package)"
  apt-get install -y -qq hyperfine >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq hyperfine; }
fi
echo "== building (release)"
cargo build --release -q -p cybedefend -p cybedefend-platform-double
work="$(mktemp -d)"
pat="cdp_bench_token_cache_01"
target/release/platform-double "$pat" > "$work/double.out" &
pids=($!)
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q READY "$work/double.out" 2>/dev/null && break; sleep 0.05; done
url="$(awk '/READY/{print $2}' "$work/double.out")"
export HOME="$work/home" CYBEDEFEND_PAT="$pat" CYBEDEFEND_API_URL="$url" CYBEDEFEND_AUTH_ENDPOINT="$url"
bin="$PWD/target/release/cybedefend"
exchanges() { curl -s "$url/__double/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token_exchanges"])'; }

echo "== ten commands, default cache"
for i in $(seq 10); do
  start=$(date +%s%N)
  "$bin" auth token >/dev/null
  end=$(date +%s%N)
  printf 'call %2d: %6.2f ms\n' "$i" "$(( (end - start) / 10000 ))e-2"
done
echo "token exchanges seen by the double: $(exchanges) (target: 1)"

echo "== a private Secret Service (dbus + gnome-keyring) for token_cache: keyring"
for d in run data cache config; do mkdir -p "$work/xdg/$d"; chmod 700 "$work/xdg/$d"; done
export XDG_RUNTIME_DIR="$work/xdg/run" XDG_DATA_HOME="$work/xdg/data" XDG_CACHE_HOME="$work/xdg/cache" XDG_CONFIG_HOME="$work/xdg/config"
dbus-daemon --session --nofork --print-address=1 --address="unix:path=$work/bus" > "$work/bus.addr" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/bus.addr" ] && break; sleep 0.05; done
export DBUS_SESSION_BUS_ADDRESS="$(head -1 "$work/bus.addr")"
printf 'bench-password' | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true' && break
  sleep 0.05
done

echo "== auth token per command, by token_cache (hyperfine; warm-up fills the cache)"
mkdir -p "$HOME/.cybedefend"
for mode in file keyring off; do
  printf 'credentials:\n  token_cache: %s\n' "$mode" > "$work/$mode.yaml"
done
hyperfine -N --warmup 3 --runs 40 --export-json "$work/h.json" \
  -n file "$bin --config $work/file.yaml auth token" \
  -n keyring "$bin --config $work/keyring.yaml auth token" \
  -n off "$bin --config $work/off.yaml auth token" >/dev/null
python3 - "$work/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base = r["file"]["median"]
print(f"{'token_cache':<12} {'median':>10} {'ratio to file':>14}")
for name in ["file", "keyring", "off"]:
    m = r[name]["median"]
    print(f"{name:<12} {m*1000:>8.2f} ms {m/base:>13.2f}x")
PY
echo "token exchanges seen by the double in all: $(exchanges)"
