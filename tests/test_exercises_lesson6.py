"""Lesson 6's exercise checks: the worked solutions pass, typical mistakes get a useful message."""

from __future__ import annotations

import torch

from colorlab.exercises import lesson6


# The worked solutions, as the notebook shows them.
def mse_solution():
    (ar, br), (ag, bg) = lesson6.APPLES["red"], lesson6.APPLES["green"]
    s = lesson6.RED_SHARE
    return (s * ar + (1 - s) * ag, s * br + (1 - s) * bg)


def soft_encode_solution(ab, bins, k=5, sigma=5.0):
    d2 = (bins - ab).pow(2).sum(dim=1)
    nearest = d2.topk(k, largest=False)
    target = torch.zeros(len(bins))
    target[nearest.indices] = torch.softmax(-nearest.values / (2 * sigma**2), dim=0)
    return target


def rebalance_solution(prior, lam):
    w = 1 / ((1 - lam) * prior + lam / len(prior))
    return w / (prior * w).sum()


def annealed_mean_solution(logits, bins, T):
    p = torch.softmax(torch.log_softmax(logits, dim=0) / T, dim=0)
    return p @ bins


def test_the_worked_solutions_pass():
    assert lesson6.check_mse_answer(mse_solution()).passed
    for check, solution in [
        (lesson6.check_soft_encode, soft_encode_solution),
        (lesson6.check_rebalance_weights, rebalance_solution),
        (lesson6.check_annealed_mean, annealed_mean_solution),
    ]:
        result = check(solution)
        assert result.passed, result.message


def test_a_placeholder_says_what_to_do_instead_of_raising():
    assert str(lesson6.check_mse_answer(None)).startswith("not yet:")
    for check in (lesson6.check_soft_encode, lesson6.check_rebalance_weights, lesson6.check_annealed_mean):
        result = check(None)
        assert not result and str(result).startswith("not yet: write a function")


def test_a_function_that_raises_is_reported_not_raised():
    def broken(*args):
        raise RuntimeError("shape mismatch")

    for check in (lesson6.check_soft_encode, lesson6.check_rebalance_weights, lesson6.check_annealed_mean):
        result = check(broken)
        assert not result and "RuntimeError" in result.message


def test_the_mode_and_the_unweighted_mean_are_not_the_mse_answer():
    assert "mode" in lesson6.check_mse_answer(lesson6.APPLES["red"]).message
    red, green = lesson6.APPLES["red"], lesson6.APPLES["green"]
    assert "70% red" in lesson6.check_mse_answer(((red[0] + green[0]) / 2, (red[1] + green[1]) / 2)).message
    assert not lesson6.check_mse_answer("red")


def test_a_hard_one_hot_target_is_told_to_spread():
    result = lesson6.check_soft_encode(lambda ab, bins, k, sigma: soft_encode_solution(ab, bins, 1, sigma))
    assert not result and "5 nearest bins" in result.message


def test_unnormalised_soft_weights_are_named():
    def unnormalised(ab, bins, k, sigma):
        d2 = (bins - ab).pow(2).sum(dim=1)
        nearest = d2.topk(k, largest=False)
        target = torch.zeros(len(bins))
        target[nearest.indices] = torch.exp(-nearest.values / (2 * sigma**2))
        return target

    result = lesson6.check_soft_encode(unnormalised)
    assert not result and "sum to 1" in result.message


def test_weights_without_the_normalisation_are_named():
    def unnormalised(prior, lam):
        return 1 / ((1 - lam) * prior + lam / len(prior))

    result = lesson6.check_rebalance_weights(unnormalised)
    assert not result and "Σ p·w" in result.message


def test_swapped_lambda_and_plain_inverse_prior_are_named():
    swapped = lesson6.check_rebalance_weights(lambda prior, lam: rebalance_solution(prior, 1 - lam))
    assert not swapped and "swapped" in swapped.message
    inverse = lesson6.check_rebalance_weights(lambda prior, lam: (1 / prior) / len(prior))
    assert not inverse and "1/p" in inverse.message


def test_an_annealed_mean_that_ignores_or_multiplies_the_temperature_is_named():
    ignored = lesson6.check_annealed_mean(lambda logits, bins, T: annealed_mean_solution(logits, bins, 1.0))
    assert not ignored and "plain mean" in ignored.message
    multiplied = lesson6.check_annealed_mean(lambda logits, bins, T: annealed_mean_solution(logits, bins, 1 / T))
    assert not multiplied and "multiplied by T" in multiplied.message


def test_the_mode_and_a_missing_renormalisation_are_named():
    mode = lesson6.check_annealed_mean(lambda logits, bins, T: bins[logits.argmax()])
    assert not mode and "mode" in mode.message

    def not_renormalised(logits, bins, T):
        return torch.softmax(logits, 0) ** (1 / T) @ bins

    result = lesson6.check_annealed_mean(not_renormalised)
    assert not result and "renormalise" in result.message
