"""The review queue: flagged users, unreviewed first, highest risk first; reviewed users stay."""

from __future__ import annotations

import numpy as np
import pytest

from fakeusers.errors import FakeusersError
from fakeusers.reading import read_logs
from fakeusers.review_queue import review_queue
from fakeusers.scoring import Rule, score_log
from tests.support import csv_bytes, trained


@pytest.fixture(scope="module")
def scored():
    log = read_logs([("score.csv", csv_bytes(20_000, 2))])
    return score_log(log, trained(20_000, 1), Rule.of(1, 9))


def test_without_verdicts_the_queue_is_the_flagged_list_riskiest_first(scored) -> None:
    queue = review_queue(scored)
    assert queue.n == scored.decision.n_flagged > 3
    assert queue.n_reviewed == 0
    np.testing.assert_array_equal(queue.users, scored.ranked_flagged)
    assert queue.first() == scored.ranked_flagged[0]


def test_reviewed_users_go_last_and_stay_even_when_cleared(scored) -> None:
    ids, ranked = scored.user_ids, scored.ranked_flagged
    safest = int(scored.order[-1])
    verdicts = {ids[ranked[0]]: "real", ids[ranked[2]]: "fake", ids[safest]: "fake"}
    queue = review_queue(scored.with_verdicts(verdicts))
    assert queue.n == scored.decision.n_flagged + 1, "the confirmed fake below the threshold"
    assert queue.n_reviewed == 3
    assert list(queue.users[-3:]) == [ranked[0], ranked[2], safest]
    assert list(queue.users[:2]) == [ranked[1], ranked[3]]
    assert queue.is_reviewed(int(ranked[0])) and not queue.is_reviewed(int(ranked[1]))


def test_after_a_verdict_the_next_user_is_the_next_riskiest_unreviewed(scored) -> None:
    ids, ranked = scored.user_ids, scored.ranked_flagged
    queue = review_queue(scored.with_verdicts({ids[ranked[0]]: "fake", ids[ranked[1]]: "real"}))
    order = scored.order
    assert queue.next_unreviewed(int(ranked[1]), order) == ranked[2]
    # From a reviewed user further down, the next unreviewed one below; else the riskiest.
    assert queue.next_unreviewed(int(ranked[3]), order) == ranked[4]
    last = int(queue.users[queue.n_unreviewed - 1])
    assert queue.next_unreviewed(last, order) == ranked[2]
    assert queue.next(int(queue.users[-1])) is None
    assert queue.next(None) == queue.first() == ranked[2]
    assert queue.next(int(ranked[2])) == ranked[3]


def test_everyone_reviewed_leaves_nobody_to_go_to(scored) -> None:
    flagged = scored.ranked_flagged
    everyone = {scored.user_ids[u]: "fake" for u in flagged}
    queue = review_queue(scored.with_verdicts(everyone))
    assert queue.n_reviewed == queue.n == flagged.size
    assert queue.next_unreviewed(int(flagged[0]), scored.order) is None


def test_a_log_scored_without_a_rule_has_no_queue(scored) -> None:
    with pytest.raises(FakeusersError, match="costs or a review capacity"):
        review_queue(scored.with_rule(None))
