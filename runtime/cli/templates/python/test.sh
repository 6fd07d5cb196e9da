#!/usr/bin/env bash
# Builds the plugin with componentize-py and runs it through weir's plugin
# host on test/input.json; the output must equal test/expected.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
weir="${WEIR:-weir}"
python="${PYTHON:-python3}"
"$python" sdk/python/weir_plugin.py build app.py -o {{crate}}.wasm
"$weir" plugin test {{crate}}.wasm --config greeting=hi --input test/input.json --expect test/expected.json
