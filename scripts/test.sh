#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need first, so that it works on a
# fresh machine (Rust toolchain assumed). Used by CI (.ci/run) and documented in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# Two cores: keep parallelism modest so builds and subprocess-heavy tests do not starve.
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
jobs="${CARGO_BUILD_JOBS:-2}"

echo "== formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --jobs "$jobs" -- -D warnings

echo "== tests"
cargo test --workspace --jobs "$jobs" -- --test-threads "${TEST_THREADS:-4}"
