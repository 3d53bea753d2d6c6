#!/usr/bin/env bash
# The GPU plan, one step per call: each step finishes inside ~9 minutes and leaves ONE archive in $OUT, so that
# a time-limited machine (the device tool, Colab, a preemptible VM) brings back one file per call and the next
# call resumes from it.
#
#   bash scripts/gpu_plan.sh STEP
#
# STEP:  probe                    device, versions, matmul/conv peaks, LMCSC patches/s + 1024x680 inference,
#                                 bf16 autocast cost, CMSR seconds per 60x80 pair   -> $OUT/probe.tar.gz
#        lmcsc-x2 | lmcsc-x4      full-mode LMCSC (time-budgeted, resumable), then its evaluation on the NIR test
#        djf-x2   | djf-x4        images and the country landscapes               -> $OUT/<step>.tar.gz
#        <model>-x<S>-seed<N>     the same for another seed (e.g. lmcsc-x4-seed1); any trainable model
#                                 (recurrent, cscn, coista, srcnn: python -m mmsr.train --help)
#        cmsr-table1              Table 1 of 003 (NIR), full-size CMSR/ZSSR, SEEDS  -> $OUT/cmsr-table1.tar.gz
#        sprint                   for a lease too short to resume across calls (one call of ~9 minutes in all):
#                                 tests/test_cuda.py and a default-mode probe, then each run of SPRINT (default
#                                 "recurrent-x2 recurrent-x4 lmcsc-x2") trained for the steps that fit
#                                 SPRINT_SECONDS (default 110) at the speed a 60-step calibration run measured on
#                                 the same device (an over-estimate: it counts the warm-up; the first lease trained
#                                 60-65 % of the seconds asked), the recipe's schedule scaled to them
#                                 (mmsr.budget.fitted_schedule); no evaluation (the nir-train pack has no test
#                                 images: score the runs where the data is); a run that would not fit in what is
#                                 left of BUDGET is skipped          -> $OUT/probe.tar.gz, $OUT/<run>.tar.gz each
# Environment:
#   OUT      where the archive goes (default runs/gpu_out)
#   IN       folder of archives of earlier calls, unpacked first so that a step continues (default gpu_in)
#   MMSR_DATA  data root or data pack (default: gpu_data, then ../shared/data, then shared/data); make a pack
#            that travels with:  python -m mmsr.data.pack nir gpu_data && python -m mmsr.data.pack country gpu_data
#            (or, where the upload limit leaves no room for those: python -m mmsr.data.pack nir-train gpu_data)
#   MODE     run mode (default full; smoke for the CPU end-to-end test);  BUDGET seconds of work (default 480)
#   SPRINT, SPRINT_SECONDS, PROBE_MODE   the sprint's runs (MODEL-xS or MODEL-xS-seedN), training seconds per run,
#            probe mode (default);  SPRINT_SET  extra options for every sprint run, e.g. "--set amp=False" (they
#            come after the fitted schedule, so "--set steps=N --set 'milestones=(a, b)'" replays a schedule);
#            SPRINT_CHECKS=0  skips tests/test_cuda.py and the probe (~50 s: for a second call on the same machine)
#   SEEDS    cmsr-table1 seeds (default "0 1 2")
#   PYTHON   the interpreter (default: python on PATH)
set -euo pipefail
STEP=${1:?usage: bash scripts/gpu_plan.sh STEP (probe, lmcsc-x2, lmcsc-x4, djf-x2, djf-x4, cmsr-table1, ...)}
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
PY=${PYTHON:-python}  # the interpreter with torch; the test passes its own
OUT=${OUT:-runs/gpu_out}
IN=${IN:-gpu_in}
MODE=${MODE:-full}
BUDGET=${BUDGET:-480}
WORK=${WORK:-runs/gpu}  # run folders (ignored by git)
DATA=${MMSR_DATA:-}
if [ -z "$DATA" ]; then for d in gpu_data ../shared/data shared/data; do [ -d "$d" ] && DATA=$d && break; done; fi
mkdir -p "$OUT" "$WORK"
start=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - start) )); }
if [ -d "$IN" ]; then
  for a in "$IN"/*.tar.gz; do [ -e "$a" ] && "$PY" -m mmsr.archive unpack "$a" "$WORK" >/dev/null; done
fi
case $STEP in
  probe)
    mkdir -p "$WORK/probe"
    timeout 120 "$PY" -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tee "$WORK/probe/cuda_tests.txt" \
      | tail -n 3 || true
    "$PY" -m mmsr.probe "$WORK/probe/probe.json" --mode "$MODE" 2>&1 | tee "$WORK/probe/log.txt" | tail -n 5
    "$PY" -m mmsr.archive pack "$WORK/probe" "$OUT/probe.tar.gz" --max-mib 16 ;;
  cmsr-table1)
    [ -n "$DATA" ] || { echo "cmsr-table1 needs data: set MMSR_DATA or make gpu_data (see above)" >&2; exit 2; }
    mkdir -p "$WORK/cmsr"
    "$PY" -m mmsr.zeroshot_experiments table1 --mode "$MODE" --root "$DATA" --out "$WORK/cmsr" \
      --datasets NIR --seeds ${SEEDS:-0 1 2} --time-budget "$(left)" 2>&1 | tee -a "$WORK/cmsr/log.txt" | tail -n 20
    "$PY" -m mmsr.archive pack "$WORK/cmsr" "$OUT/cmsr-table1.tar.gz" --max-mib 16 ;;
  sprint)
    [ -n "$DATA" ] || { echo "sprint needs data: set MMSR_DATA or make gpu_data (see above)" >&2; exit 2; }
    if [ "${SPRINT_CHECKS:-1}" != 0 ]; then   # ~50 s on an H200, warm or not: skip on a second call
      mkdir -p "$WORK/probe"
      timeout 120 "$PY" -m pytest -q -p no:cacheprovider tests/test_cuda.py >"$WORK/probe/cuda_tests.txt" 2>&1 \
        || echo "tests/test_cuda.py: $(tail -n 1 "$WORK/probe/cuda_tests.txt")"
      if ! timeout 60 "$PY" -m mmsr.probe "$WORK/probe/probe.json" --mode "${PROBE_MODE:-default}" \
          >"$WORK/probe/log.txt" 2>&1; then
        echo "probe failed or cut at 60 s:"; tail -n 5 "$WORK/probe/log.txt"
      fi
      "$PY" -m mmsr.archive pack "$WORK/probe" "$OUT/probe.tar.gz" --max-mib 16
    fi
    for r in ${SPRINT:-recurrent-x2 recurrent-x4 lmcsc-x2}; do
      model=${r%%-x*}; rest=${r#*-x}; scale=${rest%%-*}; seed=0
      case $rest in *-seed*) seed=${rest##*-seed} ;; esac
      tag=""; [ "$seed" = 0 ] || tag="_seed$seed"
      cal="$WORK/calibrate_$r"; run="$WORK/${model}_x${scale}${tag}_sprint"
      # a run needs its training time plus about a minute (calibration, data preparation, archive)
      if [ "$(left)" -lt $(( ${SPRINT_SECONDS:-110} + 60 )) ]; then
        echo "$r: skipped, $(left) s of BUDGET left"; continue
      fi
      t0=$(date +%s)
      if ! "$PY" -m mmsr.train "$model" --scale "$scale" --mode "$MODE" --seed "$seed" --steps 60 --set patches=1920 \
          --set val_every=0 --set ckpt_every=0 --data-root "$DATA" --out "$cal" --no-progress >"$cal.log" 2>&1; then
        echo "$r: calibration failed"; tail -n 5 "$cal.log"; continue
      fi
      sched=$("$PY" -m mmsr.budget fit "$cal/record.json" "${SPRINT_SECONDS:-110}") \
        || { echo "$r: no schedule"; continue; }
      echo "$r: calibrated in $(( $(date +%s) - t0 )) s; $sched"
      # shellcheck disable=SC2086  # $sched is a list of --set options, quoted for the shell by mmsr.budget
      eval "\"\$PY\" -m mmsr.train \"\$model\" --scale \"\$scale\" --mode \"\$MODE\" --seed \"\$seed\" $sched \
        ${SPRINT_SET:-} --set ckpt_every=0 \
        --data-root \"\$DATA\" --out \"\$run\" --no-progress" >"$run.log" 2>&1 \
        || { echo "$r: training failed"; tail -n 5 "$run.log"; }
      cp "$cal/record.json" "$run/calibration_record.json" 2>/dev/null || true
      cp "$run.log" "$run/log.txt" 2>/dev/null || true
      [ -f "$run/record.json" ] && "$PY" -m mmsr.archive pack "$run" "$OUT/$r.tar.gz" --max-mib 16
      echo "$r: $(( $(date +%s) - t0 )) s; $(tail -n 4 "$run.log" | tr -d '\n ')"
    done ;;
  *-x[0-9]*)
    [ -n "$DATA" ] || { echo "$STEP needs data: set MMSR_DATA or make gpu_data (see above)" >&2; exit 2; }
    model=${STEP%%-x*}; rest=${STEP#*-x}; scale=${rest%%-*}; seed=0
    case $rest in *-seed*) seed=${rest##*-seed} ;; esac
    run="$WORK/${model}_x${scale}_seed${seed}"
    # leave ~25 % of the budget for the evaluation and the archive
    "$PY" -m mmsr.train "$model" --scale "$scale" --mode "$MODE" --seed "$seed" --data-root "$DATA" --out "$run" \
      --no-progress --time-budget $(( $(left) * 3 / 4 )) 2>&1 | tee -a "$run.log" | tail -n 12
    if [ -f "$run/record.json" ] && [ ! -f "$run/evaluation.json" ]; then
      "$PY" -m mmsr.benchmark "$run" --data-root "$DATA" 2>&1 | tee -a "$run.log" | tail -n 5
    fi
    cp "$run.log" "$run/log.txt"
    "$PY" -m mmsr.archive pack "$run" "$OUT/$STEP.tar.gz" --max-mib 16 ;;
  *) echo "unknown step $STEP" >&2; exit 2 ;;
esac
echo "step $STEP: $(( $(date +%s) - start )) s; archive in $OUT"
