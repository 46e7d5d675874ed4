"""The one way the product writes a file: all of it, or nothing.

:func:`write_atomic` writes to a temporary file in the destination's folder, fsyncs it,
gives it the mode a plain ``open()`` would (``0666`` less the umask) and renames it over the
destination, so a reader sees the old file or the new one, never half of one. The writer
holds an ``flock`` on its temporary file while it works; :func:`remove_stale_temps` deletes
the temporary files whose writer is gone (a killed run), and every write calls it first.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "TEMP_SUFFIX",
    "fsync_dir",
    "locked",
    "remove_stale_temps",
    "write_atomic",
    "write_bytes_atomic",
]

TEMP_SUFFIX = ".fakeusers-tmp"
_GRACE_SECONDS = 2.0


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (threads may be writing)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status", encoding="ascii") as status:
            line = next(line for line in status if line.startswith("Umask:"))
        return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_stale_temps(folder: str | os.PathLike[str], name: str) -> int:
    """Delete the temporary files of writes of ``name`` in ``folder`` that were interrupted.

    A temporary file is stale when no process holds its lock: the run that wrote it was
    killed. Files of a write still in progress are left alone, and so are files only a
    moment old (their writer may not have taken its lock yet).

    Returns
    -------
    int
        How many files were removed.
    """
    removed = 0
    young = time.time() - _GRACE_SECONDS
    for path in Path(folder).glob(f".{name}.*{TEMP_SUFFIX}"):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            if os.fstat(fd).st_mtime > young:
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink()
            removed += 1
        except OSError:  # locked by a live writer, or already gone
            continue
        finally:
            os.close(fd)
    return removed


def write_atomic(
    path: str | os.PathLike[str], write: Callable[[BinaryIO], None], *, mode: int | None = None
) -> Path:
    """Write a file through ``write(fileobj)`` so that it appears whole or not at all.

    Parameters
    ----------
    path : str or path-like
        The destination. Its folder must exist.
    write : callable
        Called once with the open temporary file (binary, writable).
    mode : int, optional
        Permission bits; default ``0o666`` less the process umask, as ``open()`` gives.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> out = write_atomic(tmp / "x.csv", lambda f: f.write(b"a,b\\n"))  # doctest: +SKIP
    """
    path = Path(path)
    folder = path.parent
    remove_stale_temps(folder, path.name)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=folder)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with os.fdopen(fd, "wb", closefd=False) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.fchmod(fd, (0o666 & ~_umask()) if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        os.close(fd)
    fsync_dir(folder)
    return path


def write_bytes_atomic(
    path: str | os.PathLike[str], data: bytes, *, mode: int | None = None
) -> Path:
    """:func:`write_atomic` for data already in memory."""
    return write_atomic(path, lambda f: f.write(data), mode=mode)


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make the rename durable across a power loss."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(folder: str | os.PathLike[str], name: str = ".lock") -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<folder>/<name>`` (creating both) while in the block.

    Writers that must not interleave (two saves of one model, two promotions) take it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
