"""The review queue: the users a decision flags, in the order an analyst reviews them.

The queue holds the users the decision flags (verdicts applied) and every user of the log who
already has a verdict: a cleared user is no longer flagged, but was reviewed and stays in the
queue, so progress does not shrink as the analyst works. Under the costs that is the model's
flagged list plus the confirmed fakes it missed; under a review capacity K, the K riskiest
users without a verdict are always still to review (as the decision chooses them). Users
without a verdict come first, then the reviewed ones; each part highest risk first.

Examples
--------
>>> queue = review_queue(scored.with_rule(rule))  # doctest: +SKIP
>>> f"{queue.n_reviewed} of {queue.n} reviewed"  # doctest: +SKIP
'38 of 352 reviewed'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fakeusers.errors import FakeusersError
from fakeusers.scoring import ScoredLog

__all__ = ["ReviewQueue", "review_queue"]


@dataclass(frozen=True, eq=False)
class ReviewQueue:
    """Users to review, as indices into the log's users.

    Attributes
    ----------
    users : numpy.ndarray of int64
        Unreviewed users by descending probability, then reviewed users likewise.
    n_reviewed : int
        How many of them have a verdict (they are the last ``n_reviewed``).
    """

    users: np.ndarray
    n_reviewed: int

    @property
    def n(self) -> int:
        return int(self.users.size)

    @property
    def n_unreviewed(self) -> int:
        return self.n - self.n_reviewed

    def position(self, user: int | None) -> int | None:
        """Where ``user`` is in the queue, or None."""
        if user is None:
            return None
        hits = np.flatnonzero(self.users == user)
        return int(hits[0]) if hits.size else None

    def is_reviewed(self, user: int) -> bool:
        at = self.position(user)
        return at is not None and at >= self.n_unreviewed

    def first(self) -> int | None:
        """Where to start: the riskiest user without a verdict, else the riskiest reviewed."""
        return int(self.users[0]) if self.n else None

    def next(self, user: int | None) -> int | None:
        """The user after ``user`` in the queue (None at the end); the first when ``user`` is
        not in it."""
        at = self.position(user)
        if at is None:
            return self.first()
        return int(self.users[at + 1]) if at + 1 < self.n else None

    def next_unreviewed(self, user: int | None, order: np.ndarray) -> int | None:
        """After a verdict on ``user``: the riskiest unreviewed user less risky than ``user``
        (in ``order``, users by descending risk), else the riskiest unreviewed one; None when
        everyone is reviewed."""
        if self.n_unreviewed == 0:
            return None
        unreviewed = self.users[: self.n_unreviewed]
        if user is None:
            return int(unreviewed[0])
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size)
        later = np.flatnonzero(rank[unreviewed] > rank[user])
        return int(unreviewed[later[0]] if later.size else unreviewed[0])


def review_queue(scored: ScoredLog) -> ReviewQueue:
    """The queue of a decided scored log (see the module's docstring).

    Raises
    ------
    FakeusersError
        When ``scored`` has no rule: nothing is flagged without one.
    """
    if scored.decision is None:
        raise FakeusersError(
            "Set the costs or a review capacity first: the queue is the list of flagged users."
        )
    flagged = scored.flagged
    reviewed = (
        np.zeros(scored.n_users, dtype=bool) if scored.verdicts is None else scored.verdicts >= 0
    )
    order = scored.order
    in_queue = (flagged | reviewed)[order]
    ranked = order[in_queue]
    done = reviewed[ranked]
    users = np.concatenate([ranked[~done], ranked[done]]).astype(np.int64)
    return ReviewQueue(users, int(done.sum()))
