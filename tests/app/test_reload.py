"""A reload starts a new session: the URL brings back the log, the model, the rule and costs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from fakeusers.store import ModelStore
from tests.app.conftest import APP, TIMEOUT, click, goto, metric, new_app, scored, train, upload
from tests.support import trained
from views import _state as state


def reload(at: AppTest) -> AppTest:
    """What a browser reload does: a new session on the same URL."""
    fresh = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in at.query_params.items():
        fresh.query_params[key] = value
    return fresh.run()


def test_the_log_an_unsaved_model_and_the_rule_survive_a_reload(labelled: bytes) -> None:
    at = train(upload(new_app(), ("train.csv", labelled)))
    at = goto(at, "decisions")
    at.number_input(key=state.COST_FP_INPUT).set_value(2.0)
    at.number_input(key=state.COST_FN_INPUT).set_value(30.0)
    at.radio(key=state.RULE_INPUT).set_value(state.RULE_TOP_K).run()
    at.number_input(key=state.TOP_K_INPUT).set_value(25).run()
    before = (at.session_state[state.DATASET], at.session_state[state.MODEL])
    assert at.query_params["rule"] in ("top", ["top"]), at.query_params

    again = reload(at)
    assert again.session_state[state.DATASET] is before[0]
    assert again.session_state[state.MODEL] is before[1], "the unsaved model is not lost"
    assert again.session_state[state.COST_FP] == 2.0
    assert again.session_state[state.COST_FN] == 30.0
    assert again.session_state[state.RULE] == state.RULE_TOP_K
    assert again.session_state[state.TOP_K] == 25
    again = goto(again, "decisions")
    assert metric(again, "Users flagged") == "25"


def test_a_saved_model_comes_back_from_the_store(labelled: bytes, isolated: Path) -> None:
    ModelStore(isolated).save("june", trained(20_000, seed=1, timestamps=True))
    at = upload(new_app(), ("train.csv", labelled))
    goto(at, "model")
    at.selectbox(key=state.MODEL_PICK).set_value("june@1")
    click(at, "Load model")
    again = reload(at)
    assert again.session_state[state.MODEL].name == "june@1"


def test_a_url_that_names_nothing_known_starts_an_empty_session() -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    url = {"data": "0" * 32, "model": "nobody@3", "m": "abc", "f": "inf", "k": "-5"}
    for key, value in url.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    assert at.session_state[state.DATASET] is None and at.session_state[state.MODEL] is None
    assert at.session_state[state.COST_FP] == 1.0 and at.session_state[state.TOP_K] == 100
    assert at.session_state[state.COST_FN] == 4.0  # an infinite cost is not a cost


def test_a_typed_threshold_comes_back_to_the_last_digit(labelled: bytes) -> None:
    at = goto(train(upload(new_app(), ("train.csv", labelled))), "decisions")
    at.radio(key=state.RULE_INPUT).set_value(state.RULE_THRESHOLD).run()
    at.number_input(key=state.THRESHOLD_INPUT).set_value(0.123456789012).run()
    again = reload(at)
    assert again.session_state[state.RULE] == state.RULE_THRESHOLD
    assert again.session_state[state.THRESHOLD] == 0.123456789012


def test_the_user_shown_up_close_survives_a_reload(labelled: bytes) -> None:
    at = train(upload(new_app(), ("train.csv", labelled)))
    scores = scored(at)
    ids = at.session_state[state.DATASET].log.user_ids
    # Beyond the 50 riskiest that the Users page lists without a search.
    wanted = str(ids[int(scores.order[len(ids) // 2])])
    at.session_state[state.USER] = wanted
    at = goto(at, "users")
    assert metric(at, "User") == wanted
    assert at.query_params["user"] in (wanted, [wanted]), at.query_params

    again = goto(reload(at), "users")
    assert not again.exception
    assert metric(again, "User") == wanted
    assert again.selectbox(key=state.USER_PICK).value == int(np.flatnonzero(ids == wanted)[0])


def test_the_candidate_models_survive_a_reload(labelled: bytes) -> None:
    at = train(train(upload(new_app(), ("train.csv", labelled))), "logistic")
    before = at.session_state[state.CANDIDATES]
    assert len(before) == 2
    again = goto(reload(at), "model")
    assert not again.exception
    assert [c.key for c in again.session_state[state.CANDIDATES]] == [c.key for c in before]
    assert again.session_state[state.MODEL].key == before[-1].key
    (table,) = again.table
    assert table.value.index.tolist() == [before[1].label, before[0].label]
