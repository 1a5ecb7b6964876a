#!/usr/bin/env bash
# Archive benchmark: a synthetic source tree (about 20k files, 200 MB, plus an ignored
# node_modules/) packaged by `cybedefend scan --dry-run --archive-out` and by `zip -r -q -6`
# (the same files, the same compression level). Prints times (hyperfine medians), the ratio,
# archive sizes and peak RSS. Targets: faster than zip on 2 cores, peak RSS under 64 MB.
# Needs: hyperfine, zip, GNU time (apt-get install hyperfine zip time).
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in hyperfine zip /usr/bin/time python3; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (apt-get install hyperfine zip time)" >&2; exit 2; }
done
runs="${RUNS:-5}"
files="${FILES:-20000}"
megabytes="${MEGABYTES:-200}"
cargo build --release -q -p cybedefend
bin="$PWD/target/release/cybedefend"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tree="$work/tree"

python3 - "$tree" "$files" "$megabytes" <<'PY'
import os, random, sys
root, files, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
words = [''.join(rng.choice('abcdefghijklmnopqrstuvwxyz_') for _ in range(rng.randint(2, 12))) for _ in range(5000)]
target = mb * 1_000_000
avg = target // files
for i in range(files):
    d = os.path.join(root, "src", f"pkg{i % 200:03d}", f"mod{i % 7}")
    os.makedirs(d, exist_ok=True)
    size = max(64, int(rng.expovariate(1 / avg)))
    lines, n = [], 0
    while n < size:
        line = "    " + " ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + ";\n"
        lines.append(line); n += len(line)
    with open(os.path.join(d, f"file{i}.js"), "w") as f:
        f.write("".join(lines)[:size])
nm = os.path.join(root, "node_modules")
for i in range(2000):
    d = os.path.join(nm, f"dep{i % 100}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"index{i}.js"), "w") as f:
        f.write("module.exports = %d;\n" % i * 50)
with open(os.path.join(root, ".gitignore"), "w") as f:
    f.write("node_modules/\n")
PY
echo "tree: $(find "$tree" -path "$tree/node_modules" -prune -o -type f -print | wc -l) files kept, $(du -sm --exclude=node_modules "$tree" | cut -f1) MB; node_modules: $(find "$tree/node_modules" -type f | wc -l) files (ignored)"

cd "$tree"
hyperfine --warmup 1 --runs "$runs" --export-json "$work/result.json" \
  -p "rm -f $work/cd.zip $work/zip.zip" \
  -n cybedefend "$bin scan --dir . --dry-run --archive-out $work/cd.zip" \
  -n "zip -r -6" "zip -r -q -6 $work/zip.zip . -x 'node_modules/*'"
/usr/bin/time -f "%M" -o "$work/cd.rss" "$bin" scan --dir . --dry-run --archive-out "$work/cd.zip" >/dev/null 2>&1
/usr/bin/time -f "%M" -o "$work/zip.rss" zip -r -q -6 "$work/zip2.zip" . -x 'node_modules/*'
python3 - "$work" <<'PY'
import json, os, sys
w = sys.argv[1]
r = {x["command"]: x["median"] for x in json.load(open(f"{w}/result.json"))["results"]}
cd, z = r["cybedefend"], r["zip -r -6"]
print(f"median time  cybedefend {cd:.2f} s   zip -r -6 {z:.2f} s   ratio {cd / z:.2f} (target < 1)")
print(f"archive size cybedefend {os.path.getsize(f'{w}/cd.zip') / 1e6:.1f} MB   zip {os.path.getsize(f'{w}/zip2.zip') / 1e6:.1f} MB")
rss = lambda f: int(open(f).read().split()[-1]) / 1024
print(f"peak RSS     cybedefend {rss(f'{w}/cd.rss'):.1f} MB   zip {rss(f'{w}/zip.rss'):.1f} MB (target < 64 MB)")
PY
