# Sourced by the one-call GPU scripts: cd to the checkout, find the data root, make mmsr importable.
# Sets DATA from $MMSR_DATA, else the first of ../shared/data and shared/data that exists; exits 2 if none.
cd "$(dirname "${BASH_SOURCE[1]}")/.."
DATA=${MMSR_DATA:-}
if [ -z "$DATA" ]; then for d in ../shared/data shared/data; do [ -d "$d" ] && DATA=$d && break; done; fi
[ -n "$DATA" ] || { echo "no data root: set MMSR_DATA" >&2; exit 2; }
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
