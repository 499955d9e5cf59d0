"""The colorlab command: colorize, train, evaluate; --help is complete."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from colorlab.cli import main


def test_python_dash_m_colorlab_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "colorlab", "--help"], capture_output=True, text=True, check=True).stdout
    for cmd in ("colorize", "train", "evaluate"):
        assert cmd in out


@pytest.mark.parametrize("cmd", ["colorize", "train", "evaluate"])
def test_each_command_help_has_an_example(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([cmd, "--help"])
    assert exc.value.code == 0
    assert "example" in capsys.readouterr().out


def test_colorize_writes_png_at_input_size_and_reports_bad_files(tmp_path, tiny_checkpoint, photos, capsys):
    good = tmp_path / "old photo.jpg"
    Image.fromarray(photos["chelsea"][:50, :70]).save(good)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"garbage")
    code = main(["colorize", str(good), str(bad), "-o", str(tmp_path / "out"), "--checkpoint", str(tiny_checkpoint), "--size", "32"])
    assert code == 1
    out = Image.open(tmp_path / "out" / "old photo.png")
    assert out.size == (70, 50) and out.mode == "RGB"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.png" in err[0]
    assert not (tmp_path / "out" / "broken.png").exists()


def test_train_then_evaluate_from_the_command_line(tmp_path, photos, capsys):
    data = tmp_path / "photos"
    data.mkdir()
    for name in ("coffee", "chelsea", "astronaut"):
        Image.fromarray(photos[name]).save(data / f"{name}.jpg")
    ckpt = tmp_path / "run.pt"
    code = main([
        "train", "--data", str(data), "--epochs", "1", "--batch-size", "2", "--size", "16",
        "--backbone", "none", "--out", str(ckpt), "--no-progress", "--val-fraction", "0.34",
    ])
    assert code == 0 and ckpt.is_file()
    capsys.readouterr()
    assert main(["evaluate", "--data", str(data), "--checkpoint", str(ckpt), "--size", "32", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 3 and "gray_psnr" in result["mean"]
    assert main(["evaluate", "--data", str(data), "--checkpoint", str(ckpt), "--size", "32"]) == 0
    assert "colorfulness" in capsys.readouterr().out


def test_train_colorful_crops_refuses_nonsense_and_works_on_a_prepared_cache_too(tmp_path, photos, capsys):
    from colorlab.cache import prepare
    from colorlab.checkpoint import load_checkpoint

    assert main(["train", "--data", "sample", "--colorful-crops", "0"]) == 2
    assert "--colorful-crops must be at least 1" in capsys.readouterr().err
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("coffee", "chelsea"):
        Image.fromarray(photos[name]).save(folder / f"{name}.png")
    prepare(folder, tmp_path / "cache", size=32, progress=False)
    args = ["train", "--data", str(tmp_path / "cache"), "--colorful-crops", "3", "--out", str(tmp_path / "r.pt"),
            "--backbone", "none", "--size", "16", "--batch-size", "2", "--epochs", "1", "--val-fraction", "0", "--no-progress"]
    assert main(args) == 0
    assert load_checkpoint(tmp_path / "r.pt")["step"] == 1


def test_train_exclude_rejects_unknown_sample_names(capsys):
    assert main(["train", "--data", "sample", "--exclude", "nope", "--backbone", "none"]) == 2
    assert "nope" in capsys.readouterr().err


def test_export_writes_a_small_half_precision_copy_without_optimizer(tmp_path, photos, capsys):
    from colorlab.model import build_model
    from colorlab.checkpoint import load_checkpoint, save_checkpoint
    import torch

    model = build_model("none")
    opt = torch.optim.Adam(model.parameters())
    model(torch.zeros(1, 1, 8, 8)).sum().backward()
    opt.step()
    run = save_checkpoint(tmp_path / "run.pt", model, opt, step=7)
    assert main(["export", str(run), str(tmp_path / "ship.pt"), "--held-out", "china,flower"]) == 0
    ship = load_checkpoint(tmp_path / "ship.pt")
    assert "optimizer" not in ship and ship["step"] == 7
    assert ship["extra"]["held_out"] == ["china", "flower"]
    assert all(v.dtype == torch.float16 for v in ship["model"].values())
    assert (tmp_path / "ship.pt").stat().st_size < run.stat().st_size / 2


def test_evaluate_only_some_sample_photos(tiny_checkpoint, capsys):
    assert main(["evaluate", "--data", "sample", "--only", "coffee", "--checkpoint", str(tiny_checkpoint), "--size", "32", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 1
