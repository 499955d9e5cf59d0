"""How good is a colorization? PSNR, SSIM, colorfulness, and the gray baseline.

Every metric takes ``(H, W, 3)`` uint8 RGB arrays. :func:`evaluate` runs a
model over photos with the common protocol (center crop to the short side,
resize to 256) and reports each figure for the model *and* for the gray
baseline, the prediction ``a = b = 0`` (the input itself, shown in colour).
A colorizer that does not beat the gray baseline's PSNR has learned nothing
useful; one whose colorfulness is far below the truth's paints sepia.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .color import lab_to_rgb_uint8, rgb_uint8_to_l
from .crops import center_crop_resize
from .images import ImageSource
from .samples import load_item

__all__ = [
    "psnr",
    "ssim",
    "colorfulness",
    "gray_baseline",
    "evaluate",
    "format_table",
    "EVAL_SIZE",
    "HINT_WAYS",
    "hint_curve",
    "hinted_three_ways",
    "true_hints",
]

#: The evaluation protocol's image size (center crop, then resize to this).
EVAL_SIZE = 256


def _check_pair(pred: np.ndarray, target: np.ndarray) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"images differ in shape: {pred.shape} vs {target.shape}")
    if pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB images, got {pred.shape}")


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over RGB on the 0-255 scale (``inf`` for identical images)."""
    _check_pair(pred, target)
    mse = np.mean((pred.astype(np.float64) - target.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """Structural similarity (scikit-image, over RGB channels, data range 255)."""
    from skimage.metrics import structural_similarity

    _check_pair(pred, target)
    win = min(7, *pred.shape[:2])
    win = win if win % 2 else win - 1
    if win < 3:
        return float(np.all(pred == target))
    return float(structural_similarity(pred, target, channel_axis=2, data_range=255, win_size=win))


def colorfulness(image: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) colourfulness ``M = sigma_rgyb + 0.3 * mu_rgyb``.

    With the *signed* opponent channels ``rg = R - G`` and ``yb = (R + G)/2 - B``
    (RGB on 0-255), ``sigma_rgyb = sqrt(std(rg)^2 + std(yb)^2)`` and
    ``mu_rgyb = sqrt(mean(rg)^2 + mean(yb)^2)``. This is the paper's formula.
    Some papers and popular code take ``abs(rg)`` and ``abs(yb)`` first, which
    gives other numbers (larger means, smaller deviations): compare figures
    only when they use the same variant. A gray image scores 0.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    rgb = image.astype(np.float64)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    sigma = np.sqrt(rg.std() ** 2 + yb.std() ** 2)
    mu = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(sigma + 0.3 * mu)


def gray_baseline(image: np.ndarray) -> np.ndarray:
    """The colorization that predicts ``a = b = 0``: the photo's own lightness, as RGB uint8."""
    L = rgb_uint8_to_l(torch.from_numpy(np.array(image)).permute(2, 0, 1)[None])[0, 0].numpy()
    lab = np.zeros((*L.shape, 3), dtype=np.float32)
    lab[..., 0] = L
    return lab_to_rgb_uint8(lab)


def _scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    return {"psnr": psnr(pred, truth), "ssim": ssim(pred, truth), "colorfulness": colorfulness(pred)}


def evaluate(
    model: torch.nn.Module,
    images: Mapping[str, ImageSource] | Sequence[ImageSource],
    *,
    size: int = EVAL_SIZE,
    network_size: int | None = None,
    temperature: float | None = None,
) -> dict[str, Any]:
    """PSNR, SSIM and colorfulness of ``model`` and of the gray baseline, per image and mean.

    ``images`` is a mapping ``{name: image}`` or a sequence (named by
    position). Each is center-cropped to its short side and resized to
    ``size x size`` first; the network sees it at ``network_size`` (default:
    :data:`colorlab.infer.DEFAULT_SIZE`, as :func:`colorize`). Returns ``{"per_image": {name: {...}}, "mean":
    {...}, "n": count, "skipped": {name: reason}}``; the keys of each record are ``model_psnr``,
    ``gray_psnr``, ``model_ssim``, ``gray_ssim``, ``model_colorfulness``,
    ``gray_colorfulness`` and ``true_colorfulness``. Grayscale photos are skipped (there is no
    colour to compare with, and the gray baseline would score an infinite PSNR) and listed under
    ``skipped``; unreadable ones are listed under ``failed``, each with the reason. ``temperature``
    decodes a classification head.
    """
    from .images import ImageLoadError, is_grayscale
    from .infer import DEFAULT_SIZE, colorize

    items = images.items() if isinstance(images, Mapping) else ((str(i), im) for i, im in enumerate(images))
    per_image: dict[str, dict[str, float]] = {}
    skipped: dict[str, str] = {}
    failed: dict[str, str] = {}
    for name, image in items:
        try:
            truth = center_crop_resize(load_item(image), size)
        except ImageLoadError as exc:
            failed[str(name)] = exc.reason
            continue
        if is_grayscale(truth):
            skipped[str(name)] = "grayscale photo (no colour to compare with)"
            continue
        pred = colorize(truth, model, size=network_size or DEFAULT_SIZE, temperature=temperature)
        gray = gray_baseline(truth)
        rec: dict[str, float] = {}
        for who, img in (("model", pred), ("gray", gray)):
            for k, v in _scores(img, truth).items():
                rec[f"{who}_{k}"] = v
        rec["true_colorfulness"] = colorfulness(truth)
        per_image[str(name)] = rec
    if not per_image:
        left_out = {**skipped, **failed}
        raise ValueError(
            f"evaluate() got no usable colour photos ({len(left_out)} left out, e.g. {', '.join(list(left_out)[:3])})"
        )
    keys = next(iter(per_image.values())).keys()
    mean = {k: float(np.mean([r[k] for r in per_image.values()])) for k in keys}
    return {
        "per_image": per_image,
        "mean": mean,
        "n": len(per_image),
        "size": size,
        "skipped": skipped,
        "failed": failed,
    }


def format_table(result: Mapping[str, Any], *, per_image: bool = True, worst: int = 5) -> str:
    """A plain-text report of an :func:`evaluate` result: per photo (``per_image``), the mean of
    model vs gray baseline (and the truth's colourfulness), and the ``worst`` photos by PSNR gain.

    If the result lists ``demo_trained`` (the photos a shipped demo model trained on, as ``colorlab
    evaluate`` adds), those are marked ``*`` and a line says how many photos were held out."""
    m = result["mean"]
    lines = []
    per = result["per_image"]
    trained = set(result.get("demo_trained", ()))
    mark = {name: (" *" if name in trained else "") for name in per}
    if per_image:
        width = max(12, *(len(n) + len(mark[n]) for n in per))
        lines.append(f"{'photo':<{width}} {'PSNR':>7} {'gray':>7} {'SSIM':>6} {'gray':>6} {'colour':>7} {'truth':>7}")
        for name, r in per.items():
            lines.append(
                f"{name + mark[name]:<{width}} {r['model_psnr']:>7.2f} {r['gray_psnr']:>7.2f} "
                f"{r['model_ssim']:>6.3f} {r['gray_ssim']:>6.3f} "
                f"{r['model_colorfulness']:>7.1f} {r['true_colorfulness']:>7.1f}"
            )
        lines.append("")
    lines += [
        f"{'metric':<16}{'model':>10}{'gray':>10}{'truth':>10}",
        f"{'PSNR (dB)':<16}{m['model_psnr']:>10.2f}{m['gray_psnr']:>10.2f}{'':>10}",
        f"{'SSIM':<16}{m['model_ssim']:>10.4f}{m['gray_ssim']:>10.4f}{'':>10}",
        f"{'colorfulness':<16}{m['model_colorfulness']:>10.2f}{m['gray_colorfulness']:>10.2f}{m['true_colorfulness']:>10.2f}",
        f"({result['n']} images, center crop resized to {result['size']}x{result['size']}; "
        f"colourfulness {m['model_colorfulness'] / max(1e-9, m['true_colorfulness']):.2f} of the truth's)",
    ]
    gains_db = [r["model_psnr"] - r["gray_psnr"] for r in per.values() if np.isfinite(r["model_psnr"] - r["gray_psnr"])]
    if gains_db:
        lines.append(
            f"PSNR gain over gray: mean {np.mean(gains_db):+.2f} dB, median {np.median(gains_db):+.2f} dB; "
            f"{sum(g > 0 for g in gains_db)} of {len(gains_db)} photos above gray"
        )
    if worst > 0:
        gains = sorted(per.items(), key=lambda kv: kv[1]["model_psnr"] - kv[1]["gray_psnr"])[:worst]
        lines.append(
            f"worst {len(gains)} by PSNR gain over gray: "
            + ", ".join(f"{n}{mark[n]} ({r['model_psnr'] - r['gray_psnr']:+.2f} dB)" for n, r in gains)
        )
    if "demo_trained" in result:
        lines.append(_held_out_line(len(per), len(trained & set(per))))
    if result.get("skipped"):
        lines.append(f"skipped {len(result['skipped'])} grayscale: " + ", ".join(result["skipped"]))
    for name, why in result.get("failed", {}).items():
        lines.append(f"failed: {name}: {why}")
    return "\n".join(lines)


def _held_out_line(n: int, trained: int) -> str:
    """How many of ``n`` evaluated photos were held out from the shipped demo models' training."""
    if not trained:
        return f"held out: all {n} photos (none is a training photo of a shipped demo model)"
    return (
        f"held out: {n - trained} of {n} photos; the other {trained} (marked *) trained a shipped demo model "
        "(data/splits), so their scores flatter it"
    )


def to_json(result: Mapping[str, Any]) -> str:
    """The :func:`evaluate` result as JSON text (standard JSON: an infinite PSNR becomes ``null``)."""

    def finite(v: Any) -> Any:
        if isinstance(v, float) and not np.isfinite(v):
            return None
        if isinstance(v, Mapping):
            return {k: finite(x) for k, x in v.items()}
        return v

    return json.dumps(finite(result), indent=2, sort_keys=True, allow_nan=False)


# --- How much do hints help? (lesson 9, benchmarks/hint_gain.py) ---------------------------

#: The three ways :func:`hint_curve` compares to use the same hints.
HINT_WAYS = ("colorize", "network", "inverse-distance")


def true_hints(truth: np.ndarray, count: int, rng: np.random.Generator) -> list[tuple[int, int, tuple[int, ...]]]:
    """``count`` hints at random pixels, each the true mean colour of the 3x3 pixels around it:
    the clicks of a user who knows the answer."""
    h, w = truth.shape[:2]
    points = rng.integers(1, [w - 1, h - 1], size=(count, 2))
    patch = [truth[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(0).round() for x, y in points]
    return [(int(x), int(y), tuple(int(c) for c in p)) for (x, y), p in zip(points, patch)]


def hinted_three_ways(truth: np.ndarray, model: Any, hints: list) -> dict[str, np.ndarray]:
    """``truth`` coloured from ``hints`` by :func:`colorlab.colorize` (network + edge-aware spread), by the
    network alone (hints as its input, nothing spread) and by the inverse-distance baseline."""
    from .color import rgb_uint8_to_lab
    from .hints import hint_image
    from .infer import colorize, join_lightness, network_input, predict_ab
    from .spread import inverse_distance_field

    small = network_input(truth)
    hint_net = hint_image(hints, truth.shape[1], truth.shape[0], small.shape[1], small.shape[0])
    network = join_lightness(truth[None], predict_ab(model, small, hints=hint_net))[0]
    out = {"colorize": colorize(truth, model, hints=hints), "network": network}
    if hints:
        lab = rgb_uint8_to_lab(truth)
        colours = rgb_uint8_to_lab(np.array([[c for _, _, c in hints]], dtype=np.uint8))[0, :, 1:]
        field = inverse_distance_field(truth.shape[:2], [(x, y) for x, y, _ in hints], colours)
        out["inverse-distance"] = lab_to_rgb_uint8(np.concatenate([lab[..., :1], field], -1).astype(np.float32))
    return out


def hint_curve(photos: Iterable[np.ndarray], model: Any, counts: Sequence[int], seed: int = 0) -> dict[str, Any]:
    """Mean PSNR over gray (dB) against the number of true-colour hints, for each of :data:`HINT_WAYS`.

    Each photo is centre-cropped to :data:`EVAL_SIZE`; grayscale photos are left out. Returns
    ``{"photos": n, "gray_psnr": mean, "gain_db": {way: {count: mean gain}}}`` (no inverse-distance
    entry at 0 hints: it needs at least one).
    """
    rng = np.random.default_rng(seed)
    gains: dict[str, dict[int, list[float]]] = {way: {c: [] for c in counts} for way in HINT_WAYS}
    grays = []
    for photo in photos:
        truth = center_crop_resize(photo, EVAL_SIZE)
        gray = psnr(gray_baseline(truth), truth)
        if not np.isfinite(gray):  # a grayscale photo: nothing to compare
            continue
        grays.append(gray)
        for count in counts:
            for way, result in hinted_three_ways(truth, model, true_hints(truth, count, rng)).items():
                gains[way][count].append(psnr(result, truth) - gray)
    table = {way: {c: float(np.mean(g)) for c, g in by.items() if g} for way, by in gains.items()}
    return {"photos": len(grays), "gray_psnr": float(np.mean(grays)) if grays else float("nan"), "gain_db": table}
