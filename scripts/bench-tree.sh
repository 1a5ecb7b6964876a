# Sourced by the benchmarks: builds (once) the benchmark monorepo in $tree, a tree of the
# character the platform sees (see scripts/bench-archive.sh). Needs $tree set, cargo, python3
# with pip, npm, and a release build in target/release.
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
