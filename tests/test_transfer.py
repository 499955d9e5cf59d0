"""colorlab.transfer: the U-Net over the pretrained Lite0 trunk, hints, and its checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from colorlab.checkpoint import CheckpointError, load_model, model_from_checkpoint, save_checkpoint
from colorlab.cli import main
from colorlab.data import ColorDataset
from colorlab.hints import empty_hints, simulate_hints, takes_hints
from colorlab.model import ColorizationNet, ModelConfig
from colorlab.transfer import DECODER_CHANNELS, TRUNK_CHANNELS, TransferNet, create_model


@pytest.fixture(scope="module")
def unet():
    torch.manual_seed(0)
    return create_model(ModelConfig(arch="unet", hints=True)).eval()


@pytest.mark.parametrize("h,w", [(128, 128), (72, 104), (8, 16)])
def test_regression_output_has_the_input_size_and_tanh_range(unet, h, w):
    l_net = torch.rand(2, 1, h, w) * 2 - 1
    with torch.no_grad():
        ab = unet(l_net)
    assert ab.shape == (2, 2, h, w)
    assert ab.abs().max() <= 1.0


def test_trunk_is_read_at_strides_2_to_32():
    net = create_model(ModelConfig(arch="unet", pretrained=False)).eval()
    feats, logits = net.extractor.pyramid(torch.zeros(1, 1, 64, 96))
    assert [tuple(f.shape[1:]) for f in feats] == [
        (c, 64 // s, 96 // s) for c, s in zip(TRUNK_CHANNELS, (2, 4, 8, 16, 32))
    ]
    assert logits.shape == (1, 1000)
    assert net.up2[0].out_channels == DECODER_CHANNELS[-1]


def test_classification_head_gives_bins_at_half_resolution_and_decodes_to_full():
    net = create_model(ModelConfig(arch="unet", head="classification", pretrained=False)).eval()
    with torch.no_grad():
        out = net(torch.zeros(1, 1, 64, 40))
        assert out.shape == (1, len(net.ab_bins), 32, 20)
        assert net.decode(out).shape == (1, 2, 64, 40)


def test_trunk_is_frozen_and_stays_in_eval_mode(unet):
    net = create_model(ModelConfig(arch="unet", pretrained=False))
    net.train()
    assert not net.extractor.training and all(not m.training for m in net.extractor.modules())
    assert net.up2.training
    out = net(torch.rand(2, 1, 64, 64) * 2 - 1)
    out.pow(2).mean().backward()
    assert all(p.grad is None and not p.requires_grad for p in net.extractor.parameters())
    assert all(p.grad is not None for n, p in net.named_parameters() if not n.startswith("extractor."))
    assert not any(k.startswith("extractor.") for k in net.trainable_state_dict())


def test_trainable_stages_learn_only_the_last_stages_at_a_tenth_of_the_rate(tmp_path):
    from colorlab.engine import TrainConfig, Trainer

    net = create_model(ModelConfig(arch="unet", pretrained=False, trainable_stages=1))
    net.train()
    net(torch.rand(2, 1, 64, 64) * 2 - 1).pow(2).mean().backward()
    grads = {n: p.grad is not None for n, p in net.extractor.named_parameters()}
    assert any(v for n, v in grads.items() if n.startswith("stages.6."))
    assert not any(v for n, v in grads.items() if n.startswith(("stages.5.", "stages.0.", "stem.")))
    assert any(k.startswith("extractor.stages.6.") for k in net.trainable_state_dict())
    assert not any(m.training for m in net.extractor.modules())  # BatchNorm statistics stay fixed
    photos = ColorDataset([np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)] * 4, size=8)
    trainer = Trainer(net, photos, config=TrainConfig(lr=1e-3, progress=False))
    scales = {g["lr_scale"]: len(g["params"]) for g in trainer.optimizer.param_groups}
    assert set(scales) == {1.0, 0.1} and trainer.optimizer.param_groups[0]["lr_scale"] == 1.0


def test_a_hint_colours_the_network_output_and_empty_hints_change_nothing(unet):
    torch.manual_seed(1)
    l_net = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        plain = unet(l_net)
        torch.testing.assert_close(unet(l_net, empty_hints(l_net)), plain)
        hints = empty_hints(l_net)
        hints[0, 0, 28:36, 28:36], hints[0, 1, 28:36, 28:36], hints[0, 2, 28:36, 28:36] = 0.5, -0.5, 1.0
        hinted = unet(l_net, hints)
    assert (hinted - plain).abs().max() > 1e-4


def test_hints_are_refused_by_a_model_without_them_and_checked_for_shape(unet):
    net = create_model(ModelConfig(arch="unet", pretrained=False))
    l_net = torch.zeros(1, 1, 32, 32)
    with pytest.raises(ValueError, match="takes no hints"):
        net(l_net, empty_hints(l_net))
    with pytest.raises(ValueError, match="hints must be"):
        unet(l_net, torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match="arch='unet'"):
        ModelConfig(hints=True)
    with pytest.raises(ValueError, match="unknown architecture"):
        ModelConfig(arch="resnet")
    assert takes_hints(unet) and not takes_hints(net) and not takes_hints(ColorizationNet(ModelConfig(backbone="none")))


def test_simulated_hints_are_patches_of_the_true_mean_colour():
    g = torch.Generator().manual_seed(0)
    ab = torch.rand(64, 2, 32, 32) * 2 - 1
    hints = simulate_hints(ab, generator=g)
    mask = hints[:, 2]
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert (hints[:, :2] * (1 - mask[:, None])).abs().max() == 0  # no colour where no hint is
    empty = (mask.flatten(1).sum(1) == 0).float().mean()
    assert 0.3 < empty < 0.7  # about half the photos get none
    assert (mask.flatten(1).sum(1) > 0).any()
    # a constant photo: every hint is its colour
    flat = torch.full((4, 2, 16, 16), 0.25)
    h = simulate_hints(flat, none_prob=0.0, generator=g)
    assert ((h[:, :2] - 0.25 * h[:, 2:]).abs().max()) < 1e-6 and (h[:, 2].flatten(1).sum(1) > 0).all()
    assert simulate_hints(ab, none_prob=1.0).abs().max() == 0
    with pytest.raises(ValueError):
        simulate_hints(torch.zeros(1, 3, 8, 8))


def test_checkpoint_round_trip_records_the_architecture(tmp_path, unet):
    path = save_checkpoint(tmp_path / "unet.pt", unet, half=True)
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["model_config"]["arch"] == "unet" and ckpt["model_config"]["hints"] is True
    loaded = load_model(path, "cpu", precision="fp32")
    assert isinstance(loaded, TransferNet)
    l_net = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded(l_net), unet(l_net), atol=2e-2, rtol=0)
    # the same weights do not load into another architecture
    other = dict(ckpt, model_config={**ckpt["model_config"], "arch": "paper", "hints": False})
    with pytest.raises(CheckpointError):
        model_from_checkpoint(other, "x.pt", pretrained=False)
    no_hints = dict(ckpt, model_config={**ckpt["model_config"], "hints": False})
    with pytest.raises(CheckpointError, match="do not fit|hints"):
        model_from_checkpoint(no_hints, "x.pt", pretrained=False)


def test_old_checkpoints_without_an_arch_load_as_the_paper_net(tmp_path, tiny_net):
    path = save_checkpoint(tmp_path / "old.pt", tiny_net)
    ckpt = torch.load(path, weights_only=True)
    for key in ("arch", "hints", "trainable_stages"):
        ckpt["model_config"].pop(key)
    torch.save(ckpt, path)
    assert isinstance(load_model(path, "cpu"), ColorizationNet)


def test_train_evaluate_and_colorize_with_hints_from_the_command_line(tmp_path, photos, capsys):
    data = tmp_path / "photos"
    data.mkdir()
    for name in ("coffee", "chelsea", "astronaut"):
        Image.fromarray(photos[name]).save(data / f"{name}.jpg")
    ckpt = tmp_path / "unet.pt"
    code = main(
        [
            "train",
            "--data",
            str(data),
            "--epochs",
            "1",
            "--batch-size",
            "2",
            "--size",
            "32",
            "--arch",
            "unet",
            "--hints",
            "--out",
            str(ckpt),
            "--no-progress",
            "--val-fraction",
            "0.34",
            "--threads",
            "1",
        ]
    )
    assert code == 0 and ckpt.is_file()
    assert isinstance(load_model(ckpt, "cpu"), TransferNet)
    capsys.readouterr()
    assert main(["evaluate", "--data", str(data), "--checkpoint", str(ckpt), "--size", "64", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 3
    out = tmp_path / "out.png"
    assert main(["colorize", str(data / "coffee.jpg"), "-o", str(out), "--checkpoint", str(ckpt), "--size", "64"]) == 0
    assert Image.open(out).size == Image.open(data / "coffee.jpg").size


def test_export_can_set_a_classification_heads_temperature(tmp_path, capsys):
    net = create_model(ModelConfig(arch="unet", head="classification", pretrained=False))
    src = save_checkpoint(tmp_path / "run.pt", net)
    assert main(["export", str(src), str(tmp_path / "copy.pt"), "--temperature", "0.25"]) == 0
    assert torch.load(tmp_path / "copy.pt", weights_only=True)["model_config"]["temperature"] == 0.25
    assert main(["export", str(src), str(tmp_path / "bad.pt"), "--temperature", "nan"]) == 2
    assert "temperature must be a number" in capsys.readouterr().err
    reg = save_checkpoint(tmp_path / "reg.pt", create_model(ModelConfig(arch="unet", pretrained=False)))
    assert main(["export", str(reg), str(tmp_path / "reg-copy.pt"), "--temperature", "0.3"]) == 2
    assert "applies to a classification head" in capsys.readouterr().err


def test_the_trunk_gives_the_app_imagenet_logits_at_224_whatever_the_input_size(unet):
    with torch.no_grad():
        a = unet.extractor(torch.zeros(1, 1, 64, 96))
        b = unet.extractor(torch.zeros(1, 1, 224, 224))
    assert a.shape == b.shape == (1, 1000)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=0)  # a flat gray photo looks the same at any size
