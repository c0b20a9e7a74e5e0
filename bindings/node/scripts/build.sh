#!/usr/bin/env bash
# Builds the npm package: the core to WebAssembly (wasm32-unknown-unknown),
# its JavaScript glue (wasm-bindgen, pinned to the crate's version), then
# the TypeScript layer (dist/).
#
# The compiler, in this order:
#   1. an installed rustup target wasm32-unknown-unknown (`rustup target
#      add wasm32-unknown-unknown` where rustup can download it);
#   2. Debian's rustc-web with rust-web-src (`apt-get install rustc-web
#      rust-web-src`): std is built from source for the target
#      (RUSTC_BOOTSTRAP=1 -Zbuild-std) and linked with rustup's rust-lld.
#      For machines whose rustup cannot download targets.
# wasm-bindgen-cli must be the crate's exact version:
#   cargo install wasm-bindgen-cli --version "$WASM_BINDGEN"
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN=0.2.130
TARGET=wasm32-unknown-unknown
out=target/$TARGET/release/groupq_wasm.wasm

if rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    echo "build: the rustup target $TARGET"
    cargo build --quiet --release --target "$TARGET"
elif [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ]; then
    sysroot=$(rustc --print sysroot 2>/dev/null || true)
    lld=$(find "$sysroot" /usr/lib/rustlib -name rust-lld -type f 2>/dev/null | head -n 1)
    if [ -z "$lld" ]; then
        echo "build: no rust-lld (it comes with rustup's toolchain)" >&2
        exit 1
    fi
    echo "build: Debian's $(/usr/bin/rustc --version) with std from source, linked by $lld"
    PATH="$(dirname "$lld"):$PATH" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
        cargo build --quiet --release --target "$TARGET" -Zbuild-std=std,panic_abort \
        -Zbuild-std-features=panic_immediate_abort
else
    cat >&2 <<MSG
build: no compiler for $TARGET. Either
  rustup target add $TARGET
or (where rustup cannot download targets)
  apt-get install -y --no-install-recommends rustc-web rust-web-src
MSG
    exit 1
fi

if ! command -v wasm-bindgen >/dev/null 2>&1 ||
    [ "$(wasm-bindgen --version | awk '{print $2}')" != "$WASM_BINDGEN" ]; then
    echo "build: wasm-bindgen $WASM_BINDGEN is needed: cargo install wasm-bindgen-cli --version $WASM_BINDGEN" >&2
    exit 1
fi
rm -rf wasm
wasm-bindgen --target web --remove-name-section --remove-producers-section --out-dir wasm "$out"
if command -v wasm-opt >/dev/null 2>&1; then
    wasm-opt -Os wasm/groupq_wasm_bg.wasm -o wasm/groupq_wasm_bg.wasm
fi
echo "build: wasm/groupq_wasm_bg.wasm $(wc -c < wasm/groupq_wasm_bg.wasm) bytes, $(gzip -9c wasm/groupq_wasm_bg.wasm | wc -c) gzipped"

rm -rf dist
npx tsc -p tsconfig.build.json
