"""colorlab.metrics: PSNR, SSIM, colorfulness, the gray baseline and evaluate()."""

from __future__ import annotations

import numpy as np
import pytest

from colorlab.metrics import colorfulness, evaluate, format_table, gray_baseline, psnr, ssim


def test_psnr_of_known_error():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[...] = 10  # mse 100
    assert psnr(b, a) == pytest.approx(10 * np.log10(255**2 / 100))
    assert psnr(a, a) == float("inf")


def test_ssim_is_one_for_identical_and_lower_for_noisy(photos, rng):
    img = photos["astronaut"][:64, :64]
    noisy = np.clip(img + rng.normal(0, 25, img.shape), 0, 255).astype(np.uint8)
    assert ssim(img, img) == pytest.approx(1.0)
    assert ssim(noisy, img) < 0.9


def test_colorfulness_follows_hasler_susstrunk_signed_formula():
    img = np.zeros((2, 2, 3), np.uint8)
    img[0, :] = (255, 0, 0)  # rg = 255, yb = 127.5
    img[1, :] = (0, 0, 255)  # rg = 0,   yb = -255
    rg = np.array([255, 255, 0, 0.0])
    yb = np.array([127.5, 127.5, -255, -255])
    expected = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    assert colorfulness(img) == pytest.approx(expected)
    assert colorfulness(np.full((3, 3, 3), 77, np.uint8)) == 0.0


def test_gray_baseline_keeps_lightness_and_has_no_colour(photos):
    img = photos["coffee"]
    gray = gray_baseline(img)
    assert gray.shape == img.shape
    assert np.abs(gray[..., 0].astype(int) - gray[..., 2]).max() <= 1
    assert colorfulness(gray) < 1.0


def test_evaluate_reports_model_and_gray_baseline(tiny_net, photos):
    result = evaluate(tiny_net, {k: photos[k] for k in ("coffee", "chelsea")}, size=64)
    assert result["n"] == 2 and set(result["per_image"]) == {"coffee", "chelsea"}
    for key in ("model_psnr", "gray_psnr", "model_ssim", "gray_ssim", "model_colorfulness", "true_colorfulness"):
        assert np.isfinite(result["mean"][key])
    assert result["mean"]["gray_colorfulness"] < 1.0
    table = format_table(result)
    assert "PSNR" in table and "gray" in table


def test_format_table_reports_the_mean_and_median_gain_and_the_photos_above_gray():
    from colorlab.metrics import format_table

    def rec(model, gray):
        return {
            "model_psnr": model,
            "gray_psnr": gray,
            "model_ssim": 0.9,
            "gray_ssim": 0.9,
            "model_colorfulness": 10.0,
            "gray_colorfulness": 0.0,
            "true_colorfulness": 20.0,
        }

    per = {"a": rec(22.0, 20.0), "b": rec(20.0, 21.0), "c": rec(30.0, 29.5)}
    mean = {k: float(np.mean([r[k] for r in per.values()])) for k in per["a"]}
    text = format_table({"per_image": per, "mean": mean, "n": 3, "size": 256})
    assert "PSNR gain over gray: mean +0.50 dB, median +0.50 dB; 2 of 3 photos above gray" in text
