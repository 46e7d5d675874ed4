"""How much work the API takes on at once, refused before the expensive step.

Trainings are the heaviest request (minutes of CPU, several times the log in memory): at most
``FAKEUSERS_API_MAX_TRAININGS`` at once (default 1). Scorings at most
``FAKEUSERS_API_MAX_SCORINGS`` at once (default: the number of CPUs). A request over either
budget gets 429 with ``Retry-After`` at once, before its log is read, instead of slowing every
other request down; the caller tries again. With ``serve --workers N`` each worker process
has its own budgets.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from fakeusers.errors import BusyError, FakeusersError

__all__ = ["MAX_SCORINGS_ENV", "MAX_TRAININGS_ENV", "Slots", "from_env"]

MAX_TRAININGS_ENV = "FAKEUSERS_API_MAX_TRAININGS"
MAX_SCORINGS_ENV = "FAKEUSERS_API_MAX_SCORINGS"


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
