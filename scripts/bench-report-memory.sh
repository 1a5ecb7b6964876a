#!/usr/bin/env bash
# Memory and time of `cybedefend results` on a large project: N SAST findings (default 120,000)
# served by the platform double in pages of 100 (as the live API), written in every format
# (FORMATS="sarif json" picks some). Prints, for each, the report's size, peak RSS (GNU time),
# time, and the peak against the target (64 MB whatever the number of findings).
# BASELINE=path/to/another/cybedefend also measures that binary (both sides and the ratio).
# Needs: GNU time (apt-get install time).
set -euo pipefail
cd "$(dirname "$0")/.."
findings="${1:-120000}"
[ -x /usr/bin/time ] || { echo "missing: /usr/bin/time (apt-get install time)" >&2; exit 2; }
echo "== building cybedefend and the platform double (release)"
cargo build --release -q -p cybedefend -p cybedefend-platform-double
work="$(mktemp -d)"
pat="cdp_bench_report_memory"
export DOUBLE_PROJECTS=bench DOUBLE_FINDINGS="$findings" DOUBLE_PAGE_CAP=100
. scripts/bench-double.sh
formats="${FORMATS:-json sarif markdown html}"
echo "== $findings findings; results -t sast as: $formats"
measure() { # name binary format
  local name="$1" bin="$2" format="$3"
  rm -f "$work/out.$format" "$work/out.md"
  /usr/bin/time -f "%M %e" -o "$work/$name.$format.time" \
    "$bin" results --project-id bench -t sast -o "$format" -f "$work/out.$format" >/dev/null 2>"$work/$name.err" \
    || { echo "$name failed:"; tail -3 "$work/$name.err"; return 1; }
  printf '%s %s %s\n' "$name" "$format" "$(cat "$work/$name.$format.time") $(stat -c %s "$work/out.$format")" >> "$work/rows"
}
for format in $formats; do
  measure cybedefend "$PWD/target/release/cybedefend" "$format"
  if [ -n "${BASELINE:-}" ]; then measure baseline "$BASELINE" "$format"; fi
done
python3 - "$work/rows" "$findings" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
n = int(sys.argv[2])
print(f"{'binary':<11} {'format':<6} {'peak RSS':>10} {'time':>7} {'report':>10} {'RSS per finding':>16}")
by = {}
for name, fmt, kb, secs, size in rows:
    mb = int(kb) / 1024
    by[(name, fmt)] = mb
    print(f"{name:<11} {fmt:<6} {mb:>7.1f} MB {float(secs):>6.2f}s {int(size)/1e6:>7.1f} MB {int(kb)*1024/n:>13.0f} B")
for fmt in ["json", "sarif", "markdown", "html"]:
    if ("cybedefend", fmt) in by:
        mb = by[("cybedefend", fmt)]
        verdict = "within" if mb <= 64 else "OVER"
        print(f"{fmt}: peak RSS {mb:.1f} MB / target 64 MB = {mb / 64:.2f} ({verdict} the target)")
    if ("baseline", fmt) in by:
        print(f"{fmt}: peak RSS cybedefend / baseline = {by[('cybedefend', fmt)] / by[('baseline', fmt)]:.2f}")
PY
