"""The demo model in data/: ships, loads offline, and colours photos it never saw."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from colorlab.infer import load_pretrained, pretrained_path
from colorlab.metrics import colorfulness, gray_baseline, psnr
from colorlab.checkpoint import load_checkpoint

#: Photos the demo model was not trained on (see data/README.md).
HELD_OUT = ("china", "flower")


def test_demo_checkpoint_ships_small_and_in_half_precision():
    path = pretrained_path()
    assert path.is_file(), f"{path} is missing"
    assert path.stat().st_size < 20 * 1024 * 1024
    ckpt = load_checkpoint(path)
    assert ckpt["model_config"]["backbone"] == "efficientnet_lite0"
    assert not any(k.startswith("extractor.") for k in ckpt["model"])
    assert "optimizer" not in ckpt
    held_out = ckpt.get("extra", {}).get("held_out", [])
    assert set(HELD_OUT) <= set(held_out)


def test_load_pretrained_returns_the_model_in_eval_mode():
    model = load_pretrained("cpu")
    assert not model.training and model.config.backbone == "efficientnet_lite0"
    assert load_pretrained("cpu") is model  # cached


def test_colorlab_colorize_works_out_of_the_box_and_is_colourful_not_gray(photos, tmp_path):
    truth = photos["china"]
    gray_file = tmp_path / "old_photo.jpg"
    Image.fromarray(gray_baseline(truth)).convert("L").save(gray_file)
    out_dir = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "colorlab", "colorize", str(gray_file), "-o", str(out_dir)], check=True)
    result = np.asarray(Image.open(out_dir / "old_photo.png"))
    assert result.shape == truth.shape
    assert colorfulness(np.asarray(Image.open(gray_file).convert("RGB"))) < 1
    # real colour: at least a third of the original's colourfulness, far from gray
    assert colorfulness(result) > colorfulness(truth) / 3


@pytest.mark.parametrize("name", HELD_OUT)
def test_demo_model_beats_the_gray_baseline_psnr_on_held_out_photos(photos, name):
    from colorlab.data import center_crop_resize
    from colorlab.infer import colorize

    truth = center_crop_resize(photos[name], 256)
    pred = colorize(truth, load_pretrained("cpu"))
    assert psnr(pred, truth) > psnr(gray_baseline(truth), truth)
    assert colorfulness(pred) > 0.2 * colorfulness(truth), "the model barely colours"
