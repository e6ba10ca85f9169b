#!/usr/bin/env bash
# The GPU check (issue 14): one script to hand to a machine with a GPU (no internet needed; under 8 minutes on one
# GPU). It checks what is installed first and stops at once with a clear message when something is missing, then
# runs bench/gpu.py: loader images/s at 128 px, training vs model-only images/s of xresnet50 and a timm se-resnext
# (bf16, channels_last), a 2-epoch run of the training app, predict_parquets images/s, and a resume in the middle of
# a run. Writes bench/results/gpu.json.
#
#   bash bench/gpu.sh                 # on the GPU machine, from a copy of the repository
#   bash bench/gpu.sh --cpu --tiny    # every step on the CPU at toy sizes (checks the script; gpu_smoke.json)
#
# PYTHON=/path/to/python picks the interpreter (default: python3). With the dependencies missing, WHEELHOUSE=folder
# installs them from a folder of wheels, offline: pip install --no-index --find-links "$WHEELHOUSE" -e ".[train]".
# BENGALI_FA_CACHE: where the synthetic set and caches go (default: a new temporary folder).
# GPU_BENCH_TIMEOUT: seconds before the run is stopped (default 480; results measured so far are kept).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
die() { echo "gpu.sh: $*" >&2; exit 2; }

command -v "$PY" >/dev/null 2>&1 || die "no Python interpreter '$PY' (set PYTHON=/path/to/python)"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this tree's bengali_fa, installed or not
export WANDB_MODE=disabled MPLBACKEND=Agg PYTHONWARNINGS=ignore
missing() { "$PY" - <<'EOF'
import importlib.util
need = ['torch', 'torchvision', 'fastai', 'timm', 'numpy', 'pandas', 'pyarrow', 'PIL', 'matplotlib', 'fontTools', 'tqdm',
        'hydra', 'omegaconf', 'safetensors']
print(' '.join(m for m in need if importlib.util.find_spec(m) is None))
EOF
}
miss=$(missing)
if [ -n "$miss" ]; then
  if [ -n "${WHEELHOUSE:-}" ]; then
    echo "gpu.sh: missing $miss; installing from $WHEELHOUSE (offline)"
    "$PY" -m pip install -q --no-index --find-links "$WHEELHOUSE" -e ".[train]" || die "pip install from $WHEELHOUSE failed"
    miss=$(missing)
  fi
  [ -z "$miss" ] || die "missing Python packages: $miss. Install them with: $PY -m pip install -e '.[train]' (online), or
        WHEELHOUSE=<folder of wheels> bash bench/gpu.sh (offline)"
fi
err=$("$PY" -c 'import bengali_fa.train, bengali_fa.predict' 2>&1) || die "bengali_fa does not import from $PWD:
$err"

cpu=0; for arg in "$@"; do [ "$arg" = --cpu ] && cpu=1; done
if [ $cpu = 0 ]; then
  "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' || die "torch sees no CUDA GPU
        (torch $("$PY" -c 'import torch; print(torch.__version__, "built for CUDA", torch.version.cuda)');
        nvidia-smi: $(nvidia-smi -L 2>&1 | head -3 || true)). For a CPU smoke run: bash bench/gpu.sh --cpu --tiny"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
fi

if [ -z "${BENGALI_FA_CACHE:-}" ]; then export BENGALI_FA_CACHE; BENGALI_FA_CACHE=$(mktemp -d "${TMPDIR:-/tmp}/gpu_bench.XXXXXX"); fi
echo "gpu.sh: $("$PY" --version), cache $BENGALI_FA_CACHE"
timeout --signal=INT --kill-after=20 "${GPU_BENCH_TIMEOUT:-480}" "$PY" bench/gpu.py "$@"
