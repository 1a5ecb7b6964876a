#!/usr/bin/env bash
# Start-up benchmark: `cybedefend auth status --offline` with CYBEDEFEND_PAT set, against a
# hello-world Rust binary built with the same (release) profile. Target: ratio <= 2.
# Needs hyperfine (apt-get install hyperfine, or cargo install hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-200}"
command -v hyperfine >/dev/null || { echo "hyperfine is not installed (apt-get install hyperfine)" >&2; exit 2; }

cargo build --release -q -p cybedefend
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/hello/src" "$work/home"
cat > "$work/hello/Cargo.toml" <<'TOML'
[package]
name = "hello"
version = "0.1.0"
edition = "2024"
[profile.release]
lto = "thin"
codegen-units = 4
strip = "symbols"
TOML
echo 'fn main() { println!("hello"); }' > "$work/hello/src/main.rs"
cargo build --release -q --manifest-path "$work/hello/Cargo.toml" --target-dir "$work/hello/target"

export HOME="$work/home" CYBEDEFEND_PAT="cdp_benchmark_pat_0001"
hyperfine -N --warmup 20 --runs "$runs" --export-json "$work/result.json" \
  -n hello "$work/hello/target/release/hello" \
  -n "cybedefend auth status --offline" "target/release/cybedefend auth status --offline"
python3 - "$work/result.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
h = r["hello"]["median"]; c = r["cybedefend auth status --offline"]["median"]
print(f"median hello: {h*1000:.3f} ms, cybedefend: {c*1000:.3f} ms, ratio: {c/h:.2f} (target <= 2)")
PY
