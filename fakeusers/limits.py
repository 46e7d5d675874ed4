"""Size limits as people write them: ``104857600``, ``700MB``, ``4GiB``, ``1.5 GiB``, ``512k``.

The one parser for every byte limit fakeusers is given (the reader's cap on one log file,
``FAKEUSERS_MAX_LOG_BYTES``, and the API's request limit), so a value that works for one
works for the other.

The unit follows the number, in any case, with or without a space:

=====================  ============  =====================================================
written                one unit is   because
=====================  ============  =====================================================
no unit, ``B``         1 byte        a plain byte count, as before units were accepted
``KB MB GB TB``        1000 ** n     decimal, as SI and disk makers write them
``KiB MiB GiB TiB``    1024 ** n     binary (IEC)
``K M G T``            1024 ** n     binary, as ``docker --memory 512m`` and ``du -h`` mean
=====================  ============  =====================================================

A number with a unit may have a fraction (``1.5 GiB``) and is rounded down to whole bytes; a
byte count must be whole (``1.5`` alone is refused: fractional bytes are no size, and it is
likely a slip for ``1.5GB``).
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

from fakeusers.errors import FakeusersError
from fakeusers.quoting import quote

__all__ = ["available_memory", "format_size", "limit_from_env", "machine_memory", "parse_size"]

# Bytes per unit, by lower-cased unit: K, KiB, KB and so on for each power.
_UNITS = {"": 1, "b": 1} | {
    letter + suffix: base**power
    for power, letter in enumerate("kmgt", start=1)
    for suffix, base in (("", 1024), ("ib", 1024), ("b", 1000))
}
_SIZE = re.compile(r"([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-z]*)", re.IGNORECASE)
_HOW = (
    "Write a number of bytes, or a number and a unit, such as 104857600, 700MB, 1.5 GiB or "
    "512k (KB, MB, GB, TB count in 1000s; K, M, G, T and KiB, MiB, GiB, TiB in 1024s)."
)


def parse_size(text: str | int) -> int:
    """A size limit in bytes, from a byte count or a number with a unit.

    Parameters
    ----------
    text : str or int
        ``104857600``, ``"104857600"``, ``"700MB"``, ``"4GiB"``, ``"1.5 GiB"``, ``"512k"``;
        units as in the module's table (``K``, ``M``, ``G``, ``T`` alone are binary).

    Returns
    -------
    int
        The size in bytes, more than zero.

    Raises
    ------
    FakeusersError
        For zero, a negative size, a fraction of a byte, an unknown unit or anything that is
        not a size (``"lots"``, ``"inf"``, ``"nan"``); the message names the value and shows
        sizes that are accepted.

    Examples
    --------
    >>> parse_size("700MB"), parse_size("1.5 GiB"), parse_size("512k"), parse_size(4096)
    (700000000, 1610612736, 524288, 4096)
    """
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise _not_a_size(text, "it is neither text nor a whole number")
    size = text if isinstance(text, int) else _bytes_in(text)
    if size <= 0:
        raise _not_a_size(text, "a limit must be more than zero")
    return size


def _bytes_in(text: str) -> int:
    """The number of bytes ``text`` stands for, of any sign."""
    try:
        # A plain byte count reads as it always has (``int`` also takes " 1_000 " or "+5").
        return int(text)
    except ValueError:
        pass
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise _not_a_size(text, "it is not a number with an optional unit")
    sign, number, unit = match.groups()
    factor = _UNITS.get(unit.lower())
    if factor is None:
        raise _not_a_size(text, f"{unit!r} is not a unit")
    size = Decimal(number) * factor
    if factor == 1 and size != size.to_integral_value():
        raise _not_a_size(text, "a number of bytes must be whole")
    return -int(size) if sign == "-" else int(size)


def _not_a_size(value: object, reason: str) -> FakeusersError:
    shown = quote(value) if isinstance(value, str) else repr(value)
    return FakeusersError(f"{shown} is not a size limit: {reason}. {_HOW}")


def format_size(size: int) -> str:
    """A size (more than zero) in the largest unit that holds it whole, for messages.

    :func:`parse_size` reads the text back to the same number of bytes.

    Examples
    --------
    >>> format_size(4 * 1024**3), format_size(700_000_000), format_size(1234)
    ('4 GiB', '700 MB', '1234 B')
    """
    for power in (4, 3, 2, 1):
        for base, suffix in ((1024, "iB"), (1000, "B")):
            if size % base**power == 0:
                return f"{size // base**power} {'KMGT'[power - 1]}{suffix}"
    return f"{size} B"


def limit_from_env(env_var: str, default: int) -> int:
    """The size limit set in the environment variable ``env_var``, or ``default``.

    Parameters
    ----------
    env_var : str
        The variable's name, such as ``FAKEUSERS_MAX_LOG_BYTES``.
    default : int
        The limit in bytes when the variable is unset or blank.

    Returns
    -------
    int
        The limit in bytes, read with :func:`parse_size`.

    Raises
    ------
    FakeusersError
        When the variable holds no valid size; the message names the variable, its value,
        a valid setting and how to get the default back.

    Examples
    --------
    >>> os.environ["EXAMPLE_LIMIT"] = "700MB"
    >>> limit_from_env("EXAMPLE_LIMIT", 4 * 1024**3)
    700000000
    >>> del os.environ["EXAMPLE_LIMIT"]
    """
    text = os.environ.get(env_var, "").strip()
    if not text:
        return default
    try:
        return parse_size(text)
    except FakeusersError as exc:
        raise FakeusersError(
            f"{env_var}: {exc} Or unset it for the default, {format_size(default)}."
        ) from exc


_CGROUP_FILES = (  # (limit, usage): cgroup v2, then v1
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
)


def _cgroup_memory() -> tuple[int, int] | None:
    """The container's memory limit and use in bytes; None when there is no limit."""
    for limit_file, used_file in _CGROUP_FILES:
        try:
            limit = int(Path(limit_file).read_text().strip())
            used = int(Path(used_file).read_text().strip())
        except (OSError, ValueError):  # no such file, or "max": no limit here
            continue
        if limit < 2**60:  # a huge number also means no limit
            return limit, used
    return None


def machine_memory() -> int:
    """Bytes of memory this process may use: the container's limit when it is lower than
    the machine's memory, else the machine's."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    cgroup = _cgroup_memory()
    return min(total, cgroup[0]) if cgroup else total


def available_memory() -> int | None:
    """Bytes of memory free for new work now: ``MemAvailable``, or the container's room
    when lower; None when neither can be read."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except OSError:
        pass
    cgroup = _cgroup_memory()
    if cgroup:
        room = cgroup[0] - cgroup[1]
        available = room if available is None else min(available, room)
    return available
