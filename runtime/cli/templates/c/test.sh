#!/usr/bin/env bash
# Builds the plugin with clang for wasm32-wasi and `weir plugin
# componentize`, then runs it through weir's plugin host on
# test/input.json; the output must equal test/expected.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export WEIR="${WEIR:-weir}"
sdk/c/build.sh plugin.c -o {{crate}}.wasm
"$WEIR" plugin test {{crate}}.wasm --config greeting=hi --input test/input.json --expect test/expected.json
