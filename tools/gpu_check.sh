#!/usr/bin/env bash
# One prepared check of minifcn's GPU path, for a maintainer with a GPU machine and no network.
#
#   OUT=/some/folder PYTHONPATH=. bash tools/gpu_check.sh
#
# Needs python3 with numpy, scipy, matplotlib, pillow, tqdm, pytest, hypothesis, CuPy and (for
# the comparison) PyTorch with CUDA. Run from the repository root. Takes at most ~8 minutes
# (GPU_CHECK_BUDGET seconds, default 470); each stage has its own time limit, is timed, and
# may fail without stopping the others. Everything lands in $OUT (default ./gpu_check_out),
# at most 8 files:
#   summary.txt  one line per stage (PASS / FAIL rc / TIMEOUT / SKIPPED, seconds) + key figures
#   env.txt      nvidia-smi, python and package versions
#   doctor.txt   minifcn doctor --device cuda
#   tests.txt    the test suite on real CuPy (the "cuda" half of every op test runs on the GPU)
#   train.txt    minifcn train --device cuda for 2 epochs, then --resume to a 3rd epoch
#   lessons.txt  every lesson with MINIFCN_DEVICE=cuda (each limited to 60 s)
#   bench.txt    U-Net step and 3x3 conv layers, minifcn/CuPy vs PyTorch/cuDNN, TF32 off and on
#   calls.txt    device calls and host syncs per U-Net step (counted on the CPU stand-in)
# GPU_CHECK_SKIP="tests lessons" skips stages by name (for a quick re-run).
set -u

OUT=${OUT:-gpu_check_out}
PY=${PYTHON:-python3}
BUDGET=${GPU_CHECK_BUDGET:-470}
SKIP=" ${GPU_CHECK_SKIP:-} "
export PYTHONPATH=${PYTHONPATH:-.}
export MPLBACKEND=Agg
export MINIFCN_EXAMPLES=${MINIFCN_EXAMPLES:-10}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/minifcn_gpu_check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SUMMARY="$OUT/summary.txt"
START=$(date +%s)
: > "$SUMMARY"
for f in env doctor tests train lessons bench calls; do : > "$OUT/$f.txt"; done

note() { echo "$*" | tee -a "$SUMMARY"; }
left() { echo $(( BUDGET - ($(date +%s) - START) )); }

# stage NAME LOGFILE LIMIT_SECONDS COMMAND...: run, time, record; never stops the script
stage() {
    local name=$1 log=$2 limit=$3 t0 rc status remaining
    shift 3
    if [[ "$SKIP" == *" $name "* ]]; then note "$(printf '%-10s SKIPPED (GPU_CHECK_SKIP)' "$name")"; return 0; fi
    remaining=$(left)
    if (( remaining < 15 )); then note "$(printf '%-10s SKIPPED (time budget spent)' "$name")"; return 0; fi
    (( limit > remaining )) && limit=$remaining
    t0=$(date +%s)
    echo "== $name: $* (limit ${limit}s)" >> "$OUT/$log"
    timeout -k 10 "$limit" "$@" >> "$OUT/$log" 2>&1
    rc=$?
    if (( rc == 0 )); then status=PASS; elif (( rc == 124 || rc == 137 )); then status="TIMEOUT (${limit}s)"; else status="FAIL rc=$rc"; fi
    note "$(printf '%-10s %-18s %4ss  %s' "$name" "$status" $(( $(date +%s) - t0 )) "$*")"
    return 0
}

note "minifcn GPU check $(date -u '+%Y-%m-%d %H:%M:%S UTC') in $(pwd), budget ${BUDGET}s, output $OUT"

# ---- environment (never fails)
{
    echo "== nvidia-smi"; (command -v nvidia-smi >/dev/null && timeout 20 nvidia-smi) || echo "nvidia-smi: not available"
    echo "== python"; "$PY" --version
    "$PY" - <<'PYEOF'
import importlib
for name in ["numpy", "scipy", "matplotlib", "PIL", "tqdm", "pytest", "hypothesis", "cupy", "torch", "minifcn"]:
    try:
        m = importlib.import_module(name)
        print(f"{name:12s} {getattr(m, '__version__', '?')}  {getattr(m, '__file__', '')}")
    except Exception as e:
        print(f"{name:12s} NOT IMPORTABLE: {type(e).__name__}: {e}")
try:
    import cupy
    print("cupy runtime", cupy.cuda.runtime.runtimeGetVersion(), "driver", cupy.cuda.runtime.driverGetVersion(),
          "devices", cupy.cuda.runtime.getDeviceCount())
    import torch
    print("torch cuda", torch.version.cuda, "available", torch.cuda.is_available())
except Exception as e:
    print("cuda details:", type(e).__name__, e)
PYEOF
} >> "$OUT/env.txt" 2>&1

stage doctor  doctor.txt  60  "$PY" -m minifcn.cli doctor --device cuda
stage tests   tests.txt  150  "$PY" -m pytest tests -q -p no:cacheprovider --maxfail=25 -W ignore::DeprecationWarning
stage train   train.txt   50  "$PY" -m minifcn.cli train --device cuda --epochs 2 --quiet --out "$WORK/run"
stage resume  train.txt   30  "$PY" -m minifcn.cli train --device cuda --epochs 3 --quiet --out "$WORK/run" --resume "$WORK/run/last.npz"
[[ -f "$WORK/run/metrics.csv" ]] && { echo "== metrics.csv"; cat "$WORK/run/metrics.csv"; } >> "$OUT/train.txt"

# ---- lessons: one stage, each lesson limited to 60 s
run_lessons() {
    local failed=0 lesson t0 rc
    for lesson in lessons/[0-9][0-9]_*.py; do
        if (( $(left) < 20 )); then echo "$lesson: SKIPPED (time budget)"; failed=1; continue; fi
        t0=$(date +%s)
        MINIFCN_DEVICE=cuda MINIFCN_FIGURES="$WORK/figures" timeout -k 5 60 "$PY" "$lesson" > "$WORK/lesson.log" 2>&1
        rc=$?
        echo "$lesson: rc=$rc $(( $(date +%s) - t0 ))s"
        if (( rc != 0 )); then failed=1; tail -n 25 "$WORK/lesson.log"; fi
    done
    return $failed
}
if [[ "$SKIP" == *" lessons "* ]]; then
    note "$(printf '%-10s SKIPPED (GPU_CHECK_SKIP)' lessons)"
else
    t0=$(date +%s)
    run_lessons >> "$OUT/lessons.txt" 2>&1
    rc=$?
    note "$(printf '%-10s %-18s %4ss  %s' lessons "$([[ $rc == 0 ]] && echo PASS || echo "FAIL ($(grep -c 'rc=[1-9]' "$OUT/lessons.txt") failed)")" $(( $(date +%s) - t0 )) "MINIFCN_DEVICE=cuda lessons/*.py")"
fi

stage bench   bench.txt   90  "$PY" benchmarks/gpu_vs_torch.py --device cuda --batch 8 --size 128 --steps 10 --tf32 both
stage calls   calls.txt   40  "$PY" benchmarks/gpu_calls.py

# ---- key figures
{
    echo "---- key figures"
    grep -h "verdict\|U-Net step\|GPU 0\|workspace" "$OUT/doctor.txt" | head -n 5
    tail -n 1 "$OUT/tests.txt"
    grep -h "U-Net step" "$OUT/bench.txt"
    grep -h "training step (total)\|validation, each further" "$OUT/calls.txt"
    echo "total $(( $(date +%s) - START ))s"
} 2>&1 | tee -a "$SUMMARY"
