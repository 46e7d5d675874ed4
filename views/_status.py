"""Where the session stands, in words: the sidebar and Home summaries, and scoring problems.

Shared by ``app.py`` (the sidebar on every page), Home, Users and Decisions, so that every
page names the data and the model the same way.
"""

from __future__ import annotations

import streamlit as st

from fakeusers import scoring
from fakeusers.errors import FakeusersError
from views import _state as state


def data_summary() -> str:
    loaded = state.dataset()
    if loaded is None:
        return "No data loaded."
    report = loaded.log.report
    kind = (
        f"labelled, {report.fake_users:,} fake ({report.fake_share:.1%})"
        if report.labelled
        else "unlabelled"
    )
    return f"**{', '.join(report.files)}**  \n{report.users:,} users, {report.rows:,} rows, {kind}"


def model_summary() -> str:
    current = state.active_model()
    if current is None:
        return "No model active."
    name = f"**{current.name}**" if current.name else "**trained here, not saved**"
    cv = current.model.cv
    needs = ", needs timestamps" if current.model.vocabulary.timestamps else ""
    return f"{name}  \n{current.model.model_type}, CV ROC AUC {cv['roc_auc']:.3f}{needs}"


def verdicts_warning() -> None:
    """Warn, while users are scored, that the analysts' verdicts cannot be read."""
    if state.dataset() is None or state.active_model() is None:
        return
    warning = state.held().warning
    if warning:
        st.warning(warning, icon=":material/warning:")


def cannot_score(exc: FakeusersError) -> str:
    """The message for an active model that cannot score the loaded log, naming the model."""
    current = state.active_model()
    assert current is not None
    name = f"'{current.name}'" if current.name else "(trained here, not saved)"
    return f"The active model {name} cannot score the loaded log: {exc}"


def link_to_a_model_that_scores() -> None:
    """Point to the Model page, with the fix when the model needs timestamps the log lacks."""
    loaded, current = state.dataset(), state.active_model()
    assert loaded is not None and current is not None
    missing_time = current.model.vocabulary.timestamps and loaded.log.timestamps is None
    label = (
        "Model page: train one without timestamps, or load one that doesn't need them"
        if missing_time
        else "Go to Model"
    )
    st.page_link("views/model.py", label=label, icon=":material/model_training:")


def scored_or_stop(needs: str) -> scoring.ScoredLog:
    """The scored log a page works on; else say what is missing (``needs``: why the page
    needs data and a model) or why the model cannot score, and stop the page."""
    if state.dataset() is None or state.active_model() is None:
        st.info(f"Load data and a model first: {needs}.")
        st.page_link("views/data.py", label="Go to Data", icon=":material/upload_file:")
        st.page_link("views/model.py", label="Go to Model", icon=":material/model_training:")
        st.stop()
    try:
        return state.scored_log()
    except FakeusersError as exc:
        st.error(cannot_score(exc), icon=":material/error:")
        link_to_a_model_that_scores()
        st.stop()


def identity() -> None:
    """Who is acting, in the sidebar: the signed-in identity, a way to sign in, or a name to
    type (recorded as not verified)."""
    who = state.signed_in()
    if who is not None:
        st.sidebar.markdown(f"Signed in as **{who.name}**")
        if state.identity_header() is None:
            st.sidebar.button("Sign out", on_click=st.logout, icon=":material/logout:")
        return
    if state.identity_header() is not None:
        st.sidebar.warning(
            f"No signed-in user: the proxy did not send {state.identity_header()}. Verdicts "
            "cannot be recorded.",
            icon=":material/lock:",
        )
        return
    if state.identity_required():
        st.sidebar.button("Sign in", on_click=st.login, icon=":material/login:")
        return
    st.sidebar.text_input(
        "Your name",
        placeholder="recorded with your verdicts",
        help="Recorded with every verdict and download as you typed it (not verified). "
        "It stays in the address bar, so a reload keeps it.",
        max_chars=200,
        **state.bound(state.ANALYST, state.ANALYST_INPUT),
    )
