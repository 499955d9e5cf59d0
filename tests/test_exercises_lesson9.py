"""Lesson 9's checks: right answers pass, wrong ones are told what to look at."""

from __future__ import annotations

import numpy as np
import pytest

from colorlab.exercises import lesson9


@pytest.fixture(scope="module")
def photo():
    truth, _ = lesson9.exercise_photo()
    region = lesson9.wrong_region()
    return truth, region


def test_one_true_colour_inside_the_wrong_region_fixes_it(photo):
    truth, region = photo
    assert 0.1 < region.mean() < 0.9  # the model really does get a part of this photo wrong
    ys, xs = np.nonzero(region)
    y, x = int(np.median(ys)), int(np.median(xs))
    result = lesson9.check_fix([(x, y, tuple(int(v) for v in truth[y, x]))])
    assert result and "1 hint" in result.message


@pytest.mark.parametrize(
    "hints, said",
    [
        (None, "make a list"),
        ([], "no hints yet"),
        ([(1, 1, "#000000")] * 4, "at most 3"),
        ([(300, 1, "#000000")], "outside"),
        ([(1, 1, "red")], "#RRGGBB"),
        ([(5, 5, "#ff0000")], "halve it"),
    ],
)
def test_slips_are_named(photo, hints, said):
    result = lesson9.check_fix(hints)
    assert not result and said in result.message


def test_idw_weight_check():
    assert lesson9.check_idw_weight(lambda d: 1 / (1 + d**2))
    assert "expected" in lesson9.check_idw_weight(lambda d: 1 / (1 + d)).message
    assert not lesson9.check_idw_weight(None)
