#!/usr/bin/env bash
# Create .venv (if needed) and install mmsr with its book and test dependencies. Offline-safe when the
# packages are already cached/installed; needs only the Python package index otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
log=.venv/setup.log
: > "$log"
quiet() { "$@" >>"$log" 2>&1 || { echo "setup failed: $*" >&2; tail -n 40 "$log" >&2; exit 1; }; }
# PyTorch first, pinned to a CPU-friendly release unless one is already installed (Colab, conda, a GPU build):
# an unpinned "torch" would pull a multi-GB CUDA build on a CPU-only machine.
if ! python -c "import torch" >/dev/null 2>&1; then
  quiet python -m pip install -q "${MMSR_TORCH_SPEC:-torch==2.13.0}"
fi
quiet python -m pip install -q -e ".[book,test]"
quiet python -m ipykernel install --sys-prefix --name python3
