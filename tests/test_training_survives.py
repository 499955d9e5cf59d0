"""Training that survives: kill -9 and resume, NaN loss, a full disk, Ctrl-C."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import colorlab.engine.trainer as trainer_mod
import colorlab.train as train_mod
from colorlab.checkpoint import load_checkpoint
from colorlab.engine import NonFiniteLossError, TrainConfig, Trainer
from colorlab.infer import load_model
from colorlab.model import build_model

STEPS = 8


def tiny():
    torch.manual_seed(0)
    return build_model("none", encoder_channels=(8,) * 8, fusion_channels=8)


def photos(n=6, size=24):
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def _trainer(ckpt, resume=False, **cfg):
    from colorlab.data import ColorDataset

    config = TrainConfig(**{"epochs": 3, "batch_size": 2, "device": "cpu", "progress": False, **cfg})
    return Trainer(
        tiny(), ColorDataset(photos(), size=16, skip_grayscale=False), None, config, checkpoint=ckpt, resume=resume
    )


# --- kill -9 a `colorlab train` and resume -------------------------------------------------


def _folder(root: Path) -> Path:
    root.mkdir()
    rng = np.random.default_rng(2)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(root / f"p{i}.png")
    return root


def _train_cmd(data: Path, out: Path, resume: bool) -> list[str]:
    exe = Path(sys.executable).with_name("colorlab")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "colorlab"]
    return (
        cmd
        + [
            "train",
            "--data",
            str(data),
            "--backbone",
            "none",
            "--size",
            "32",
            "--batch-size",
            "2",
            "--epochs",
            "100",
            "--max-steps",
            str(STEPS),
            "--save-every",
            "1",
            "--val-fraction",
            "0",
            "--device",
            "cpu",
            "--no-progress",
            "--out",
            str(out),
        ]
        + (["--resume"] if resume else [])
    )


def test_kill_9_then_resume_continues_with_same_data(tmp_path):
    data = _folder(tmp_path / "photos")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    # Reference: one uninterrupted run.
    ref = tmp_path / "ref.pt"
    subprocess.run(_train_cmd(data, ref, False), check=True, capture_output=True, timeout=300, env=env)

    # Interrupted: kill -9 right after the first checkpoint appears.
    ck = tmp_path / "run.pt"
    proc = subprocess.Popen(_train_cmd(data, ck, False), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 240
        while not ck.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ck.exists(), "no checkpoint appeared"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    saved = load_checkpoint(ck)  # whatever moment it died at, the checkpoint on disk is whole
    assert 1 <= saved["step"] < STEPS

    resumed = subprocess.run(_train_cmd(data, ck, True), capture_output=True, text=True, timeout=300, env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    final, reference = load_checkpoint(ck), load_checkpoint(ref)
    assert final["step"] == reference["step"] == STEPS
    # Same data order and optimizer state: the weights match the uninterrupted run.
    for k, v in reference["model"].items():
        torch.testing.assert_close(final["model"][k], v, rtol=1e-4, atol=1e-5, msg=k)
    model = load_model(ck, "cpu")  # loadable
    assert model.config.backbone == "none"


# --- non-finite loss -------------------------------------------------------------------


def test_nan_loss_stops_naming_the_step_and_keeps_last_good(tmp_path, monkeypatch):
    ck = tmp_path / "run.pt"
    trainer = _trainer(ck, save_every=1)
    real = train_mod.colorization_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(train_mod, "colorization_loss", poisoned)
    good = None
    with pytest.raises(NonFiniteLossError) as info:
        trainer.fit()
    assert "step 3" in str(info.value)
    saved = load_checkpoint(ck)
    assert saved["step"] == 2
    good = saved["model"]
    assert all(torch.isfinite(v).all() for v in good.values())
    load_model(ck, "cpu")


# --- a full disk -------------------------------------------------------------------------


def test_full_disk_while_saving_keeps_previous_checkpoint(tmp_path, monkeypatch):
    ck = tmp_path / "run.pt"
    trainer = _trainer(ck, max_steps=2)
    trainer.fit()
    before = ck.read_bytes()
    assert load_checkpoint(ck)["step"] == 2

    real_save = torch.save

    def full_disk(obj, f, *args, **kwargs):
        if hasattr(f, "write"):
            f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    trainer.step += 1
    with pytest.raises(OSError) as info:
        trainer.save()
    assert info.value.errno == errno.ENOSPC
    monkeypatch.setattr(torch, "save", real_save)
    assert ck.read_bytes() == before
    assert load_checkpoint(ck)["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]  # no half-written temp left behind


# --- Ctrl-C ---------------------------------------------------------------------------------


def test_keyboard_interrupt_saves_and_returns_history(tmp_path, monkeypatch):
    ck = tmp_path / "run.pt"
    trainer = _trainer(ck, epochs=5)
    real_step = trainer_mod.train_step
    calls = {"n": 0}

    def interrupt_on_5th(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(trainer_mod, "train_step", interrupt_on_5th)
    history = trainer.fit()  # returns, does not raise
    assert isinstance(history, list) and len(history) == 1  # 3 steps per epoch: epoch 1 done
    assert history[0]["epoch"] == 1
    saved = load_checkpoint(ck)
    assert saved["step"] == 4 == trainer.step
    assert len(saved["history"]) == 1
    resumed = _trainer(ck, resume=True, epochs=5)
    assert resumed.step == 4 and resumed.batch_in_epoch == 1
