#!/usr/bin/env bash
# Fuzzes the parsers that read untrusted bytes (config YAML, credentials.json, the token cache,
# server answers, durations, terminal text, the redacting writer, an exec plugin's output, a
# plugin's ELF headers) with AFL++ through cargo-afl, on stable Rust, each target for SECONDS
# (default 60). Prints the executions and crashes of
# each target; exits 1 when any target crashed (the inputs are kept under tests/fuzz/out).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(config_yaml credentials_json token_cache api_answers durations terminal_text redaction plugin_protocol plugin_elf)

root="$PWD/.tools/cargo"
export PATH="$root/bin:$PATH"
if ! command -v cargo-afl >/dev/null; then
  echo "== installing cargo-afl (crates.io, once)"
  cargo install --quiet --locked --root "$root" cargo-afl@0.18.2
fi
echo "== building AFL++ for cargo-afl (once; needs a C compiler and make)"
# (an error here means it is built already)
cargo afl config --build 2>/dev/null || true
echo "== building the fuzz targets with AFL instrumentation"
(cd tests/fuzz && cargo afl build --release --quiet)

export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_QUIET=1
failed=0
printf '%-18s %12s %8s\n' target executions crashes
for t in "${targets[@]}"; do
  out="tests/fuzz/out/$t"
  rm -rf "$out"
  mkdir -p "$out"
  (cd tests/fuzz && cargo afl fuzz -V "$secs" -i "seeds/$t" -o "out/$t" "target/release/$t" >"out/$t.log" 2>&1) || true
  stats="$out/default/fuzzer_stats"
  execs=$(awk -F: '/^execs_done/ {gsub(/ /, "", $2); print $2}' "$stats" 2>/dev/null || echo 0)
  crashes=$(awk -F: '/^saved_crashes/ {gsub(/ /, "", $2); print $2}' "$stats" 2>/dev/null || echo "?")
  printf '%-18s %12s %8s\n' "$t" "${execs:-0}" "${crashes:-?}"
  if [ "${crashes:-?}" != 0 ]; then
    failed=1
    echo "  crashing inputs: $out/default/crashes/ (see $out.log)"
  fi
done
exit "$failed"
