#!/usr/bin/env bash
# Start-up benchmark: `CYBEDEFEND_PAT=x cybedefend auth status --offline --json` (the `dist`
# profile, what ships) against a hello-world Rust binary that prints an environment variable,
# built with the same profile. Hyperfine rounds alternate the order; the median of the
# per-round ratios counts (each binary takes each place in a round in turn). Also prints minor page faults (GNU time) and binary sizes.
# Target: ratio at most 1.3.
# Both binaries run from fresh copies, as installed by a package manager or an image build: a
# file the linker has just written sits in the page cache as single 4 KB pages (lld writes
# through mmap), which makes every code fault slower than for the same file copied or read
# from disk (large folios). Measured here: 1.27 ms in place against 1.09-1.14 ms copied, same
# binary; the hello-world does not change. PLACE=built measures the files where they were built.
# cybedefend is built by scripts/build-dist.sh (ORDER=none: the linker's default layout;
# BUILD=no: use the binary already in target/).
# Needs hyperfine, GNU time and valgrind (apt-get install hyperfine time valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-300}"
rounds="${ROUNDS:-6}"
profile="${PROFILE:-dist}"
tools=(hyperfine /usr/bin/time python3)
if [ "${BUILD:-yes}" != no ] && [ "$profile" = dist ] && [ "${ORDER:-trace}" != none ]; then
  tools+=(valgrind readelf)
fi
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || {
    echo "missing: $tool (apt-get install hyperfine time valgrind binutils python3)" >&2
    exit 2
  }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bin="$PWD/target/$profile/cybedefend"
if [ "${BUILD:-yes}" = no ]; then
  echo "==> using $bin as built (BUILD=no); building the hello-world"
elif [ "$profile" = dist ]; then
  echo "==> building cybedefend (scripts/build-dist.sh) and the hello-world"
  bin="$(scripts/build-dist.sh)"
else
  echo "==> building cybedefend (profile $profile) and the hello-world"
  cargo build --profile "$profile" -q -p cybedefend
fi
[ -f "$bin" ] || { echo "error: no binary at $bin" >&2; exit 2; }
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
# the same build with the linker's default layout, when scripts/build-dist.sh left one for this
# very binary (its checksums say so)
default="$bin.default-layout"
if ! [ -f "$default" ] || ! (cd "$(dirname "$bin")" && sha256sum --quiet -c "$bin.layout" 2>/dev/null); then
  default=""
  echo "==> no default-layout build of this binary to compare with (scripts/build-dist.sh makes one)"
fi
if [ "${PLACE:-copied}" != built ]; then
  mkdir -p "$work/bin"
  cp "$hello" "$bin" "$work/bin/"
  hello="$work/bin/hello" bin="$work/bin/cybedefend"
  if [ -n "$default" ]; then
    cp "$default" "$work/bin/cybedefend-default-layout"
    default="$work/bin/cybedefend-default-layout"
  fi
  echo "==> the binaries are copied to $work/bin (PLACE=built runs them where they were built)"
fi

export HOME="$work/home" CYBEDEFEND_PAT="cdp_benchmark_pat_0001"
echo "==> $rounds rounds of $runs runs each"
for i in $(seq "$rounds"); do
  # each binary takes each place in turn
  case $((i % 3)) in
    1) order=(hello cd default) ;;
    2) order=(cd default hello) ;;
    0) order=(default hello cd) ;;
  esac
  args=()
  for o in "${order[@]}"; do
    case $o in
      hello) args+=(-n hello "$hello") ;;
      cd) args+=(-n cybedefend "$bin auth status --offline --json") ;;
      default) [ -n "$default" ] && args+=(-n default "$default auth status --offline --json") ;;
    esac
  done
  hyperfine -N --warmup 20 --runs "$runs" --export-json "$work/round$i.json" "${args[@]}" >/dev/null
done
/usr/bin/time -f "%R" -o "$work/hello.pf" "$hello" >/dev/null
/usr/bin/time -f "%R" -o "$work/cd.pf" "$bin" auth status --offline --json >/dev/null
[ -n "$default" ] && /usr/bin/time -f "%R" -o "$work/default.pf" "$default" auth status --offline --json >/dev/null
python3 - "$work" "$rounds" "$hello" "$bin" "$default" <<'PY'
import json, os, statistics, sys
w, n, hello, cd, default = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rounds = [{x["command"]: x["median"] for x in json.load(open(f"{w}/round{i}.json"))["results"]}
          for i in range(1, n + 1)]
cols = [("hello", "hello", hello), ("cybedefend", "cybedefend", cd)]
if default:
    cols.append(("default", "default layout", default))
pf = lambda f: open(f"{w}/{f}.pf").read().split()[-1]
print(f"{'':22}" + "".join(f"{title:>16}" for _, title, _ in cols))
print(f"{'median time':22}" + "".join(
    f"{statistics.median(r[k] for r in rounds) * 1000:>13.3f} ms" for k, _, _ in cols))
print(f"{'minor page faults':22}" + "".join(
    f"{pf({'hello': 'hello', 'cybedefend': 'cd', 'default': 'default'}[k]):>16}" for k, _, _ in cols))
print(f"{'binary size':22}" + "".join(f"{os.path.getsize(p) / 1e6:>13.2f} MB" for _, _, p in cols))
for k, title, _ in cols[1:]:
    ratios = [r[k] / r["hello"] for r in rounds]
    print(f"{title}: per-round ratios " + ", ".join(f"{x:.2f}" for x in ratios)
          + f"; median ratio {statistics.median(ratios):.2f}" + (" (target <= 1.3)" if k == "cybedefend" else ""))
PY
