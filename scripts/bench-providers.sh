#!/usr/bin/env bash
# Provider overhead: `cybedefend auth status --offline` with the PAT from Vault (OpenBao,
# AppRole login + KV v2 read over loopback), from `exec` (/bin/echo) and from `env`, each against
# the plain command with no credential at all (hyperfine, medians). Needs hyperfine and the bao
# binary that scripts/test.sh puts in .tools/openbao (or BAO=path).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "hyperfine is not installed (apt-get install hyperfine)" >&2; exit 2; }
bao="${BAO:-.tools/openbao/bao}"
[ -x "$bao" ] || { echo "no OpenBao binary at $bao (run scripts/test.sh first, or set BAO)" >&2; exit 2; }
runs="${RUNS:-50}"
cargo build --release -q -p cybedefend
bin="$PWD/target/release/cybedefend"
work="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HOME="$work" "$bao" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$port" -dev-no-store-token >/dev/null 2>&1 &
baopid=$!
trap 'kill $baopid 2>/dev/null; wait $baopid 2>/dev/null; rm -rf "$work"' EXIT
export BAO_ADDR="http://127.0.0.1:$port" BAO_TOKEN=root
for _ in $(seq 100); do "$bao" status >/dev/null 2>&1 && break; sleep 0.05; done
b() { HOME="$work" "$bao" "$@" >/dev/null; }
b kv put secret/cybedefend pat=cdp_bench_vault_pat
printf 'path "secret/data/cybedefend" { capabilities = ["read"] }\n' | HOME="$work" "$bao" policy write cd-read - >/dev/null
b auth enable approle
b write auth/approle/role/cd token_policies=cd-read
role=$(HOME="$work" "$bao" read -field=role_id auth/approle/role/cd/role-id)
secret=$(HOME="$work" "$bao" write -f -field=secret_id auth/approle/role/cd/secret-id)

mk() { mkdir -p "$work/$1/.cybedefend"; printf '%s' "$2" > "$work/$1/.cybedefend/config.yaml"; }
mk plain ""
mk env ""
mk exec "credentials: {chain: [cmd], providers: {cmd: {type: exec, command: [/bin/echo, cdp_bench_exec_pat]}}}"
mk vault "credentials: {chain: [v], providers: {v: {type: vault, address: 'http://127.0.0.1:$port', path: cybedefend, auth: {method: approle}}}}"

hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/r.json" -i \
  -n plain "env -i HOME=$work/plain $bin auth status --offline" \
  -n env "env -i HOME=$work/env CYBEDEFEND_PAT=cdp_bench_env_pat $bin auth status --offline" \
  -n exec "env -i HOME=$work/exec PATH=/usr/bin:/bin $bin auth status --offline" \
  -n vault "env -i HOME=$work/vault VAULT_ROLE_ID=$role VAULT_SECRET_ID=$secret $bin auth status --offline" >/dev/null
python3 - "$work/r.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
base = r["plain"]
print(f"plain (no credential)  {base:7.2f} ms")
for k in ("env", "exec", "vault"):
    print(f"{k:<22} {r[k]:7.2f} ms   overhead {r[k] - base:+7.2f} ms")
PY
