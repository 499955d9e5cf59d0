"""colorlab.infer: colorize any size, mode and aspect; batched path; checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from colorlab.checkpoint import CheckpointError, save_checkpoint
from colorlab.color import rgb_to_l
from colorlab.infer import (
    colorize,
    colorize_many,
    load_model,
    network_input_size,
    predict_ab,
)


@pytest.mark.parametrize("h,w", [(1, 1), (7, 300), (300, 7), (233, 311), (64, 64)])
def test_colorize_keeps_input_size_for_any_aspect_ratio(tiny_net, h, w, rng):
    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    out = colorize(img, tiny_net, size=32)
    assert out.shape == (h, w, 3) and out.dtype == np.uint8


def test_colorize_keeps_the_full_resolution_lightness(tiny_net, photos):
    img = photos["astronaut"]
    out = colorize(img, tiny_net, size=64)

    def lightness(a):
        return rgb_to_l(torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255)

    # L is kept; only gamut clipping can move it a little
    assert (lightness(out) - lightness(img)).abs().mean() < 1.0


def test_colorize_accepts_path_pil_and_arrays_of_any_mode(tiny_net, tmp_path, photos):
    rgb = photos["coffee"][:40, :56]
    path = tmp_path / "photo with spaces ü.png"
    Image.fromarray(rgb).save(path)
    inputs = [
        str(path),
        path,
        Image.fromarray(rgb),
        Image.fromarray(rgb).convert("L"),
        Image.fromarray(rgb).convert("RGBA"),
        Image.fromarray(rgb).convert("P"),
        rgb,
        rgb[..., 0],
        rgb.astype(np.float32) / 255,
        (rgb.astype(np.uint16) * 257),
    ]
    for inp in inputs:
        assert colorize(inp, tiny_net, size=32).shape == (40, 56, 3)


def test_saturation_zero_gives_gray_and_scales_colour(tiny_net, photos):
    img = photos["chelsea"][:64, :64]
    gray = colorize(img, tiny_net, size=32, saturation=0.0)
    assert np.abs(gray[..., 0].astype(int) - gray[..., 2]).max() <= 1
    assert not np.array_equal(colorize(img, tiny_net, size=32, saturation=2.0), colorize(img, tiny_net, size=32))


def test_network_sees_short_side_at_training_size_in_multiples_of_8():
    assert network_input_size(480, 640, 224) == (224, 296)
    assert network_input_size(1, 1, 224) == (224, 224)
    h, w = network_input_size(1, 5000, 224)
    assert h % 8 == 0 and w % 8 == 0 and w <= 1024 and h >= 8


@pytest.mark.parametrize("join_pixels", [1 << 20, 700, 30])  # whole image; rows; pieces of a row
def test_upsampled_ab_equals_bilinear_interpolation_whatever_the_tiling(tiny_net, photos, monkeypatch, join_pixels):
    # the tile-wise join must equal a whole-image F.interpolate
    import colorlab.infer as infer

    monkeypatch.setattr(infer, "JOIN_PIXELS", join_pixels)
    img = photos["rocket"][:50, :70]
    ab = torch.randn(1, 2, 8, 16) * 30
    out = infer.join_lightness(img[None], ab)[0]
    full = torch.nn.functional.interpolate(ab, size=(50, 70), mode="bilinear", align_corners=False)
    L = rgb_to_l(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255)
    from colorlab.color import lab_to_rgb

    ref = (lab_to_rgb(torch.cat([L, full], 1))[0].permute(1, 2, 0) * 255).round().byte().numpy()
    assert np.abs(out.astype(int) - ref).max() <= 1


def test_colorize_many_equals_one_by_one(tiny_net, photos):
    imgs = [photos["coffee"], photos["chelsea"], photos["coffee"][:100, :150], photos["rocket"]]
    batch = colorize_many(imgs, tiny_net, size=32, batch_size=2)
    for img, out in zip(imgs, batch):
        assert np.abs(out.astype(int) - colorize(img, tiny_net, size=32)).max() <= 1


def test_predict_ab_returns_lab_units(tiny_net, rng):
    ab = predict_ab(tiny_net, rng.integers(0, 255, (2, 16, 24, 3), dtype=np.uint8))
    assert ab.shape == (2, 2, 16, 24) and ab.abs().max() <= 128


def test_load_model_restores_weights_in_eval_mode(tmp_path, tiny_net):
    path = save_checkpoint(tmp_path / "m.pt", tiny_net)
    model = load_model(path, "cpu")
    assert not model.training
    for k, v in tiny_net.trainable_state_dict().items():
        torch.testing.assert_close(model.trainable_state_dict()[k], v)


def test_load_model_of_a_non_checkpoint_names_the_file(tmp_path):
    bad = tmp_path / "weights.pt"
    torch.save({"a": torch.zeros(1)}, bad)
    with pytest.raises(CheckpointError, match="weights.pt: not a colorlab checkpoint"):
        load_model(bad)
