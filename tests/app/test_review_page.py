"""The Review page: the queue, verdicts for one user or several, reverts, the audit trail; the
verdicts then decide on the Decisions page and in its downloads (which the trail records).

Every test has a review database of its own. The browser test
(``tests/e2e/test_browser_review.py``) does the same across a restart of the server.
"""

from __future__ import annotations

import csv
import hashlib
import io

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from fakeusers.audit import AuditTrail
from fakeusers.database import Database
from fakeusers.verdicts import VerdictStore
from tests.app.conftest import (
    assert_clean,
    buttons,
    click,
    download_button,
    goto,
    metric,
    new_app,
    train,
    upload,
)
from views import _state as state

UNREACHABLE = "postgresql+psycopg://x@/y?host=/nonexistent"
# Deferred downloads' builders by file ID: AppTest drops its media file manager after each run.
BUILDERS: dict[str, object] = {}


@pytest.fixture(autouse=True)
def kept_builders(monkeypatch: pytest.MonkeyPatch) -> None:
    original = MediaFileManager.add_deferred

    def add_deferred(self, data, *args, **kwargs) -> str:
        file_id = original(self, data, *args, **kwargs)
        BUILDERS[file_id] = data
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)


@pytest.fixture(autouse=True)
def review_db(tmp_path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'review.db'}"
    monkeypatch.setenv("FAKEUSERS_DB_URL", url)
    return url


def review_page(labelled: bytes, name: str | None = "Ana") -> AppTest:
    at = train(upload(new_app(), ("train.csv", labelled)))
    if name is not None:
        at.sidebar.text_input(key=state.ANALYST_INPUT).set_value(name).run()
    return goto(at, "review")


def progress(at: AppTest) -> str:
    (bar,) = at.get("progress")
    return bar.proto.text


def shown_user(at: AppTest) -> str:
    (header,) = [h.value for h in at.subheader if h.value.startswith("User ")]
    return header.removeprefix("User ")


def queue_size(at: AppTest) -> int:
    return int(progress(at).strip("*").split(" of ")[1].split()[0].replace(",", ""))


def read_csv(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def deferred_download(at: AppTest, label: str) -> bytes:
    """What the browser gets when it clicks a deferred download button: its builder's bytes."""
    return BUILDERS[download_button(at, label).proto.deferred_file_id]()


def test_verdicts_advance_the_queue_and_decide_on_the_decisions_page(
    labelled: bytes, review_db: str
) -> None:
    at = review_page(labelled)
    assert_clean(at)
    total = queue_size(at)
    assert progress(at) == f"**0 of {total:,} reviewed**"
    assert total == int(goto(at, "decisions") and metric(at, "Users flagged").replace(",", ""))
    goto(at, "review")
    first = shown_user(at)
    assert metric(at, "In the queue") == f"1 of {total:,}"
    assert any("Why the model flags this user" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 3, "timeline and the two mixes"

    at.text_input(key=state.REVIEW_NOTE).set_value("40 emails in 5 minutes").run()
    click(at, "Fake (confirmed)")
    assert_clean(at)
    assert progress(at) == f"**1 of {total:,} reviewed**"
    second = shown_user(at)
    assert second != first, "the next user without a verdict is shown"
    assert at.text_input(key=state.REVIEW_NOTE).value == "", "the note went with the verdict"
    click(at, "Real (false alarm)")
    assert progress(at) == f"**2 of {total:,} reviewed**"
    assert any(f"User {second} recorded as real" in s.value for s in at.success)

    held = VerdictStore(Database(review_db)).latest()
    assert {u: v.verdict for u, v in held.items()} == {first: "fake", second: "real"}
    fake = held[first]
    assert (fake.note, fake.analyst, fake.analyst_verified) == (
        "40 emails in 5 minutes",
        "Ana",
        False,
    )
    assert fake.threshold == pytest.approx(0.2), "M=1, F=4"
    assert fake.probability == pytest.approx(float(metric_p(at, first)))

    goto(at, "decisions")
    assert_clean(at)
    table = at.dataframe[0].value
    assert second not in set(table["UserId"]), "the cleared user is not flagged"
    assert table.set_index("UserId").loc[first, "why"] == "confirmed fake"
    assert set(table["why"]) == {"confirmed fake", "model"}
    assert metric(at, "Users flagged") == f"{total - 1:,}"

    data = deferred_download(at, "Download flagged users (CSV)")
    rows = read_csv(data)
    assert second not in {r["UserId"] for r in rows}
    assert {r["UserId"]: r["why"] for r in rows}[first] == "confirmed fake"
    verdicts = AuditTrail(Database(review_db)).entries(action="verdict")
    assert list(verdicts["detail"].str.split(";").str[0]) == ["0 fake, 1 real", "1 fake, 0 real"]
    assert set(verdicts["cost_fp"]) == {1.0} and set(verdicts["cost_fn"]) == {4.0}
    (row,) = AuditTrail(Database(review_db)).entries(action="download").itertuples()
    assert row.actor == "Ana" and row.count == total - 1
    assert row.sha256 == hashlib.sha256(data).hexdigest()
    assert (row.cost_fp, row.cost_fn, row.threshold) == (1.0, 4.0, pytest.approx(0.2))

    goto(at, "users")  # compares flagged users with the others: verdicts included
    assert_clean(at)


def metric_p(at: AppTest, user: str) -> float:
    """The probability the Decisions table shows for ``user`` (from the session's scores)."""
    scored = state.scoring.score_log(
        at.session_state[state.DATASET].log, at.session_state[state.MODEL].model
    )
    return float(scored.p[list(scored.user_ids).index(user)])


def test_without_a_name_nothing_is_recorded_and_the_page_says_why(
    labelled: bytes, review_db: str
) -> None:
    at = review_page(labelled, name=None)
    assert any("Type your name in the sidebar" in w.value for w in at.warning)
    first = shown_user(at)
    click(at, "Fake (confirmed)")
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert "Type your name in the sidebar" in error and "nothing is recorded" in error
    assert progress(at).startswith("**0 of")
    assert shown_user(at) == first
    assert VerdictStore(Database(review_db)).latest() == {}


def test_a_selection_gets_one_verdict_and_a_verdict_can_be_reverted(
    labelled: bytes, review_db: str
) -> None:
    at = review_page(labelled)
    table = at.dataframe[0]
    picked = list(table.value["UserId"].iloc[[1, 2, 4]])
    at.session_state[table.key] = {"selection": {"rows": [1, 2, 4], "columns": [], "cells": []}}
    at.run()
    click(at, "Fake: the 3 selected")
    assert_clean(at)
    assert progress(at).startswith("**3 of")
    assert set(VerdictStore(Database(review_db)).latest()) == set(picked)
    assert buttons(at, "Fake: the 0 selected"), "the selection is cleared"
    queue = at.dataframe[0].value
    assert list(queue["verdict"].iloc[-3:]) == ["confirmed fake"] * 3, "reviewed users go last"

    at.session_state[at.dataframe[0].key] = {
        "selection": {"rows": [len(queue) - 1], "columns": [], "cells": []}
    }
    at.run()
    click(at, "Show the first selected")
    user = shown_user(at)
    assert user == queue["UserId"].iloc[-1] and metric(at, "Verdict") == "confirmed fake"
    click(at, "Revert")
    assert any("Say why" in e.value for e in at.error), "a revert needs a reason"
    (reason,) = [t for t in at.text_input if t.label == "Why revert it (recorded)"]
    reason.set_value("clicked the wrong row").run()
    click(at, "Revert")
    assert_clean(at)
    assert progress(at).startswith("**2 of")
    assert metric(at, "Verdict") == "none yet"
    assert user not in VerdictStore(Database(review_db)).latest()

    click(at, "Previous")
    assert shown_user(at) != user
    click(at, "Next")
    assert_clean(at)

    trail = at.dataframe[-1].value
    assert list(trail["action"][:2]) == ["revert", "verdict"]
    at.selectbox(key=state.AUDIT_ACTION).set_value("verdict").run()
    assert set(at.dataframe[-1].value["action"]) == {"verdict"}
    at.text_input(key=state.AUDIT_ACTOR).set_value("Bob").run()
    assert at.dataframe[-1].value.empty
    audit = read_csv(deferred_download(at, "Audit trail (CSV)"))
    assert audit == [], "the download holds what the filters keep"


def test_the_analysts_name_survives_a_reload(labelled: bytes) -> None:
    at = review_page(labelled, name="  Ana Lyst ")
    assert at.query_params["analyst"] in ("Ana Lyst", ["Ana Lyst"])
    fresh = AppTest.from_file(str(at._script_path), default_timeout=60)
    for key, value in at.query_params.items():
        fresh.query_params[key] = value
    fresh.run()
    assert fresh.session_state[state.ANALYST] == "Ana Lyst"
    assert fresh.sidebar.text_input(key=state.ANALYST_INPUT).value == "Ana Lyst"


def test_an_unreachable_database_warns_and_scoring_still_works(
    labelled: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKEUSERS_DB_URL", UNREACHABLE)
    at = review_page(labelled)
    assert not at.exception
    assert any("Verdicts not applied" in w.value and "/nonexistent" in w.value for w in at.warning)
    assert progress(at).startswith("**0 of")
    click(at, "Fake (confirmed)")
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert "Cannot" in error and "review database" in error and "scoring and deciding" in error

    goto(at, "decisions")
    assert_clean(at)
    assert any("Verdicts not applied" in w.value for w in at.warning)
    assert int(metric(at, "Users flagged").replace(",", "")) > 0
    assert set(at.dataframe[0].value["why"]) == {"model"}
    data = deferred_download(at, "Download flagged users (CSV)")
    assert read_csv(data), "the download is served though the trail cannot record it"
