"""The result type every exercise check returns, and the safe call of a learner's function."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

__all__ = ["CheckResult", "right", "wrong", "call_learner"]


@dataclass(frozen=True)
class CheckResult:
    """The verdict of an exercise check: ``passed`` and a one-line ``message`` that says why."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"{'right' if self.passed else 'not yet'}: {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = "#1b7f3b" if self.passed else "#b00020"
        mark = "&#10004; right" if self.passed else "&#10008; not yet"
        return f"<span style='color:{colour}'><b>{mark}:</b> {html.escape(self.message)}</span>"


def right(message: str) -> CheckResult:
    """A passed check with its reason."""
    return CheckResult(True, message)


def wrong(message: str) -> CheckResult:
    """A failed check with what to look at next."""
    return CheckResult(False, message)


def call_learner(fn: Any, what: str, *args: Any) -> tuple[Any, CheckResult | None]:
    """``fn(*args)`` and ``None``, or ``None`` and the verdict to return instead: nothing to call,
    not a function, or the learner's error (reported, never raised). ``what`` names the function
    to write, e.g. ``"my_top5(logits) returning [(class name, probability), ...]"``."""
    if fn is None:
        return None, wrong(f"write a function {what} and pass it here")
    if not callable(fn):
        return None, wrong(f"pass the function itself (its name, without brackets); got a {type(fn).__name__}")
    try:
        return fn(*args), None
    except Exception as exc:  # a learner's function may fail in any way: report it, never raise
        return None, wrong(f"your function raised {type(exc).__name__}: {exc}")
