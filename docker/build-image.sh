#!/usr/bin/env bash
# Builds the reference agent as a static binary and the image
# groupq-agent:dev (or $1) FROM scratch around it.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-groupq-agent:dev}"
triple=$(rustc -vV | sed -n 's/^host: //p')
# A target directory of its own: the static flags would otherwise rebuild
# the workspace's ordinary build.
RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet --release \
    -p groupq-agent --bin groupq-agent --target "$triple" --target-dir target/static
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "target/static/$triple/release/groupq-agent" docker/Dockerfile "$context/"
out=$(docker build --quiet --tag "$tag" "$context" 2>&1) || { echo "$out" >&2; exit 1; }
echo "built $tag"
