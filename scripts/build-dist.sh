#!/usr/bin/env bash
# Builds what ships: target/dist/cybedefend (the `dist` profile: fat LTO, one codegen unit,
# symbols stripped), with the functions that run at start-up laid out next to each other.
#
#   scripts/build-dist.sh            two links: the first is traced, the second is what ships
#   ORDER=none scripts/build-dist.sh one link, the linker's default layout
#
# Why: a start-up runs about 550 functions spread over 9.6 MB of code. The kernel maps code in
# windows of up to 64 KB, one page fault each, so the default layout costs about 80 faults for
# code; packed together the same functions fit in about 15 windows.
#
# How: the first link also writes lld's link map (cli/build.rs passes CYBEDEFEND_LINK_MAP to the
# linker), a few start-up paths run under valgrind's callgrind, which reports the address of
# every function executed, the map turns those addresses into symbol names, and the second link
# gets the list as lld's `--symbol-ordering-file` (CYBEDEFEND_LINK_ORDER). The list is made anew
# at each build from the binary being built, so it never goes stale; nothing else changes.
# Needs valgrind (apt-get install valgrind) unless ORDER=none; the Rust toolchain links with
# lld on x86_64 Linux (its default since Rust 1.90).
set -euo pipefail
cd "$(dirname "$0")/.."
build=(cargo build --profile dist --locked -p cybedefend)
if [ "${ORDER:-trace}" = none ]; then
  echo "==> building target/dist/cybedefend (default layout)"
  CYBEDEFEND_LINK_MAP='' CYBEDEFEND_LINK_ORDER='' "${build[@]}"
  exit 0
fi
command -v valgrind >/dev/null || {
  echo "error: valgrind is needed to trace the start-up (apt-get install valgrind), or run with ORDER=none" >&2
  exit 2
}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "==> 1/3 building with a link map (a first build compiles every crate: several minutes)"
CYBEDEFEND_LINK_MAP="$work/cybedefend.map" CYBEDEFEND_LINK_ORDER='' "${build[@]}"
cp target/dist/cybedefend "$work/traced"
# kept for comparison (scripts/bench-startup.sh measures both layouts) and for profiling
cp target/dist/cybedefend target/dist/cybedefend.default-layout
cp "$work/cybedefend.map" target/dist/cybedefend.default-layout.map

echo "==> 2/3 tracing the start-up of a few commands under callgrind"
mkdir -p "$work/home"
i=0
while read -r line; do
  i=$((i + 1))
  # shellcheck disable=SC2086
  HOME="$work/home" CYBEDEFEND_PAT=cdp_order_trace_0001 \
    valgrind --tool=callgrind --callgrind-out-file="$work/trace.$i" \
    "$work/traced" $line >/dev/null 2>&1 || true
done <<'LINES'
auth status --offline --json
auth status --offline
config show
config validate
version
--help
auth --help
scan --help
LINES
python3 - "$work" > target/dist/startup.order <<'PY'
import bisect, glob, re, sys
work = sys.argv[1]
# The link map: one line per input section, `VMA LMA SIZE ALIGN file:(.text.SYMBOL)`.
starts, sections = [], []
for line in open(work + "/cybedefend.map", errors="replace"):
    m = re.match(r"\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s+\S.*:\(\.text\.(.+)\)$", line)
    if m:
        name = re.sub(r"^(unlikely|hot|startup|exit|split)\.", "", m.group(3))
        starts.append(int(m.group(1), 16))
        sections.append((int(m.group(1), 16) + int(m.group(2), 16), name))
order = sorted(range(len(starts)), key=starts.__getitem__)
starts = [starts[i] for i in order]
sections = [sections[i] for i in order]
# callgrind, without symbols, names each function by its address (`fn=(id) 0x...`), and tells
# which object it is in with `ob=` / `cob=` lines: keep our binary's, in first-seen order.
seen, result = set(), []
for path in sorted(glob.glob(work + "/trace.*")):
    objects, names, current, callee = {}, {}, None, None
    for line in open(path, errors="replace"):
        m = re.match(r"^(c?ob)=\((\d+)\)(?: (.*))?$", line)
        if m:
            if m.group(3):
                objects[m.group(2)] = m.group(3)
            if m.group(1) == "ob":
                current, callee = objects.get(m.group(2)), None
            else:
                callee = objects.get(m.group(2))
            continue
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if not m:
            continue
        obj = current if m.group(1) == "fn" else (callee or current)
        if m.group(3):
            names[m.group(2)] = m.group(3)
        if m.group(1) == "cfn":
            callee = None
        label = names.get(m.group(2), "")
        if not (obj and obj.endswith("/traced")):
            continue
        a = re.search(r"0x([0-9a-f]+)$", label)
        if not a:
            continue
        i = bisect.bisect_right(starts, int(a.group(1), 16)) - 1
        if i >= 0 and int(a.group(1), 16) < sections[i][0]:
            name = sections[i][1]
            if name not in seen:
                seen.add(name)
                result.append(name)
print("\n".join(result))
PY
echo "    $(wc -l < target/dist/startup.order) functions run at start-up (list: target/dist/startup.order)"

echo "==> 3/3 linking again with those functions first"
CYBEDEFEND_LINK_MAP='' CYBEDEFEND_LINK_ORDER="$PWD/target/dist/startup.order" "${build[@]}"
echo "==> done: target/dist/cybedefend ($(du -h target/dist/cybedefend | cut -f1))"
