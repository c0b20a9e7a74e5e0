#!/usr/bin/env bash
# The package as users get it: `npm pack`'s tarball, its size, and the time
# `npm install` of it takes offline into an empty project (three times,
# after one to warm npm's own start). Needs `npm run build` first.
set -euo pipefail
cd "$(dirname "$0")/.."
tarball=$(npm pack --silent 2>/dev/null | tail -n 1)
packed="$PWD/$tarball"
echo "tarball $tarball: $(wc -c < "$tarball") bytes; wasm $(wc -c < wasm/groupq_wasm_bg.wasm) bytes, $(gzip -9c wasm/groupq_wasm_bg.wasm | wc -c) gzipped"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
times=()
for i in 0 1 2 3; do
    dir="$scratch/p$i"
    mkdir -p "$dir"
    (cd "$dir" && npm init -y >/dev/null)
    start=$(date +%s%N)
    (cd "$dir" && npm install --offline --no-audit --no-fund --silent "$packed" >/dev/null)
    end=$(date +%s%N)
    [ "$i" -gt 0 ] && times+=("$(( (end - start) / 1000000 ))")
    # It loads and answers where it was installed.
    (cd "$dir" && node --input-type=module -e "import { Machine } from 'groupq'; const m = new Machine(); m.message(0, 'g'); if (m.drain()[0]?.type !== 'spawn') process.exit(1);")
done
echo "npm install of the tarball, offline: ${times[*]} ms"
rm -f "$tarball"
