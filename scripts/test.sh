#!/usr/bin/env bash
# Set up, then run the whole test suite: library tests, every notebook executed with papermill in smoke mode,
# and nbval (lax) on the cells whose stored output must be reproduced. Exits non-zero on failure and when
# pytest collected no tests (its exit code 5).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
. .venv/bin/activate
export MMSR_MODE=smoke MPLBACKEND=Agg PYTHONHASHSEED=0
python -m pytest tests notebooks --nbval-lax -p no:cacheprovider "$@"
rc=$?
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi
exit "$rc"
