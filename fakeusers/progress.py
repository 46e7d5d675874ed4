"""Progress of long work: the stage it is in, the share done and an estimate of the time left.

Training on hundreds of thousands of users takes minutes, so it reports as it goes through a
callback ``progress(stage, done, eta_seconds)``:

- ``stage``: what is happening, in words (``"Reading june.csv ..."``); a stage that makes
  progress is reported again with the same words and a larger ``done``;
- ``done``: the share of the whole work done, from 0 to 1, never decreasing; the last call has
  ``done == 1.0``;
- ``eta_seconds``: the seconds left, estimated from the parts already measured (the folds
  fitted so far), or None while nothing has been measured.

The faces draw it their own way: a bar on a terminal or plain lines in a log (the command
line), ``st.status`` and ``st.progress`` (the dashboard). This module never prints.

Examples
--------
>>> seen = []
>>> report = within(lambda *a: seen.append(a), 0.5, 1.0)
>>> report("Fitting", 0.5, 10.0)
>>> seen
[('Fitting', 0.75, 10.0)]
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["FitClock", "Progress", "eta_words", "within"]

#: ``progress(stage, done, eta_seconds)``, see the module's docstring.
Progress = Callable[[str, float, float | None], None]


def within(progress: Progress | None, start: float, end: float) -> Progress | None:
    """A callback that reports a part of the work as the span ``start`` to ``end`` of the whole.

    The part reports its own ``done`` from 0 to 1; ``progress`` receives it scaled into the
    span. None when ``progress`` is None, so callers can pass it on unchanged.
    """
    if progress is None:
        return None

    def report(stage: str, done: float, eta_seconds: float | None) -> None:
        progress(stage, start + (end - start) * min(max(done, 0.0), 1.0), eta_seconds)

    return report


def eta_words(eta_seconds: float | None) -> str:
    """``"about 40 s left"``, ``"about 3 min left"``; empty when there is no estimate.

    Examples
    --------
    >>> eta_words(42.4), eta_words(185), eta_words(None)
    ('about 42 s left', 'about 3 min left', '')
    """
    if eta_seconds is None:
        return ""
    if eta_seconds < 90:
        return f"about {max(round(eta_seconds), 1)} s left"
    return f"about {round(eta_seconds / 60)} min left"


class FitClock:
    """Estimates the time left in a set of fits run by ``workers`` threads at once.

    Each fit has a size (its training users). Fits that finished give the seconds per user;
    the time left is the users of the fits not finished, at that rate, less the time the
    running ones have already spent, shared among the workers.

    Parameters
    ----------
    sizes : sequence of int
        The training users of each fit, by fit index.
    workers : int
        How many fits run at once.
    clock : callable, optional
        Seconds as a float (``time.perf_counter``); a test passes its own.
    """

    def __init__(
        self,
        sizes: list[int],
        workers: int,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.sizes = list(sizes)
        self.workers = max(int(workers), 1)
        self.clock = clock
        self.started: dict[int, float] = {}
        self.seconds: dict[int, float] = {}

    def start(self, fit: int) -> None:
        self.started[fit] = self.clock()

    def finish(self, fit: int) -> None:
        self.seconds[fit] = self.clock() - self.started[fit]

    @property
    def done(self) -> float:
        """The share of the fits' users in finished fits."""
        total = sum(self.sizes)
        return sum(self.sizes[i] for i in self.seconds) / total if total else 1.0

    def eta_seconds(self) -> float | None:
        """Seconds left for the fits not finished; None before any fit has finished."""
        if not self.seconds:
            return None
        # Copies: fits start in other threads while this runs.
        finished, started = dict(self.seconds), dict(self.started)
        per_user = sum(finished.values()) / max(sum(self.sizes[i] for i in finished), 1)
        now = self.clock()
        left = sum(size for i, size in enumerate(self.sizes) if i not in finished)
        spent = sum(now - t for i, t in started.items() if i not in finished)
        return max(left * per_user - spent, 0.0) / self.workers
