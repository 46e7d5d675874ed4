"""Every page renders from the entrypoint, with and without data; sessions and sidebar."""

from __future__ import annotations

import pytest

from tests.app.conftest import PAGES, assert_clean, goto, metric, new_app, scored, train, upload
from views import _state as state


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_data_and_points_to_the_next_step(page: str) -> None:
    at = goto(new_app(), page)
    assert_clean(at)
    assert at.title, "every page has a title"
    if page in ("data", "users", "decisions"):
        assert at.info, "without data the page says what to do"
    if page in ("home", "users", "decisions"):
        assert "data" in [link.proto.page for link in at.page_link]


def test_every_page_renders_with_data_and_a_model(labelled: bytes) -> None:
    at = upload(new_app(), ("train.csv", labelled))
    train(at)
    for page in PAGES:
        goto(at, page)
        assert_clean(at)
    goto(at, "users")
    # events per user, two mixes, the user map, the histogram, and the drill-down's views
    assert len(at.get("plotly_chart")) >= 9
    goto(at, "decisions")
    assert metric(at, "Users flagged")
    assert len(at.dataframe) == 1


def test_home_links_to_the_next_step_as_the_session_progresses(labelled: bytes) -> None:
    def next_links(at) -> list[str]:
        goto(at, "home")
        return [link.proto.page for link in at.page_link]

    at = new_app()
    assert next_links(at) == ["data"]
    upload(at, ("train.csv", labelled))
    assert next_links(at) == ["model"]
    train(at)
    assert next_links(at)[0] == "decisions"


def test_sidebar_shows_the_active_data_and_model_on_every_page(labelled: bytes) -> None:
    at = upload(new_app(), ("train.csv", labelled))
    train(at)
    model = at.session_state[state.MODEL].model
    log = at.session_state[state.DATASET].log
    for page in PAGES:
        goto(at, page)
        sidebar = " ".join(m.value for m in at.sidebar.markdown)
        assert "train.csv" in sidebar
        assert f"{log.n_users:,} users" in sidebar
        assert "trained here, not saved" in sidebar
        assert f"{model.cv['roc_auc']:.3f}" in sidebar


def test_two_sessions_do_not_share_data(labelled: bytes) -> None:
    first = upload(new_app(), ("mine.csv", labelled))
    second = goto(new_app(), "data")
    assert first.session_state[state.DATASET] is not None
    assert second.session_state[state.DATASET] is None
    assert second.info  # "Upload one or more log CSVs ..."
    assert not second.metric


def test_users_page_drill_down_explains_the_chosen_user(labelled: bytes) -> None:
    at = upload(new_app(), ("train.csv", labelled))
    train(at)
    goto(at, "users")
    scores = scored(at)
    ids = at.session_state[state.DATASET].log.user_ids
    riskiest = int(scores.order[0])
    assert metric(at, "User") == ids[riskiest], "without a search, the riskiest user first"

    wanted = int(scores.order[len(ids) // 2])
    at.text_input(key=state.USER_SEARCH).set_value(ids[wanted]).run()
    assert_clean(at)
    assert at.selectbox(key=state.USER_PICK).options == [
        f"{ids[wanted]}  ·  P(fake) {scores.p[wanted]:.3f}"
    ]
    assert metric(at, "User") == ids[wanted]
    assert metric(at, "P(fake)") == f"{scores.p[wanted]:.3f}"
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("What pushes this user" in t for t in titles)
    assert any("Event sequence" in t for t in titles)

    at.text_input(key=state.USER_SEARCH).set_value("no-such-user").run()
    assert_clean(at)
    assert any("No user ID contains" in i.value for i in at.info)


def test_users_page_groups_by_label_or_by_decision(labelled: bytes) -> None:
    at = upload(new_app(), ("train.csv", labelled))
    goto(at, "users")
    assert not at.radio or "decision (flagged vs not)" not in at.radio[0].options
    train(at)
    goto(at, "users")
    (way,) = at.radio
    assert way.options == ["label (real vs fake)", "decision (flagged vs not)"]
    way.set_value("decision (flagged vs not)").run()
    assert_clean(at)
    spec = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "flagged" in spec and "not flagged" in spec


def test_sidebar_status_shows_on_pages_that_stop_early(labelled: bytes) -> None:
    def sidebar(at, page: str) -> list[str]:
        goto(at, page)
        assert_clean(at)
        return [m.value for m in at.sidebar.markdown]

    at = new_app()
    for page in ("decisions", "users", "data"):
        assert sidebar(at, page) == ["No data loaded.", "No model active."], page
    upload(at, ("train.csv", labelled))
    for page in ("decisions", "users"):
        data, model = sidebar(at, page)
        assert "train.csv" in data, page
        assert model == "No model active.", page


def test_sidebar_shows_a_model_trained_on_this_run_once(labelled: bytes) -> None:
    at = train(upload(new_app(), ("train.csv", labelled)))
    data, model = [m.value for m in at.sidebar.markdown]
    assert "train.csv" in data
    assert "trained here, not saved" in model
