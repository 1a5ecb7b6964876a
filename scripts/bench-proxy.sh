#!/usr/bin/env bash
# What `cybedefend proxy` adds to a request: N requests (default 2,000) to the platform double,
# one after another on one kept-alive connection, straight to the double with an access token
# and through the proxy with its session key: median and p99 latency of each, the difference,
# and the ratio; then requests per second with 16 connections at once, both ways.
# Needs: cargo, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-2000}"
echo "==> building the release binaries"
cargo build --release -q -p cybedefend -p cybedefend-platform-double
bin="$PWD/target/release/cybedefend"
work="$(mktemp -d)"
pat=cdp_bench_proxy_000001
project=11111111-1111-4111-8111-111111111111
export DOUBLE_PROJECTS="$project"
. scripts/bench-double.sh
token="$("$bin" auth token)"
"$bin" proxy > "$work/proxy.out" 2> "$work/proxy.err" &
proxy=$!
trap 'kill $proxy 2>/dev/null; kill $double 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/proxy.out" ] && grep -q KEY "$work/proxy.out" && break; sleep 0.1; done
proxy_url="$(sed -n 's/^CYBEDEFEND_API_URL=//p' "$work/proxy.out")"
key="$(sed -n 's/^CYBEDEFEND_API_KEY=//p' "$work/proxy.out")"
echo "==> $n requests each way (GET /project/ID), then 16 connections for 3 s each way"
python3 - "$url" "$token" "$proxy_url" "$key" "$project" "$n" <<'PY'
import http.client, statistics, sys, threading, time, urllib.parse
direct, token, via, key, project, n = sys.argv[1:7]
n = int(n)
path = f"/project/{project}"
def one_connection(base, headers, count, out):
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    for _ in range(count):
        t = time.perf_counter()
        c.request("GET", path, headers=headers)
        r = c.getresponse(); r.read()
        if r.status != 200:
            sys.exit(f"{base}: HTTP {r.status}")
        out.append(time.perf_counter() - t)
def latencies(base, headers):
    out = []
    one_connection(base, headers, 50, [])  # warm-up
    one_connection(base, headers, n, out)
    out.sort()
    return statistics.median(out) * 1000, out[int(len(out) * 0.99)] * 1000
def throughput(base, headers, seconds=3.0, conns=16):
    done = [0] * conns
    stop = time.perf_counter() + seconds
    def run(i):
        u = urllib.parse.urlsplit(base)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        while time.perf_counter() < stop:
            c.request("GET", path, headers=headers)
            r = c.getresponse(); r.read()
            done[i] += 1
    ts = [threading.Thread(target=run, args=(i,)) for i in range(conns)]
    for t in ts: t.start()
    for t in ts: t.join()
    return sum(done) / seconds
d_med, d_p99 = latencies(direct, {"Authorization": f"Bearer {token}"})
p_med, p_p99 = latencies(via, {"x-api-key": key})
d_rps = throughput(direct, {"Authorization": f"Bearer {token}"})
p_rps = throughput(via, {"x-api-key": key})
print(f"{'':16} {'direct':>10} {'via proxy':>10} {'added':>10} {'ratio':>7}")
print(f"{'median':16} {d_med:>8.3f}ms {p_med:>8.3f}ms {p_med - d_med:>8.3f}ms {p_med / d_med:>6.2f}x")
print(f"{'p99':16} {d_p99:>8.3f}ms {p_p99:>8.3f}ms {p_p99 - d_p99:>8.3f}ms {p_p99 / d_p99:>6.2f}x")
print(f"{'requests/s (16)':16} {d_rps:>10.0f} {p_rps:>10.0f} {'':>10} {p_rps / d_rps:>6.2f}x")
print("(the client is Python: its own cost is in both columns)")
PY
