"""The fakeusers dashboard: ``streamlit run app.py``.

A router only: page config, the session's shared state, the navigation, and a sidebar that
shows the active data and model on every page and asks once for the analyst's name. The
pages live in ``views/``; the session's keys and caches in ``views/_state.py``, its summaries
in ``views/_status.py``, what survives a reload in ``views/_url.py``; the logic in
``fakeusers/``.
"""

from __future__ import annotations

import streamlit as st

from views import _state as state
from views import _status, _url

st.set_page_config(page_title="fakeusers", page_icon=":material/policy:", layout="wide")
for key, value in state.DEFAULTS.items():
    st.session_state.setdefault(key, value)
_url.restore()  # a reload starts a new session: take back what the URL names

page = st.navigation(
    [
        st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("views/data.py", title="Data", icon=":material/upload_file:"),
        st.Page("views/users.py", title="Users", icon=":material/group:"),
        st.Page("views/model.py", title="Model", icon=":material/model_training:"),
        st.Page("views/decisions.py", title="Decisions", icon=":material/gavel:"),
        st.Page("views/review.py", title="Review", icon=":material/fact_check:"),
    ]
)
sidebar = st.sidebar.empty()
_status.identity()


def show_status() -> None:
    with sidebar.container():
        st.caption("Data")
        st.markdown(_status.data_summary())
        st.caption("Model")
        st.markdown(_status.model_summary())


# Filled before the page runs, because a page that stops early (st.stop) ends the run at
# once; and again after it returns, so data loaded or a model trained on this run shows (in
# the sidebar and in the URL).
show_status()
_url.remember()
_status.verdicts_warning()
page.run()
show_status()
_url.remember()
