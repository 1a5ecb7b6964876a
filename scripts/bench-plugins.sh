#!/usr/bin/env bash
# What a credential plugin adds to a command: `cybedefend auth status --offline` resolving
# through the native example (a shared library), the Rust exec example, and the Python exec
# example, each against the built-in `env` provider.
#
# 1. hyperfine over the four commands (medians and ratios to `env`).
# 2. Paired runs: each round runs `env` and then one plugin, back to back, so that a slow
#    moment of the machine hits both sides; the median of the per-round differences is what
#    the plugin adds. Targets: native under 1 ms, Rust exec under 5 ms.
#
# Usage: scripts/bench-plugins.sh [ROUNDS]   (default 200 paired rounds per plugin)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-200}"
if ! command -v hyperfine >/dev/null; then
  echo "installing hyperfine (Debian package)"
  apt-get install -y -qq hyperfine >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq hyperfine; }
fi
echo "== building cybedefend and the example plugins (release)"
cargo build --release -q -p cybedefend -p cybedefend-credential-example -p cybedefend-credential-example-native
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HOME="$work/home"
plugins="$HOME/.cybedefend/plugins"
mkdir -p "$plugins"
chmod 700 "$HOME" "$HOME/.cybedefend" "$plugins"
install -m 0755 target/release/libcybedefend_credential_example_native.so "$plugins/"
install -m 0755 target/release/cybedefend-credential-example "$plugins/"
install -m 0755 plugins/examples/python/cybedefend-credential-example-py "$plugins/"
pat="cdp_bench_plugins_0001"
printf '%s\n' "$pat" > "$work/pat.txt"
chmod 600 "$work/pat.txt"
export CYBEDEFEND_PAT="$pat" EXAMPLE_PAT="$pat"
cat > "$work/env.yaml" <<EOF
credentials: {chain: [env]}
EOF
cat > "$work/native.yaml" <<EOF
credentials:
  chain: [p]
  providers: {p: {type: plugin, plugin: example-native, config: {file: '$work/pat.txt'}}}
EOF
cat > "$work/exec.yaml" <<EOF
credentials:
  chain: [p]
  providers: {p: {type: plugin, plugin: example}}
EOF
cat > "$work/python.yaml" <<EOF
credentials:
  chain: [p]
  providers: {p: {type: plugin, plugin: example-py, config: {file: '$work/pat.txt'}}}
EOF
bin="$PWD/target/release/cybedefend"
for kind in env native exec python; do
  # every side must really resolve through its provider, or the numbers mean nothing
  out="$("$bin" --config "$work/$kind.yaml" auth status --offline --json)"
  source="$(printf '%s' "$out" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["source"], j["chain"][0]["type"])')"
  echo "$kind resolves through: $source"
done

echo "python3 for the Python plugin: $(command -v python3) ($(python3 --version 2>&1))"
echo "== hyperfine: auth status --offline"
hyperfine -N --warmup 5 --runs 100 --export-json "$work/h.json" \
  -n env "$bin --config $work/env.yaml auth status --offline" \
  -n native "$bin --config $work/native.yaml auth status --offline" \
  -n exec "$bin --config $work/exec.yaml auth status --offline" \
  -n python "$bin --config $work/python.yaml auth status --offline" >/dev/null
python3 - "$work/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base = r["env"]["median"]
print(f"{'provider':<10} {'median':>10} {'ratio to env':>13}")
for name in ["env", "native", "exec", "python"]:
    m = r[name]["median"]
    print(f"{name:<10} {m*1000:>7.2f} ms {m/base:>12.2f}x")
PY

echo "== paired rounds ($rounds per plugin): env, then the plugin, back to back"
# PATH is handed over as it is here: a python3 launcher (pyenv and the like) may change PATH
# for its children, and the Python plugin must find the same interpreter on both measures.
python3 - "$bin" "$work" "$rounds" "$PATH" <<'PY'
import os, statistics, subprocess, sys, time
bin_, work, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
env = dict(os.environ, PATH=sys.argv[4])

def run(kind):
    t = time.perf_counter()
    subprocess.run([bin_, "--config", f"{work}/{kind}.yaml", "auth", "status", "--offline"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - t

targets = {"native": 1.0, "exec": 5.0, "python": None}
print(f"{'plugin':<8} {'env median':>11} {'plugin median':>14} {'ratio':>7} {'adds (median of pairs)':>23}  target")
for kind, target in targets.items():
    for _ in range(5):
        run("env"), run(kind)
    pairs = [(run("env"), run(kind)) for _ in range(rounds)]
    a = statistics.median(p[0] for p in pairs)
    b = statistics.median(p[1] for p in pairs)
    d = statistics.median(p[1] - p[0] for p in pairs) * 1000
    verdict = "-" if target is None else (f"< {target:g} ms: " + ("met" if d < target else "MISSED"))
    print(f"{kind:<8} {a*1000:>8.2f} ms {b*1000:>11.2f} ms {b/a:>6.2f}x {d:>20.2f} ms  {verdict}")
PY
