#!/usr/bin/env bash
# Builds the plugin with componentize-js and runs it through weir's plugin
# host on test/input.json; the output must equal test/expected.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
weir="${WEIR:-weir}"
if [[ ! -x sdk/js/node_modules/.bin/componentize-js ]]; then
    (cd sdk/js && npm ci --no-audit --no-fund --loglevel=error)
fi
node sdk/js/build.mjs app.js -o {{crate}}.wasm
"$weir" plugin test {{crate}}.wasm --config greeting=hi --input test/input.json --expect test/expected.json
