"""Copy the lesson notebooks out of the installed package into a folder of the user's (``colorlab lessons``).

Every install carries the lessons (``notebooks/0*.ipynb``, their README and figures) inside the
package (:func:`colorlab.resources.lessons_dir`). :func:`copy_lessons` puts a copy where the user
wants to work on them, under the one rule for writes (:func:`colorlab.files.replace_problem`):

- a file that is missing is copied; one identical to the shipped lesson is left as it is;
- a copy colorlab made and nobody changed since (an older version's lesson) is brought up to date;
- a changed copy (the user's answers) is never replaced without ``overwrite``, and a file colorlab
  did not put there (a file of the user's with a lesson's name) never, whatever the flags.

What colorlab copied is recorded, file by file with its SHA-256, in ``.colorlab-lessons.json`` in
the folder: that is how it tells "unchanged since copied" from "changed by you". Nothing is
written unless every file may be: a refusal leaves the folder as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .files import atomic_write, replace_problem
from .resources import lesson_files, lessons_dir

__all__ = ["RECORD", "LessonsCopy", "copy_lessons"]

#: The record of what :func:`copy_lessons` wrote, in the destination folder.
RECORD = ".colorlab-lessons.json"


@dataclass
class LessonsCopy:
    """What :func:`copy_lessons` did, as paths relative to ``folder``."""

    folder: Path
    copied: list[str] = field(default_factory=list)  # new files
    updated: list[str] = field(default_factory=list)  # unchanged older copies, and with overwrite, changed ones
    unchanged: list[str] = field(default_factory=list)  # already identical to the shipped lesson

    def summary(self) -> str:
        """One line: how many files were copied, updated and already up to date, and where."""
        parts = [f"{len(self.copied)} copied"]
        if self.updated:
            parts.append(f"{len(self.updated)} updated")
        if self.unchanged:
            parts.append(f"{len(self.unchanged)} already up to date")
        return f"{self.folder}: lessons {', '.join(parts)}"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_record(folder: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of the files colorlab copied into ``folder`` earlier (empty if none)."""
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        return {str(k): str(v) for k, v in record.get("files", {}).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _check_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder}: is a file; give a folder for the lessons")
    parent = folder
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"{folder}: {parent} is a file, not a folder")


def _action(target: Path, key: str, data: bytes, record: dict[str, str], overwrite: bool) -> str:
    """What to do with one lesson file: ``"copied"``, ``"updated"``, ``"unchanged"``, or why not (one line)."""
    if not target.exists():
        return "copied"
    if target.is_dir():
        return f"{target}: is a folder where a lesson file goes; move it or choose another folder"
    current = _digest(target.read_bytes())
    if current == _digest(data):
        return "unchanged"
    if record.get(key) == current:
        return "updated"  # colorlab's earlier copy, unchanged since: a lesson of an older version
    problem = replace_problem(
        target,
        overwrite=overwrite,
        ours=lambda _path: key in record,
        what="a lesson colorlab copied there",
        how="it differs from the shipped lesson (your answers?): pass --overwrite to replace it, "
        "or choose another folder",
    )
    return problem or "updated"


def copy_lessons(folder: str | os.PathLike[str], *, overwrite: bool = False) -> LessonsCopy:
    """Copy the shipped lessons into ``folder`` (created if needed); see the module's rules.

    Raises ``FileExistsError`` naming the first file that may not be replaced (and how many more)
    before anything is written; ``FileNotFoundError`` if this install carries no lessons.
    """
    folder = Path(folder).expanduser()
    _check_folder(folder)
    names = lesson_files()
    if not any(n.suffix == ".ipynb" for n in names):
        raise FileNotFoundError(
            f"{lessons_dir()}: no lesson notebooks in this install of colorlab-koala "
            "(reinstall: pip install --force-reinstall --no-deps colorlab-koala)"
        )
    record = _read_record(folder)
    result = LessonsCopy(folder)
    plan: list[tuple[str, bytes]] = []
    problems: list[str] = []
    for name in names:
        key, data = name.as_posix(), (lessons_dir() / name).read_bytes()
        action = _action(folder / name, key, data, record, overwrite)
        if action in ("copied", "updated", "unchanged"):
            getattr(result, action).append(key)
            if action == "unchanged":
                record[key] = _digest(data)  # identical to the shipped lesson: colorlab's from now on
            else:
                plan.append((key, data))
        else:
            problems.append(action)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise FileExistsError(problems[0] + more)
    for key, data in plan:
        with atomic_write(folder / key) as f:
            f.write(data)
        record[key] = _digest(data)
    if plan or result.unchanged:
        text = json.dumps({"files": dict(sorted(record.items()))}, indent=1) + "\n"
        with atomic_write(folder / RECORD) as f:
            f.write(text.encode())
    return result
