"""Lessons never state what their cells contradict (issue 24).

Every number a lesson's prose states about what it computes is marked (``<!--claim:NAME-->``)
and claimed by the cell that computes it (:func:`colorlab.exercises.claims.claim`); these tests
check the committed notebooks, whose outputs nbval shows to be what the code produces now.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import tomllib

from colorlab.exercises.claims import CLAIMS_KEY, claimed_values, prose_claims, prose_problems

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text.splitlines(keepends=True)}


def _claiming_cell(**values: float) -> dict:
    outputs = [
        {"output_type": "display_data", "data": {"text/plain": ""}, "metadata": {CLAIMS_KEY: {k: v}}}
        for k, v in values.items()
    ]
    return {"cell_type": "code", "metadata": {}, "source": ["claim(...)"], "outputs": outputs, "execution_count": 1}


def test_a_planted_wrong_number_is_caught_and_a_true_one_passes():
    true = {
        "cells": [
            _claiming_cell(delta_L=-0.7812, share=99.43, steps=120.0),
            _markdown(
                "Lightness moves by −0.78<!--claim:delta_L--> on average; for 99.4 %<!--claim:share--> of "
                "pixels the gray bin wins. We trained 120<!--claim:steps--> steps (about 100<!--claim:steps ±25-->)."
            ),
        ]
    }
    assert [n for _, n, _, _ in prose_claims(true)] == ["delta_L", "share", "steps", "steps"]
    assert prose_problems(true) == []

    planted = json.loads(json.dumps(true))
    planted["cells"][1]["source"] = ["Lightness moves by −0.82<!--claim:delta_L--> on average."]
    assert prose_problems(planted) == [
        "cell 1: the text states −0.82 for 'delta_L', the cells compute -0.7812 (allowed: ±0.005)"
    ]
    unclaimed = {"cells": [_markdown("It takes 3<!--claim:minutes--> minutes.")]}
    assert prose_problems(unclaimed) == ["cell 0: the text states 3 as 'minutes', which no cell claims"]
    coarse = {"cells": [_claiming_cell(x=3.6), _markdown("about 3<!--claim:x-->")]}
    assert prose_problems(coarse) == ["cell 1: the text states 3 for 'x', the cells compute 3.6 (allowed: ±0.5)"]


def test_claim_records_the_value_in_the_outputs_metadata_and_refuses_nan(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    from colorlab.exercises.claims import claim

    shell = InteractiveShell.instance()
    seen = []
    shell.display_pub.publish = lambda data, metadata=None, **kw: seen.append((data, metadata))
    value = claim("psnr_gain", 1.25)
    assert value == 1.25 and f"{value:.1f}" == "1.2"  # usable as the number it is
    assert value._ipython_display_() is None  # and shows nothing on a cell's last line
    assert seen == [({"text/plain": ""}, {CLAIMS_KEY: {"psnr_gain": 1.25}})]
    with pytest.raises(ValueError, match="not a finite number"):
        claim("bad", float("nan"))


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_number_a_lesson_states_about_its_cells_is_what_they_compute(lesson):
    notebook = json.loads(lesson.read_text(encoding="utf-8"))
    assert prose_problems(notebook) == []


def test_the_lessons_use_the_mechanism():
    """Each lesson marks the numbers it states (the rule is not optional)."""
    marked = {p.stem: len(prose_claims(json.loads(p.read_text(encoding="utf-8")))) for p in LESSONS}
    claimed = {p.stem: len(claimed_values(json.loads(p.read_text(encoding="utf-8")))) for p in LESSONS}
    assert len(LESSONS) >= 8
    assert all(marked[k] >= 1 and claimed[k] >= 1 for k in marked), (marked, claimed)


def test_every_pip_line_in_a_lesson_installs_this_project():
    """`%pip install 'colorlab[...]'` installs an unrelated Python 2 library: lessons name colorlab-koala."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = set(project["optional-dependencies"])
    install = re.compile(r"pip install\s+(?:-\S+\s+)*(['\"]?)([A-Za-z][\w.-]*)(\[[\w,]+\])?\1")
    found = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for _, name, extra in install.findall("".join(cell["source"])):
                found.append(path.name)
                assert name == project["name"], f"{path.name}: a pip line installs {name!r}, not {project['name']}"
                assert set(extra.strip("[]").split(",")) - {""} <= extras, f"{path.name}: unknown extra {extra}"
    assert len(set(found)) >= 8, found  # every lesson says how to install what it needs
