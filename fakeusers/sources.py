"""A log file's bytes: from a path or an upload, gunzipped, and never more than the size cap.

The cap (:data:`MAX_LOG_BYTES_ENV`) is checked before a file is read, and gzip is inflated
with the cap as its output limit, so a small ``.csv.gz`` that expands to gigabytes (a gzip
bomb) is refused without ever being expanded.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from fakeusers.errors import FakeusersError, InputTooLargeError
from fakeusers.limits import limit_from_env

__all__ = [
    "DEFAULT_MAX_LOG_BYTES",
    "MAX_LOG_BYTES_ENV",
    "Source",
    "file_errors",
    "gunzip",
    "huge_array",
    "huge_pages",
    "open_source",
]

#: A log source: a path, or ``(name, bytes)`` for an upload.
Source = str | os.PathLike | tuple[str, bytes]

#: Environment variable with the most bytes one log file may hold once decompressed.
MAX_LOG_BYTES_ENV = "FAKEUSERS_MAX_LOG_BYTES"
#: 4 GiB: far above a 10M-event log (~300 MB), far below what a gzip bomb expands to.
DEFAULT_MAX_LOG_BYTES = 4 * 1024**3


def open_source(source: Source, *, mapped: bool = False) -> tuple[str, bytes | mmap.mmap]:
    """The file's display name and its (decompressed) bytes, refused past the size cap.

    Parameters
    ----------
    source : path or ``(name, bytes)``
        A file on disk, or an upload's name and content. Gzip is recognised by content.
    mapped : bool
        Read a file on disk into anonymous memory mapped in huge pages (``mmap``) rather
        than into ``bytes``: a ``bytes`` of 300 MB is filled 4 KB page by page, 73,000 page
        faults that cost more than the copy itself. The file is read, not mapped: changing
        it meanwhile cannot crash the process. Only for readers that slice, ``find`` and
        take the buffer of what they get (an ``mmap`` has no ``count`` or ``strip``, and
        ``in`` tests single bytes); it is unmapped when its last reference goes.

    Returns
    -------
    name : str
        The file name without its folder, as messages show it.
    data : bytes or mmap.mmap
        The file's content, decompressed; mapped when ``mapped`` and not gzip.

    Raises
    ------
    InputTooLargeError
        When the file, or its decompressed content, is over the cap.
    FakeusersError
        When the path is missing, a folder or unreadable, or the gzip file is damaged.
    """
    limit = limit_from_env(MAX_LOG_BYTES_ENV, DEFAULT_MAX_LOG_BYTES)
    if isinstance(source, tuple):
        name, data = source
        name = Path(str(name)).name
    else:
        path = Path(source)
        name = path.name
        with file_errors(path):
            if path.stat().st_size > limit:
                raise InputTooLargeError(_too_large(name, "is larger than", limit))
            data = _mapped(path, limit) if mapped else path.read_bytes()
    if len(data) > limit:  # an upload, or a file that grew past the cap while it was read
        raise InputTooLargeError(_too_large(name, "is larger than", limit))
    if data[:2] == b"\x1f\x8b":
        data = gunzip(name, data, limit)
    return name, data


@contextlib.contextmanager
def file_errors(path: Path) -> Iterator[None]:
    """Turn a missing, folder or unreadable ``path`` into a :class:`FakeusersError` that says
    so (for every reader of log files)."""
    try:
        yield
    except FileNotFoundError:
        raise FakeusersError(f"{path}: no such file. Check the path.") from None
    except IsADirectoryError:
        raise FakeusersError(f"{path} is a folder, not a CSV file.") from None
    except OSError as exc:
        raise FakeusersError(f"{path} cannot be read: {exc.strerror}.") from None


#: Files smaller than a huge page are read into ``bytes``.
_HUGE_PAGE = 2 << 20


def _mapped(path: Path, limit: int) -> bytes | mmap.mmap:
    """The file's content in private anonymous memory advised for huge pages (see
    :func:`open_source`), or in ``bytes`` when it is small or changed size while read."""
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        if size < _HUGE_PAGE:
            return f.read(limit + 1)
        memory = huge_pages(size)
        # Touched from Python first, a page fault per 2 MB; the kernel filling them while
        # reading would fault them in 4 KB at a time.
        np.frombuffer(memory, dtype=np.uint8)[::4096] = 0
        view = memoryview(memory)
        done = 0
        while done < size:  # one read returns at most 2 GiB
            n = f.readinto(view[done:])
            if not n:
                break
            done += n
        view.release()
        if done == size and not f.read(1):
            return memory
        memory.close()  # the file changed size while it was read: read it again
        f.seek(0)
        return f.read(limit + 1)


def huge_pages(size: int) -> mmap.mmap:
    """``size`` bytes of private anonymous memory (zeros) advised for huge pages.

    For large arrays written once: filled 4 KB at a time, 300 MB costs 73,000 page faults
    (0.2 to 0.6 s of system time on the 2-core machine); in 2 MB pages, 150. Use
    ``numpy.frombuffer`` for an array in it; the memory is freed with the last array.
    """
    memory = mmap.mmap(-1, max(size, 1), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    with contextlib.suppress(AttributeError, OSError):  # no huge pages here: 4 KB ones
        memory.madvise(mmap.MADV_HUGEPAGE)
    return memory


def huge_array(shape: int | tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
    """A writable array of zeros in :func:`huge_pages` (of the usual kind when smaller than
    a huge page)."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    if count * dtype.itemsize < _HUGE_PAGE:
        return np.zeros(shape, dtype=dtype)
    memory = huge_pages(count * dtype.itemsize)
    return np.frombuffer(memory, dtype=dtype, count=count).reshape(shape)


def _too_large(name: str, what: str, limit: int) -> str:
    return (
        f"{name} {what} the {limit:,} bytes ({limit / 2**20:,.0f} MB) one log file "
        f"may hold. Split the log into smaller files and read them together, or raise "
        f"{MAX_LOG_BYTES_ENV} where fakeusers runs."
    )


def gunzip(name: str, data: bytes, limit: int) -> bytes:
    """Inflate every gzip member of ``data``, refusing output past ``limit`` bytes.

    Each member is inflated with the bytes left under the cap (plus one) as zlib's output
    limit: zlib stops there, so memory stays within the cap whatever the file expands to.
    As :func:`gzip.decompress`, zero padding between members is skipped.

    Parameters
    ----------
    name : str
        The file name, for messages.
    data : bytes
        One or more gzip members.
    limit : int
        The most bytes the decompressed content may hold.

    Returns
    -------
    bytes
        The decompressed content.

    Raises
    ------
    InputTooLargeError
        Past the limit.
    FakeusersError
        For a damaged or cut-off file.
    """
    damaged = f"{name} is a damaged gzip file. Compress it again or upload the plain CSV."
    members: list[bytes] = []
    size = 0
    rest = data
    while rest:
        if rest[:2] != b"\x1f\x8b":
            raise FakeusersError(damaged)
        inflater = zlib.decompressobj(wbits=31)
        try:
            members.append(inflater.decompress(rest, limit - size + 1))
        except zlib.error:
            raise FakeusersError(damaged) from None
        size += len(members[-1])
        if size > limit:
            raise InputTooLargeError(_too_large(name, "decompresses to more than", limit))
        if not inflater.eof:
            raise FakeusersError(damaged)  # cut off: the input ended before the member did
        rest = inflater.unused_data.lstrip(b"\x00")
    return members[0] if len(members) == 1 else b"".join(members)
