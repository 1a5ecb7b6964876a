#!/usr/bin/env bash
# Archive benchmark on a tree of the character the platform sees:
#   vendor/   `cargo vendor` of this workspace (hundreds of crates, 16k files)
#   django/   Django's source distribution from PyPI
#   webapp/   a JS app: src/, public/ (images and fonts, already compressed), and, ignored by its
#             .gitignore, node_modules/ (npm install) and dist/ (a bundle)
#   target/   Rust build output (ignored by the root .gitignore)
# It compares `cybedefend scan --dry-run --archive-out` with `zip -q -6` of the same kept files
# (hyperfine, paired), then prints archive sizes, peak RSS, CPU time, and the CPU time of the
# same archive with --no-ignore (every file, build output included) against zip -6 of every file.
# Targets: at least 3x faster than zip -6, an archive no larger than zip's, peak RSS under
# 64 MB; with --no-ignore less than 0.33x zip -6's CPU time.
# Needs: cargo, python3 with pip, npm, hyperfine, zip, unzip, GNU time
#   (apt-get install hyperfine zip unzip time). The tree is kept in target/bench-archive-tree.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in hyperfine zip unzip /usr/bin/time python3 npm; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (apt-get install hyperfine zip unzip time npm)" >&2; exit 2; }
done
runs="${RUNS:-5}"
echo "==> building the release binary"
cargo build --release -q -p cybedefend
bin="$PWD/target/release/cybedefend"
tree="$PWD/target/bench-archive-tree/tree"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

. scripts/bench-tree.sh
rm -f "$tree/.complete.list"
cd "$tree"
"$bin" scan --dir . --dry-run --list 2>/dev/null | sed -E 's/^ *[0-9.]+ [kMG]?B  //' | grep -v '^\.complete$' > "$work/kept.txt"
all_files=$(find . -type f ! -name .complete | wc -l)
echo "tree: $all_files files, $(du -sm --exclude=.complete . | cut -f1) MB; kept by the ignore rules: $(wc -l < "$work/kept.txt") files, $(tr '\n' '\0' < "$work/kept.txt" | du -cm --files0-from=- | tail -1 | cut -f1) MB"

echo "==> timing (hyperfine, $runs runs each, alternating)"
hyperfine --warmup 1 --runs "$runs" --export-json "$work/result.json" \
  -p "rm -f $work/cd.zip $work/zip.zip" \
  -n cybedefend "$bin scan --dir . --dry-run --archive-out $work/cd.zip" \
  -n "zip -6" "zip -q -6 $work/zip.zip -@ < $work/kept.txt" >/dev/null
/usr/bin/time -f "%M %U %S" -o "$work/cd.time" "$bin" scan --dir . --dry-run --archive-out "$work/cd.zip" >/dev/null 2>&1
rm -f "$work/zip.zip"
/usr/bin/time -f "%M %U %S" -o "$work/zip.time" sh -c "zip -q -6 $work/zip.zip -@ < $work/kept.txt"
# every file (--no-ignore) against zip -6 of every file: CPU time, the median of 3 runs each,
# alternating (the machine's noise is about 10% from run to run)
find . -type f ! -name .complete | sed 's|^\./||' > "$work/every.txt"
for i in 1 2 3; do
  rm -f "$work/all.zip" "$work/zipall.zip"
  /usr/bin/time -f "%M %U %S" -o "$work/all.$i.time" "$bin" scan --dir . --dry-run --no-ignore --archive-out "$work/all.zip" >/dev/null 2>&1
  /usr/bin/time -f "%M %U %S" -o "$work/zipall.$i.time" sh -c "zip -q -6 $work/zipall.zip -@ < $work/every.txt"
done
unzip -tq "$work/cd.zip" >/dev/null && unzip -tq "$work/all.zip" >/dev/null && echo "unzip -t: both archives pass"
python3 - "$work" <<'PY'
import json, os, sys
w = sys.argv[1]
r = {x["command"]: x["median"] for x in json.load(open(f"{w}/result.json"))["results"]}
cd, z = r["cybedefend"], r["zip -6"]
def t(name):
    rss, u, s = open(f"{w}/{name}.time").read().split()[-3:]
    return int(rss) / 1024, float(u) + float(s)
cd_rss, cd_cpu = t("cd"); z_rss, z_cpu = t("zip")
def median3(name):
    runs = sorted((t(f"{name}.{i}") for i in (1, 2, 3)), key=lambda r: r[1])
    return runs[1][0], runs[1][1], [round(r[1], 2) for r in runs]
all_rss, all_cpu, all_runs = median3("all"); _, zall_cpu, zall_runs = median3("zipall")
sz = lambda f: os.path.getsize(f"{w}/{f}") / 1e6
print(f"{'':22} {'cybedefend':>12} {'zip -6':>12}")
print(f"{'median wall time':22} {cd:>10.2f} s {z:>10.2f} s   zip/cybedefend = {z / cd:.2f}x (target >= 3)")
print(f"{'CPU time':22} {cd_cpu:>10.2f} s {z_cpu:>10.2f} s")
print(f"{'archive size':22} {sz('cd.zip'):>9.1f} MB {sz('zip.zip'):>9.1f} MB   ratio {sz('cd.zip') / sz('zip.zip'):.3f} (target <= 1)")
print(f"{'peak RSS':22} {cd_rss:>9.1f} MB {z_rss:>9.1f} MB   (target < 64 MB)")
print(f"{'CPU time / zip -6':22} {cd_cpu / z_cpu:>12.2f}")
print(f"--no-ignore (every file): {all_cpu:.2f} s CPU {all_runs}, zip -6 of every file {zall_cpu:.2f} s {zall_runs}: "
      f"{all_cpu / zall_cpu:.3f}x of zip's CPU (target < 0.33; the official CLI about 0.36)")
print(f"  archives {sz('all.zip'):.1f} MB and zip's {sz('zipall.zip'):.1f} MB (ratio {sz('all.zip') / sz('zipall.zip'):.3f}), peak RSS {all_rss:.1f} MB")
PY
