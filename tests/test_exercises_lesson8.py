"""Lesson 8's exercise checks: the worked solutions pass, typical mistakes get a useful message."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from colorlab.exercises import lesson8


# The worked solutions, as the notebook shows them.
def smooth_solution(ab_seq, cuts, alpha):
    out = torch.empty_like(ab_seq)
    for t in range(len(ab_seq)):
        if t == 0 or cuts[t]:
            out[t] = ab_seq[t]
        else:
            out[t] = alpha * ab_seq[t] + (1 - alpha) * out[t - 1]
    return out


def cuts_solution(l_seq, threshold):
    coarse = F.adaptive_avg_pool2d(l_seq, (16, 16))
    change = (coarse[1:] - coarse[:-1]).abs().mean(dim=(1, 2, 3))
    return torch.cat([torch.tensor([False]), change > threshold])


def flicker_solution(ab_seq, cuts):
    change = (ab_seq[1:] - ab_seq[:-1]).pow(2).sum(dim=1).sqrt().mean(dim=(1, 2))
    return float(change[~cuts[1:]].mean())


def test_the_worked_solutions_pass():
    for check, solution in [
        (lesson8.check_smooth_ab, smooth_solution),
        (lesson8.check_detect_cuts, cuts_solution),
        (lesson8.check_flicker, flicker_solution),
    ]:
        result = check(solution)
        assert result.passed, result.message


def test_a_placeholder_says_what_to_write_instead_of_raising():
    for check in (lesson8.check_smooth_ab, lesson8.check_detect_cuts, lesson8.check_flicker):
        result = check(None)
        assert not result and str(result).startswith("not yet: write a function")


def test_a_function_that_raises_is_reported_not_raised():
    def broken(*args):
        raise IndexError("index 8 is out of bounds")

    result = lesson8.check_smooth_ab(broken)
    assert not result and "IndexError" in result.message and "out of bounds" in result.message


def test_smoothing_across_the_cut_is_named():
    def no_reset(ab_seq, cuts, alpha):
        return smooth_solution(ab_seq, torch.zeros_like(cuts), alpha)

    result = lesson8.check_smooth_ab(no_reset)
    assert not result and "blend across the cut" in result.message


def test_swapped_alpha_is_named():
    result = lesson8.check_smooth_ab(lambda ab, cuts, alpha: smooth_solution(ab, cuts, 1 - alpha))
    assert not result and "alpha weights the newest frame" in result.message


def test_smoothing_in_place_is_named():
    def in_place(ab_seq, cuts, alpha):
        for t in range(1, len(ab_seq)):
            if not cuts[t]:
                ab_seq[t] = alpha * ab_seq[t] + (1 - alpha) * ab_seq[t - 1]
        return ab_seq

    result = lesson8.check_smooth_ab(in_place)
    assert not result and "in place" in result.message


def test_cut_marked_one_frame_early_is_named():
    result = lesson8.check_detect_cuts(lambda L, thr: torch.roll(cuts_solution(L, thr), -1))
    assert not result and "last frame of the old shot" in result.message


def test_per_pixel_cut_detection_is_told_to_pool():
    def per_pixel(l_seq, threshold):
        change = (l_seq[1:] - l_seq[:-1]).abs().mean(dim=(1, 2, 3))
        return torch.cat([torch.tensor([False]), change > threshold / 4])

    result = lesson8.check_detect_cuts(per_pixel)
    assert not result and "average-pool" in result.message


def test_flicker_counting_the_cut_is_named():
    def with_cut(ab_seq, cuts):
        return float((ab_seq[1:] - ab_seq[:-1]).pow(2).sum(dim=1).sqrt().mean())

    result = lesson8.check_flicker(with_cut)
    assert not result and "pair across the cut" in result.message


def test_flicker_per_channel_is_told_to_use_the_length():
    def per_channel(ab_seq, cuts):
        return float((ab_seq[1:] - ab_seq[:-1]).abs().mean(dim=(1, 2, 3))[~cuts[1:]].mean())

    result = lesson8.check_flicker(per_channel)
    assert not result and "sqrt(da^2 + db^2)" in result.message


def test_the_time_constant_solution_passes_and_typical_mistakes_are_named():
    import math

    tau = -(1 / 24) / math.log(1 - 0.3)
    alpha_12 = 1 - math.exp(-(1 / 12) / tau)
    assert lesson8.check_time_constant((tau, alpha_12))
    assert lesson8.check_time_constant((round(tau, 3), round(alpha_12, 2)))  # as the solution prints them
    assert "(tau, alpha_12)" in lesson8.check_time_constant(None).message
    assert "1/alpha" in lesson8.check_time_constant((1 / 7.2, 0.5)).message  # the rule-of-thumb tau
    assert "linear" in lesson8.check_time_constant((tau, 0.6)).message
    assert "larger alpha" in lesson8.check_time_constant((tau, 0.3)).message
    assert "milliseconds" in lesson8.check_time_constant((tau * 1000, alpha_12)).message
    assert not lesson8.check_time_constant((tau, 0.45))
    assert "two numbers" in lesson8.check_time_constant("0.117").message
