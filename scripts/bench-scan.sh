#!/usr/bin/env bash
# `cybedefend scan` end to end on the benchmark monorepo (scripts/bench-tree.sh; the kept files,
# as a real scan sends them) against the platform double on loopback: where the time goes, so
# that the next bottleneck is visible. Prints, for RUNS runs (default 3), the median of each
# phase as the command reports it (listing the files, compressing, starting the scan and
# uploading, the scan and its results: the double finishes a scan on the third status check,
# checked every --interval, default 1s) and each one's share of the whole.
# Needs: cargo, python3 with pip, npm (for the tree, once).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-3}"
interval="${INTERVAL:-1s}"
echo "==> building cybedefend and the platform double (release)"
cargo build --release -q -p cybedefend -p cybedefend-platform-double
bin="$PWD/target/release/cybedefend"
tree="$PWD/target/bench-archive-tree/tree"
. scripts/bench-tree.sh
work="$(mktemp -d)"
pat="cdp_bench_scan"
project="bench"
export DOUBLE_PROJECTS="$project"
. scripts/bench-double.sh
export CYBEDEFEND_CI=true
echo "==> scan --dir $tree ($runs runs, status every $interval)"
for i in $(seq "$runs"); do
  start=$(date +%s.%N)
  (cd "$tree" && "$bin" scan --dir . --project-id "$project" --interval "$interval" --secret-files warn) \
    > "$work/out.$i" 2> "$work/err.$i" || { echo "scan failed:"; tail -5 "$work/err.$i"; exit 1; }
  end=$(date +%s.%N)
  echo "$start $end" > "$work/wall.$i"
  echo "    run $i: $(grep -E '^(.*)?Took ' "$work/err.$i" | sed 's/^[^T]*Took/took/')"
done
python3 - "$work" "$runs" <<'PY'
import re, statistics, sys
work, runs = sys.argv[1], int(sys.argv[2])
rows = {"start-up, login and the project check": [], "listing the files (walk, ignore rules)": [],
        "compressing": [], "starting and uploading": [], "the scan and its results (the double)": [],
        "whole command (wall clock)": []}
size = ""
for i in range(1, runs + 1):
    err = open(f"{work}/err.{i}").read()
    a = re.search(r"Archive ready: (\S+ \S+) in ([\d.]+) s \(listing the files ([\d.]+) s, compressing ([\d.]+) s\)", err)
    t = re.search(r"Took ([\d.]+) s: packaging ([\d.]+) s, starting and uploading ([\d.]+) s, the scan and its results ([\d.]+) s", err)
    if not a or not t:
        sys.exit(f"run {i}: the timings were not found in the output:\n{err[-2000:]}")
    size = a.group(1)
    start, end = map(float, open(f"{work}/wall.{i}").read().split())
    rows["listing the files (walk, ignore rules)"].append(float(a.group(3)))
    rows["compressing"].append(float(a.group(4)))
    rows["starting and uploading"].append(float(t.group(3)))
    rows["the scan and its results (the double)"].append(float(t.group(4)))
    rows["whole command (wall clock)"].append(end - start)
    # what comes before packaging: the wall clock less what the command timed
    rows["start-up, login and the project check"].append(end - start - float(t.group(1)))
whole = statistics.median(rows["whole command (wall clock)"])
print(f"archive {size}; medians of {runs} runs")
print(f"{'phase':42} {'median':>9} {'share':>7}")
for name, values in rows.items():
    m = statistics.median(values)
    print(f"{name:42} {m:>7.2f} s {m / whole * 100:>6.1f}%")
PY
