#!/usr/bin/env bash
# Start-up benchmark: `CYBEDEFEND_PAT=x cybedefend auth status --offline --json` (the `dist`
# profile, what ships) against a hello-world Rust binary that prints an environment variable,
# built with the same profile. Hyperfine rounds alternate the order; the median of the
# per-round ratios counts. Also prints minor page faults (GNU time) and binary sizes.
# Target: ratio at most 1.3.
# Needs hyperfine and GNU time (apt-get install hyperfine time).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-300}"
rounds="${ROUNDS:-6}"
profile="${PROFILE:-dist}"
for tool in hyperfine /usr/bin/time python3; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (apt-get install hyperfine time)" >&2; exit 2; }
done
echo "==> building cybedefend (profile $profile) and the hello-world"
cargo build --profile "$profile" -q -p cybedefend
bin="$PWD/target/$profile/cybedefend"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/hello/src" "$work/home"
cat > "$work/hello/Cargo.toml" <<'TOML'
[package]
name = "hello"
version = "0.1.0"
edition = "2024"
[profile.release]
lto = "fat"
codegen-units = 1
strip = "symbols"
TOML
echo 'fn main() { println!("{}", std::env::var("CYBEDEFEND_PAT").unwrap_or_default()); }' > "$work/hello/src/main.rs"
cargo build --release -q --manifest-path "$work/hello/Cargo.toml" --target-dir "$work/hello/target"
hello="$work/hello/target/release/hello"

export HOME="$work/home" CYBEDEFEND_PAT="cdp_benchmark_pat_0001"
echo "==> $rounds rounds of $runs runs each"
for i in $(seq "$rounds"); do
  if [ $((i % 2)) = 1 ]; then order=(hello cd); else order=(cd hello); fi
  args=()
  for o in "${order[@]}"; do
    case $o in
      hello) args+=(-n hello "$hello") ;;
      cd) args+=(-n cybedefend "$bin auth status --offline --json") ;;
    esac
  done
  hyperfine -N --warmup 20 --runs "$runs" --export-json "$work/round$i.json" "${args[@]}" >/dev/null
done
/usr/bin/time -f "%R" -o "$work/hello.pf" "$hello" >/dev/null
/usr/bin/time -f "%R" -o "$work/cd.pf" "$bin" auth status --offline --json >/dev/null
python3 - "$work" "$rounds" "$hello" "$bin" <<'PY'
import json, os, statistics, sys
w, n, hello, cd = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ratios, hs, cs = [], [], []
for i in range(1, n + 1):
    r = {x["command"]: x["median"] for x in json.load(open(f"{w}/round{i}.json"))["results"]}
    hs.append(r["hello"]); cs.append(r["cybedefend"]); ratios.append(r["cybedefend"] / r["hello"])
pf = lambda f: open(f"{w}/{f}").read().split()[-1]
print(f"{'':28} {'hello':>10} {'cybedefend':>12}")
print(f"{'median time':28} {statistics.median(hs)*1000:>7.3f} ms {statistics.median(cs)*1000:>9.3f} ms")
print(f"{'minor page faults':28} {pf('hello.pf'):>10} {pf('cd.pf'):>12}")
print(f"{'binary size':28} {os.path.getsize(hello)/1e6:>7.2f} MB {os.path.getsize(cd)/1e6:>9.2f} MB")
print("per-round ratios: " + ", ".join(f"{x:.2f}" for x in ratios))
print(f"median ratio: {statistics.median(ratios):.2f} (target <= 1.3)")
PY
