"""Lesson 5's exercise checks: the worked solutions pass, typical mistakes get a useful message."""

from __future__ import annotations

import numpy as np
import torch

from colorlab.exercises import lesson5


# The worked solutions, as the notebook shows them.
def network_size_solution(height, width, size=224):
    scale = size / min(height, width)
    scale = min(scale, 1024 / max(height, width))
    return tuple(max(8, round(side * scale / 8) * 8) for side in (height, width))


def has_colour_solution(rgb):
    a = rgb.astype(int)
    return bool((abs(a[..., 0] - a[..., 1]) + abs(a[..., 1] - a[..., 2])).mean() / 2 >= 2)


def top5_solution(logits):
    from colorlab.viz import imagenet_classes

    probs = torch.softmax(logits, dim=0)
    values, indices = probs.topk(5)
    names = imagenet_classes()
    return [(names[i], float(p)) for i, p in zip(indices.tolist(), values.tolist())]


def test_the_worked_solutions_pass():
    for check, solution in [
        (lesson5.check_network_size, network_size_solution),
        (lesson5.check_has_colour, has_colour_solution),
        (lesson5.check_top5, top5_solution),
    ]:
        result = check(solution)
        assert result.passed, result.message


def test_a_placeholder_says_what_to_write_instead_of_raising():
    for check in (lesson5.check_network_size, lesson5.check_has_colour, lesson5.check_top5):
        result = check(None)
        assert not result and str(result).startswith("not yet: write a function")


def test_a_function_that_raises_is_reported_not_raised():
    def broken(*args):
        raise ZeroDivisionError("division by zero")

    for check in (lesson5.check_network_size, lesson5.check_has_colour, lesson5.check_top5):
        result = check(broken)
        assert not result and "ZeroDivisionError" in result.message


def test_a_square_network_input_is_told_to_keep_the_aspect_ratio():
    result = lesson5.check_network_size(lambda h, w, size: (size, size))
    assert not result and "aspect ratio" in result.message


def test_sides_that_are_not_multiples_of_8_are_named():
    def unrounded(h, w, size):
        scale = min(size / min(h, w), 1024 / max(h, w))
        return round(h * scale), round(w * scale)

    result = lesson5.check_network_size(unrounded)
    assert not result and "multiple of 8" in result.message


def test_a_missing_cap_on_the_long_side_is_named():
    def uncapped(h, w, size):
        scale = size / min(h, w)
        return tuple(max(8, round(s * scale / 8) * 8) for s in (h, w))

    result = lesson5.check_network_size(uncapped)
    assert not result and "1024" in result.message and "200x1500" in result.message


def test_width_and_height_swapped_is_named():
    result = lesson5.check_network_size(lambda h, w, size: network_size_solution(h, w, size)[::-1])
    assert not result and "(height, width)" in result.message


def test_exact_channel_equality_is_told_about_jpeg_noise():
    def exact(rgb):
        return not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))

    result = lesson5.check_has_colour(exact)
    assert not result and "JPEG" in result.message and "tolerance" in result.message


def test_an_inverted_colour_test_is_named():
    result = lesson5.check_has_colour(lambda rgb: not has_colour_solution(rgb))
    assert not result and "opposite" in result.message


def test_a_colour_test_that_misses_a_tint_is_named():
    def spread_only(rgb):  # looks at how much the chroma varies, so a uniform tint reads as gray
        a = rgb.astype(int)
        return bool((a[..., 0] - a[..., 1]).std() > 2)

    result = lesson5.check_has_colour(spread_only)
    assert not result and "sepia" in result.message


def test_raw_logits_instead_of_probabilities_are_named():
    def no_softmax(logits):
        from colorlab.viz import imagenet_classes

        values, indices = logits.topk(5)
        return [(imagenet_classes()[i], float(v)) for i, v in zip(indices.tolist(), values.tolist())]

    result = lesson5.check_top5(no_softmax)
    assert not result and "softmax" in result.message


def test_least_likely_classes_and_wrong_order_are_named():
    def lowest(logits):
        from colorlab.viz import imagenet_classes

        probs = torch.softmax(logits, 0)
        return [(imagenet_classes()[i], float(probs[i])) for i in probs.argsort()[:5].tolist()]

    assert "LEAST" in lesson5.check_top5(lowest).message
    assert "order" in lesson5.check_top5(lambda logits: top5_solution(logits)[::-1]).message


def test_the_saturation_answer_is_checked_against_what_the_model_paints():
    values, target = lesson5.saturation_table()
    first = next(k for k in lesson5.SATURATIONS if values[k] >= target)  # the worked solution's loop
    assert lesson5.check_saturation(first)
    earlier = [k for k in lesson5.SATURATIONS if k < first]
    if earlier:
        below = lesson5.check_saturation(earlier[-1])
        assert not below and "still below the truth's" in below.message
    later = [k for k in lesson5.SATURATIONS if k > first]
    if later:
        assert "already does" in lesson5.check_saturation(later[0]).message
    assert "pass one of the saturations tried" in lesson5.check_saturation(1.7).message
    assert "colorize flower" in lesson5.check_saturation(None).message
    assert "one saturation" in lesson5.check_saturation("2.5").message
