"""The result type every exercise check returns."""

from __future__ import annotations

import html
from dataclasses import dataclass

__all__ = ["CheckResult", "right", "wrong"]


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
