#!/usr/bin/env bash
# Builds what ships: the `dist` profile's cybedefend (fat LTO, one codegen unit, symbols
# stripped), with the functions that run at start-up laid out next to each other.
#
#   scripts/build-dist.sh            two builds: the first is traced, the second is what ships
#   ORDER=none scripts/build-dist.sh one build, the linker's default layout
#
# Why: a start-up runs about 520 functions spread over 9.6 MB of code. The kernel maps code in
# windows of up to 64 KB, one page fault each, so the default layout costs about 80 faults for
# code; packed together the same functions fit in about 15 windows (start-up 5% faster).
#
# How: the first build also writes lld's link map (cli/build.rs passes CYBEDEFEND_LINK_MAP to the
# linker), a few start-up paths of that binary run under valgrind's callgrind, which reports the
# address of every function executed, the map turns those addresses into symbol names, and the
# second build links with the list as lld's `--symbol-ordering-file` (CYBEDEFEND_LINK_ORDER). The
# list is made anew at each run from the binary being built, so it never goes stale; the code is
# the same, only its order changes. When the linker is not lld (the Rust toolchain's default on
# x86_64 Linux since 1.90), or the trace fails, the script says so and stops: ORDER=none builds
# without it.
# Needs valgrind and readelf (apt-get install valgrind binutils) unless ORDER=none.
# Progress goes to stderr; stdout gets one line, the path of the binary built.
set -euo pipefail
exec 3>&1 1>&2
cd "$(dirname "$0")/.."
order="${ORDER:-trace}"
case "$order" in
  trace | none) ;;
  *) echo "error: ORDER is \`trace\` (the default) or \`none\`, not \`$order\`" >&2; exit 2 ;;
esac

# Builds, and prints the path of the binary cargo produced (its target folder and triple may be
# set by CARGO_TARGET_DIR or config).
build() {
  cargo build --profile dist --locked -p cybedefend --bin cybedefend \
    --message-format=json-render-diagnostics |
    python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "cybedefend":
        print(m["executable"])'
}

if [ "$order" = none ]; then
  echo "==> building cybedefend (default layout)"
  bin="$(CYBEDEFEND_LINK_MAP='' CYBEDEFEND_LINK_ORDER='' build)"
  [ -n "$bin" ] || { echo "error: cargo reported no cybedefend binary" >&2; exit 1; }
  rm -f "$bin.default-layout" "$bin.default-layout.map" "$bin.startup.order" "$bin.layout"
  echo "==> done: $bin"
  echo "$bin" >&3
  exit 0
fi
for tool in valgrind readelf python3; do
  command -v "$tool" >/dev/null || {
    echo "error: $tool is needed to trace the start-up (apt-get install valgrind binutils python3), or run with ORDER=none" >&2
    exit 2
  }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "==> 1/3 building with a link map (a first build compiles every crate: several minutes)"
bin="$(CYBEDEFEND_LINK_MAP="$work/cybedefend.map" CYBEDEFEND_LINK_ORDER='' build)"
[ -n "$bin" ] || { echo "error: cargo reported no cybedefend binary" >&2; exit 1; }
rm -f "$bin.default-layout" "$bin.default-layout.map" "$bin.startup.order" "$bin.layout"
if ! readelf -p .comment "$bin" | grep -q 'Linker: LLD'; then
  echo "error: $bin was not linked by lld, which the start-up layout needs; run with ORDER=none" >&2
  exit 2
fi
[ -s "$work/cybedefend.map" ] || { echo "error: the linker wrote no link map" >&2; exit 1; }
cp "$bin" "$work/traced"

echo "==> 2/3 tracing the start-up of a few commands under callgrind"
mkdir -p "$work/home" "$work/cwd"
i=0
while read -r line; do
  i=$((i + 1))
  # a clean environment and folder: the builder's config, keyring and variables stay out
  # shellcheck disable=SC2086
  if ! (cd "$work/cwd" && env -i PATH=/usr/bin:/bin HOME="$work/home" CYBEDEFEND_PAT=cdp_order_trace_0001 \
    valgrind --tool=callgrind --callgrind-out-file="$work/trace.$i" "$work/traced" $line \
    </dev/null >"$work/out.$i" 2>&1); then
    echo "error: \`cybedefend $line\` failed under callgrind:" >&2
    tail -5 "$work/out.$i" >&2
    exit 1
  fi
  [ -s "$work/trace.$i" ] || { echo "error: callgrind wrote no trace for \`$line\`" >&2; exit 1; }
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
python3 - "$work" > "$bin.startup.order" <<'PY'
import bisect, glob, re, sys
work = sys.argv[1]
# The link map (written with --no-demangle): an input section line, `VMA LMA SIZE ALIGN
# file:(.text.NAME)`, is followed by one line per symbol it holds, `VMA LMA SIZE ALIGN NAME`.
# Keep the symbols of code sections (a section such as `.text.startup` holds several).
number = r"\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s+"
starts, symbols, in_text = [], [], False
for line in open(work + "/cybedefend.map", errors="replace"):
    m = re.match(number + r"(\S.*)$", line.rstrip("\n"))
    if not m:
        continue
    rest = m.group(3)
    if ":(" in rest or rest.startswith("<internal>"):
        in_text = ":(.text" in rest
    elif rest.startswith("."):
        in_text = False
    elif in_text:
        starts.append(int(m.group(1), 16))
        symbols.append((int(m.group(1), 16) + max(int(m.group(2), 16), 1), rest.strip()))
order = sorted(range(len(starts)), key=starts.__getitem__)
starts = [starts[i] for i in order]
symbols = [symbols[i] for i in order]
# callgrind, without symbols, names each function by its address (`fn=(id) 0x...`), and tells
# which object it is in with `ob=` / `cob=` lines: keep our binary's functions, once each, in
# the order the trace files list them (grouping them is what counts, not their order).
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
        address = re.search(r"0x([0-9a-f]+)$", names.get(m.group(2), ""))
        if not (address and obj and obj.endswith("/traced")):
            continue
        a = int(address.group(1), 16)
        i = bisect.bisect_right(starts, a) - 1
        if i >= 0 and a < symbols[i][0] and symbols[i][1] not in seen:
            seen.add(symbols[i][1])
            result.append(symbols[i][1])
if result:
    print("\n".join(result))
PY
count="$(wc -l < "$bin.startup.order")"
echo "    $count functions run at start-up (list: $bin.startup.order)"
if [ "$count" -lt 200 ]; then
  echo "error: that is too few for a start-up (the trace or the map was not understood)" >&2
  exit 1
fi
# kept for comparison (scripts/bench-startup.sh measures both layouts) and for profiling
cp "$bin" "$bin.default-layout"
cp "$work/cybedefend.map" "$bin.default-layout.map"

echo "==> 3/3 building again with those functions first"
final="$(CYBEDEFEND_LINK_MAP='' CYBEDEFEND_LINK_ORDER="$bin.startup.order" build)"
[ "$final" = "$bin" ] || { echo "error: cargo reported $final, not $bin" >&2; exit 1; }
# what the benchmark checks before it compares the two layouts
sha256sum "$bin" "$bin.default-layout" > "$bin.layout"
if readelf -d "$bin" | grep -q 'libm\.so'; then
  echo "warning: the binary needs libm.so again (see __wrap_pow in cli/src/main.rs): a new call to a" >&2
  echo "         C math function other than pow costs a shared library at every start" >&2
fi
echo "==> done: $bin"
echo "$bin" >&3
