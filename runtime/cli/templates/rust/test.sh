#!/usr/bin/env bash
# Builds the plugin and runs it through weir's plugin host on
# test/input.json; the output must equal test/expected.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
weir="${WEIR:-weir}"
cargo build --release --target wasm32-wasip2
"$weir" plugin test "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{crate}}.wasm" \
    --config greeting=hi --input test/input.json --expect test/expected.json
