# Sourced by the benchmarks: starts the platform double (target/release/platform-double, built
# by the caller) in $work with the PAT $pat, the environment variables given before sourcing
# (DOUBLE_PROJECTS, DOUBLE_FINDINGS, ...), stops it and removes $work on exit, and points this
# shell's cybedefend at it with a HOME of its own.
target/release/platform-double "$pat" > "$work/double.out" &
double=$!
trap 'kill $double 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 600); do grep -q READY "$work/double.out" 2>/dev/null && break; sleep 0.1; done
url="$(awk '/READY/{print $2}' "$work/double.out")"
export HOME="$work/home" CYBEDEFEND_PAT="$pat" CYBEDEFEND_API_URL="$url" CYBEDEFEND_AUTH_ENDPOINT="$url"
mkdir -p "$HOME"
