"""How much work the API takes on at once, refused before the expensive step.

Trainings are the heaviest request (minutes of CPU, several times the log in memory): at most
``FAKEUSERS_API_MAX_TRAININGS`` at once (default 1). Scorings at most
``FAKEUSERS_API_MAX_SCORINGS`` at once (default: the number of CPUs). A request over either
budget gets 429 with ``Retry-After`` at once, before its log is read, instead of slowing every
other request down; the caller tries again.

Memory: every request that reads a log reserves what it will cost, estimated from its size
before it is parsed (:class:`MemoryBudget`), out of ``FAKEUSERS_API_MAX_MEMORY`` (default half
the machine's memory, or of the container's limit). A request that alone would cost more is
413; one that would not fit beside those already running is 429 with ``Retry-After``. With
``serve --workers N`` each worker process has its own budgets.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from fakeusers.errors import BusyError, FakeusersError, InputTooLargeError
from fakeusers.limits import format_size, limit_from_env, machine_memory

__all__ = [
    "MAX_MEMORY_ENV",
    "MAX_SCORINGS_ENV",
    "MAX_TRAININGS_ENV",
    "MemoryBudget",
    "Reservation",
    "Slots",
    "from_env",
    "machine_memory",
]

MAX_TRAININGS_ENV = "FAKEUSERS_API_MAX_TRAININGS"
MAX_SCORINGS_ENV = "FAKEUSERS_API_MAX_SCORINGS"
MAX_MEMORY_ENV = "FAKEUSERS_API_MAX_MEMORY"

#: Memory a request costs per byte of log, measured (``benchmarks/bench_abuse.py``): scoring a
#: 95 MB CSV body raised the server's peak by 577 MB (6.1x), a 31 MB JSON body by 365 MB (11.8x:
#: it is parsed into Python values first); training keeps features, folds and fitted models.
COST_PER_BYTE = {"csv": 6.5, "json": 12.5, "training": 10.0}
#: What any request costs besides its log (buffers, the model, the answer).
COST_FLOOR = 32 * 2**20


def from_env(name: str, default: int) -> int:
    """A positive count from the environment variable ``name``, else ``default``.

    Raises
    ------
    FakeusersError
        When it is set to anything but a positive whole number.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise FakeusersError(f"{name} must be a positive whole number; got {text!r}.")
    return int(text)


class Slots:
    """At most ``n`` of one kind of work at once; the next is refused, not queued.

    Examples
    --------
    >>> slots = Slots(1, "training", retry_after=60)
    >>> with slots.taken():
    ...     slots.busy
    1
    """

    def __init__(self, n: int, what: str, *, retry_after: int) -> None:
        self.n, self.what, self.retry_after = n, what, retry_after
        self._free = threading.BoundedSemaphore(n)
        self._lock = threading.Lock()
        self.busy = 0

    @contextlib.contextmanager
    def taken(self) -> Iterator[None]:
        """Hold a slot while in the block.

        Raises
        ------
        BusyError
            When all ``n`` are taken.
        """
        if not self._free.acquire(blocking=False):
            raise BusyError(
                f"The server is already running {self.n} {self.what}"
                f"{'s' if self.n > 1 else ''}, its limit; try again in {self.retry_after} s.",
                retry_after=self.retry_after,
            )
        with self._lock:
            self.busy += 1
        try:
            yield
        finally:
            with self._lock:
                self.busy -= 1
            self._free.release()


class MemoryBudget:
    """At most ``total`` bytes reserved by requests at once; a request reserves before it
    parses.

    Examples
    --------
    >>> budget = MemoryBudget(1000)
    >>> with budget.reserve(600, "scoring this log") as held:
    ...     budget.used
    600
    >>> budget.used
    0
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> MemoryBudget:
        """``FAKEUSERS_API_MAX_MEMORY`` (a size such as ``4GB``), else half the memory."""
        return cls(limit_from_env(MAX_MEMORY_ENV, machine_memory() // 2))

    @staticmethod
    def cost(log_bytes: int, kind: str) -> int:
        """What reading a log of ``log_bytes`` costs for ``kind`` (csv, json, training)."""
        return COST_FLOOR + int(log_bytes * COST_PER_BYTE[kind])

    @contextlib.contextmanager
    def reserve(self, nbytes: int, what: str) -> Iterator[Reservation]:
        """Hold ``nbytes`` while in the block; the reservation may grow (:meth:`Reservation.
        grow`) once the request knows its log better, e.g. after gunzip.

        Raises
        ------
        InputTooLargeError
            When ``nbytes`` alone is more than the whole budget.
        BusyError
            When it does not fit beside what other requests hold now.
        """
        held = Reservation(self, what)
        held.grow(nbytes)
        try:
            yield held
        finally:
            held.release()


class Reservation:
    """One request's share of a :class:`MemoryBudget`."""

    def __init__(self, budget: MemoryBudget, what: str) -> None:
        self.budget, self.what, self.held = budget, what, 0

    def grow(self, nbytes: int) -> None:
        """Hold ``nbytes`` in all (no change when already holding as much).

        Raises
        ------
        InputTooLargeError, BusyError
            As :meth:`MemoryBudget.reserve`; what was held stays held.
        """
        budget = self.budget
        if nbytes <= self.held:
            return
        if nbytes > budget.total:
            raise InputTooLargeError(
                f"{self.what.capitalize()} would take about {format_size(nbytes)} of memory; "
                f"this server lets one request use at most {format_size(budget.total)} "
                f"({MAX_MEMORY_ENV}). Send the log in smaller parts, or raise "
                f"{MAX_MEMORY_ENV} on the server."
            )
        with budget._lock:
            if budget.used - self.held + nbytes > budget.total:
                raise BusyError(
                    f"{self.what.capitalize()} would take about {format_size(nbytes)} of "
                    f"memory and the server has {format_size(budget.total - budget.used)} of "
                    f"its {format_size(budget.total)} free now; try again in 10 s.",
                    retry_after=10,
                )
            budget.used += nbytes - self.held
            self.held = nbytes

    def release(self) -> None:
        with self.budget._lock:
            self.budget.used -= self.held
            self.held = 0
