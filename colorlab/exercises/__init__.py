"""Checks for the lessons' exercises: call one with your answer and it says right or wrong, and why.

Each lesson has a module (``colorlab.exercises.lesson1`` ...) with one ``check_*`` function per
exercise that can be checked by code. A check never raises on a wrong answer: it returns a
:class:`CheckResult`, which is truthy when the answer is right and shows itself in a notebook as
a green or red line with the reason::

    from colorlab.exercises import lesson1
    lesson1.check_srgb_to_linear(my_function)   # -> "right: ..." or "not yet: ..."
"""

from __future__ import annotations

from .core import CheckResult, right, wrong

__all__ = ["CheckResult", "right", "wrong"]
