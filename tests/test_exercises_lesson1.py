"""Lesson 1's exercise checks: the worked solutions pass, typical mistakes fail with a useful reason."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from colorlab.color import D65_WHITE, RGB_FROM_XYZ, XYZ_FROM_RGB
from colorlab.exercises import lesson1

DELTA = 6 / 29


# --- the lesson's worked code, as a learner would type it (numpy) ----------------------


def srgb_to_linear(c):
    return np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)


def f(t):
    return np.where(t > DELTA**3, np.cbrt(t), t / (3 * DELTA**2) + 4 / 29)


def xyz_to_lab(xyz):
    fx, fy, fz = (f(xyz[..., k]) for k in range(3))
    return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1)


def rgb_to_lab(rgb):
    """The lesson's step-by-step conversion."""
    xyz = srgb_to_linear(rgb) @ XYZ_FROM_RGB.T / np.array(D65_WHITE)
    return xyz_to_lab(xyz)


def f_inv(v):
    return np.where(v > DELTA, v**3, 3 * DELTA**2 * (v - 4 / 29))


def linear_to_srgb(c):
    return np.where(c > 0.0031308, 1.055 * np.maximum(c, 0.0031308) ** (1 / 2.4) - 0.055, 12.92 * c)


def lab_to_linear(lab, white=True):
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    fy = (L + 16) / 116
    xyz = f_inv(np.stack([fy + a / 500, fy, fy - b / 200], axis=-1))
    if white:
        xyz = xyz * np.array(D65_WHITE)
    return xyz @ RGB_FROM_XYZ.T


def lab_to_rgb(lab):
    """Exercise 1's worked solution."""
    return np.clip(linear_to_srgb(lab_to_linear(lab)), 0, 1)


# --- rgb_to_lab: the body's implementation, checked like an exercise ----------------------


def test_the_lessons_numpy_rgb_to_lab_passes():
    result = lesson1.check_rgb_to_lab(rgb_to_lab)
    assert result, result.message


def test_rgb_to_lab_that_skips_the_gamma_is_told_to_undo_it():
    result = lesson1.check_rgb_to_lab(lambda rgb: xyz_to_lab(rgb @ XYZ_FROM_RGB.T / np.array(D65_WHITE)))
    assert not result and "undo the sRGB gamma" in result.message


def test_rgb_to_lab_without_the_white_is_told_that_grays_come_out_tinted():
    result = lesson1.check_rgb_to_lab(lambda rgb: xyz_to_lab(srgb_to_linear(rgb) @ XYZ_FROM_RGB.T))
    assert not result and "tinted" in result.message and "D65_WHITE" in result.message


def test_rgb_to_lab_with_the_matrix_transposed_is_told_to_check_its_orientation():
    result = lesson1.check_rgb_to_lab(lambda rgb: xyz_to_lab(srgb_to_linear(rgb) @ XYZ_FROM_RGB / np.array(D65_WHITE)))
    assert not result and "orientation" in result.message


def test_rgb_to_lab_with_a_pure_cube_root_is_told_about_the_darkest_colours():
    def cube_root_only(rgb):
        xyz = srgb_to_linear(rgb) @ XYZ_FROM_RGB.T / np.array(D65_WHITE)
        fx, fy, fz = (np.cbrt(xyz[..., k]) for k in range(3))
        return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1)

    result = lesson1.check_rgb_to_lab(cube_root_only)
    assert not result and "darkest" in result.message


# --- exercise 1: lab_to_rgb -------------------------------------------------------------


def test_the_worked_lab_to_rgb_solution_passes():
    result = lesson1.check_lab_to_rgb(lab_to_rgb)
    assert result, result.message


def test_lab_to_rgb_that_returns_linear_light_is_told_to_apply_the_gamma():
    result = lesson1.check_lab_to_rgb(lambda lab: np.clip(lab_to_linear(lab), 0, 1))
    assert not result and "linear light" in result.message


def test_lab_to_rgb_without_the_clip_is_told_to_clip():
    result = lesson1.check_lab_to_rgb(lambda lab: linear_to_srgb(lab_to_linear(lab)))
    assert not result and "clipped to [0, 1]" in result.message


def test_lab_to_rgb_without_the_white_is_told_that_grays_come_out_tinted():
    result = lesson1.check_lab_to_rgb(lambda lab: np.clip(linear_to_srgb(lab_to_linear(lab, white=False)), 0, 1))
    assert not result and "tinted" in result.message


def test_lab_to_rgb_in_0_255_is_told_to_return_fractions():
    result = lesson1.check_lab_to_rgb(lambda lab: lab_to_rgb(lab) * 255)
    assert not result and "0-255" in result.message


def test_lab_to_rgb_that_is_merely_wrong_gets_the_worst_colour_and_the_expected_value():
    result = lesson1.check_lab_to_rgb(lambda lab: lab_to_rgb(lab) * 0.9)
    assert not result and "largest difference at Lab(" in result.message and "expected (" in result.message


def test_lab_to_rgb_with_a_pure_cube_inverse_is_told_about_the_darkest_colours():
    def cube_only(lab):
        L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
        fy = (L + 16) / 116
        xyz = np.stack([fy + a / 500, fy, fy - b / 200], axis=-1) ** 3 * np.array(D65_WHITE)
        return np.clip(linear_to_srgb(xyz @ RGB_FROM_XYZ.T), 0, 1)

    result = lesson1.check_lab_to_rgb(cube_only)
    assert not result and "darkest" in result.message


# --- exercise 2: ΔE76 -------------------------------------------------------------------


def test_the_worked_delta_e_solution_passes():
    result = lesson1.check_delta_e(lambda x, y: np.sqrt(((x - y) ** 2).sum(axis=-1)))
    assert result, result.message


@pytest.mark.parametrize(
    "slip, said",
    [
        (lambda x, y: ((x - y) ** 2).sum(axis=-1), "square root"),
        (lambda x, y: np.sqrt(((x - y)[..., 1:] ** 2).sum(axis=-1)), "leaves out ΔL"),
        (lambda x, y: np.abs(x - y).sum(axis=-1), "city-block"),
        (lambda x, y: np.sqrt(((x - y) ** 2).sum()), "one ΔE per pixel"),
    ],
)
def test_typical_delta_e_slips_are_named(slip, said):
    result = lesson1.check_delta_e(slip)
    assert not result and said in result.message


# --- exercise 3: luma against L -------------------------------------------------------


def test_the_worked_luma_psnr_solution_passes():
    from PIL import Image

    from colorlab.metrics import gray_baseline, psnr
    from colorlab.samples import sample_images

    rgb = sample_images([lesson1.LUMA_PHOTO])[lesson1.LUMA_PHOTO]
    luma = np.asarray(Image.fromarray(rgb).convert("L"))
    result = lesson1.check_luma_psnr(psnr(np.repeat(luma[..., None], 3, axis=2), gray_baseline(rgb)))
    assert result and "dB" in result.message


def test_luma_compared_with_the_colour_photo_is_told_to_compare_the_two_grays():
    answers = lesson1.luma_psnr_answer()
    assert answers["right"] > answers["luma vs colour"] + 10  # the grays are far closer to each other
    result = lesson1.check_luma_psnr(answers["luma vs colour"])
    assert not result and "gray_baseline(rgb)" in result.message


# --- exercise 4: the gamut's yellow edge at L = 90 ------------------------------------------


def test_the_worked_gamut_edge_solution_passes_and_the_edge_is_where_red_clips():
    from colorlab.color import lab_to_rgb as library_lab_to_rgb
    from colorlab.viz import out_of_srgb_gamut

    b = 0.0
    while not out_of_srgb_gamut(torch.tensor([[[lesson1.GAMUT_L]], [[0.0]], [[b + 0.1]]], dtype=torch.float64)).item():
        b += 0.1
    result = lesson1.check_gamut_edge(b)
    assert result, result.message
    inside = library_lab_to_rgb(torch.tensor([lesson1.GAMUT_L, 0.0, b], dtype=torch.float64).view(3, 1, 1)).flatten()
    assert inside.max() > 0.999  # at the edge one channel (red) reaches 1


def test_the_edge_of_the_plot_is_not_the_edge_of_the_gamut():
    result = lesson1.check_gamut_edge(110)
    assert not result and "edge of the plotted square" in result.message
    assert "outside the gamut" in lesson1.check_gamut_edge(80).message


# --- exercise 5: a loss in ΔE ---------------------------------------------------------------


def test_the_worked_rms_delta_e_solution_passes():
    from colorlab.color import AB_SCALE

    result = lesson1.check_rms_delta_e(AB_SCALE * np.sqrt(2 * lesson1.LOSS_EXAMPLE))
    assert result, result.message


def test_forgetting_the_two_channels_in_the_loss_is_named():
    result = lesson1.check_rms_delta_e(128 * np.sqrt(lesson1.LOSS_EXAMPLE))
    assert not result and "multiply by 2" in result.message


# --- every check: a placeholder, a crash or a wrong type is an answer, never an exception ------


CHECKS = [
    lesson1.check_rgb_to_lab,
    lesson1.check_lab_to_rgb,
    lesson1.check_delta_e,
    lesson1.check_luma_psnr,
    lesson1.check_gamut_edge,
    lesson1.check_rms_delta_e,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_every_check_says_not_yet_to_the_placeholder(check):
    result = check(None)
    assert not result and str(result).startswith("not yet: ")


@pytest.mark.parametrize("check", CHECKS[:3], ids=lambda c: c.__name__)
def test_function_checks_report_a_crash_or_a_value_instead_of_raising(check):
    def crash(*args):
        raise ZeroDivisionError("oops")

    assert "ZeroDivisionError" in check(crash).message
    assert "the function itself" in check(np.zeros(3)).message


@pytest.mark.parametrize("check", CHECKS[3:], ids=lambda c: c.__name__)
def test_number_checks_refuse_a_non_number_politely(check):
    assert "pass one number" in check("12").message
