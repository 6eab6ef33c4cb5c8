#!/bin/sh
# Compiles the WAT test guests; run by `go generate` (needs wabt's wat2wasm).
set -e
cd "$(dirname "$0")"
for f in *.wat; do
	flags=
	case "$f" in
	typeerror.wat) flags=--no-check ;; # invalid on purpose
	esac
	wat2wasm $flags "$f" -o "${f%.wat}.wasm"
done
