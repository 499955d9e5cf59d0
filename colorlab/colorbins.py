"""Colour as classification: the maths of Zhang, Isola & Efros's head (ECCV 2016).

The regression head predicts one ab per pixel and is trained with MSE. When a
grey shirt could as well be red as green, the ab that minimises the expected
squared error is the *average* of red and green: a dull yellow-brown with far
less chroma than either. That is why MSE colorizations look sepia. Zhang et al. instead cut the ab plane
into 10x10 cells, keep the Q cells that sRGB colours can reach, and let the
network predict a probability for each cell at every pixel (a softmax over Q
logits). "Half red, half green" is then a distribution with two peaks, not a
brown. Training uses cross-entropy against a *soft* target (the true ab spread
over its 5 nearest cells) and weights each pixel by how rare its colour is, so
that the many greys and browns of photos do not drown the rare saturated
colours. To decode, :func:`annealed_mean` sharpens the distribution towards its
mode before taking the mean: the mean alone would bring the brown back, the
mode alone gives patchy colours.

Units: the regression head works on ``ab / AB_SCALE`` in ``[-1, 1]``
(:func:`colorlab.color.scale_ab`); everything here works in Lab units
(``a``, ``b`` roughly in ``[-128, 127]``), the units the bins are defined in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from .color import rgb_to_lab, unscale_ab

__all__ = [
    "GRID",
    "SOFT_K",
    "SIGMA",
    "LAMBDA",
    "TEMPERATURE",
    "BinSpec",
    "gamut_bins",
    "nearest_bin",
    "soft_encode",
    "ab_prior",
    "rebalance_weights",
    "classification_loss",
    "annealed_mean",
    "criterion",
    "set_weights_from",
]

#: Side of an (a, b) cell, Lab units.
GRID = 10.0
#: A pixel's soft target spreads over its SOFT_K nearest bins...
SOFT_K = 5
#: ... with Gaussian weights of this width (Lab units); the prior is smoothed with it too.
SIGMA = 5.0
#: Rebalancing mixes the prior with a uniform distribution, this much uniform.
LAMBDA = 0.5
#: Annealed-mean temperature: 1 is the mean, towards 0 the mode.
TEMPERATURE = 0.38

_CHUNK = 1 << 16  # pixels per distance matrix: (65536, Q) floats is tens of MB


def _cube_surface(levels: int = 256) -> torch.Tensor:
    """The colours on the six faces of the 8-bit RGB cube, ``(6 * levels², 3)`` in ``[0, 1]``."""
    v = torch.linspace(0.0, 1.0, levels)
    u, w = (t.reshape(-1) for t in torch.meshgrid(v, v, indexing="ij"))
    faces = []
    for axis in range(3):
        for value in (0.0, 1.0):
            face = torch.stack([u, w], dim=1)
            faces.append(torch.cat([face[:, :axis], torch.full_like(u, value)[:, None], face[:, axis:]], dim=1))
    return torch.cat(faces)


@lru_cache(maxsize=8)
def _gamut_bins(grid: float) -> torch.Tensor:
    rgb = _cube_surface()
    ab = rgb_to_lab(rgb.T.reshape(1, 3, -1, 1))[0, 1:, :, 0].T  # (N, 2)
    cells = torch.unique(torch.floor(ab / grid + 0.5), dim=0)  # lattice index of each colour's cell
    return (cells * grid).float()


def gamut_bins(grid: float = GRID) -> torch.Tensor:
    """Centres of the ``grid``-unit (a, b) cells that sRGB colours reach: ``(Q, 2)`` float32, Lab units.

    Centres sit at integer multiples of ``grid``; a cell is its centre ± grid/2.
    Each (a, b) line through the gamut solid leaves it through the solid's
    surface, the image of the RGB cube's faces, so the 6·256² colours on the
    faces reach the same cells as all 256³ (checked by a slow test); about
    0.4 s, cached per grid. Bins are sorted by (a, b).

    For grid 10 this gives Q = 261: every cell some 8-bit sRGB colour lands in
    (the continuous gamut grazes one more, a=20, b=-80). Zhang et al. report
    313: they kept the cells of ImageNet's empirical ab distribution, by a rule
    their paper does not spell out; we do not reproduce that number.
    """
    return _gamut_bins(float(grid)).clone()


def _pixels(ab: torch.Tensor) -> torch.Tensor:
    """``(B, 2, H, W)`` or ``(N, 2)`` -> ``(N, 2)`` float32."""
    if ab.dim() == 4 and ab.shape[1] == 2:
        return ab.permute(0, 2, 3, 1).reshape(-1, 2).float()
    if ab.dim() == 2 and ab.shape[1] == 2:
        return ab.float()
    raise ValueError(f"expected ab of shape (B, 2, H, W) or (N, 2), got {tuple(ab.shape)}")


def _as_image(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``(B*H*W, C)`` -> ``(B, C, H, W)`` with ``like``'s batch and spatial size."""
    b, _, h, w = like.shape
    return values.reshape(b, h, w, -1).permute(0, 3, 1, 2)


def _k_nearest(pixels: torch.Tensor, bins: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distances ``(N, k)`` and indices ``(N, k)`` of each pixel's k nearest bins."""
    bins = bins.to(pixels)
    exact = "donot_use_mm_for_euclid_dist"  # the same digits whatever the chunk size
    parts = [
        torch.cdist(chunk, bins, compute_mode=exact).square().topk(k, dim=1, largest=False)
        for chunk in pixels.split(_CHUNK)
    ]
    return torch.cat([p.values for p in parts]), torch.cat([p.indices for p in parts])


def nearest_bin(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Index of the nearest bin centre: ``(B, 2, H, W)`` -> ``(B, H, W)``, or ``(N, 2)`` -> ``(N,)``, int64."""
    index = _k_nearest(_pixels(ab), bins, 1)[1][:, 0]
    return index.reshape(ab.shape[0], *ab.shape[2:]) if ab.dim() == 4 else index


def soft_encode(ab: torch.Tensor, bins: torch.Tensor, k: int = SOFT_K, sigma: float = SIGMA) -> torch.Tensor:
    """Soft one-hot target: ``ab`` ``(B, 2, H, W)`` Lab units -> ``(B, Q, H, W)``, each pixel sums to 1.

    A pixel's k nearest bins get Gaussian weights exp(-d²/2σ²), normalised
    (a softmax, so pixels far outside the gamut still get finite weights);
    all other bins get 0.
    """
    d2, index = _k_nearest(_pixels(ab), bins, k)
    target = torch.zeros(d2.shape[0], bins.shape[0], device=ab.device)
    target.scatter_(1, index, torch.softmax(-d2 / (2 * sigma**2), dim=1))
    return _as_image(target, ab)


def ab_prior(ab_samples: torch.Tensor, bins: torch.Tensor, sigma: float = SIGMA) -> torch.Tensor:
    """Probability of each bin in the data, smoothed: ``(N, 2)`` or ``(B, 2, H, W)`` Lab units -> ``(Q,)``.

    A histogram of the pixels' nearest bins, blurred across the ab plane with a
    Gaussian of width ``sigma`` (so a colour seen a few times lends probability
    to its neighbours), normalised to sum to 1.
    """
    pixels = _pixels(ab_samples)
    if pixels.shape[0] == 0:
        raise ValueError("ab_prior: no ab samples given; pass at least one pixel")
    bins = bins.to(pixels)
    counts = torch.bincount(_k_nearest(pixels, bins, 1)[1][:, 0], minlength=bins.shape[0]).float()
    kernel = torch.exp(-torch.cdist(bins, bins).square() / (2 * sigma**2))  # (Q, Q)
    smoothed = kernel @ (counts / counts.sum())
    return smoothed / smoothed.sum()


def rebalance_weights(prior: torch.Tensor, lam: float = LAMBDA) -> torch.Tensor:
    """Class-rebalancing weights ``(Q,)`` from a prior ``(Q,)``: w ∝ 1 / ((1-λ)p + λ/Q), with Σ p·w = 1.

    λ=1 gives all ones (no rebalancing); λ→0 weights each bin by 1/p.
    Normalising the expectation to 1 keeps the loss on the scale of the
    unweighted one.
    """
    if not 0.0 < lam <= 1.0:
        raise ValueError(f"rebalance_weights: lam={lam} is outside (0, 1]; {LAMBDA} is the paper's value")
    weights = 1.0 / ((1.0 - lam) * prior + lam / prior.numel())
    return weights / (prior * weights).sum()


def classification_loss(
    logits: torch.Tensor, ab_target: torch.Tensor, bins: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Rebalanced cross-entropy (a scalar) of logits ``(B, Q, h, w)`` against ab ``(B, 2, h, w)`` in Lab units.

    Cross-entropy against :func:`soft_encode` of the target, each pixel
    weighted by the weight of its nearest bin (Zhang's v(Z)), mean over
    pixels. Logits may be bf16/fp16; the loss is computed in float32. Resize
    ab to the logits' size first (``F.interpolate(ab, size=(h, w), mode="area")``).
    """
    if logits.shape[1] != bins.shape[0] or logits.shape[2:] != ab_target.shape[2:]:
        raise ValueError(
            f"classification_loss: logits {tuple(logits.shape)} need Q={bins.shape[0]} channels and the "
            f"spatial size of ab_target {tuple(ab_target.shape)}; resize ab_target with F.interpolate"
        )
    target = soft_encode(ab_target, bins)
    log_p = F.log_softmax(logits.float(), dim=1)
    # 0 · log 0 = 0, even where a logit is -inf
    cross_entropy = -torch.where(target > 0, target * log_p, 0.0).sum(dim=1)  # (B, h, w)
    if weights is not None:
        cross_entropy = cross_entropy * weights.to(cross_entropy)[target.argmax(dim=1)]
    return cross_entropy.mean()


def annealed_mean(logits: torch.Tensor, bins: torch.Tensor, temperature: float = TEMPERATURE) -> torch.Tensor:
    """Decode logits ``(B, Q, h, w)`` -> ab ``(B, 2, h, w)`` Lab units, float32.

    softmax(log p / T), then the expectation of the bin centres. T=1 is the
    mean of the predicted distribution, T→0 the centre of its mode.
    """
    from .checks import check_temperature

    temperature = check_temperature(temperature)
    annealed = torch.softmax(F.log_softmax(logits.float(), dim=1) / temperature, dim=1)
    return torch.einsum("bqhw,qc->bchw", annealed, bins.to(annealed))


@dataclass
class BinSpec:
    """Everything the classification head needs besides its weights; saved in the checkpoint.

    ``bins`` ``(Q, 2)`` Lab units, ``prior`` ``(Q,)``, ``weights`` ``(Q,)``.
    """

    bins: torch.Tensor
    prior: torch.Tensor
    weights: torch.Tensor
    grid: float = GRID
    lam: float = LAMBDA
    sigma: float = SIGMA
    temperature: float = TEMPERATURE

    @property
    def num_bins(self) -> int:
        """Q, the number of logits the head predicts."""
        return self.bins.shape[0]

    def to_dict(self) -> dict:
        """Plain tensors and floats, loadable with ``torch.load(..., weights_only=True)``."""
        tensors = {n: getattr(self, n).detach().cpu().float().clone() for n in ("bins", "prior", "weights")}
        return {**tensors, "grid": self.grid, "lam": self.lam, "sigma": self.sigma, "temperature": self.temperature}

    @classmethod
    def from_dict(cls, d: dict) -> BinSpec:
        """Inverse of :meth:`to_dict` (tensors or nested lists both work)."""
        missing = {"bins", "prior", "weights", "grid", "lam", "sigma", "temperature"} - set(d)
        if missing:
            raise ValueError(f"BinSpec.from_dict: missing {sorted(missing)}; pass a dict made by BinSpec.to_dict")
        tensors = {n: torch.as_tensor(d[n], dtype=torch.float32) for n in ("bins", "prior", "weights")}
        floats = {name: float(d[name]) for name in ("grid", "lam", "sigma", "temperature")}
        return cls(**tensors, **floats)

    @classmethod
    def from_images(
        cls,
        images: Iterable[np.ndarray],
        grid: float = GRID,
        lam: float = LAMBDA,
        sigma: float = SIGMA,
        temperature: float = TEMPERATURE,
        max_pixels_per_image: int = 2048,
        seed: int = 0,
    ) -> BinSpec:
        """Bins of the sRGB gamut and the prior of some photos, each ``(H, W, 3)`` uint8 RGB.

        Up to ``max_pixels_per_image`` random pixels per photo (1,000 photos:
        about 2 M pixels, a few seconds). The bins are the whole gamut, not only
        the colours seen, so the head does not depend on the training set.
        """
        rng = np.random.default_rng(seed)
        samples = []
        for i, image in enumerate(images):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(
                    f"BinSpec.from_images: image {i} is {image.dtype} {image.shape}; expected (H, W, 3) uint8 RGB"
                )
            flat = image.reshape(-1, 3)
            keep = rng.choice(len(flat), size=min(len(flat), max_pixels_per_image), replace=False)
            samples.append(flat[keep])
        if not samples:
            raise ValueError("BinSpec.from_images: no images given; pass at least one (H, W, 3) uint8 photo")
        rgb = torch.from_numpy(np.concatenate(samples)).float().div(255.0)  # (N, 3)
        ab = rgb_to_lab(rgb.T.reshape(1, 3, -1, 1))[0, 1:, :, 0].T  # (N, 2)
        bins = gamut_bins(grid)
        prior = ab_prior(ab, bins, sigma)
        return cls(bins, prior, rebalance_weights(prior, lam), grid, lam, sigma, temperature)


def criterion(model: torch.nn.Module) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The training loss of a classification-head ``model``: ``(logits, scaled ab) -> loss``.

    The true ab ``(B, 2, H, W)`` (scaled, as :func:`colorlab.color.rgb_to_network` gives it) is
    averaged down to the logits' half resolution, turned into Lab units, and scored with
    :func:`classification_loss` using the model's bins and rebalancing weights.
    """

    def loss(logits: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        target = unscale_ab(F.interpolate(ab.float(), size=logits.shape[-2:], mode="area"))
        return classification_loss(logits, target, model.ab_bins, model.ab_weights)

    return loss


def set_weights_from(
    model: torch.nn.Module, dataset: Sequence, max_images: int = 1000, lam: float = LAMBDA, sigma: float = SIGMA
) -> BinSpec:
    """Measure the colour prior on (up to ``max_images``, evenly spaced) training photos and store
    it, and the rebalancing weights, in a classification-head ``model``'s buffers.

    ``dataset[i]`` is a uint8 ``(3, S, S)`` crop (:class:`colorlab.data.ColorDataset`,
    :class:`colorlab.cache.CachedDataset`); items that raise (unusable files) are left out.
    """
    step = max(1, len(dataset) // max_images)
    images = []
    for i in range(0, len(dataset), step):
        try:
            images.append(dataset[i].permute(1, 2, 0).numpy())
        except ValueError:  # an unusable photo (ImageLoadError): it is not in the training data either
            continue
    spec = BinSpec.from_images(
        images, grid=model.config.grid, lam=lam, sigma=sigma, temperature=model.config.temperature
    )
    with torch.no_grad():
        model.ab_prior.copy_(spec.prior)
        model.ab_weights.copy_(spec.weights)
    return spec
