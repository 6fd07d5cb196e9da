#!/usr/bin/env bash
# Builds a weir plugin written in C into a WebAssembly component:
#
#   sdk/c/build.sh plugin.c [more.c ...] -o plugin.wasm
#
# 1. clang (Debian's clang-19 with wasi-libc and the wasm32 compiler-rt:
#    apt-get install clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc)
#    compiles the sources with the generated bindings (sdk/c/generated)
#    into a WASI reactor module;
# 2. `weir plugin componentize` makes it a component (it embeds the WASI
#    preview1 reactor adapter of weir's wasmtime). WEIR is the weir binary
#    (default: `weir` on PATH).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cc="${CC_WASM:-clang-19}"
weir="${WEIR:-weir}"
out=""
sources=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        -o) out="$2"; shift 2 ;;
        *) sources+=("$1"); shift ;;
    esac
done
if [[ -z "$out" || ${#sources[@]} -eq 0 ]]; then
    echo "usage: sdk/c/build.sh plugin.c [...] -o plugin.wasm" >&2
    exit 2
fi
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "build.sh: $cc not found: apt-get install clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc" >&2
    exit 1
fi
core="$(mktemp --suffix=.core.wasm)"
trap 'rm -f "$core"' EXIT
"$cc" --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor -fuse-ld=lld \
    -Wall -Wextra -Werror -Wno-unused-parameter \
    -I "$here" -I "$here/generated" \
    "${sources[@]}" "$here/generated/plugin.c" "$here/generated/plugin_component_type.o" \
    -o "$core"
"$weir" plugin componentize "$core" -o "$out"
