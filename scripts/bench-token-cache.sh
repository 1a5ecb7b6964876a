#!/usr/bin/env bash
# Ten `cybedefend auth token` calls in a row against the platform double: prints how many
# token exchanges the double received (target: exactly 1) and the time of each call.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p cybedefend -p cybedefend-platform-double
work="$(mktemp -d)"
pat="cdp_bench_token_cache_01"
target/release/platform-double "$pat" > "$work/double.out" &
double=$!
trap 'kill $double 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q READY "$work/double.out" 2>/dev/null && break; sleep 0.05; done
url="$(awk '/READY/{print $2}' "$work/double.out")"
export HOME="$work/home" CYBEDEFEND_PAT="$pat" CYBEDEFEND_API_URL="$url" CYBEDEFEND_AUTH_ENDPOINT="$url"
for i in $(seq 10); do
  start=$(date +%s%N)
  target/release/cybedefend auth token >/dev/null
  end=$(date +%s%N)
  printf 'call %2d: %6.2f ms\n' "$i" "$(( (end - start) / 10000 ))e-2"
done
echo "token exchanges seen by the double: $(curl -s "$url/__double/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token_exchanges"])')"
