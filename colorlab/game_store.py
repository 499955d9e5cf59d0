"""The results file of "Real or colorized?" (:mod:`colorlab.game`): one answer per line, shared by a class.

A class plays at once, every kernel appending its answers to one JSON Lines file
(:func:`append_answer`), one line per answer, built by :func:`answer_record` with
at least the fields :data:`RECORD_FIELDS`. The answers themselves are
:data:`REAL` or :data:`COLORIZED`. Writing is safe with many writers: each line
goes out whole under the lock of :func:`colorlab.files.exclusive_lock`, and a
new file is written with :func:`colorlab.files.atomic_write`. Reading
(:func:`read_results`) skips, with a warning, the one cut-off line a killed kernel
may leave. :mod:`colorlab.game` re-exports every name.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from .files import LockedError, atomic_write, exclusive_lock, lock_path

__all__ = [
    "REAL",
    "COLORIZED",
    "ANSWERS",
    "RECORD_FIELDS",
    "LOCK_TIMEOUT_S",
    "ResultsFileError",
    "answer_record",
    "append_answer",
    "write_results",
    "read_results",
]

REAL = "real"
COLORIZED = "colorized"
#: What a viewer can answer about one picture (and what the ``shown`` field of an answer says).
ANSWERS = (REAL, COLORIZED)
#: How long an append waits for the lock file (where fcntl is missing) before giving up.
LOCK_TIMEOUT_S = 10.0


class ResultsFileError(ValueError):
    """A results file cannot be read or written; ``str(err)`` names the file and the way out."""


#: The fields every answer line has (more may follow, e.g. crop, mode, seed, round).
RECORD_FIELDS = ("session", "player", "photo", "shown", "model", "answer", "seconds", "time")


class RoundFields(Protocol):
    """What a record needs of a round (:class:`colorlab.game.Round` has it)."""

    photo: str
    crop: str
    shown: str
    model: str | None
    mode: str


def answer_record(
    game_round: RoundFields,
    answer: str,
    *,
    seconds: float,
    session: str,
    player: str,
    seed: int | None = None,
    index: int | None = None,
    when: _dt.datetime | None = None,
) -> dict[str, Any]:
    """One answer as a results-file record (a JSON-ready dict).

    In :data:`~colorlab.game.PAIRS` mode ``answer`` is the verdict on the *colorized* picture:
    :data:`REAL` when the viewer picked it as the real one (fooled).
    """
    if answer not in ANSWERS:
        raise ValueError(f"answer must be one of {ANSWERS}, got {answer!r}")
    when = when or _dt.datetime.now(_dt.timezone.utc)
    return {
        "session": session,
        "player": player,
        "photo": game_round.photo,
        "crop": game_round.crop,
        "shown": game_round.shown,
        "model": game_round.model,
        "answer": answer,
        "seconds": round(float(seconds), 3),
        "time": when.isoformat(timespec="seconds"),
        "mode": game_round.mode,
        "seed": seed,
        "round": index,
    }


def _check_record(record: Mapping[str, Any], label: str) -> None:
    missing = [f for f in RECORD_FIELDS if f not in record]
    if missing:
        raise ResultsFileError(f"{label}: answer record lacks {missing}; build it with colorlab.game.answer_record")
    for key in ("shown", "answer"):
        if not isinstance(record[key], str) or record[key] not in ANSWERS:
            raise ResultsFileError(f"{label}: {key}={record[key]!r}, expected one of {ANSWERS}")
    for key in ("player", "session", "model", "mode"):  # counted as names: plain values only
        value = record.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int, float))):
            raise ResultsFileError(f"{label}: {key}={value!r}, expected a name (text or a number)")


def _encode(record: Mapping[str, Any], label: str) -> bytes:
    _check_record(record, label)
    # One line, ASCII only: no newline can hide inside a value and the byte count is exact.
    return (json.dumps(dict(record), ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:  # one os.write in practice; the loop only matters if the OS writes less
        view = view[os.write(fd, view) :]


def _append_line(path: Path, line: bytes) -> None:
    """Append ``line`` to ``path`` (the caller holds the lock), after a newline if the last line was cut off."""
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size:
            os.lseek(fd, size - 1, os.SEEK_SET)
            if os.read(fd, 1) != b"\n":
                line = b"\n" + line
        _write_all(fd, line)
    finally:
        os.close(fd)


def append_answer(path: str | os.PathLike[str], record: Mapping[str, Any]) -> None:
    """Append one answer (see :func:`answer_record`) as one line to the JSON Lines file ``path``.

    Safe when many kernels append to the same file at once: the file is opened
    with ``O_APPEND``, the whole line goes out in one ``os.write`` while the
    writer holds an exclusive lock (:func:`colorlab.files.exclusive_lock`; where
    fcntl is missing, a lock file waited for up to :data:`LOCK_TIMEOUT_S`), and a
    file whose last line was cut off (a kernel killed mid-write) gets a newline
    first, so the torn line stays one bad line instead of spoiling this one. The
    file is created (with its folder) if missing and never truncated.
    """
    path = Path(path)
    line = _encode(record, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with exclusive_lock(path, what="game", wait=True, quiet=True, lock_file_timeout=LOCK_TIMEOUT_S):
            _append_line(path, line)
    except LockedError:  # only where fcntl is missing: a lock file left behind
        raise ResultsFileError(
            f"{lock_path(path)}: still locked after {LOCK_TIMEOUT_S:g} s; if no game is "
            "writing to this results file, delete the lock file"
        ) from None


def write_results(
    path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]], *, overwrite: bool = False
) -> Path:
    """Write ``records`` as a new results file, atomically (:func:`colorlab.files.atomic_write`).

    An existing file is kept (:class:`ResultsFileError`) unless ``overwrite=True``:
    a class's answers are never lost by accident. To add to a file, use :func:`append_answer`.
    """
    path = Path(path)
    exists = f"{path}: already exists; append with append_answer or pass overwrite=True"
    if path.exists() and not overwrite:
        raise ResultsFileError(exists)
    data = b"".join(_encode(r, str(path)) for r in records)
    try:
        with atomic_write(path, overwrite=overwrite) as f:
            f.write(data)
    except FileExistsError:  # made by someone else meanwhile: still kept
        raise ResultsFileError(exists) from None
    return path


def read_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The answers in a results file, in file order.

    A line that is not a complete answer (e.g. the last line of a kernel that
    was killed mid-write) is skipped with one warning that names the file and
    the line numbers.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no results file; play a game with results_path={str(path)!r} first")
    records, bad = [], []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                if not isinstance(record, dict):
                    raise ValueError("not an object")
                _check_record(record, str(path))
            except (ValueError, ResultsFileError, RecursionError):  # RecursionError: absurdly nested JSON
                bad.append(number)
                continue
            records.append(record)
    if bad:
        shown = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
        warnings.warn(
            f"{path}: skipped {len(bad)} incomplete or invalid line(s) (line {shown}); "
            "a cut-off write leaves one, the other answers are intact",
            stacklevel=2,
        )
    return records
