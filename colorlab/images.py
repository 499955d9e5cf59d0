"""Image files in, uint8 RGB arrays out (and back): decoding safely, any mode, any colour profile.

Every way a photo enters colorlab goes through :func:`load_image`: paths, PIL images and arrays
of any mode and bit depth, with the colour profile applied, EXIF orientation honoured, truncated
or hostile files refused with an :class:`ImageLoadError` that names the file and the way out.
:func:`write_image` writes results atomically and marks them as colorlab's
(:func:`is_colorlab_output`), so a later run can tell them from a user's photos.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageLoadError",
    "ImageSource",
    "OUTPUT_MARK",
    "find_images",
    "is_colorlab_output",
    "is_grayscale",
    "load_image",
    "load_image_bytes",
    "to_rgb",
    "write_image",
]

#: File endings treated as images when scanning a folder (lower case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

#: Mean chroma (in 0-255 RGB units) under which a photo counts as grayscale.
_GRAY_TOLERANCE = 2.0

ImageSource = str | os.PathLike | Image.Image | np.ndarray


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


ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, not a half-gray picture
