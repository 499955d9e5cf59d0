"""The live-colorization app and the Lab colour picker, as ipywidgets.

The widgets only wire controls to library calls (:func:`colorlab.infer.colorize`,
:func:`colorlab.images.load_image`, :func:`colorlab.metrics.gray_baseline`), so
everything here can be driven and tested from Python without a browser:

>>> app = ColorizeApp()
>>> app.upload.value = ({"name": "me.jpg", "content": jpeg_bytes, ...},)
>>> app.saturation.value = 1.5
>>> app.result.shape  # the input's (H, W, 3)
"""

from __future__ import annotations

import base64
import html
import os
import re
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

from .checkpoint import DEFAULT_HEAD, DEMO_MODELS, pretrained_path
from .color import lab_to_rgb
from .colorbins import TEMPERATURE
from .images import ImageLoadError, is_grayscale, load_image_bytes
from .metrics import gray_baseline
from .samples import SAMPLE_PHOTOS
from .ui import ERROR_COLOUR, coloured, png_bytes

__all__ = [
    "ColorizeApp",
    "RealOrColorizedApp",
    "ab_picker",
    "png_bytes",
    "find_checkpoints",
    "checkpoint_label",
    "demo_checkpoints",
]

#: Longest side of the before/after previews (the download keeps the full size).
PREVIEW_SIDE = 640
#: Menu labels of the shipped demo models, by head (those whose files exist are listed): the
#: transfer U-Net's two heads, then the paper's net's (:data:`colorlab.checkpoint.DEMO_MODELS`).
DEMO_LABELS = {
    "regression": "U-Net (default)",
    "classification": "Vivid (classification)",
    "paper-regression": "Regression (paper)",
    "paper-classification": "Classification (paper)",
}
#: The menu's default: the demo model that :func:`colorlab.colorize` uses.
DEMO_MODEL = DEMO_LABELS[DEFAULT_HEAD]
#: What the app says while it colorizes (its controls are disabled meanwhile).
BUSY_TEXT = "colorizing…"
#: The temperature slider's lower end (0 itself is not a temperature: the mode needs T > 0).
MIN_TEMPERATURE = 0.05
#: The photo menu's entry for "use what was uploaded".
UPLOADED = "(uploaded photo)"
#: Style of a control whose description is long: the label takes the room it needs instead of
#: ipywidgets' fixed width (where "Temperature" is cut off).
LONG_DESCRIPTION = {"description_width": "initial"}
#: A checkpoint a lesson writes: its file or its folder starts with the lesson's number
#: (``03_training.pt``, ``runs/lesson3/run.pt``).
_LESSON = re.compile(r"^(?:lesson[ _-]?)?0*(\d{1,2})(?:[ _.-]|$)", re.IGNORECASE)


def _preview(rgb: np.ndarray, side: int = PREVIEW_SIDE) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= side:
        return rgb
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR, reducing_gap=2.0))


def checkpoint_label(path: str | os.PathLike[str]) -> str:
    """The menu label of a checkpoint: ``"Lesson 3: your model (03_training.pt)"`` for one a lesson
    wrote (its file name, or else its folder's, starts with the lesson's number), else its file name."""
    path = Path(path)
    for name in (path.stem, path.parent.name):
        found = _LESSON.match(name)
        if found and int(found.group(1)) > 0:
            return f"Lesson {int(found.group(1))}: your model ({path.name})"
    return path.name


def find_checkpoints(folders: tuple[str | os.PathLike[str], ...] = ("runs",)) -> dict[str, Path]:
    """Colorlab checkpoints (``*.pt``) in ``folders`` (by default ``runs/`` beside the notebook, where the
    lessons write theirs), by menu label (:func:`checkpoint_label`: a lesson's
    own, e.g. ``"Lesson 3: your model (03_training.pt)"``; any other by its file name)."""
    found: dict[str, Path] = {}
    for folder in folders:
        folder = Path(folder)
        if folder.is_dir():
            for p in sorted(folder.glob("*.pt")):
                found.setdefault(checkpoint_label(p), p)
    return found


def demo_checkpoints() -> dict[str, Path]:
    """The shipped demo models whose files exist, ``{menu label: path}``, the default head's first."""
    heads = [DEFAULT_HEAD] + [h for h in DEMO_MODELS if h != DEFAULT_HEAD]
    return {DEMO_LABELS[h]: pretrained_path(h) for h in heads if pretrained_path(h).is_file()}


class ColorizeApp(widgets.VBox):
    """Upload a photo or pick a bundled one, choose a model and a saturation, see the result, download it.

    Three panels: what the model sees (the lightness), the result, and the original when the
    photo has colour to compare with. Under them, the ImageNet classes the model's frozen
    extractor recognises (what the network "knows" about the photo). A temperature slider
    appears when the chosen model has the classification head (lesson 6).

    ``checkpoints`` maps menu labels to checkpoint paths or to models already in memory; the
    demo models whose files exist (:func:`demo_checkpoints`) come first, and by default the
    ``*.pt`` files of :func:`find_checkpoints` follow. ``model`` is the label chosen at start
    (default: :data:`DEMO_MODEL`, else the first entry). ``photo`` is the bundled photo shown
    at start (``None``: start empty).

    State for code and tests: :attr:`source` (the input, uint8 RGB), :attr:`result` (the
    colorized photo, same size), :attr:`guesses` (the extractor's top-5), :attr:`message`
    (an HTML line) and :attr:`message_text` (the same as plain text), :attr:`busy`.
    :meth:`figure` draws the panels as a static picture.
    """

    def __init__(
        self,
        checkpoints: Mapping[str, str | os.PathLike[str] | torch.nn.Module] | None = None,
        photo: str | None = "chelsea",
        size: int | None = None,
        model: str | None = None,
    ) -> None:
        from .infer import DEFAULT_SIZE

        self.size = size or DEFAULT_SIZE
        self._build_menu(checkpoints)
        self._build_state()
        self._build_controls(model)
        self._build_panels()
        self._show_original(False)
        super().__init__(self._build_layout())
        self._connect()
        if photo is not None:
            self.photo.value = photo
        else:
            self.refresh()

    # --- building ---------------------------------------------------------------

    def _build_menu(self, checkpoints: Mapping[str, str | os.PathLike[str] | torch.nn.Module] | None) -> None:
        """The model menu's entries: the demo models whose files exist, then ``checkpoints``."""
        demos = demo_checkpoints()
        self._demo_heads = {DEMO_LABELS[head]: head for head in DEMO_LABELS}
        self._entries: dict[str, Path | torch.nn.Module] = dict(demos) or {DEMO_MODEL: pretrained_path()}
        extra = find_checkpoints() if checkpoints is None else checkpoints
        self._entries.update({label: p if isinstance(p, torch.nn.Module) else Path(p) for label, p in extra.items()})
        self._models: dict[tuple[str, int, int], Any] = {}

    def _build_state(self) -> None:
        """The photo, the result and what the app remembers between refreshes (all empty at start)."""
        self.source: np.ndarray | None = None
        self.source_name = ""
        self.source_has_colour = False
        self.result: np.ndarray | None = None
        self.guesses: list[tuple[str, float]] = []
        self._photo_number = 0  # counts the photos shown, so guesses are recomputed for each new one
        self._guessed_for: tuple[int, str] | None = None
        self._temperature_for: str | None = None
        self._quiet = False  # True while the app itself sets a control: no refresh
        self.busy = False
        self.message_text = ""

    def _build_controls(self, model: str | None) -> None:
        """Upload, photo menu, model menu (at ``model``), saturation and temperature sliders, status line."""
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="Upload")
        self.photo = widgets.Dropdown(
            options=[UPLOADED] + [p.name for p in SAMPLE_PHOTOS], value=UPLOADED, description="Photo"
        )
        start = (
            model if model is not None else (DEMO_MODEL if DEMO_MODEL in self._entries else next(iter(self._entries)))
        )
        if start not in self._entries:
            raise ValueError(
                f"ColorizeApp: model={start!r} is not in the menu; choose one of {', '.join(self._entries)}"
            )
        self.checkpoint = widgets.Dropdown(options=list(self._entries), value=start, description="Model")
        self.saturation = widgets.FloatSlider(
            value=1.0,
            min=0.0,
            max=2.5,
            step=0.1,
            description="Saturation",
            continuous_update=False,
            readout_format=".1f",
            style=LONG_DESCRIPTION,
        )
        self.temperature = widgets.FloatSlider(
            value=TEMPERATURE,
            min=MIN_TEMPERATURE,
            max=1.0,
            step=0.01,
            description="Temperature",
            continuous_update=False,
            readout_format=".2f",
            style=LONG_DESCRIPTION,
        )
        self.temperature_box = widgets.HBox(
            [
                self.temperature,
                widgets.HTML(
                    "1 = the mean of the likely colours; towards 0 = the single most likely one, "
                    "which for these models is often gray (lesson 6), so lower is not more vivid"
                ),
            ],
            layout=widgets.Layout(display="none"),
        )
        self.status = widgets.Label("")

    def _build_panels(self) -> None:
        """The three picture columns (lightness, result, original), the message, guesses and download link."""
        layout = widgets.Layout(max_width="100%", height="auto", align_self="flex-start")
        self.before = widgets.Image(format="png", layout=layout)
        self.after = widgets.Image(format="png", layout=layout)
        self.original = widgets.Image(format="png", layout=layout)
        self.download = widgets.HTML()
        self.message = widgets.HTML()
        self.guess_list = widgets.HTML()
        self._columns = [
            widgets.VBox([widgets.HTML("<b>What the model sees</b> (lightness only)"), self.before]),
            widgets.VBox([widgets.HTML("<b>Result</b> (colorized)"), self.after]),
            widgets.VBox([widgets.HTML("<b>Original</b> (the photo's own colours)"), self.original]),
        ]

    def _build_layout(self) -> list[widgets.Widget]:
        """The app top to bottom: title, controls, sliders, message, the columns, guesses, download link."""
        controls = widgets.HBox([self.upload, self.photo, self.checkpoint, self.status])
        return [
            widgets.HTML("<h3>colorlab: colorize a photo</h3>"),
            controls,
            self.saturation,
            self.temperature_box,
            self.message,
            widgets.HBox(self._columns),
            self.guess_list,
            self.download,
        ]

    def _connect(self) -> None:
        """Every control refreshes the result when it changes."""
        self.upload.observe(self._on_upload, names="value")
        self.photo.observe(self._on_photo, names="value")
        self.checkpoint.observe(self._on_setting, names="value")
        self.saturation.observe(self._on_setting, names="value")
        self.temperature.observe(self._on_setting, names="value")

    # --- inputs -----------------------------------------------------------------

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        f = files[0]
        self.load_bytes(f.get("name", "upload"), bytes(f.get("content", b"")))

    def _on_photo(self, change: dict[str, Any]) -> None:
        name = change["new"]
        if name == UPLOADED or self._quiet:
            return
        from .samples import sample_images

        self.set_source(name, sample_images([name])[name])

    def _on_setting(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self.refresh()

    def load_bytes(self, name: str, content: bytes) -> None:
        """Use an uploaded file; a file that is not an image shows a message instead."""
        try:
            rgb = load_image_bytes(content, name)
        except ImageLoadError as exc:
            # The failed upload replaces the old photo: nothing of it stays on screen.
            self.source, self.source_has_colour, self.before.value, self.original.value = None, False, b"", b""
            self._show_original(False)
            self._fail(str(exc))
            return
        if self.photo.value != UPLOADED:
            self._quiet = True
            try:
                self.photo.value = UPLOADED
            finally:
                self._quiet = False
        self.set_source(name, rgb)

    def set_source(self, name: str, rgb: np.ndarray) -> None:
        """Colorize ``rgb`` (any size, ``(H, W, 3)`` uint8) under ``name``; show it beside the result if it has
        colour."""
        self.source = rgb
        self.source_name = name
        self._photo_number += 1
        self.source_has_colour = not is_grayscale(rgb)
        self.before.value = png_bytes(_preview(gray_baseline(rgb)))
        self.original.value = png_bytes(_preview(rgb)) if self.source_has_colour else b""
        self._show_original(self.source_has_colour)
        self.refresh()

    # --- outputs ----------------------------------------------------------------

    def model(self) -> Any:
        """The model chosen in the menu, loaded again whenever its file changed on disk."""
        from .infer import load_model, load_pretrained

        label = self.checkpoint.value
        entry = self._entries[label]
        if isinstance(entry, torch.nn.Module):
            return entry
        head = self._demo_heads.get(label)
        path = pretrained_path(head) if head is not None else entry
        if head is not None and not path.is_file():
            return load_pretrained(head=head)  # raises, saying how to get the demo model back
        stat = path.stat()  # a checkpoint rewritten since must not be served stale
        key = (label, stat.st_mtime_ns, stat.st_size)
        if key not in self._models:
            self._models = {k: v for k, v in self._models.items() if k[0] != label}
            self._models[key] = load_pretrained(head=head) if head is not None else load_model(path)
        return self._models[key]

    @property
    def controls(self) -> tuple[widgets.DOMWidget, ...]:
        """The controls that are disabled while the app is busy."""
        return (self.upload, self.photo, self.checkpoint, self.saturation, self.temperature)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.status.value = BUSY_TEXT if busy else ""
        for control in self.controls:
            control.disabled = busy

    def refresh(self) -> None:
        """Recolorize the current photo with the current model, saturation and temperature.

        While it works the controls are disabled and :attr:`status` says so; they come back
        whatever happens.
        """
        if self.source is None:
            self._say("Upload a photo or choose one from the menu.", "black")
            return
        self._set_busy(True)
        try:
            self._colorize()
        finally:
            self._set_busy(False)

    def _colorize(self) -> None:
        from .checkpoint import CheckpointError
        from .infer import colorize

        label = self.checkpoint.value
        try:
            model = self.model()
        except (CheckpointError, OSError, RuntimeError, KeyError, ValueError) as exc:
            self._show_temperature(None)
            self._fail(f"cannot load the model '{label}': {exc}")
            return
        temperature = self._show_temperature(model)
        try:
            self.result = colorize(
                self.source, model, saturation=self.saturation.value, size=self.size, temperature=temperature
            )
        except (ValueError, RuntimeError) as exc:
            self._fail(f"cannot colorize {self.source_name}: {exc}")
            return
        self._update_guesses(model)
        self.after.value = png_bytes(_preview(self.result))
        h, w = self.result.shape[:2]
        stem = Path(self.source_name).stem or "photo"
        data = base64.b64encode(png_bytes(self.result)).decode("ascii")
        self.download.value = (
            f'<a download="{html.escape(stem)}_colorized.png" href="data:image/png;base64,{data}">'
            f"Download the colorized photo ({w}x{h} PNG)</a>"
        )
        text = f"{self.source_name}: {w}x{h}, model {label}, saturation {self.saturation.value:.1f}"
        if temperature is not None:
            text += f", temperature {temperature:.2f}"
        if not self.source_has_colour:
            text += " (a black-and-white photo: no original colours to compare with)"
        self._say(text, "green")

    def _show_temperature(self, model: Any) -> float | None:
        """Show the temperature slider for a classification head (at that model's own value the
        first time it is chosen); the temperature to decode with, or None for a regression head."""
        label = self.checkpoint.value
        classifies = model is not None and getattr(model.config, "head", "regression") == "classification"
        self.temperature_box.layout.display = None if classifies else "none"
        if not classifies:
            return None
        if self._temperature_for != label:
            self._temperature_for = label
            self._quiet = True
            try:
                self.temperature.value = float(model.config.temperature)
            finally:
                self._quiet = False
        return float(self.temperature.value)

    def _update_guesses(self, model: Any) -> None:
        """The extractor's top-5 for the current photo and model (recomputed only when either changes)."""
        from .viz import photo_top_classes

        key = (self._photo_number, self.checkpoint.value)
        if key == self._guessed_for:
            return
        self._guessed_for = key
        self.guesses = photo_top_classes(model, self.source, size=self.size)
        if not self.guesses:
            self.guess_list.value = (
                "<i>This model has no ImageNet extractor: it colours without knowing what the photo shows.</i>"
            )
            return
        items = ", ".join(f"{html.escape(name)} {p:.0%}" for name, p in self.guesses)
        self.guess_list.value = (
            f"<b>What the extractor recognises</b> (ImageNet top-5, from the lightness alone): {items}"
        )

    def _show_original(self, shown: bool) -> None:
        self._columns[2].layout.display = None if shown else "none"
        width = "32.5%" if shown else "49%"
        for column in self._columns[:2]:
            column.layout.width = width
        self._columns[2].layout.width = width

    def _say(self, text: str, colour: str) -> None:
        self.message_text = text
        self.message.value = coloured(text, colour)

    def _fail(self, text: str) -> None:
        """Show the error, and take the previous result, its download link and the extractor's
        guesses away: they no longer match."""
        self.result = None
        self.after.value = b""
        self.download.value = ""
        self.guesses, self._guessed_for, self.guess_list.value = [], None, ""
        self._say(text, ERROR_COLOUR)

    def figure(self) -> Any:
        """A static picture of the panels (a :class:`matplotlib.figure.Figure`): what the model sees,
        the result, and the original when the photo has colour; the settings and the extractor's
        top guess in the title. For exports, where widgets show nothing."""
        from .viz import show_images

        if self.source is None:
            raise ValueError("ColorizeApp.figure: no photo yet; upload one or choose one from the menu")
        images = [_preview(gray_baseline(self.source))]
        titles = ["what the model sees"]
        if self.result is not None:
            images.append(_preview(self.result))
            titles.append("result")
        if self.source_has_colour:
            images.append(_preview(self.source))
            titles.append("original")
        title = self.message_text
        if self.guesses:
            name, p = self.guesses[0]
            title += f"\nthe extractor's top guess: {name} ({p:.0%})"
        return show_images(images, titles, title, size=4.0)


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
        gray = (
            (lab_to_rgb(torch.tensor([[[L]], [[0.0]], [[0.0]]], dtype=torch.float64))[0, 0, 0] * 255)
            .round()
            .int()
            .item()
        )
        if out_of_srgb_gamut(lab).item():
            gamut = coloured("outside the sRGB gamut: a screen cannot show it; the swatch is clipped", ERROR_COLOUR)
        else:
            gamut = coloured("inside the sRGB gamut", "#1b7f3b")
        swatch.value = (
            "<div style='display:flex;gap:12px;align-items:center'>"
            f"<div style='width:120px;height:60px;background:rgb({r},{g},{bl});border:1px solid #000'></div>"
            f"<div style='width:60px;height:60px;background:rgb({gray},{gray},{gray});border:1px solid #000'></div>"
            f"<code>Lab({L:g}, {a.value:g}, {b.value:g}) -> sRGB({r}, {g}, {bl}); "
            f"gray with the same L: ({gray}, {gray}, {gray})</code>"
            f"{gamut}</div>"
        )

    a.observe(update, names="value")
    b.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HTML(f"<b>Lab colour picker at L = {L:g}</b>"), a, b, swatch])


from .game_app import RealOrColorizedApp  # noqa: E402  (the "real or colorized?" game, lesson 7)
