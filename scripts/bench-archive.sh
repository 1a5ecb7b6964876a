#!/usr/bin/env bash
# Archive benchmark on a tree of the character the platform sees:
#   vendor/   `cargo vendor` of this workspace (hundreds of crates, 16k files)
#   django/   Django's source distribution from PyPI
#   webapp/   a JS app: src/, public/ (images and fonts, already compressed), and, ignored by its
#             .gitignore, node_modules/ (npm install) and dist/ (a bundle)
#   target/   Rust build output (ignored by the root .gitignore)
# It compares `cybedefend scan --dry-run --archive-out` with `zip -q -6` of the same kept files
# (hyperfine, paired), then prints archive sizes, peak RSS, CPU time, and the CPU time of the
# same archive with --no-ignore (every file, build output included).
# Targets: at least 3x faster than zip -6, an archive no larger than zip's, peak RSS under
# 64 MB; with --no-ignore at most 9 s of CPU.
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

if [ ! -f "$tree/.complete" ]; then
  echo "==> building the tree in $tree (once)"
  rm -rf "$tree" && mkdir -p "$tree"
  echo "    cargo vendor"
  cargo vendor -q --versioned-dirs "$tree/vendor" >/dev/null
  echo "    Django source distribution (PyPI)"
  python3 -m pip download -q --no-binary :all: --no-deps -d "$tree/../dl" "django==5.1.4"
  mkdir -p "$tree/django" && tar -xzf "$tree"/../dl/Django-5.1.4.tar.gz -C "$tree/django" --strip-components=1
  echo "    JS app (npm install into webapp/node_modules, ignored)"
  mkdir -p "$tree/webapp/src" "$tree/webapp/public/img" "$tree/webapp/public/fonts" "$tree/webapp/dist"
  (cd "$tree/webapp" && echo '{"name":"webapp","version":"1.0.0","private":true}' > package.json \
    && npm install --silent --no-audit --no-fund typescript@5.6.3 react@18.3.1 react-dom@18.3.1 \
       lodash@4.17.21 webpack@5.96.1 @babel/core@7.26.0 eslint@9.15.0 >/dev/null)
  for i in 1 2 3 4 5; do mkdir -p "$tree/webapp/src/mod$i" && cp "$tree"/webapp/node_modules/lodash/*.js "$tree/webapp/src/mod$i/"; done
  python3 - "$tree/webapp/public" <<'PY'
import os, random, sys
root, r = sys.argv[1], random.Random(7)
for i in range(120):
    open(f"{root}/img/photo{i}.png", "wb").write(b"\x89PNG\r\n\x1a\n" + r.randbytes(r.randint(20_000, 300_000)))
for i in range(30):
    open(f"{root}/fonts/font{i}.woff2", "wb").write(b"wOF2" + r.randbytes(r.randint(30_000, 120_000)))
PY
  cat "$tree"/webapp/src/mod*/*.js > "$tree/webapp/dist/bundle.js"
  for i in 1 2 3 4 5 6 7 8; do cp "$tree/webapp/dist/bundle.js" "$tree/webapp/dist/bundle.$i.js"; done
  printf 'node_modules/\ndist/\n' > "$tree/webapp/.gitignore"
  echo "    build output (target/, ignored)"
  mkdir -p "$tree/target/release/deps"
  (set +o pipefail; ls -S target/release/deps/*.rlib | head -60) | xargs -I{} cp {} "$tree/target/release/deps/"
  printf '/target\n' > "$tree/.gitignore"
  touch "$tree/.complete"
fi
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
/usr/bin/time -f "%M %U %S" -o "$work/all.time" "$bin" scan --dir . --dry-run --no-ignore --archive-out "$work/all.zip" >/dev/null 2>&1
unzip -tq "$work/cd.zip" >/dev/null && unzip -tq "$work/all.zip" >/dev/null && echo "unzip -t: both archives pass"
python3 - "$work" <<'PY'
import json, os, sys
w = sys.argv[1]
r = {x["command"]: x["median"] for x in json.load(open(f"{w}/result.json"))["results"]}
cd, z = r["cybedefend"], r["zip -6"]
def t(name):
    rss, u, s = open(f"{w}/{name}.time").read().split()[-3:]
    return int(rss) / 1024, float(u) + float(s)
cd_rss, cd_cpu = t("cd"); z_rss, z_cpu = t("zip"); all_rss, all_cpu = t("all")
sz = lambda f: os.path.getsize(f"{w}/{f}") / 1e6
print(f"{'':22} {'cybedefend':>12} {'zip -6':>12}")
print(f"{'median wall time':22} {cd:>10.2f} s {z:>10.2f} s   zip/cybedefend = {z / cd:.2f}x (target >= 3)")
print(f"{'CPU time':22} {cd_cpu:>10.2f} s {z_cpu:>10.2f} s")
print(f"{'archive size':22} {sz('cd.zip'):>9.1f} MB {sz('zip.zip'):>9.1f} MB   ratio {sz('cd.zip') / sz('zip.zip'):.3f} (target <= 1)")
print(f"{'peak RSS':22} {cd_rss:>9.1f} MB {z_rss:>9.1f} MB   (target < 64 MB)")
print(f"--no-ignore (every file): {all_cpu:.2f} s CPU (target <= 9 s), {sz('all.zip'):.1f} MB, peak RSS {all_rss:.1f} MB")
PY
