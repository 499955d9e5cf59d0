"""Shared helpers for the notebook, widget and browser tests (lesson notebooks in ``notebooks/``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SANITIZE = Path(__file__).resolve().parent / "nbval_sanitize.cfg"
LESSONS = sorted(p.name for p in NOTEBOOKS.glob("0*.ipynb"))


@pytest.fixture(scope="session")
def demo_checkpoint() -> Iterator[Path]:
    """The bundled demo model (``data/``), which the notebooks and the app load."""
    from colorlab.infer import pretrained_path

    path = pretrained_path()
    assert path.is_file(), f"{path}: the demo model is missing"
    yield path


def outputs_text(nb) -> str:
    """All stdout and text/plain outputs of an executed notebook, joined."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif "data" in out:
                parts.append(str(out["data"].get("text/plain", "")))
    return "\n".join(parts)


def photo_png_bytes(height: int, width: int, seed: int = 0) -> bytes:
    """A small colourful PNG photo of the given size."""
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), 128 + 0 * x], axis=-1)
    rgb = np.clip(rgb + rng.integers(-20, 20, rgb.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def in_ci() -> bool:
    return bool(os.environ.get("CI"))
