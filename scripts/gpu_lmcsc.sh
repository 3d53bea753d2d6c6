#!/usr/bin/env bash
# One call on a GPU machine (e.g. the device tool): full LMCSC training at x2 and x4 for 3 seeds, then the
# evaluation/benchmark of every run. Everything lands in $OUT (default runs/gpu): checkpoints (re-running
# this script resumes), weights.safetensors, record.json, evaluation.json, and a log.
#   MMSR_DATA   data root (default: ../shared/data or shared/data, whichever exists)
#   SEEDS       default "0 1 2";  SCALES default "2 4";  EXTRA e.g. "--set steps=30000"
#   MODELS      default "lmcsc"; e.g. "lmcsc djf" to train the DJF baseline of the same table in full mode too
set -euo pipefail
. "$(dirname "$0")/data_root.sh"
OUT=${OUT:-runs/gpu}
mkdir -p "$OUT"
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$OUT/log.txt"
runs=()
for model in ${MODELS:-lmcsc}; do
for seed in ${SEEDS:-0 1 2}; do
  for s in ${SCALES:-2 4}; do
    run="$OUT/${model}_x${s}_seed${seed}"
    python -m mmsr.train "$model" --scale "$s" --mode full --seed "$seed" --data-root "$DATA" --out "$run" \
      --no-progress ${EXTRA:-} 2>&1 | tee -a "$OUT/log.txt"
    runs+=("$run")
  done
done
done
python -m mmsr.benchmark "${runs[@]}" --data-root "$DATA" 2>&1 | tee -a "$OUT/log.txt"
