#!/usr/bin/env bash
# Builds the container image: the release binary at /app/cybedefend.
#   packaging/build-image.sh [TAG] [BASE]    (TAG: cybedefend:latest; BASE: see the Dockerfile)
# Uses podman, else docker.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-cybedefend:latest}"
engine="$(command -v podman || command -v docker || true)"
[ -n "$engine" ] || { echo "error: neither podman nor docker is installed" >&2; exit 1; }
echo "==> building the release binary (scripts/build-dist.sh; ORDER=none skips the start-up layout)"
bin="$(scripts/build-dist.sh)"
[ -n "$bin" ] && [ -f "$bin" ] || { echo "error: scripts/build-dist.sh named no binary" >&2; exit 1; }
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$bin" "$ctx/cybedefend"
echo "==> building the image $tag with $engine"
args=(build -f packaging/Dockerfile -t "$tag")
[ -n "${2:-}" ] && args+=(--build-arg "BASE=$2")
"$engine" "${args[@]}" "$ctx"
echo "==> done: $engine run --rm $tag version"
