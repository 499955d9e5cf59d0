"""Numbers in a lesson's prose that come from its cells, checked.

The rule (notebooks/README.md): a number that a lesson's text states about what the lesson
computes is *claimed* by the cell that computes it, and the text marks where it uses it::

    # in a code cell
    claim("delta_L", float(delta.mean()))

    <!-- in the Markdown beside it: the comment is invisible when rendered -->
    The lightness moves by −0.78<!--claim:delta_L--> on average.

:func:`claim` records the value in the cell's output (in its metadata: nothing visible, and
nbval's comparison of outputs skips it). :func:`prose_problems` reads a notebook and lists every
marked number that differs from its claimed value by more than the precision it is written
with (half a unit of its last digit: ``0.78`` means 0.775 to 0.785; ``3`` means 2.5 to 3.5), or
with the tolerance written in the mark (``<!--claim:delta_L ±0.05-->``), and every mark without
a claim. ``tests/test_lesson_claims.py`` runs it over every lesson.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

__all__ = ["CLAIMS_KEY", "Claimed", "claim", "claimed_values", "prose_claims", "prose_problems"]

#: Where :func:`claim` keeps its value in a display output's metadata.
CLAIMS_KEY = "colorlab_claims"

_NUMBER = r"(?P<number>[+\-−]?\d[\d,\u2009\u202f]*(?:\.\d+)?)"
_MARK = re.compile(
    _NUMBER + r"\s*(?P<unit>%|×|x|dB|px|s)?\s*<!--\s*claim:(?P<name>[\w.\-]+)\s*(?:±\s*(?P<tol>[\d.]+))?\s*-->"
)


class Claimed(float):
    """A claimed number: a float that shows nothing when it is the value of a cell's last line."""

    def _ipython_display_(self) -> None:
        pass


def claim(name: str, value: float) -> Claimed:
    """Record ``value`` as the number the lesson's text calls ``name``; returns it (``rms = claim(...)``).

    Shows nothing, also on a cell's last line (the returned :class:`Claimed` has no display). The value travels in the output's metadata, so the committed notebook carries
    what its cell computed, and the text's ``<!--claim:name-->`` marks can be checked against it.
    """
    from IPython.display import display

    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"claim {name!r}: {value!r} is not a finite number")
    display({"text/plain": ""}, raw=True, metadata={CLAIMS_KEY: {name: number}})
    return Claimed(number)


def claimed_values(notebook: dict[str, Any]) -> dict[str, float]:
    """Every value claimed in the notebook's committed outputs, by name (a later claim wins)."""
    values: dict[str, float] = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            values.update(output.get("metadata", {}).get(CLAIMS_KEY, {}))
    return values


def prose_claims(notebook: dict[str, Any]) -> list[tuple[int, str, str, float]]:
    """``(cell index, name, number as written, tolerance)`` for every marked number in Markdown."""
    found = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "markdown":
            continue
        text = "".join(cell.get("source", []))
        for m in _MARK.finditer(text):
            written = m["number"]
            tolerance = float(m["tol"]) if m["tol"] else _half_unit(written)
            found.append((index, m["name"], written, tolerance))
    return found


def prose_problems(notebook: dict[str, Any] | str | Path) -> list[str]:
    """One line per marked number in the prose that its cells do not back (empty: the text is true)."""
    if not isinstance(notebook, dict):
        notebook = json.loads(Path(notebook).read_text(encoding="utf-8"))
    values = claimed_values(notebook)
    problems = []
    for index, name, written, tolerance in prose_claims(notebook):
        if name not in values:
            problems.append(f"cell {index}: the text states {written} as {name!r}, which no cell claims")
            continue
        stated, computed = _parse(written), values[name]
        if abs(stated - computed) > tolerance + 1e-9 * max(1.0, abs(computed)):
            problems.append(
                f"cell {index}: the text states {written} for {name!r}, the cells compute {computed:.6g} "
                f"(allowed: ±{tolerance:g})"
            )
    return problems


def _parse(written: str) -> float:
    return float(written.replace("−", "-").replace(",", "").replace("\u2009", "").replace("\u202f", ""))


def _half_unit(written: str) -> float:
    decimals = len(written.split(".")[1]) if "." in written else 0
    return 0.5 * 10.0**-decimals
