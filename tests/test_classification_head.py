"""The colour-classification head (Zhang et al. 2016) inside the network, the trainer, checkpoints and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from colorlab.checkpoint import CheckpointError, load_model, save_checkpoint
from colorlab.cli import main
from colorlab.colorbins import gamut_bins, set_weights_from
from colorlab.crops import center_crop_resize
from colorlab.data import ColorDataset
from colorlab.engine import TrainConfig, Trainer
from colorlab.infer import colorize
from colorlab.model import build_model

TINY = dict(encoder_channels=(8,) * 8, fusion_channels=8)


def test_classification_head_predicts_bin_logits_at_half_resolution_and_decodes_to_scaled_ab():
    torch.manual_seed(0)
    net = build_model("none", head="classification", **TINY).eval()
    q = len(gamut_bins())
    logits = net(torch.rand(2, 1, 32, 48) * 2 - 1)
    assert logits.shape == (2, q, 16, 24)
    ab = net.decode(logits)
    assert ab.shape == (2, 2, 32, 48) and ab.abs().max() <= 1.0
    assert torch.equal(net.ab_bins, gamut_bins())
    # the regression head is the paper's: its output is already ab
    reg = build_model("none", **TINY).eval()
    out = reg(torch.zeros(1, 1, 16, 16))
    assert torch.equal(reg.decode(out), out)


def test_a_low_temperature_decodes_to_a_more_saturated_colour_than_the_mean():
    net = build_model("none", head="classification", **TINY).eval()
    bins = net.ab_bins
    red, green = (
        int(torch.argmin((bins - torch.tensor([60.0, 50.0])).norm(dim=1))),
        int(torch.argmin((bins - torch.tensor([-50.0, 50.0])).norm(dim=1))),
    )
    logits = torch.full((1, len(bins), 1, 1), -10.0)
    logits[0, red], logits[0, green] = 2.0, 1.5  # red a little more likely than green
    mean = net.decode(logits, temperature=1.0)[0, :, 0, 0] * 128
    sharp = net.decode(logits, temperature=0.05)[0, :, 0, 0] * 128
    assert sharp.norm() > mean.norm() + 10  # the mean is a dull average of red and green
    assert torch.allclose(sharp, bins[red], atol=1.0)


def test_rebalancing_weights_are_measured_on_the_training_photos_with_expectation_one(photos):
    net = build_model("none", head="classification", **TINY)
    ds = ColorDataset(
        [center_crop_resize(photos[n], 64) for n in ("coffee", "chelsea", "astronaut")], size=32, augment=False
    )
    set_weights_from(net, ds)
    assert float((net.ab_prior * net.ab_weights).sum()) == pytest.approx(1.0, abs=1e-5)
    assert net.ab_weights.max() > 2 * net.ab_weights.min()  # rare colours weigh more


def test_classification_checkpoint_round_trips_and_is_refused_by_the_regression_architecture(tmp_path):
    torch.manual_seed(0)
    net = build_model("none", head="classification", **TINY)
    net.ab_weights.uniform_(0.5, 2.0)
    path = save_checkpoint(tmp_path / "cls.pt", net)
    back = load_model(path, "cpu")
    assert back.config.head == "classification"
    for k, v in net.trainable_state_dict().items():
        torch.testing.assert_close(back.trainable_state_dict()[k], v)
    from colorlab.checkpoint import load_checkpoint, load_weights

    with pytest.raises(CheckpointError, match="classification head, the model has the regression head"):
        load_weights(build_model("none", **TINY), load_checkpoint(path), path)


def test_trainer_lowers_the_classification_loss_on_one_photo(photos):
    torch.manual_seed(0)
    photo = center_crop_resize(photos["coffee"], 32)
    ds = ColorDataset([photo], size=32, augment=False, repeats=4)
    net = build_model("none", head="classification", encoder_channels=(16,) * 8, fusion_channels=16)
    set_weights_from(net, ds)
    trainer = Trainer(net, ds, ds, TrainConfig(epochs=15, batch_size=4, lr=3e-3, progress=False, device="cpu"))
    first = trainer.validate()["val_loss"]
    trainer.fit()
    assert trainer.validate()["val_loss"] < 0.7 * first


def test_cli_trains_a_classification_model_and_colorizes_with_a_temperature(tmp_path, photos, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("coffee", "chelsea"):
        Image.fromarray(center_crop_resize(photos[name], 48)).save(folder / f"{name}.png")
    ckpt = tmp_path / "cls.pt"
    args = [
        "train",
        "--data",
        str(folder),
        "--head",
        "classification",
        "--backbone",
        "none",
        "--size",
        "32",
        "--batch-size",
        "2",
        "--epochs",
        "1",
        "--val-fraction",
        "0",
        "--device",
        "cpu",
        "--no-progress",
        "--out",
        str(ckpt),
    ]
    assert main(args) == 0
    model = load_model(ckpt, "cpu")
    assert model.config.head == "classification" and model.ab_weights.std() > 0
    out = tmp_path / "out"
    assert (
        main(
            ["colorize", str(folder / "coffee.png"), "-o", str(out), "--checkpoint", str(ckpt), "--temperature", "0.1"]
        )
        == 0
    )
    assert np.asarray(Image.open(out / "coffee.png")).shape == (48, 48, 3)
    a = colorize(folder / "coffee.png", model, temperature=1.0)
    b = colorize(folder / "coffee.png", model, temperature=0.05)
    assert a.shape == b.shape == (48, 48, 3)
