"""The top-level package: every advertised name resolves, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import colorlab


def test_every_top_level_name_resolves():
    for name in colorlab.__all__:
        assert getattr(colorlab, name) is not None, name


def test_import_colorlab_does_not_import_torch():
    code = "import sys, colorlab; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
