"""Writing files without ever leaving a half-written one or replacing what a user made.

Every file colorlab writes (checkpoints, colorized photos, cache indexes, results) goes through
:func:`atomic_write`: the bytes go to a temporary file in the same folder, which is flushed to
disk and then renamed over the target in one step. A crash, a full disk or Ctrl-C leaves either
the old file or the new one, never a mix, and no temporary file behind. With
``overwrite=False`` an existing target is never replaced, even by a writer racing this one.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

try:  # POSIX: flock (see exclusive_lock)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "atomic_write",
    "current_umask",
    "check_writable",
    "exclusive_lock",
    "lock_path",
    "LockedError",
    "Terminated",
    "sigterm_as_interrupt",
    "replace_problem",
]


class LockedError(RuntimeError):
    """Another process holds the lock on a file colorlab is about to write."""


def current_umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux: /proc)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[IO[bytes]]:
    """``with atomic_write(path) as f: f.write(...)``: ``path`` appears whole or not at all.

    ``overwrite=False`` raises :class:`FileExistsError` (naming the file) if ``path`` exists
    when the write completes, instead of replacing it. The file gets ordinary permissions
    (``0o666`` minus the umask), not the temporary file's ``0o600``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if path exists: no check-then-write race
            except FileExistsError:
                raise FileExistsError(f"{path}: already exists; colorlab does not replace it") from None
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def check_writable(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be written as a file (one line), or ``None`` if it can.

    Checked before long work starts, so that a bad output path is found in a second, not after
    an hour: a folder in the way, a parent that is a file, a read-only place.
    """
    path = Path(path)
    if path.is_dir():
        return f"{path}: is a folder; give a file name"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{path}: {parent} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{path}: cannot write in {parent} (permission denied)"
    return None


def lock_path(path: str | os.PathLike[str]) -> Path:
    """The lock file that :func:`exclusive_lock` uses for ``path``: ``.<name>.lock`` beside it."""
    path = Path(path)
    return path.parent / f".{path.name}.lock"


@contextlib.contextmanager
def exclusive_lock(
    path: str | os.PathLike[str],
    *,
    what: str = "process",
    wait: bool = False,
    quiet: bool = False,
    lock_file_timeout: float | None = None,
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``.<name>.lock`` beside ``path`` while writing ``path``.

    With ``wait=False`` a second holder fails at once with :class:`LockedError` (two training
    runs on one checkpoint); with ``wait=True`` it waits its turn (two downloads into one
    folder), saying so on stderr unless ``quiet`` (for locks held a moment, such as one
    appended line). The lock file is removed while still locked; a process that was waiting on
    the removed file sees that the path no longer names what it locked and tries again, so two
    processes never both believe they hold the lock.

    Without ``fcntl`` (Windows) there is no lock, unless ``lock_file_timeout`` is given: then the
    lock file itself, created with ``O_EXCL``, is the lock, waited for at most that many seconds
    (a crashed holder leaves it behind) before :class:`LockedError` says to delete it.
    """
    path, lock = Path(path), lock_path(path)
    if fcntl is None:
        if lock_file_timeout is None:
            yield
            return
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = _create_lock_file(path, lock, what, wait, quiet, lock_file_timeout)
        try:
            yield
        finally:
            os.close(fd)
            os.unlink(lock)
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    fh = _flock(path, lock, what, wait, quiet)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        fh.close()


def _busy(path: Path, what: str) -> LockedError:
    return LockedError(
        f"{path}: another colorlab {what} is writing it right now; wait for it to finish or choose another file"
    )


def _say_waiting(path: Path, what: str) -> None:
    print(f"{path}: another colorlab {what} is writing it; waiting for it", file=sys.stderr)


def _flock(path: Path, lock: Path, what: str, wait: bool, quiet: bool) -> IO[bytes]:
    """The open lock file, flocked by this process (see :func:`exclusive_lock`)."""
    while True:
        fh = open(lock, "a+b")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                fh.close()
                raise _busy(path, what) from None
            if not quiet:
                _say_waiting(path, what)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            same = os.path.samestat(os.fstat(fh.fileno()), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            return fh
        fh.close()


def _create_lock_file(path: Path, lock: Path, what: str, wait: bool, quiet: bool, timeout: float) -> int:
    """Without fcntl: the descriptor of ``lock``, created by this process (see :func:`exclusive_lock`)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if not wait:
                raise _busy(path, what) from None
            if time.monotonic() > deadline:
                raise LockedError(
                    f"{lock}: still locked after {timeout:g} s; if no colorlab {what} is writing {path}, "
                    "delete the lock file"
                ) from None
            if not quiet:
                _say_waiting(path, what)
                quiet = True  # once is enough
            time.sleep(0.002)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, schedulers) received: handled like Ctrl-C, so cleanup code runs."""


@contextlib.contextmanager
def sigterm_as_interrupt(exception: type[KeyboardInterrupt] = Terminated) -> Iterator[None]:
    """While inside, SIGTERM raises ``exception`` (a ``KeyboardInterrupt``) in the main thread, so
    ``finally`` blocks run: a long job stops as on Ctrl-C, leaving no temporary file behind.
    Outside the main thread (where signals cannot be handled) it does nothing."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise exception(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def replace_problem(
    target: str | os.PathLike[str],
    *,
    overwrite: bool,
    inputs: Sequence[str | os.PathLike[str]] = (),
    ours: Callable[[Path], bool] | None = None,
    what: str = "a colorlab result",
    how: str = "pass --overwrite to replace it, or choose another name",
) -> str | None:
    """The one rule for writing ``target``: ``None`` if it may be written, else why not (one line).

    A file that does not exist may always be written. An existing one never if it is an input of
    this run (``inputs``); otherwise only with ``overwrite``, and then only if ``ours(target)``
    says colorlab made it (an earlier result, checkpoint or film): a file the user made is never
    replaced, whatever the flags. Every colorlab writer asks this before long work starts.
    """
    target = Path(target)
    if not target.exists():
        return None
    for source in inputs:
        if os.path.exists(source) and os.path.samefile(source, target):
            return f"{target}: is an input of this run and is never replaced; choose another name"
    if not overwrite:
        return f"{target}: already exists (an earlier result?); {how}"
    if ours is not None and not ours(target):
        return (
            f"{target}: exists and is not {what} (a file of yours?); --overwrite replaces only colorlab's own "
            "earlier results; choose another name"
        )
    return None
