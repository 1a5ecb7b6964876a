#!/usr/bin/env bash
# Builds the CLI and shows its main job without an account or network: what a scan of this
# folder would upload (a dry run), the effective configuration with the origin of each value,
# and the credential chain (which sources were tried, and what each said).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== building target/release/cybedefend (the first build takes a few minutes; cargo shows its progress)"
cargo build --release -p cybedefend
bin=target/release/cybedefend
echo
echo "\$ cybedefend scan --dir . --dry-run"
"$bin" scan --dir . --dry-run
echo
echo "\$ cybedefend config show --origin"
"$bin" config show --origin
echo
echo "\$ cybedefend auth status --offline"
set +e
"$bin" auth status --offline
code=$?
set -e
if [ "$code" -eq 4 ]; then
  echo
  echo "(exit 4: no credential yet; the hint above says how to log in. To run \`cybedefend\` by name,"
  echo " put it on your PATH: \`cargo install --path cli\`, or use $bin.)"
  exit 0
fi
exit "$code"
