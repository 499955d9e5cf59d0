"""The live-colorization app and the Lab colour picker, as ipywidgets.

The widgets only wire controls to library calls (:func:`colorlab.infer.colorize`,
:func:`colorlab.data.load_image`, :func:`colorlab.metrics.gray_baseline`), so
everything here can be driven and tested from Python without a browser:

>>> app = ColorizeApp()
>>> app.upload.value = ({"name": "me.jpg", "content": jpeg_bytes, ...},)
>>> app.saturation.value = 1.5
>>> app.result.shape  # the input's (H, W, 3)
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

try:
    import ipywidgets as widgets
except ModuleNotFoundError as exc:  # the plain install is the library and the command line
    raise ModuleNotFoundError(
        "colorlab.widgets needs ipywidgets, which the lessons install: pip install 'colorlab-koala[lessons]'",
        name=exc.name,
    ) from None

from .color import lab_to_rgb
from .data import SAMPLE_PHOTOS, ImageLoadError, load_image_bytes
from .metrics import gray_baseline

__all__ = ["ColorizeApp", "RealOrColorizedApp", "ab_picker", "png_bytes", "find_checkpoints"]

#: Longest side of the before/after previews (the download keeps the full size).
PREVIEW_SIDE = 640
#: Label of the bundled demo model in the checkpoint menu.
DEMO_MODEL = "demo model (bundled)"
#: The photo menu's entry for "use what was uploaded".
UPLOADED = "(uploaded photo)"


def png_bytes(rgb: np.ndarray) -> bytes:
    """``(H, W, 3)`` uint8 -> PNG file bytes."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def _preview(rgb: np.ndarray, side: int = PREVIEW_SIDE) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= side:
        return rgb
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR, reducing_gap=2.0))


def find_checkpoints(folders: tuple[str | os.PathLike[str], ...] = ("runs", "../runs")) -> dict[str, Path]:
    """Colorlab checkpoints (``*.pt``) in ``folders``, by file name (e.g. those lesson 3 writes)."""
    found: dict[str, Path] = {}
    for folder in folders:
        folder = Path(folder)
        if folder.is_dir():
            for p in sorted(folder.glob("*.pt")):
                found.setdefault(p.name, p)
    return found


class ColorizeApp(widgets.VBox):
    """Upload a photo or pick a bundled one, choose a checkpoint and a saturation, see before/after, download.

    ``checkpoints`` maps menu labels to checkpoint paths; the bundled demo
    model (:func:`colorlab.infer.load_pretrained`) is always the first entry
    and by default the ``*.pt`` files of :func:`find_checkpoints` follow.
    ``photo`` is the bundled photo shown at start (``None``: start empty).

    State for code and tests: :attr:`source` (the input, uint8 RGB),
    :attr:`result` (the colorized photo, same size), :attr:`message` (an HTML
    line with the status or a readable error).
    """

    def __init__(
        self,
        checkpoints: Mapping[str, str | os.PathLike[str]] | None = None,
        photo: str | None = "chelsea",
        size: int | None = None,
    ) -> None:
        from .infer import DEFAULT_SIZE

        self.size = size or DEFAULT_SIZE
        self._paths: dict[str, Path | None] = {DEMO_MODEL: None}
        extra = find_checkpoints() if checkpoints is None else checkpoints
        self._paths.update({label: Path(p) for label, p in extra.items()})
        self._models: dict[tuple[str, int, int], Any] = {}
        self.source: np.ndarray | None = None
        self.source_name = ""
        self.result: np.ndarray | None = None

        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="Upload")
        self.photo = widgets.Dropdown(
            options=[UPLOADED] + [p.name for p in SAMPLE_PHOTOS], value=UPLOADED, description="Photo"
        )
        self.checkpoint = widgets.Dropdown(options=list(self._paths), value=DEMO_MODEL, description="Model")
        self.saturation = widgets.FloatSlider(
            value=1.0, min=0.0, max=2.5, step=0.1, description="Saturation", continuous_update=False, readout_format=".1f"
        )
        layout = widgets.Layout(max_width="100%", height="auto", align_self="flex-start")
        self.before = widgets.Image(format="png", layout=layout)
        self.after = widgets.Image(format="png", layout=layout)
        self.download = widgets.HTML()
        self.message = widgets.HTML()
        column = widgets.Layout(width="49%")
        images = widgets.HBox(
            [
                widgets.VBox([widgets.HTML("<b>Before</b> (what the model sees: lightness only)"), self.before], layout=column),
                widgets.VBox([widgets.HTML("<b>After</b> (colorized)"), self.after], layout=column),
            ]
        )
        controls = widgets.HBox([self.upload, self.photo, self.checkpoint])
        super().__init__(
            [widgets.HTML("<h3>colorlab: colorize a photo</h3>"), controls, self.saturation, self.message, images, self.download]
        )

        self.upload.observe(self._on_upload, names="value")
        self.photo.observe(self._on_photo, names="value")
        self.checkpoint.observe(lambda change: self.refresh(), names="value")
        self.saturation.observe(lambda change: self.refresh(), names="value")
        if photo is not None:
            self.photo.value = photo

    # --- inputs -----------------------------------------------------------------

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        f = files[0]
        self.load_bytes(f.get("name", "upload"), bytes(f.get("content", b"")))

    def _on_photo(self, change: dict[str, Any]) -> None:
        name = change["new"]
        if name == UPLOADED:
            return
        from .data import sample_images

        self.set_source(name, sample_images([name])[name])

    def load_bytes(self, name: str, content: bytes) -> None:
        """Use an uploaded file; a file that is not an image shows a message instead."""
        try:
            rgb = load_image_bytes(content, name)
        except ImageLoadError as exc:
            self.source, self.before.value = None, b""  # the failed upload replaces the old photo: nothing to show
            self._fail(str(exc))
            return
        if self.photo.value != UPLOADED:
            with self.hold_trait_notifications():
                self.photo.unobserve(self._on_photo, names="value")
                self.photo.value = UPLOADED
                self.photo.observe(self._on_photo, names="value")
        self.set_source(name, rgb)

    def set_source(self, name: str, rgb: np.ndarray) -> None:
        """Colorize ``rgb`` (any size, ``(H, W, 3)`` uint8) under ``name``."""
        self.source = rgb
        self.source_name = name
        self.before.value = png_bytes(_preview(gray_baseline(rgb)))
        self.refresh()

    # --- outputs ----------------------------------------------------------------

    def model(self) -> Any:
        """The model chosen in the checkpoint menu, loaded again whenever its file changed on disk."""
        from .infer import load_model, load_pretrained, pretrained_path

        label = self.checkpoint.value
        path = self._paths[label]
        stat = (path or pretrained_path()).stat()  # a checkpoint rewritten since must not be served stale
        key = (label, stat.st_mtime_ns, stat.st_size)
        if key not in self._models:
            self._models = {k: v for k, v in self._models.items() if k[0] != label}
            self._models[key] = load_pretrained() if path is None else load_model(path)
        return self._models[key]

    def refresh(self) -> None:
        """Recolorize the current photo with the current model and saturation."""
        from .infer import colorize
        from .checkpoint import CheckpointError

        if self.source is None:
            self.message.value = "Upload a photo or choose one from the menu."
            return
        try:
            model = self.model()
        except (CheckpointError, OSError, RuntimeError, KeyError, ValueError) as exc:
            self._fail(f"cannot load the model '{self.checkpoint.value}': {exc}")
            return
        try:
            self.result = colorize(self.source, model, saturation=self.saturation.value, size=self.size)
        except (ValueError, RuntimeError) as exc:
            self._fail(f"cannot colorize {self.source_name}: {exc}")
            return
        self.after.value = png_bytes(_preview(self.result))
        h, w = self.result.shape[:2]
        stem = Path(self.source_name).stem or "photo"
        data = base64.b64encode(png_bytes(self.result)).decode("ascii")
        self.download.value = (
            f'<a download="{html.escape(stem)}_colorized.png" href="data:image/png;base64,{data}">'
            f"Download the colorized photo ({w}x{h} PNG)</a>"
        )
        self.message.value = (
            f"<span style='color:green'>{html.escape(self.source_name)}: {w}x{h}, "
            f"model {html.escape(self.checkpoint.value)}, saturation {self.saturation.value:.1f}</span>"
        )

    def _fail(self, text: str) -> None:
        """Show the error, and take the previous result and its download link away: they no longer match."""
        self.result = None
        self.after.value = b""
        self.download.value = ""
        self.message.value = f"<span style='color:#b00020'>{html.escape(text, quote=False)}</span>"


def ab_picker(L: float = 60.0) -> widgets.VBox:
    """Sliders for a and b at a fixed lightness ``L``; a swatch shows the colour live, and says when
    the colour is outside the sRGB gamut (the swatch then shows it clipped)."""
    from .viz import out_of_srgb_gamut

    a = widgets.FloatSlider(value=40.0, min=-110.0, max=110.0, step=1.0, description="a")
    b = widgets.FloatSlider(value=30.0, min=-110.0, max=110.0, step=1.0, description="b")
    swatch = widgets.HTML()

    def update(change: Any = None) -> None:
        lab = torch.tensor([[[L]], [[a.value]], [[b.value]]], dtype=torch.float64)
        r, g, bl = (lab_to_rgb(lab)[:, 0, 0] * 255).round().int().tolist()
        gray = (lab_to_rgb(torch.tensor([[[L]], [[0.0]], [[0.0]]], dtype=torch.float64))[0, 0, 0] * 255).round().int().item()
        if out_of_srgb_gamut(lab).item():
            gamut = "<span style='color:#b00020'>outside the sRGB gamut: a screen cannot show it; the swatch is clipped</span>"
        else:
            gamut = "<span style='color:#1b7f3b'>inside the sRGB gamut</span>"
        swatch.value = (
            "<div style='display:flex;gap:12px;align-items:center'>"
            f"<div style='width:120px;height:60px;background:rgb({r},{g},{bl});border:1px solid #000'></div>"
            f"<div style='width:60px;height:60px;background:rgb({gray},{gray},{gray});border:1px solid #000'></div>"
            f"<code>Lab({L:g}, {a.value:g}, {b.value:g}) -> sRGB({r}, {g}, {bl}); gray with the same L: ({gray}, {gray}, {gray})</code>"
            f"{gamut}</div>"
        )

    a.observe(update, names="value")
    b.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HTML(f"<b>Lab colour picker at L = {L:g}</b>"), a, b, swatch])


from .game_app import RealOrColorizedApp  # noqa: E402  (the "real or colorized?" game, lesson 7)
