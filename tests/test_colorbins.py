"""colorlab.colorbins: gamut bins, soft targets, rebalancing, the loss, annealed-mean decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from colorlab import colorbins as cb
from colorlab.color import rgb_to_lab


@pytest.fixture(scope="module")
def bins() -> torch.Tensor:
    return cb.gamut_bins()


def _ab_of(rgb: np.ndarray) -> torch.Tensor:
    """``(N, 3)`` sRGB in [0, 1] -> ``(N, 2)`` Lab ab."""
    t = torch.as_tensor(rgb, dtype=torch.float32)
    return rgb_to_lab(t.T.reshape(1, 3, -1, 1))[0, 1:, :, 0].T


def _random_8bit_ab(n: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    corners = np.array([[r, g, b] for r in (0, 255) for g in (0, 255) for b in (0, 255)])
    return _ab_of(np.concatenate([rng.integers(0, 256, (n, 3)), corners]) / 255.0)


def _as_image(ab: torch.Tensor) -> torch.Tensor:
    """``(N, 2)`` -> ``(1, 2, N, 1)``."""
    return ab.T.reshape(1, 2, -1, 1)


def _bin_of(bins: torch.Tensor, rgb: tuple[float, float, float]) -> int:
    return int(cb.nearest_bin(_ab_of(np.array([rgb])), bins)[0])


# --- bins -------------------------------------------------------------------------


def test_grid_10_gives_between_250_and_320_bins_near_zhangs_313(bins):
    # 261 from sRGB itself; Zhang et al.'s 313 came from ImageNet (see gamut_bins).
    assert bins.dtype == torch.float32 and bins.shape[1] == 2
    assert 250 <= bins.shape[0] <= 320


@pytest.mark.parametrize("grid", [10.0, 20.0])
def test_every_bin_centre_is_a_distinct_point_of_the_lattice(grid):
    centres = cb.gamut_bins(grid)
    assert torch.equal(centres, torch.round(centres / grid) * grid)
    assert torch.unique(centres, dim=0).shape[0] == centres.shape[0]


@pytest.mark.parametrize("grid", [10.0, 20.0])
def test_every_8bit_srgb_colour_falls_in_the_cell_of_some_bin(grid):
    centres = cb.gamut_bins(grid)
    ab = _random_8bit_ab(100_000)
    offset = ab - centres[cb.nearest_bin(ab, centres)]
    assert offset.abs().max() <= grid / 2 + 1e-4


def test_cells_outside_the_srgb_gamut_are_not_bins_and_grey_is(bins):
    as_set = {tuple(c) for c in bins.tolist()}
    assert (120.0, -120.0) not in as_set and (-120.0, 120.0) not in as_set
    assert (0.0, 0.0) in as_set


def test_gamut_bins_returns_a_copy_so_callers_cannot_corrupt_the_cache():
    first = cb.gamut_bins()
    first.fill_(0.0)
    assert cb.gamut_bins().abs().max() > 50


@pytest.mark.slow
def test_cube_surface_reaches_the_same_cells_as_all_256_cubed_colours(bins):
    v = torch.arange(256, dtype=torch.float32) / 255.0
    cells = set()
    for r in v.split(32):
        rgb = torch.stack(torch.meshgrid(r, v, v, indexing="ij"), dim=-1).reshape(-1, 3)
        cells |= {tuple(c) for c in torch.unique(torch.floor(_ab_of(rgb) / 10 + 0.5) * 10, dim=0).tolist()}
    assert cells == {tuple(c) for c in bins.tolist()}


# --- soft encoding -----------------------------------------------------------------


def test_soft_encode_spreads_each_pixel_over_its_5_nearest_bins_summing_to_one(bins):
    ab = torch.randn(2, 2, 6, 7) * 30
    target = cb.soft_encode(ab, bins)
    assert target.shape == (2, bins.shape[0], 6, 7)
    assert torch.allclose(target.sum(dim=1), torch.ones(2, 6, 7), atol=1e-6)
    assert ((target > 0).sum(dim=1) == 5).all()
    distances = torch.cdist(ab.permute(0, 2, 3, 1).reshape(-1, 2), bins)  # (N, Q)
    nearest5 = distances.topk(5, dim=1, largest=False).indices.sort(dim=1).values
    nonzero = (target.permute(0, 2, 3, 1).reshape(-1, bins.shape[0]) > 0).nonzero()[:, 1].reshape(-1, 5)
    assert torch.equal(nonzero, nearest5)


def test_soft_encode_weights_are_gaussian_in_the_distance_with_sigma_5(bins):
    target = cb.soft_encode(torch.tensor([0.0, 0.0]).view(1, 2, 1, 1), bins)[0, :, 0, 0]
    centre, neighbour = _index(bins, 0, 0), _index(bins, 10, 0)
    assert target[centre] / target[neighbour] == pytest.approx(np.exp(10**2 / (2 * 5**2)), rel=1e-5)


def _index(bins: torch.Tensor, a: float, b: float) -> int:
    return int(((bins - torch.tensor([a, b])).abs().sum(dim=1) == 0).nonzero()[0, 0])


def test_soft_encode_in_chunks_equals_all_at_once(bins, monkeypatch):
    ab = torch.randn(2, 2, 9, 9) * 40
    whole = cb.soft_encode(ab, bins)
    monkeypatch.setattr(cb, "_CHUNK", 7)
    assert torch.equal(cb.soft_encode(ab, bins), whole)


def test_soft_encode_stays_finite_far_outside_the_gamut(bins):
    target = cb.soft_encode(torch.full((1, 2, 1, 1), 500.0), bins)
    assert torch.isfinite(target).all() and target.sum() == pytest.approx(1.0)


# --- prior and rebalancing -----------------------------------------------------------


def test_ab_prior_sums_to_one_and_reads_pixels_or_images_alike(bins):
    ab = torch.randn(3, 2, 5, 4) * 25
    from_image = cb.ab_prior(ab, bins)
    from_rows = cb.ab_prior(ab.permute(0, 2, 3, 1).reshape(-1, 2), bins)
    assert from_image.shape == (bins.shape[0],)
    assert from_image.sum() == pytest.approx(1.0, abs=1e-6)
    assert torch.allclose(from_image, from_rows)


def test_ab_prior_of_one_colour_peaks_at_its_bin_and_is_blurred_with_sigma_5(bins):
    prior = cb.ab_prior(torch.tensor([[1.0, -2.0]] * 10), bins)
    assert int(prior.argmax()) == _index(bins, 0, 0)
    assert prior[_index(bins, 10, 0)] / prior.max() == pytest.approx(np.exp(-2.0), rel=1e-5)
    assert prior[_index(bins, 10, 10)] / prior.max() == pytest.approx(np.exp(-4.0), rel=1e-5)


def test_ab_prior_of_no_pixels_says_so(bins):
    with pytest.raises(ValueError, match="no ab samples"):
        cb.ab_prior(torch.zeros(0, 2), bins)


@pytest.mark.parametrize("lam", [0.1, 0.5, 0.9])
def test_rebalance_weights_have_expectation_exactly_one_under_the_prior(lam):
    prior = torch.distributions.Dirichlet(torch.full((261,), 0.3)).sample((1,))[0]
    weights = cb.rebalance_weights(prior, lam)
    assert (prior * weights).sum().item() == pytest.approx(1.0, abs=1e-6)


def test_rarer_bins_get_larger_weights():
    prior = torch.tensor([0.5, 0.3, 0.15, 0.05])
    weights = cb.rebalance_weights(prior, 0.5)
    assert (weights.diff() > 0).all()


def test_lambda_1_means_no_rebalancing():
    prior = torch.tensor([0.7, 0.2, 0.1])
    assert torch.allclose(cb.rebalance_weights(prior, 1.0), torch.ones(3))


def test_lambda_0_is_refused_because_unseen_bins_would_get_infinite_weight():
    with pytest.raises(ValueError, match="lam=0"):
        cb.rebalance_weights(torch.tensor([1.0, 0.0]), 0.0)


# --- loss -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_classification_loss_sends_finite_gradients_to_logits_of_any_float_dtype(bins, dtype):
    logits = torch.randn(2, bins.shape[0], 4, 4).to(dtype).requires_grad_()
    loss = cb.classification_loss(logits, torch.randn(2, 2, 4, 4) * 30, bins, torch.rand(bins.shape[0]) + 0.5)
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert logits.grad.dtype == dtype and torch.isfinite(logits.grad.float()).all()
    assert logits.grad.float().abs().sum() > 0


def test_classification_loss_is_lowest_when_logits_are_the_log_of_the_soft_target(bins):
    ab = torch.randn(2, 2, 5, 5) * 30
    weights = cb.rebalance_weights(cb.ab_prior(ab, bins))
    best_logits = torch.log(cb.soft_encode(ab, bins))  # -inf off the 5 nearest bins
    best = cb.classification_loss(best_logits, ab, bins, weights)
    assert torch.isfinite(best)
    generator = torch.Generator().manual_seed(0)
    for scale in (0.01, 0.1, 1.0):
        noise = torch.randn(best_logits.shape, generator=generator) * scale
        assert cb.classification_loss(best_logits.clamp(min=-30) + noise, ab, bins, weights) > best


def test_classification_loss_without_weights_equals_all_ones(bins):
    logits, ab = torch.randn(2, bins.shape[0], 3, 3), torch.randn(2, 2, 3, 3) * 30
    ones = torch.ones(bins.shape[0])
    assert cb.classification_loss(logits, ab, bins) == cb.classification_loss(logits, ab, bins, ones)


def test_classification_loss_weights_each_pixel_by_its_nearest_bins_weight(bins):
    logits, ab = torch.randn(1, bins.shape[0], 2, 1), torch.tensor([[[[0.0], [60.0]], [[0.0], [-40.0]]]])
    weights = torch.rand(bins.shape[0]) + 0.1
    per_pixel = [cb.classification_loss(logits[:, :, i : i + 1], ab[:, :, i : i + 1], bins) for i in range(2)]
    v = weights[cb.nearest_bin(ab, bins).flatten()]
    expected = (v[0] * per_pixel[0] + v[1] * per_pixel[1]) / 2
    assert cb.classification_loss(logits, ab, bins, weights).item() == pytest.approx(expected.item(), rel=1e-5)


def test_classification_loss_names_the_size_mismatch_and_the_fix(bins):
    with pytest.raises(ValueError, match="F.interpolate"):
        cb.classification_loss(torch.zeros(1, bins.shape[0], 4, 4), torch.zeros(1, 2, 8, 8), bins)


# --- decoding ---------------------------------------------------------------------------


def test_annealed_mean_at_temperature_1_is_the_mean_of_the_softmax(bins):
    logits = torch.randn(2, bins.shape[0], 3, 4)
    expected = torch.einsum("bqhw,qc->bchw", torch.softmax(logits, dim=1), bins)
    assert torch.allclose(cb.annealed_mean(logits, bins, 1.0), expected, atol=1e-4)


def test_annealed_mean_near_temperature_0_is_the_centre_of_the_mode(bins):
    modes = torch.randint(0, bins.shape[0], (2, 3, 4))
    logits = torch.randn(2, bins.shape[0], 3, 4)
    # the mode leads by 0.1, so at T = 1e-3 the runner-up has e^-100 of its weight
    logits.scatter_(1, modes[:, None], logits.amax(dim=1, keepdim=True) + 0.1)
    mode_centres = bins[modes].permute(0, 3, 1, 2)
    assert torch.allclose(cb.annealed_mean(logits, bins, 1e-3), mode_centres, atol=1e-3)


def test_mean_of_red_or_green_is_a_dull_colour_between_them_and_annealing_moves_to_the_stronger(bins):
    red, green = _bin_of(bins, (1.0, 0.0, 0.0)), _bin_of(bins, (0.0, 1.0, 0.0))
    logits = torch.full((1, bins.shape[0], 1, 1), -30.0)
    logits[0, red], logits[0, green] = np.log(0.6), np.log(0.4)
    mean = cb.annealed_mean(logits, bins, 1.0)[0, :, 0, 0]
    annealed = cb.annealed_mean(logits, bins, cb.TEMPERATURE)[0, :, 0, 0]
    assert torch.allclose(mean, 0.6 * bins[red] + 0.4 * bins[green], atol=1e-3)
    chroma = torch.linalg.vector_norm
    assert chroma(mean) < 0.75 * min(chroma(bins[red]), chroma(bins[green]))
    # 0.6 : 0.4 becomes 0.74 : 0.26 at T = 0.38, so 0.26 instead of 0.4 of the way to green
    assert chroma(annealed - bins[red]) < 0.7 * chroma(mean - bins[red])
    assert chroma(annealed) > chroma(mean)


def test_annealed_mean_is_differentiable_and_refuses_temperature_0(bins):
    logits = torch.randn(1, bins.shape[0], 2, 2, requires_grad=True)
    cb.annealed_mean(logits, bins).sum().backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    for bad in (0.0, -1.0, float("nan"), float("inf"), 1e-40):
        with pytest.raises(ValueError, match="temperature must be a number from 0.001"):
            cb.annealed_mean(logits, bins, bad)


# --- round trip ------------------------------------------------------------------------


def test_soft_encoding_then_mean_decoding_recovers_srgb_ab_within_5_lab_units(bins):
    # Inside the gamut the Gaussians on a 10-unit lattice pull the mean towards
    # the nearest centre by < 1 unit; at the gamut's edge missing neighbours pull
    # it inwards, by at most about 4.3 units.
    ab = _random_8bit_ab(20_000, seed=1)
    decoded = cb.annealed_mean(torch.log(cb.soft_encode(_as_image(ab), bins)), bins, 1.0)
    error = torch.linalg.vector_norm(decoded[0, :, :, 0].T - ab, dim=1)
    assert error.max() < 5.0
    centres = {tuple(c) for c in bins.tolist()}
    cell = torch.floor(ab / 10 + 0.5) * 10
    inside = torch.tensor(
        [all((a + da, b + db) in centres for da in (-10, 0, 10) for db in (-10, 0, 10)) for a, b in cell.tolist()]
    )
    assert inside.sum() > 10_000 and error[inside].max() < 1.0


# --- BinSpec -----------------------------------------------------------------------


def _spec(bins: torch.Tensor) -> cb.BinSpec:
    prior = cb.ab_prior(torch.randn(500, 2) * 20, bins)
    return cb.BinSpec(bins, prior, cb.rebalance_weights(prior, 0.3), lam=0.3, temperature=0.5)


def test_binspec_survives_a_weights_only_checkpoint(bins, tmp_path):
    spec = _spec(bins)
    torch.save({"colorbins": spec.to_dict()}, tmp_path / "ckpt.pt")
    back = cb.BinSpec.from_dict(torch.load(tmp_path / "ckpt.pt", weights_only=True)["colorbins"])
    for name in ("bins", "prior", "weights"):
        assert torch.equal(getattr(back, name), getattr(spec, name))
    assert (back.grid, back.lam, back.sigma, back.temperature) == (10.0, 0.3, 5.0, 0.5)
    assert back.num_bins == bins.shape[0]


def test_binspec_from_dict_accepts_plain_lists_and_names_missing_keys(bins):
    spec = _spec(bins)
    as_lists = {k: (v.tolist() if torch.is_tensor(v) else v) for k, v in spec.to_dict().items()}
    assert torch.allclose(cb.BinSpec.from_dict(as_lists).weights, spec.weights)
    with pytest.raises(ValueError, match="missing \\['prior'\\]"):
        cb.BinSpec.from_dict({k: v for k, v in spec.to_dict().items() if k != "prior"})


def test_binspec_from_a_red_photo_peaks_at_reds_bin_and_gives_red_the_smallest_weight(bins):
    red_photo = np.zeros((40, 50, 3), np.uint8)
    red_photo[..., 0] = 255
    spec = cb.BinSpec.from_images([red_photo, red_photo])
    assert torch.equal(spec.bins, bins)
    assert int(spec.prior.argmax()) == _bin_of(bins, (1.0, 0.0, 0.0))
    assert int(spec.weights.argmin()) == _bin_of(bins, (1.0, 0.0, 0.0))


def test_binspec_from_images_uses_every_pixel_of_small_photos(bins, rng):
    photos = [rng.integers(0, 256, (20, 30, 3), dtype=np.uint8) for _ in range(3)]
    spec = cb.BinSpec.from_images(photos, max_pixels_per_image=600)
    ab = _ab_of(np.concatenate([p.reshape(-1, 3) for p in photos]) / 255.0)
    assert torch.allclose(spec.prior, cb.ab_prior(ab, bins), atol=1e-7)


def test_binspec_from_images_refuses_a_grey_image_by_its_index():
    with pytest.raises(ValueError, match="image 1 is uint8 \\(8, 8\\)"):
        cb.BinSpec.from_images([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_loss_and_decoding_on_cuda_match_the_cpu(bins):
    logits, ab = torch.randn(2, bins.shape[0], 8, 8), torch.randn(2, 2, 8, 8) * 30
    weights = torch.rand(bins.shape[0]) + 0.5
    cpu = cb.classification_loss(logits, ab, bins, weights)
    gpu = cb.classification_loss(logits.cuda(), ab.cuda(), bins, weights.cuda())
    assert gpu.item() == pytest.approx(cpu.item(), rel=1e-4)
    decoded = cb.annealed_mean(logits.cuda(), bins)
    assert torch.allclose(decoded.cpu(), cb.annealed_mean(logits, bins), atol=1e-3)
