"""colorlab.train: it learns, checkpoints are complete and atomic, resume continues."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from colorlab.checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from colorlab.crops import center_crop_resize
from colorlab.data import ColorDataset
from colorlab.engine import TrainConfig, Trainer
from colorlab.infer import colorize
from colorlab.metrics import gray_baseline, psnr
from colorlab.model import build_model
from colorlab.train import colorization_loss


def test_loss_is_the_papers_mse_over_both_channels():
    pred = torch.zeros(1, 2, 4, 4)
    true = torch.zeros(1, 2, 4, 4)
    true[0, 0] = 1.0  # all of a wrong by 1, b right
    # C = 1/(2HW) * sum (X - X~)^2 = 16 / 32
    assert colorization_loss(pred, true).item() == pytest.approx(0.5)


@pytest.mark.slow
def test_training_on_one_photo_cuts_loss_5x_and_beats_the_gray_baseline(photos):
    torch.manual_seed(0)
    photo = center_crop_resize(photos["coffee"], 64)
    data = ColorDataset([photo], size=64, augment=False, repeats=4)
    model = build_model("efficientnet_lite0")
    trainer = Trainer(model, data, config=TrainConfig(epochs=75, batch_size=4, lr=5e-4, progress=False))
    first = trainer.validate(data)["val_loss"]
    history = trainer.fit()
    last = trainer.validate(data)["val_loss"]
    assert trainer.step == 75
    assert first / last >= 5, f"loss went from {first:.4f} to {last:.4f}"
    result = colorize(photo, model.eval(), size=64)
    model_psnr, gray_psnr = psnr(result, photo), psnr(gray_baseline(photo), photo)
    print(
        f"loss {first:.4f} -> {last:.4f} ({first / last:.1f}x); PSNR model {model_psnr:.2f} dB, gray {gray_psnr:.2f} dB"
    )
    assert model_psnr > gray_psnr
    assert len(history) == 75 and history[-1]["train_loss"] < history[0]["train_loss"]


def _tiny_trainer(tmp_path, photos, **cfg):
    data = ColorDataset(list(photos.values())[:3], size=16, repeats=2, seed=3)
    torch.manual_seed(0)
    config = TrainConfig(batch_size=2, progress=False, **cfg)
    return Trainer(build_model("none"), data, data, config, checkpoint=tmp_path / "run.pt")


def test_checkpoint_holds_config_weights_optimizer_step_and_rng(tmp_path, photos):
    trainer = _tiny_trainer(tmp_path, photos, epochs=1)
    trainer.fit()
    ckpt = load_checkpoint(tmp_path / "run.pt")
    assert ckpt["format"] == CHECKPOINT_FORMAT
    assert ckpt["model_config"]["backbone"] == "none"
    assert set(ckpt["model"]) == set(trainer.model.trainable_state_dict())
    assert ckpt["optimizer"]["state"], "Adam moments are saved"
    assert ckpt["epoch"] == 1 and ckpt["step"] == trainer.step == 3
    assert isinstance(ckpt["torch_rng"], torch.Tensor)
    assert {"train_loss", "val_loss", "val_psnr", "images_per_s"} <= set(ckpt["history"][0])


def test_resume_continues_from_the_saved_step_and_matches_an_uninterrupted_run(tmp_path, photos):
    straight = _tiny_trainer(tmp_path / "a", photos, epochs=2)
    straight.fit()

    first = _tiny_trainer(tmp_path / "b", photos, epochs=1)
    first.fit()
    resumed = Trainer(
        build_model("none"),
        first.train_data,
        first.val_data,
        TrainConfig(batch_size=2, progress=False, epochs=2),
        checkpoint=tmp_path / "b" / "run.pt",
        resume=True,
    )
    assert resumed.step == 3 and resumed.epoch == 1
    resumed.fit()
    assert resumed.step == straight.step == 6
    for k, v in straight.model.trainable_state_dict().items():
        torch.testing.assert_close(resumed.model.trainable_state_dict()[k], v)


def test_epoch_order_depends_only_on_seed_and_epoch(tmp_path, photos):
    a = _tiny_trainer(tmp_path, photos, seed=5)
    b = _tiny_trainer(tmp_path, photos, seed=5)
    assert a.epoch_order(3) == b.epoch_order(3)
    assert a.epoch_order(3) != a.epoch_order(4)


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, tiny_net):
    path = save_checkpoint(tmp_path / "m.pt", tiny_net)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]
    assert load_checkpoint(path)["step"] == 0


def test_half_precision_checkpoint_stores_float16(tmp_path, tiny_net):
    path = save_checkpoint(tmp_path / "h.pt", tiny_net, half=True)
    weights = load_checkpoint(path)["model"]
    assert all(v.dtype == torch.float16 for v in weights.values() if v.is_floating_point())


def test_history_has_one_record_per_epoch_with_validation_psnr(tmp_path, photos):
    trainer = _tiny_trainer(tmp_path, photos, epochs=2)
    history = trainer.fit()
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(np.isfinite(h["val_psnr"]) and h["val_psnr"] > 0 for h in history)


def test_cosine_schedule_decays_to_one_percent(tmp_path, photos):
    trainer = _tiny_trainer(tmp_path, photos, lr=1.0, lr_schedule="cosine")
    assert trainer.lr_at(0, 100) == pytest.approx(1.0)
    assert trainer.lr_at(100, 100) == pytest.approx(0.01)


def test_checkpoint_gets_ordinary_file_permissions(tmp_path, tiny_net):
    import os

    umask = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "m.pt", tiny_net)
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644
