#!/usr/bin/env bash
# Re-execute every chapter in place in default mode on the real data, so that the committed notebooks (and the
# book rendered without execution) show current results. Usage: MMSR_DATA=/path/to/data bash scripts/refresh_outputs.sh [notebooks...]
set -euo pipefail
: "${MMSR_DATA:?set MMSR_DATA to the data root (e.g. ../shared/data)}"
MMSR_DATA=$(cd "$MMSR_DATA" && pwd)   # notebooks run in notebooks/: make the root absolute
cd "$(dirname "$0")/.."
export MMSR_DATA MMSR_MODE=default
. .venv/bin/activate
nbs=("$@")
[ ${#nbs[@]} -gt 0 ] || nbs=(notebooks/[0-9][0-9]_*.ipynb)
for nb in "${nbs[@]}"; do
  start=$(date +%s)
  # A cell that takes 10 minutes is a hang here (the slowest default-mode cell, chapter 5's LMCSC demo training,
  # takes minutes on the 2-core CPU): the executor has been seen waiting on an idle kernel (issue #14),
  # intermittently; fail that run and retry once. Beside a training job that demo cell itself can pass 10 min:
  # then set CELL_TIMEOUT (seconds) higher.
  run() { jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout="${CELL_TIMEOUT:-600}" \
            --ExecutePreprocessor.kernel_name=python3 "$nb"; }
  if ! run; then
    echo "$nb: execution failed or hung; retrying once" >&2
    start=$(date +%s)
    run
  fi
  python scripts/record_runtime.py "$nb" "$(( $(date +%s) - start ))" --data real   # the chapter's "Runs in" line
done
