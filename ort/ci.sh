#!/usr/bin/env bash
# CI for dropkit-ort, run from the repository root with $PY a venv's python:
# builds the custom-op library, the reference helper and the MC trainer
# (debug), runs the Python tests (ONNX graphs in ONNX Runtime against
# dropkit's own calls, bit for bit; error messages) and a short Monte-Carlo
# demo (10 training epochs, 100 samples in ORT, checked against mc_mean_var).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
start=$(date +%s)
target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target=$PWD/$target ;; esac
export CARGO_TARGET_DIR=$target
export PYTHONDONTWRITEBYTECODE=1

if ! "$PY" -c 'import numpy, onnx, onnxruntime, pytest' 2>/dev/null; then
    echo "=== installing numpy onnx onnxruntime pytest into $("$PY" -c 'import sys; print(sys.prefix)')"
    "$PY" -m pip install -q numpy onnx==1.23.2 onnxruntime==1.32.0 pytest
fi
"$PY" -c 'import onnxruntime, onnx; print("onnxruntime", onnxruntime.__version__, "onnx", onnx.__version__)'

echo "=== cargo build -p dropkit-ort (library, reference helper, MC trainer) (at $(( $(date +%s) - start ))s)"
cargo build -p dropkit-ort --lib --bins --example mc_train
export DROPKIT_ORT_LIB=$target/debug/libdropkit_ort.so
export DROPKIT_ORT_REF=$target/debug/dropkit-ort-reference

echo "=== Python tests (at $(( $(date +%s) - start ))s)"
(cd ort/python && "$PY" -m pytest -q -p no:cacheprovider .)

echo "=== Monte-Carlo demo, short training (at $(( $(date +%s) - start ))s)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$target/debug/examples/mc_train" "$tmp" 10
"$PY" ort/examples/mc_dropout.py "$tmp"
echo "=== dropkit-ort CI done in $(( $(date +%s) - start ))s"
