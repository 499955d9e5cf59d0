"""Download, verify and safely unpack dataset archives.

The one entry point is :func:`download`::

    from colorlab.download import download

    folder = download("imagenette-160", "data")          # a known dataset name
    folder = download("https://example.org/pics.tar.gz", "data", sha256="...")

What it guarantees:

* **Resumable.** Bytes are streamed to ``root/<archive>.part``. When a
  transfer breaks, the ``.part`` file is kept and the same call, re-run,
  asks the server only for the missing bytes (``Range: bytes=N-``). A server
  that ignores ``Range`` (answers ``200``) is handled by restarting from zero.
* **Verified.** The complete file is checked (SHA-256 and/or MD5) *before*
  anything is extracted. Only a verified file is renamed (atomically) from
  ``.part`` to its final name, so a file under the final name is never a
  truncated or corrupt download. A final archive that already exists and
  verifies is not downloaded again.
* **Trust on first use.** When no digest is known (no ``sha256``/``md5``
  argument and none in :data:`DATASETS`), nothing can be refused: the
  SHA-256 of the file is computed and printed so that it can be pinned with
  ``sha256=...`` next time.
* **Safe extraction.** Archives are unpacked into a temporary sibling folder
  and renamed into place only when complete. Members with absolute paths,
  ``..`` components, links resolving outside the destination, or device
  files are refused with :class:`UnsafeArchiveError`, leaving nothing
  extracted. For tar files Python's ``filter="data"`` is used as well where
  available (3.11.4+ / 3.12+); the explicit checks make it safe on older
  Pythons too.
* **Clear failures offline.** Unreachable hosts raise :class:`DownloadError`
  explaining how to fetch the file by hand: download it elsewhere, place it
  at ``root/<archive name>`` and re-run; it will then be verified and
  extracted without any network access.

* **Bounded.** An archive that would unpack to more than
  :data:`MAX_EXPANSION` times its own size (at least 1 GiB) is refused as a
  decompression bomb (``max_unpacked_bytes`` changes the limit), and so is
  one that would not fit in the free disk space. Both are checked before a
  member is written, from the sizes the archive declares.
* **One download at a time.** Processes downloading the same archive into the
  same ``root`` take turns through a lock file (``root/.<archive>.lock``,
  POSIX ``flock``); the second finds the first one's folder and returns it.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from tqdm.auto import tqdm

from .files import exclusive_lock

__all__ = [
    "ARCHIVE_SUFFIXES",
    "DATASETS",
    "ChecksumError",
    "DatasetSpec",
    "DownloadError",
    "MAX_EXPANSION",
    "UnsafeArchiveError",
    "download",
]

#: File name endings recognised as archives (checked case-insensitively).
ARCHIVE_SUFFIXES: tuple[str, ...] = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tar", ".zip")

_CHUNK_SIZE = 1 << 16
_USER_AGENT = "colorlab-download/1 (+python urllib)"
# Module-level switch so that tests can exercise the explicit checks alone.
_HAS_DATA_FILTER: bool = hasattr(tarfile, "data_filter")
_TAR_FILTER_ERROR: type[BaseException] | tuple[()] = getattr(tarfile, "FilterError", ())
#: Refuse an archive that unpacks to more than this many times its own size (a
#: decompression bomb). Photo datasets hold JPEGs, which do not compress further:
#: they unpack to about their archive's size.
MAX_EXPANSION = 100
_MIN_UNPACKED_LIMIT = 1 << 30  # small archives may always unpack to 1 GiB
_HEX = {"sha256": re.compile(r"[0-9a-f]{64}"), "md5": re.compile(r"[0-9a-f]{32}")}


def _is_plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\\\x00")


@dataclass(frozen=True)
class DatasetSpec:
    """Where a named dataset archive lives and how to check it.

    Attributes:
        url: HTTP(S) address of the archive.
        sha256: Expected SHA-256 hex digest, or ``None`` if not known.
        archive_name: File name the archive is stored under in ``root``.
        folder: Name of the folder (in ``root``) the archive is extracted to.
        md5: Expected MD5 hex digest, or ``None`` if not known.
    """

    url: str
    sha256: str | None
    archive_name: str
    folder: str
    md5: str | None = None

    def __post_init__(self) -> None:
        for field_name in ("archive_name", "folder"):
            value = getattr(self, field_name)
            if not _is_plain_name(value):
                raise ValueError(f"DatasetSpec.{field_name} must be a plain file name, got {value!r}")


#: Datasets known by name. The SHA-256 of the Imagenette archives is not
#: published; the MD5 digests are the ones torchvision's ``Imagenette``
#: dataset class checks against.
DATASETS: dict[str, DatasetSpec] = {
    "imagenette-160": DatasetSpec(
        url="https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz",
        sha256=None,
        archive_name="imagenette2-160.tgz",
        folder="imagenette2-160",
        md5="e793b78cc4c9e9a4ccc0c1155377a412",
    ),
    "imagenette-320": DatasetSpec(
        url="https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-320.tgz",
        sha256=None,
        archive_name="imagenette2-320.tgz",
        folder="imagenette2-320",
        md5="3df6f0d01a2c9592104656642f5e78a3",
    ),
}


class DownloadError(OSError):
    """The archive could not be fetched (offline, HTTP error, broken transfer)."""


class ChecksumError(ValueError):
    """A downloaded or pre-existing archive does not match its expected digest.

    Attributes:
        path: The file that was checked (it has been deleted).
        algorithm: ``"sha256"`` or ``"md5"``.
        expected: The expected hex digest.
        found: The hex digest actually computed.
    """

    def __init__(self, path: Path, algorithm: str, expected: str, found: str) -> None:
        self.path = Path(path)
        self.algorithm = algorithm
        self.expected = expected
        self.found = found
        super().__init__(
            f"{algorithm} mismatch for {self.path}: expected {expected}, found {found}. "
            "The file was deleted; re-run to download it again."
        )


class UnsafeArchiveError(ValueError):
    """An archive member would escape the destination folder or is a special file.

    Attributes:
        archive: The archive that was refused.
        member: Name of the offending member.
    """

    def __init__(self, archive: Path, member: str, reason: str) -> None:
        self.archive = Path(archive)
        self.member = member
        super().__init__(f"Refusing to extract {self.archive}: member {member!r} {reason}. Nothing was extracted.")


# --------------------------------------------------------------------------- API


def download(
    name_or_url: str,
    root: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    md5: str | None = None,
    extract: bool = True,
    timeout: float = 30.0,
    progress: bool = True,
    max_unpacked_bytes: int | None = None,
) -> Path:
    """Download (resumably), verify and safely extract an archive.

    Args:
        name_or_url: A key of :data:`DATASETS` (e.g. ``"imagenette-160"``) or
            an ``http(s)`` URL of an archive (``.tar``, ``.tar.gz``, ``.tgz``,
            ``.tar.bz2``, ``.tar.xz``, ``.zip``; any file if ``extract=False``).
        root: Folder receiving the archive and the extracted folder.
        sha256: Expected SHA-256 hex digest; overrides the dataset's own.
        md5: Expected MD5 hex digest; overrides the dataset's own. When both
            are given, both must match. When neither is known, nothing is
            refused and the file's SHA-256 is printed (trust on first use).
        extract: Unpack the archive into ``root/<folder>``. ``<folder>`` is
            the dataset's folder, or the archive name without its suffix for
            URLs. An archive holding a single top-level folder of that same
            name is not nested twice.
        timeout: Socket timeout in seconds for connecting and for each read.
        progress: Show a tqdm progress bar.
        max_unpacked_bytes: Refuse to unpack more than this many bytes. The
            default is :data:`MAX_EXPANSION` times the archive's size, and at
            least 1 GiB.

    Returns:
        The extracted folder, or the archive path when ``extract=False``.
        If the extracted folder already exists it is returned as is, without
        any network access (delete it to force a fresh extraction).

    Raises:
        DownloadError: Host unreachable, HTTP error, or interrupted transfer
            (then re-running the same call resumes it).
        ChecksumError: The file does not match the expected digest (it is
            deleted).
        UnsafeArchiveError: The archive tries to write outside its folder,
            holds special files, or would unpack to more than
            ``max_unpacked_bytes`` (nothing is kept extracted).
        OSError: The unpacked files would not fit in the free disk space
            (``errno.ENOSPC``; nothing is kept extracted).
        ValueError: Unknown dataset name, non-http(s) URL, malformed digest,
            or an unrecognised archive type with ``extract=True``.
    """
    spec = _resolve(name_or_url)
    expected = {
        "sha256": _normalize_digest(sha256 if sha256 is not None else spec.sha256, "sha256"),
        "md5": _normalize_digest(md5 if md5 is not None else spec.md5, "md5"),
    }
    if extract and _archive_suffix(spec.archive_name) is None:
        raise ValueError(
            f"Cannot tell the archive type of {spec.archive_name!r} (supported: "
            f"{', '.join(ARCHIVE_SUFFIXES)}); pass extract=False to only download it."
        )

    root_dir = Path(root).expanduser()
    root_dir.mkdir(parents=True, exist_ok=True)
    archive = root_dir / spec.archive_name
    target = root_dir / spec.folder

    if extract and target.is_dir():
        return target

    with exclusive_lock(archive, what="download", wait=True):
        if extract and target.is_dir():  # another process made it while we waited
            return target
        if archive.is_file():
            _verify(archive, expected, shown_as=archive)
        else:
            part = archive.with_name(archive.name + ".part")
            _fetch(spec.url, part, archive, timeout=timeout, progress=progress)
            _verify(part, expected, shown_as=archive)
            os.replace(part, archive)

        if not extract:
            return archive
        limit = max_unpacked_bytes
        if limit is None:
            limit = max(MAX_EXPANSION * archive.stat().st_size, _MIN_UNPACKED_LIMIT)
        _extract(archive, target, limit)
        return target


# ------------------------------------------------------------------ resolution


def _archive_suffix(name: str) -> str | None:
    lower = name.lower()
    for suffix in ARCHIVE_SUFFIXES:  # longest compound suffixes are listed first
        if lower.endswith(suffix) and len(name) > len(suffix):
            return suffix
    return None


def _resolve(name_or_url: str) -> DatasetSpec:
    if name_or_url in DATASETS:
        return DATASETS[name_or_url]
    parts = urllib.parse.urlsplit(name_or_url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{name_or_url!r} is neither a known dataset ({', '.join(sorted(DATASETS))}) nor an http(s) URL."
        )
    archive_name = urllib.parse.unquote(PurePosixPath(parts.path).name)
    if not _is_plain_name(archive_name):
        raise ValueError(f"Cannot derive a file name from the URL {name_or_url!r}.")
    suffix = _archive_suffix(archive_name)
    folder = archive_name[: -len(suffix)] if suffix else archive_name + ".d"
    return DatasetSpec(url=name_or_url, sha256=None, archive_name=archive_name, folder=folder)


def _normalize_digest(value: str | None, algorithm: str) -> str | None:
    if value is None:
        return None
    digest = value.strip().lower()
    if not _HEX[algorithm].fullmatch(digest):
        raise ValueError(f"{algorithm} must be a hex digest, got {value!r}")
    return digest


# ---------------------------------------------------------------- verification


def _verify(path: Path, expected: dict[str, str | None], *, shown_as: Path) -> None:
    """Check ``path`` against the expected digests; delete it on mismatch."""
    wanted = [alg for alg, digest in expected.items() if digest is not None]
    hashers = {alg: hashlib.new(alg, usedforsecurity=False) for alg in (wanted or ["sha256"])}
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            for hasher in hashers.values():
                hasher.update(block)
    found = {alg: hasher.hexdigest() for alg, hasher in hashers.items()}
    if not wanted:
        print(
            f"{shown_as.name}: no checksum known, nothing verified (trust on first use). "
            f"SHA-256 = {found['sha256']}; pass sha256='{found['sha256']}' to pin it."
        )
        return
    for alg in wanted:
        if found[alg] != expected[alg]:
            path.unlink(missing_ok=True)
            raise ChecksumError(shown_as, alg, expected[alg] or "", found[alg])


# -------------------------------------------------------------------- transfer


def _manual_hint(url: str, final: Path) -> str:
    return (
        f"To get the file manually: download {url} on a machine with internet access "
        f"(browser, wget, curl), place it at {final}, and re-run the same call; "
        "it will be verified and extracted."
    )


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """Return ``(start, total)`` from a ``Content-Range`` header (``None`` if unknown)."""
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value or "")
    if not match:
        return None, None
    start = int(match.group(1)) if match.group(1) is not None else None
    total = int(match.group(2)) if match.group(2) != "*" else None
    return start, total


def _fetch(url: str, part: Path, final: Path, *, timeout: float, progress: bool, resume: bool = True) -> None:
    """Stream ``url`` into ``part``, resuming from its current size if allowed."""
    offset = part.stat().st_size if resume and part.is_file() else 0
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        try:
            if err.code == 416 and offset:
                _, total = _parse_content_range(err.headers.get("Content-Range"))
                if total == offset:
                    return  # the .part already holds the whole file
                # The local partial file is longer than the remote file: start over.
                return _fetch(url, part, final, timeout=timeout, progress=progress, resume=False)
        finally:
            err.close()
        raise DownloadError(
            f"Downloading {url} failed: the server answered HTTP {err.code} {err.reason}. " + _manual_hint(url, final)
        ) from err
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(
            f"Could not reach {url} ({reason}). This machine seems to be offline, or the "
            "host is unreachable (DNS failure, firewall, proxy). " + _manual_hint(url, final)
        ) from err

    with response:
        length_header = response.headers.get("Content-Length")
        length = int(length_header) if length_header and length_header.isdigit() else None
        if response.status == 206:
            start, total = _parse_content_range(response.headers.get("Content-Range"))
            if start != offset:
                if not offset:
                    raise DownloadError(f"Downloading {url} failed: unexpected partial response (HTTP 206).")
                return _fetch(url, part, final, timeout=timeout, progress=progress, resume=False)
            mode = "ab"
        else:  # 200: the server ignored (or was not sent) the Range header: restart cleanly.
            offset, total, mode = 0, None, "wb"
        if total is None and length is not None:
            total = offset + length
        _stream(response, url, part, mode=mode, offset=offset, total=total, progress=progress)


def _stream(
    response: http.client.HTTPResponse,
    url: str,
    part: Path,
    *,
    mode: str,
    offset: int,
    total: int | None,
    progress: bool,
) -> None:
    received = offset
    error: BaseException | None = None
    with (
        open(part, mode) as fh,
        tqdm(
            total=total,
            initial=offset,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=part.name.removesuffix(".part"),
            disable=not progress,
        ) as bar,
    ):
        while True:
            try:
                chunk = response.read(_CHUNK_SIZE)
            except http.client.IncompleteRead as err:
                chunk, error = err.partial, err
            except (OSError, http.client.HTTPException) as err:  # reset, socket timeout, ...
                chunk, error = b"", err
            if chunk:
                fh.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
            if error is not None or not chunk:
                break

    if error is not None or (total is not None and received < total):
        cause = f"{type(error).__name__}: {error}" if error is not None else "connection closed early"
        raise DownloadError(
            f"Downloading {url} was interrupted after {received} of {total if total is not None else '?'} "
            f"bytes ({cause}). The partial file is kept at {part}; re-run the same call to resume "
            "the download where it stopped."
        )
    if total is not None and received > total:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"Downloading {url} failed: received {received} bytes but {total} were announced. "
            "The partial file was deleted; re-run to download it again."
        )


# ------------------------------------------------------------------ extraction


def _is_absolute(name: str) -> bool:
    return name.startswith(("/", "\\")) or os.path.isabs(name) or bool(PureWindowsPath(name).drive)


def _has_dotdot(name: str) -> bool:
    return ".." in re.split(r"[\\/]", name)


def _within(path: str, base: str) -> bool:
    try:
        return os.path.commonpath([path, base]) == base
    except ValueError:  # different drives on Windows
        return False


def _check_member_path(archive: Path, name: str, dest: str) -> None:
    if _is_absolute(name):
        raise UnsafeArchiveError(archive, name, "has an absolute path")
    if _has_dotdot(name):
        raise UnsafeArchiveError(archive, name, "has a '..' path component")
    if not _within(os.path.realpath(os.path.join(dest, name)), dest):
        raise UnsafeArchiveError(archive, name, "would be written outside the destination")


def _check_tar_member(archive: Path, member: tarfile.TarInfo, dest: str) -> None:
    """Refuse a tar member that could write outside ``dest`` (a real path)."""
    name = member.name
    _check_member_path(archive, name, dest)
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeArchiveError(archive, name, "is a device file, FIFO or other special file")
    if member.issym() or member.islnk():
        kind = "symlink" if member.issym() else "hard link"
        link = member.linkname
        if not link or _is_absolute(link):
            raise UnsafeArchiveError(archive, name, f"is a {kind} to the absolute path {link!r}")
        # Symlink targets are relative to the link's folder, hard link targets to the archive root.
        base = os.path.join(dest, os.path.dirname(name)) if member.issym() else dest
        if not _within(os.path.realpath(os.path.join(base, link)), dest):
            raise UnsafeArchiveError(archive, name, f"is a {kind} to {link!r}, outside the destination")


class _SizeBudget:
    """Counts the bytes an archive declares and refuses a bomb or a full disk before they are written."""

    def __init__(self, archive: Path, dest: Path, limit: int) -> None:
        self.archive, self.limit, self.total = archive, limit, 0
        self.dest = dest
        self.free = shutil.disk_usage(dest).free

    def add(self, member: str, size: int) -> None:
        self.total += max(0, size)
        if self.total > self.limit:
            raise UnsafeArchiveError(
                self.archive,
                member,
                f"takes the unpacked size past {_human(self.limit)} ({MAX_EXPANSION}x the archive, or "
                "max_unpacked_bytes), as a decompression bomb would; if you trust this archive, pass "
                "a larger max_unpacked_bytes",
            )
        if self.total > self.free:
            raise OSError(
                errno.ENOSPC,
                f"{self.archive}: unpacking needs more than the {_human(self.free)} free in {self.dest.parent}; "
                "free some space (or download to another root) and re-run",
            )


def _human(n: int) -> str:
    return tqdm.format_sizeof(n, "B", 1024)


def _extract_tar(archive: Path, dest: Path, budget: _SizeBudget) -> None:
    real_dest = os.path.realpath(dest)
    with tarfile.open(archive, "r:*") as tar:

        def checked() -> Iterator[tarfile.TarInfo]:
            # Lazily, so each member is checked against what is already on disk.
            for member in tar:
                _check_tar_member(archive, member, real_dest)
                if member.isfile():
                    budget.add(member.name, member.size)
                yield member

        if _HAS_DATA_FILTER:
            kwargs: dict[str, str] = {"filter": "data"}
        elif hasattr(tarfile, "fully_trusted_filter"):  # only reachable when tests disable "data"
            kwargs = {"filter": "fully_trusted"}
        else:  # Python without extraction filters: the explicit checks are the protection
            kwargs = {}
        try:
            tar.extractall(real_dest, members=checked(), **kwargs)  # type: ignore[arg-type]
        except _TAR_FILTER_ERROR as err:
            member = getattr(getattr(err, "tarinfo", None), "name", "?")
            raise UnsafeArchiveError(archive, member, f"was refused by tarfile's data filter ({err})") from err


def _extract_zip(archive: Path, dest: Path, budget: _SizeBudget) -> None:
    real_dest = os.path.realpath(dest)
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:  # check everything before writing anything
            _check_member_path(archive, info.filename, real_dest)
            budget.add(info.filename, info.file_size)  # zipfile never writes more than this
        zf.extractall(real_dest, members=infos)


def _extract(archive: Path, target: Path, max_unpacked_bytes: int) -> None:
    """Extract into a temporary sibling of ``target`` and rename it into place."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".extracting", dir=target.parent))
    try:
        os.chmod(tmp, 0o755)
        budget = _SizeBudget(archive, tmp, max_unpacked_bytes)
        if _archive_suffix(archive.name) == ".zip":
            _extract_zip(archive, tmp, budget)
        else:
            _extract_tar(archive, tmp, budget)
        entries = list(tmp.iterdir())
        only = entries[0] if len(entries) == 1 else None
        if only is not None and only.name == target.name and only.is_dir() and not only.is_symlink():
            source = only  # the archive already holds a single folder named like the target
        else:
            source = tmp
        os.replace(source, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
