"""Lesson 4's exercise checks and its toy: the worked solutions pass, typical mistakes fail with a
useful reason, and the toy's optima are the mean, the median and the bins' choice."""

from __future__ import annotations

import numpy as np
import pytest

from colorlab import viz
from colorlab.exercises import lesson4
from colorlab.metrics import gray_baseline, psnr


# The worked solutions, as the notebook shows them.
def my_psnr_gain(prediction, truth):
    return psnr(prediction, truth) - psnr(gray_baseline(truth), truth)


def test_the_worked_solutions_pass():
    samples = np.array(lesson4.EXAMPLE_AB)
    assert lesson4.check_mse_constant(samples.mean(axis=0))
    assert lesson4.check_l1_constant(np.median(samples, axis=0))
    assert lesson4.check_psnr_gain(my_psnr_gain)


def test_the_example_patch_is_seven_red_and_three_green_at_one_lightness():
    samples = lesson4.EXAMPLE_AB
    assert samples.shape == (10, 2) and not samples.flags.writeable
    assert (samples[:, 0] > 0).sum() == 7 and (samples[:, 0] < 0).sum() == 3


def test_mse_check_tells_the_median_and_the_unweighted_or_majority_colour_apart():
    samples = lesson4.EXAMPLE_AB
    assert "L1" in lesson4.check_mse_constant(np.median(samples, axis=0)).message
    halfway = (np.array(lesson4.RED_AB) + np.array(lesson4.GREEN_AB)) / 2
    assert "equally common" in lesson4.check_mse_constant(halfway).message
    assert "most common colour" in lesson4.check_mse_constant(lesson4.RED_AB).message
    assert "order is (a, b)" in lesson4.check_mse_constant(samples.mean(axis=0)[::-1]).message
    assert "derivative" in lesson4.check_mse_constant((0.0, 0.0)).message


def test_l1_check_names_the_mean_and_the_answer_shapes():
    samples = lesson4.EXAMPLE_AB
    assert "mean, the squared error" in lesson4.check_l1_constant(samples.mean(axis=0)).message
    assert "as many samples lie above" in lesson4.check_l1_constant((0.0, 45.0)).message
    assert "all ten samples" in lesson4.check_l1_constant(samples).message
    assert "two numbers" in lesson4.check_l1_constant(27.0).message
    placeholder = lesson4.check_l1_constant(None)
    assert not placeholder and "EXAMPLE_AB" in placeholder.message


def test_psnr_gain_check_names_a_reversed_a_missing_or_a_wrong_baseline():
    reversed_sign = lesson4.check_psnr_gain(lambda p, t: -my_psnr_gain(p, t))
    assert not reversed_sign and "other way round" in reversed_sign.message
    assert "model's PSNR alone" in lesson4.check_psnr_gain(lambda p, t: psnr(p, t)).message
    assert "against the truth" in lesson4.check_psnr_gain(lambda p, t: psnr(p, gray_baseline(t))).message
    assert "do not divide" in lesson4.check_psnr_gain(lambda p, t: psnr(p, t) / psnr(gray_baseline(t), t)).message
    assert "raised" in lesson4.check_psnr_gain(lambda p, t: psnr(p, t[:4])).message
    assert "write my_psnr_gain" in lesson4.check_psnr_gain(None).message


def test_constant_optima_are_the_mean_the_median_and_the_bins_choice():
    samples = lesson4.red_green_patch(200, red_fraction=0.6)
    optima = viz.constant_optima(samples)
    np.testing.assert_allclose(optima["MSE"], samples.mean(axis=0))
    np.testing.assert_allclose(optima["L1"], np.median(samples, axis=0))
    # the most probable bin is the red cell the majority falls in; the annealed mean lies between
    # the mean and that mode, so it keeps more of the red than MSE does
    assert np.linalg.norm(optima["bins: mode"] - np.array(lesson4.RED_AB)) <= 10.0
    assert optima["MSE"][0] < optima["bins: annealed mean"][0] < optima["bins: mode"][0]


def test_the_mse_answer_to_red_or_green_is_much_duller_than_either():
    samples = lesson4.red_green_patch(200, red_fraction=0.5)
    chroma = np.hypot(*viz.constant_optima(samples)["MSE"])
    assert chroma < 0.7 * np.hypot(samples[:, 0], samples[:, 1]).mean()


def test_constant_optima_rejects_samples_that_are_not_ab_pairs():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        viz.constant_optima(np.zeros((5, 3)))


def test_the_toy_figure_has_a_title_and_labelled_axes():
    import matplotlib.pyplot as plt

    fig = viz.loss_optima_figure({"half and half": lesson4.red_green_patch(40)}, lesson4.TOY_L)
    assert (
        fig._suptitle.get_text()
        and fig.axes[0].get_xlabel().startswith("a")
        and fig.axes[0].get_ylabel().startswith("b")
    )
    plt.close(fig)


def test_trainable_share_check_judges_right_and_wrong_answers():
    def right_answer(model):
        ps = list(model.parameters())
        return sum(p.numel() for p in ps if p.requires_grad) / sum(p.numel() for p in ps)

    assert lesson4.check_trainable_share(right_answer).passed
    assert "frozen share" in lesson4.check_trainable_share(lambda m: 1 - right_answer(m)).message
    assert (
        "counts tensors"
        in lesson4.check_trainable_share(
            lambda m: sum(1 for p in m.parameters() if p.requires_grad) / len(list(m.parameters()))
        ).message
    )
    assert "percentage" in lesson4.check_trainable_share(lambda m: 100 * right_answer(m)).message
    assert (
        "count of weights"
        in lesson4.check_trainable_share(lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad)).message
    )
    assert not lesson4.check_trainable_share(lambda m: 0.5).passed
    assert "raised" in lesson4.check_trainable_share(lambda m: 1 / 0).message
    assert not lesson4.check_trainable_share(None).passed
    assert "itself" in lesson4.check_trainable_share(0.3).message


def test_temperature_check_wants_the_highest_temperature_within_ten_of_the_mode():
    distances = lesson4.annealed_distances()
    assert list(distances) == list(lesson4.TEMPERATURES)
    assert all(a > b for a, b in zip(distances.values(), list(distances.values())[1:]))  # falls with T
    assert distances[0.2] > 10 >= distances[0.1]
    assert lesson4.check_temperature(0.1)
    assert "higher temperature too" in lesson4.check_temperature(0.05).message
    assert "still 17.2" in lesson4.check_temperature(0.2).message
    assert "plain mean" in lesson4.check_temperature(1.0).message
    for bad in (None, "0.1", 0.15, True):
        verdict = lesson4.check_temperature(bad)
        assert not verdict and verdict.message


def test_saturation_check_takes_the_most_colourful_saturation_within_half_a_decibel():
    import torch

    from colorlab.model import build_model

    torch.manual_seed(0)
    model = build_model("none").eval()
    truth, _ = lesson4.example_pair(0, size=32)
    truths = {"pair": truth}
    table = lesson4.saturation_table(model, truths, network_size=32)
    assert list(table) == list(lesson4.SATURATIONS)
    base = table[1.0][0]
    allowed = [s for s in lesson4.SATURATIONS if table[s][0] >= base - 0.5]
    want = max(allowed, key=lambda s: table[s][1])
    assert lesson4.check_saturation(want, model, truths, network_size=32)
    others = [s for s in lesson4.SATURATIONS if s != want]
    assert all(not lesson4.check_saturation(s, model, truths, network_size=32) for s in others)
    for bad in (None, "1.5", 1.1):
        verdict = lesson4.check_saturation(bad, model, truths, network_size=32)
        assert not verdict and verdict.message


def test_solution_values_are_what_the_worked_solutions_compute():
    values = lesson4.solution_values()
    samples = lesson4.EXAMPLE_AB
    assert (values["example_reds"], values["example_greens"]) == (7, 3)
    assert np.allclose([values["example_mse_a"], values["example_mse_b"]], samples.mean(axis=0))
    assert np.allclose([values["example_l1_a"], values["example_l1_b"]], np.median(samples, axis=0))
    assert lesson4.check_mse_constant((values["example_mse_a"], values["example_mse_b"]))
    assert lesson4.check_l1_constant((values["example_l1_a"], values["example_l1_b"]))
    assert lesson4.check_temperature(values["anneal_within_10"])
