"""Users: how the population behaves, and one user up close (their events and why they score)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import streamlit as st

from fakeusers import plots
from fakeusers.errors import FakeusersError
from views import _state as state
from views import _status, _url

st.title("Users")
loaded = state.dataset()
if loaded is None:
    st.info("Load a log first.")
    st.page_link("views/data.py", label="Go to Data", icon=":material/upload_file:")
    st.stop()
log = loaded.log

scored = decision = None
try:
    scored = state.scored_log()
except FakeusersError as exc:
    st.warning(f"Users are not scored. {_status.cannot_score(exc)}", icon=":material/warning:")
    _status.link_to_a_model_that_scores()
if scored is not None:
    try:
        scored = scored.with_rule(state.rule())
        decision = scored.decision
    except FakeusersError as exc:
        st.caption(f"No decision to compare with: {exc}")
elif state.active_model() is None:
    st.caption("Train or load a model on the Model page to see probabilities.")


def population() -> None:
    """How the users behave, compared by label or by decision."""
    ways = {}
    if log.labels is not None:
        ways["label (real vs fake)"] = plots.Groups.from_labels(log.labels)
    if decision is not None:
        ways["decision (flagged vs not)"] = plots.Groups.from_flags(decision.flagged)
    if ways:
        way = st.radio("Compare users by", list(ways), horizontal=True)
        groups = ways[way]
    else:
        groups = plots.Groups.everyone(log.n_users)

    left, middle, right = st.columns(3)
    left.plotly_chart(plots.events_per_user_figure(log, groups))
    middle.plotly_chart(plots.event_mix_figure(log, groups))
    right.plotly_chart(plots.category_mix_figure(log, groups))

    left, right = st.columns(2)
    p = scored.p if scored is not None else None
    left.plotly_chart(plots.share_map_figure(log, p, groups))
    if scored is not None:
        label_groups = plots.Groups.from_labels(log.labels) if log.labels is not None else None
        threshold = decision.threshold if decision is not None else None
        right.plotly_chart(plots.probability_histogram_figure(scored.p, label_groups, threshold))
    else:
        right.info("The probability histogram appears once users are scored.")


def find_users(query: str, limit: int = 50) -> np.ndarray:
    """Users whose ID contains ``query``: the riskiest first when scored, else in log order."""
    if scored is not None:
        return scored.find_users(query, limit)
    if not query.strip():
        return np.arange(min(limit, log.n_users))
    hits = pc.match_substring(pa.array(log.user_ids, pa.string()), query.strip())
    return np.flatnonzero(np.asarray(hits))[:limit]


def remember_pick(ids: np.ndarray) -> None:
    st.session_state[state.USER] = str(ids[st.session_state[state.USER_PICK]])


@st.fragment
def one_user() -> None:
    st.subheader("One user")
    search, pick = st.columns([1, 2])
    query = search.text_input(
        "Search a user ID", key=state.USER_SEARCH, placeholder="part of an ID"
    )
    ids = log.user_ids
    candidates = find_users(query)
    focus = state.focused_user(log)  # opened from the Decisions page, or picked before
    if focus is not None and focus not in candidates and query.strip() in ids[focus]:
        candidates = np.concatenate([[focus], candidates])
    if candidates.size == 0:
        st.info(f"No user ID contains {query!r}.")
        return
    if focus is not None and focus in candidates:
        st.session_state[state.USER_PICK] = focus

    def label(i: int) -> str:
        return ids[i] if scored is None else f"{ids[i]}  ·  P(fake) {scored.p[i]:.3f}"

    hint = "highest risk first" if scored is not None else "in log order"
    user = pick.selectbox(
        f"User ({candidates.size} shown, {hint})",
        candidates.tolist(),
        format_func=label,
        key=state.USER_PICK,
        on_change=remember_pick,
        args=(ids,),
    )
    st.session_state[state.USER] = str(ids[user])
    _url.remember()  # a fragment rerun skips app.py: keep the URL on this user
    rows = log.rows_of(ids[user])
    cols = st.columns(4)
    cols[0].metric("User", str(ids[user]))
    cols[1].metric("P(fake)", "not scored" if scored is None else f"{scored.p[user]:.3f}")
    truth = {1: "fake", 0: "real", -1: "conflicting"}
    cols[2].metric("Label", "none" if log.labels is None else truth[int(log.labels[user])])
    cols[3].metric("Events", f"{len(rows['Event']):,}")
    st.plotly_chart(plots.timeline_figure(rows))
    left, right = st.columns(2)
    left.plotly_chart(
        plots.user_mix_figure(rows["Event"], log.report.events, "Events vs all users")
    )
    right.plotly_chart(
        plots.user_mix_figure(rows["Category"], log.report.categories, "Categories vs all users")
    )
    if scored is None:
        return
    with state.user_action("explaining this user's probability"):
        reasons = state.reasons([user])[0]
        st.markdown("**Why this user scores as they do**")
        if reasons:
            st.markdown("\n".join(f"{n}. {r.text}" for n, r in enumerate(reasons, 1)))
        else:
            st.markdown("No feature pushes this user towards fake.")
        X, contrib = state.explained([user])
        st.plotly_chart(plots.contributions_figure(contrib.iloc[0], X.iloc[0]))
        st.caption(
            "“Real users” are the real users the model was trained on; “× more likely” is the "
            f"factor on the odds of being fake. Contributions in log-odds: "
            f"{scored.explanation_method()}."
        )


# Opened from a click in the Decisions page's flagged list: that user first.
if st.session_state.pop(state.USER_OPENED, False):
    st.page_link(
        "views/decisions.py", label="Back to the flagged users", icon=":material/arrow_back:"
    )
    one_user()
    population()
else:
    population()
    one_user()
