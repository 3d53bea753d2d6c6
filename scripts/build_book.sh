#!/usr/bin/env bash
# Set up, then build the book with every chapter executed (embedded default unless MMSR_DATA is set).
# The HTML lands in _build/html/index.html.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export MMSR_MODE=${MMSR_MODE:-default}
time jupyter-book build . --all "$@"
echo "book: $(pwd)/_build/html/index.html"
