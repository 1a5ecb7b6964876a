#!/usr/bin/env bash
# How long `cybedefend results` takes to fetch many pages from a distant server: N SAST
# findings (default 5,000: 50 pages of 100 as the live API serves them, and a page of each other
# type: 55 requests) served by the platform double with LATENCY_MS (default 200) of delay on
# every results page. Fetched one
# request at a time (http_concurrency 1: how every page was fetched before) and with 2, 4, 8
# (the default) and 16 in flight (hyperfine, RUNS each). Prints each median and its ratio to one
# at a time; the target is at least 3x with the default.
# Needs: hyperfine (apt-get install hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."
findings="${1:-5000}"
latency="${LATENCY_MS:-200}"
runs="${RUNS:-5}"
command -v hyperfine >/dev/null || { echo "missing: hyperfine (apt-get install hyperfine)" >&2; exit 2; }
echo "== building cybedefend and the platform double (release)"
cargo build --release -q -p cybedefend -p cybedefend-platform-double
work="$(mktemp -d)"
pat="cdp_bench_results"
export DOUBLE_PROJECTS=bench DOUBLE_FINDINGS="$findings" DOUBLE_RESULTS_LATENCY_MS="$latency" DOUBLE_PAGE_CAP=100
. scripts/bench-double.sh
bin="$PWD/target/release/cybedefend"
# the token exchange is cached after the first command: every timed run fetches results only
"$bin" results --project-id bench -f "$work/warm.json" >/dev/null 2>&1
echo "== $findings findings, ${latency} ms a results page; results (every type) to JSON, $runs runs each"
args=()
for n in 1 2 4 8 16; do
  args+=(-n "$n" "CYBEDEFEND_HTTP_CONCURRENCY=$n $bin results --project-id bench -f $work/out-$n.json")
done
hyperfine --runs "$runs" --export-json "$work/result.json" "${args[@]}" >/dev/null
cmp -s <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d))' "$work/out-1.json") \
       <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d))' "$work/out-8.json") \
  && echo "the reports of 1 and 8 in flight are the same" \
  || { echo "the reports of 1 and 8 in flight differ" >&2; exit 1; }
python3 - "$work/result.json" "$findings" <<'PY'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
one = r["1"]
print(f"{'in flight':>9} {'median':>9} {'vs one at a time':>17}")
for n in ["1", "2", "4", "8", "16"]:
    mark = "  (default; target >= 3x)" if n == "8" else ""
    print(f"{n:>9} {r[n]:>7.2f} s {one / r[n]:>16.2f}x{mark}")
PY
