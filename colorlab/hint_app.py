"""Click to colour: the app in which a learner guides the colours with hints (issue 25).

Click on the photo to place a hint; its colour starts as the one the classification model finds
most likely at that pixel, and the palette offers the others it finds likely there (Zhang et al.'s
"recommended colours": the bins of highest probability). Pick another swatch, or any colour, to
recolour the selected hint; drag a hint to move it; delete, undo, reset; download the result.
Every change colorizes the photo again with all its hints (:func:`colorlab.colorize`), well
within half a second at 256 x 256 on a laptop CPU (benchmarks/hint_latency.py).

The picture with its hint markers is a small anywidget (:class:`HintCanvas`): it reports clicks and
drags in photo pixels; everything else is ipywidgets and this module's Python, so the same
actions are methods (:meth:`HintApp.add_hint`, :meth:`~HintApp.move_hint`, ...) a test or a lesson
can call.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import anywidget
import ipywidgets as widgets
import numpy as np
import torch
import traitlets

from .color import lab_to_rgb, rgb_uint8_to_l, scale_l
from .hints import parse_colour, takes_hints
from .images import ImageSource, load_image
from .infer import colorize, load_pretrained, network_input
from .samples import load_item
from .ui import ERROR_COLOUR, coloured, png_bytes

__all__ = ["HintApp", "HintCanvas", "recommended_colours"]

#: How many recommended colours the palette shows.
PALETTE_SIZE = 6
#: The picture is shown this wide (CSS pixels); clicks are reported in photo pixels.
DISPLAY_WIDTH = 384

_ESM = """
function render({ model, el }) {
  const wrap = document.createElement("div");
  wrap.className = "colorlab-hint-canvas";
  Object.assign(wrap.style, { position: "relative", display: "inline-block", lineHeight: "0" });
  const img = document.createElement("img");
  img.draggable = false;
  Object.assign(img.style, { display: "block", cursor: "crosshair" });
  const layer = document.createElement("div");
  Object.assign(layer.style, { position: "absolute", left: "0", top: "0", width: "100%", height: "100%",
                               pointerEvents: "none" });
  wrap.append(img, layer);
  const scale = () => model.get("photo_width") / img.getBoundingClientRect().width;
  function draw() {
    img.src = "data:image/png;base64," + model.get("image_b64");
    img.style.width = model.get("display_width") + "px";
    layer.innerHTML = "";
    const s = model.get("display_width") / model.get("photo_width");
    model.get("hints").forEach((h, i) => {
      const dot = document.createElement("div");
      dot.className = "colorlab-hint";
      dot.dataset.index = String(i);
      const chosen = i === model.get("selected");
      Object.assign(dot.style, {
        position: "absolute", left: (h.x * s - 8) + "px", top: (h.y * s - 8) + "px", width: "16px",
        height: "16px", borderRadius: "50%", boxSizing: "border-box", pointerEvents: "auto", cursor: "move",
        background: "rgb(" + h.rgb.join(",") + ")", border: chosen ? "3px solid white" : "2px solid black",
        boxShadow: chosen ? "0 0 0 2px black" : "none" });
      layer.appendChild(dot);
    });
  }
  img.addEventListener("click", (e) => {
    const r = img.getBoundingClientRect(), s = scale();
    model.send({ event: "click", x: (e.clientX - r.left) * s, y: (e.clientY - r.top) * s });
  });
  let drag = null;
  layer.addEventListener("pointerdown", (e) => {
    if (e.target.dataset.index === undefined) return;
    drag = { index: Number(e.target.dataset.index), dot: e.target };
    e.target.setPointerCapture(e.pointerId);
    model.send({ event: "select", index: drag.index });
  });
  layer.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const r = img.getBoundingClientRect();
    drag.dot.style.left = (e.clientX - r.left - 8) + "px";
    drag.dot.style.top = (e.clientY - r.top - 8) + "px";
  });
  layer.addEventListener("pointerup", (e) => {
    if (!drag) return;
    const r = img.getBoundingClientRect(), s = scale();
    model.send({ event: "move", index: drag.index, x: (e.clientX - r.left) * s, y: (e.clientY - r.top) * s });
    drag = null;
  });
  model.on("change:image_b64", draw);
  model.on("change:hints", draw);
  model.on("change:selected", draw);
  draw();
  el.appendChild(wrap);
}
export default { render };
"""


class HintCanvas(anywidget.AnyWidget):
    """A picture with hint markers; reports clicks, selections and drags in photo pixels."""

    _esm = _ESM
    image_b64 = traitlets.Unicode("").tag(sync=True)
    photo_width = traitlets.Int(1).tag(sync=True)
    display_width = traitlets.Int(DISPLAY_WIDTH).tag(sync=True)
    hints = traitlets.List(traitlets.Dict()).tag(sync=True)
    selected = traitlets.Int(-1).tag(sync=True)

    def show(self, rgb: np.ndarray) -> None:
        self.photo_width = int(rgb.shape[1])
        self.image_b64 = base64.b64encode(png_bytes(rgb)).decode("ascii")


@torch.no_grad()
def recommended_colours(model: Any, rgb: np.ndarray, k: int = PALETTE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """For every pixel of ``rgb`` (``(H, W, 3)`` uint8), the ``k`` most likely colours of a
    classification model: ``(indices (k, h, w) into its bins, the bins' ab (Q, 2))`` at the model's
    output resolution. :func:`palette_at` turns them into sRGB swatches for one pixel."""
    small = network_input(rgb)
    l_net = scale_l(rgb_uint8_to_l(torch.from_numpy(np.array(small)).permute(2, 0, 1)[None]))
    model.eval()
    logits = model(l_net)  # no hints: what the model believes on its own
    top = logits.float()[0].topk(k, dim=0).indices  # (k, h/2, w/2)
    return top.numpy(), model.ab_bins.float().cpu().numpy()


def palette_at(top: np.ndarray, bins: np.ndarray, lightness: float, x: float, y: float, width: int, height: int):
    """The recommended sRGB colours ``[(r, g, b), ...]`` at photo pixel ``(x, y)`` and its lightness."""
    k, h, w = top.shape
    row, col = min(h - 1, int(y * h / height)), min(w - 1, int(x * w / width))
    ab = torch.from_numpy(bins[top[:, row, col]]).float()  # (k, 2)
    lab = torch.cat([torch.full((k, 1), float(lightness)), ab], dim=1).T.reshape(3, k, 1)
    rgb = (lab_to_rgb(lab)[:, :, 0].T * 255).round().clamp(0, 255).to(torch.uint8)
    return [tuple(int(v) for v in c) for c in rgb.tolist()]


class HintApp(widgets.VBox):
    """Guide the colours of one photo with clicks.

    >>> app = HintApp("sample:flower")      # a path, an array, a PIL image or "sample:NAME"
    >>> app                                  # click on the picture in JupyterLab
    >>> app.add_hint(120, 80, "#d02020")     # the same from code; app.result is the colorized photo

    ``model`` is a model that takes hints (default: the demo U-Net); ``palette_model`` a
    classification model whose likely colours fill the palette (default: the vivid demo model).
    """

    def __init__(self, photo: ImageSource, model: Any = None, palette_model: Any = None, *, side: int = 256) -> None:
        from PIL import Image

        rgb = load_item(photo) if isinstance(photo, str) else load_image(photo)
        scale = side / min(rgb.shape[:2])
        if scale < 1:  # a big photo is shown (and colorized) at ``side`` on its short side: fast updates
            size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
            rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.BICUBIC))
        self.photo = rgb
        self.model = model if model is not None else load_pretrained("cpu")
        if not takes_hints(self.model):
            raise ValueError("HintApp needs a model that takes hints, e.g. the default demo model")
        palette_model = palette_model if palette_model is not None else load_pretrained("cpu", head="classification")
        self._top, self._bins = recommended_colours(palette_model, rgb)
        self._lightness = rgb_uint8_to_l(torch.from_numpy(np.array(rgb)).permute(2, 0, 1)[None].contiguous())[0, 0]
        self.hints: list[dict[str, Any]] = []
        self._history: list[list[dict[str, Any]]] = []
        self.result = rgb
        self._build()
        super().__init__([self.canvas, self.palette, self.buttons, self.status, self.download])
        self._recolour()

    # --- the widgets ----------------------------------------------------------------

    def _build(self) -> None:
        self.canvas = HintCanvas()
        self.canvas.on_msg(self._on_canvas)
        self.palette = widgets.HBox([])
        self.picker = widgets.ColorPicker(description="any colour", style={"description_width": "initial"})
        self.picker.observe(lambda change: self.set_colour(change["new"]), names="value")
        actions = {"delete": self.delete_selected, "undo": self.undo, "reset": self.reset}
        self.action_buttons = {}
        for name, action in actions.items():
            button = widgets.Button(description=name.capitalize(), layout=widgets.Layout(width="80px"))
            button.on_click(lambda _b, act=action: act())
            self.action_buttons[name] = button
        self.buttons = widgets.HBox([*self.action_buttons.values(), self.picker])
        self.status = widgets.HTML()
        self.download = widgets.HTML()

    def _on_canvas(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        event = content.get("event")
        if event == "click":
            self.add_hint(content["x"], content["y"])
        elif event == "select":
            self.select(int(content["index"]))
        elif event == "move":
            self.move_hint(int(content["index"]), content["x"], content["y"])

    def _show_palette(self, x: float, y: float) -> None:
        swatches = []
        for colour in self.recommended(x, y):
            hex_colour = "#" + "".join(f"{v:02x}" for v in colour)
            button = widgets.Button(description="", tooltip=hex_colour, layout=widgets.Layout(width="36px"))
            button.style.button_color = hex_colour
            button.on_click(lambda _b, c=hex_colour: self.set_colour(c))
            swatches.append(button)
        self.palette.children = [widgets.HTML("likely here:"), *swatches]

    # --- what a user can do (also from code) -------------------------------------------

    def recommended(self, x: float, y: float) -> list[tuple[int, int, int]]:
        """The palette model's likely colours at photo pixel ``(x, y)``, most likely first."""
        h, w = self.photo.shape[:2]
        lightness = float(self._lightness[min(h - 1, int(y)), min(w - 1, int(x))])
        return palette_at(self._top, self._bins, lightness, x, y, w, h)

    def add_hint(self, x: float, y: float, colour: Any = None) -> None:
        """A hint at photo pixel ``(x, y)``; its colour is ``colour`` or the most likely one there."""
        h, w = self.photo.shape[:2]
        x, y = min(max(float(x), 0.0), w - 1.0), min(max(float(y), 0.0), h - 1.0)
        rgb = parse_colour(colour) if colour is not None else self.recommended(x, y)[0]
        self._change(self.hints + [{"x": x, "y": y, "rgb": list(rgb)}], selected=len(self.hints))
        self._show_palette(x, y)

    def select(self, index: int) -> None:
        if 0 <= index < len(self.hints):
            self.canvas.selected = index
            self._show_palette(self.hints[index]["x"], self.hints[index]["y"])

    def move_hint(self, index: int, x: float, y: float) -> None:
        h, w = self.photo.shape[:2]
        moved = [dict(hint) for hint in self.hints]
        moved[index].update(x=min(max(float(x), 0.0), w - 1.0), y=min(max(float(y), 0.0), h - 1.0))
        self._change(moved, selected=index)

    def set_colour(self, colour: Any) -> None:
        """Recolour the selected hint (``"#RRGGBB"`` or ``(r, g, b)``)."""
        index = self.canvas.selected
        if 0 <= index < len(self.hints) and colour:
            changed = [dict(hint) for hint in self.hints]
            changed[index]["rgb"] = list(parse_colour(colour))
            self._change(changed, selected=index)

    def delete_selected(self) -> None:
        index = self.canvas.selected
        if 0 <= index < len(self.hints):
            self._change(self.hints[:index] + self.hints[index + 1 :], selected=-1)

    def undo(self) -> None:
        if self._history:
            self.hints = self._history.pop()
            self.canvas.selected = -1
            self._recolour()

    def reset(self) -> None:
        if self.hints:
            self._change([], selected=-1)

    # --- colorizing -------------------------------------------------------------------

    def _change(self, hints: list[dict[str, Any]], selected: int) -> None:
        self._history.append(self.hints)
        self.hints = hints
        self.canvas.selected = selected
        self._recolour()

    def _recolour(self) -> None:
        start = time.perf_counter()
        try:
            hints = [(h["x"], h["y"], tuple(h["rgb"])) for h in self.hints]
            self.result = colorize(self.photo, self.model, hints=hints)
        except Exception as exc:  # the app must survive anything, and say what happened
            self.status.value = coloured(f"could not colorize: {type(exc).__name__}: {exc}", ERROR_COLOUR)
            return
        seconds = time.perf_counter() - start
        self.canvas.hints = [dict(h) for h in self.hints]
        self.canvas.show(self.result)
        count = len(self.hints)
        self.status.value = (
            f"{count} hint{'s' if count != 1 else ''}; colorized in {seconds:.2f} s. "
            "Click the picture to add a hint, drag one to move it."
        )
        encoded = self.canvas.image_b64  # the PNG the picture shows: encoded once
        self.download.value = (
            f"<a download='colorized.png' href='data:image/png;base64,{encoded}'>download the result</a>"
        )
