"""colorlab.color: Lab <-> sRGB agrees with scikit-image, round-trips, is differentiable."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import color as skcolor

from colorlab import color


def _cube_and_random(n: int = 100_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    corners = np.array([[r, g, b] for r in (0, 1) for g in (0, 1) for b in (0, 1)], dtype=np.float64)
    return np.concatenate([rng.random((n, 3)), corners])


def _as_image(rows: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    # (N, 3) -> (1, 3, N, 1)
    return torch.tensor(rows.T.reshape(1, 3, -1, 1), dtype=dtype)


def _rows(t: torch.Tensor) -> np.ndarray:
    return t[0, :, :, 0].T.double().numpy()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rgb_to_lab_matches_skimage_within_1e3_over_100k_colors_and_cube_corners(dtype):
    rgb = _cube_and_random()
    ours = _rows(color.rgb_to_lab(_as_image(rgb, dtype)))
    ref = skcolor.rgb2lab(rgb[None])[0]
    assert np.abs(ours - ref).max() <= 1e-3


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lab_to_rgb_matches_skimage(dtype):
    lab = skcolor.rgb2lab(_cube_and_random(20_000, seed=1)[None])[0]
    ours = _rows(color.lab_to_rgb(_as_image(lab, dtype)))
    ref = skcolor.lab2rgb(lab[None])[0]
    assert np.abs(ours - ref).max() <= 1e-4


def test_lab_to_rgb_clips_out_of_gamut_like_skimage():
    lab = np.array([[50.0, 120.0, -120.0], [100.0, 80.0, 80.0], [0.0, -100.0, 100.0], [30.0, 0.0, -200.0]])
    ours = _rows(color.lab_to_rgb(_as_image(lab, torch.float64)))
    with pytest.warns(UserWarning):  # skimage warns about the negative Z it clips
        ref = skcolor.lab2rgb(lab[None])[0]
    assert ours.min() >= 0 and ours.max() <= 1
    assert np.abs(ours - ref).max() <= 1e-6


def test_round_trip_rgb_lab_rgb_within_one_level_of_255():
    rgb = _cube_and_random()
    back = _rows(color.lab_to_rgb(color.rgb_to_lab(_as_image(rgb))))
    assert np.abs(back - rgb).max() <= 1 / 255


def test_batched_and_single_image_shapes_are_kept():
    x = torch.rand(4, 3, 5, 7)
    assert color.rgb_to_lab(x).shape == (4, 3, 5, 7)
    assert color.rgb_to_lab(x[0]).shape == (3, 5, 7)
    torch.testing.assert_close(color.rgb_to_lab(x)[2], color.rgb_to_lab(x[2]), atol=1e-4, rtol=0)


def test_rgb_to_lab_is_differentiable_with_finite_gradients_even_at_black():
    x = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    x[0, :, 0, 0] = 0.0  # black: the pow() branches must not produce NaN gradients
    x.requires_grad_(True)
    color.lab_to_rgb(color.rgb_to_lab(x)).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert torch.autograd.gradcheck(color.rgb_to_lab, (torch.rand(1, 3, 2, 2, dtype=torch.float64).requires_grad_(),))


def test_wrong_shapes_and_dtypes_get_clear_errors():
    with pytest.raises(ValueError, match="3 channels"):
        color.rgb_to_lab(torch.rand(1, 4, 2, 2))
    with pytest.raises(TypeError, match="float"):
        color.rgb_to_lab(torch.zeros(1, 3, 2, 2, dtype=torch.uint8))


def test_network_scaling_maps_lab_ranges_to_minus_one_one_and_back():
    lab = torch.tensor([[[[0.0]], [[-128.0]], [[-128.0]]], [[[100.0]], [[128.0]], [[128.0]]]])
    l_net, ab_net = color.scale_l(lab[:, 0:1]), color.scale_ab(lab[:, 1:3])
    assert l_net.flatten().tolist() == [-1.0, 1.0]
    assert ab_net[:, 0].flatten().tolist() == [-1.0, 1.0]
    torch.testing.assert_close(color.network_to_lab(l_net, ab_net), lab)


def test_l_to_gray_rgb_equals_lab_to_rgb_of_zero_chroma():
    L = torch.linspace(0, 100, 101, dtype=torch.float64).view(1, 1, 1, -1)
    zero = torch.zeros_like(L)
    full = color.lab_to_rgb(torch.cat([L, zero, zero], dim=1))
    gray = color.l_to_gray_rgb(L)
    # D65 gray has R = G = B
    torch.testing.assert_close(full, gray.expand_as(full), atol=2e-3, rtol=0)


def test_numpy_uint8_helpers_round_trip_a_photo(photos):
    img = photos["coffee"]
    back = color.lab_to_rgb_uint8(color.rgb_uint8_to_lab(img))
    assert back.dtype == np.uint8 and back.shape == img.shape
    assert np.abs(back.astype(int) - img).max() <= 1


def test_rgb_uint8_to_l_equals_rgb_to_l_for_every_colour_and_gray_level():
    levels = torch.arange(256, dtype=torch.uint8)
    rgb = torch.stack(torch.meshgrid(levels[::5], levels[::3], levels, indexing="ij")).reshape(1, 3, -1, 256)
    fast = color.rgb_uint8_to_l(rgb)
    ref = color.rgb_to_l(rgb.double() / 255)
    assert (fast.double() - ref).abs().max() < 1e-3
    gray = color.rgb_uint8_to_l(levels.view(1, 1, 1, 256))
    ref_gray = color.rgb_to_l(levels.double().div(255).view(1, 1, 1, 256).expand(1, 3, 1, 256))
    assert (gray.double() - ref_gray).abs().max() < 1e-3
    with pytest.raises(ValueError, match="uint8"):
        color.rgb_uint8_to_l(rgb.float())
