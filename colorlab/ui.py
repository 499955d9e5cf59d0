"""Small helpers the notebook apps share (:mod:`colorlab.widgets`, :mod:`colorlab.game_app`).

Pictures go to an ``ipywidgets.Image`` as PNG bytes (:func:`png_bytes`), and a line of
status or error text goes to an ``ipywidgets.HTML`` as a coloured span (:func:`coloured`).
Nothing here imports ipywidgets, so the helpers work (and are tested) without it.
"""

from __future__ import annotations

import html
import io

import numpy as np
from PIL import Image

__all__ = ["ERROR_COLOUR", "coloured", "png_bytes"]

#: Colour of an error line.
ERROR_COLOUR = "#b00020"


def png_bytes(rgb: np.ndarray) -> bytes:
    """``(H, W, 3)`` uint8 -> PNG file bytes."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def coloured(text: str, colour: str) -> str:
    """``text`` (plain, escaped here) as an HTML span in ``colour``."""
    return f"<span style='color:{colour}'>{html.escape(text, quote=False)}</span>"
