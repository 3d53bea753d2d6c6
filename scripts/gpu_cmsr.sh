#!/usr/bin/env bash
# One call on a GPU machine (e.g. the device tool): chapter 6's experiments with the paper-sized CMSR/ZSSR
# (mode "full": FE1 8 x 64 channels, 3,000 steps of 16 patches): the speed measurement first (the 5 s per
# 60x80 pair goal), then Table 1 of 003 (NIR and Shuffled-Middlebury, 3 seeds) and the ablations (Fig. 11 on
# similarity-misaligned and on non-rigidly distorted pairs, 5 runs each; Fig. 14). Records
# are JSON lines with provenance in $OUT (default runs/gpu_cmsr); re-running skips what is already there.
#   MMSR_DATA   data root (default: ../shared/data or shared/data, whichever exists)
#   SEEDS       default "0 1 2";  MODE default "full";  ONLY e.g. "speed table1" to run a subset
set -euo pipefail
. "$(dirname "$0")/data_root.sh"
OUT=${OUT:-runs/gpu_cmsr}
MODE=${MODE:-full}
mkdir -p "$OUT"
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$OUT/log.txt"
for exp in ${ONLY:-speed table1 deformation nonrigid alternating}; do
  case $exp in
    speed)       args=() ;;
    table1)      args=(--seeds ${SEEDS:-0 1 2}) ;;
    deformation) args=(--seeds 0 1 2 3 4) ;;
    nonrigid)    exp=deformation; args=(--seeds 0 1 2 3 4 --nonrigid) ;;
    alternating) args=(--seeds 0 1 2 --p 0 0.1 0.3 0.5 0.7) ;;
  esac
  python -m mmsr.zeroshot_experiments "$exp" --mode "$MODE" --root "$DATA" --out "$OUT" "${args[@]}" 2>&1 \
    | tee -a "$OUT/log.txt"
done
