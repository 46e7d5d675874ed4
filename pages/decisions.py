"""Decisions: set the two costs (or a review capacity), see who is flagged and what it costs."""

from __future__ import annotations

import math

import streamlit as st

from fakeusers import explain, export, plots
from fakeusers.errors import FakeusersError
from pages import _state as state

PAGE_ROWS = 100

st.title("Decisions")
if state.dataset() is None or state.active_model() is None:
    st.info("Load data and a model first: decisions need users' probabilities.")
    st.page_link("pages/data.py", label="Go to Data", icon=":material/upload_file:")
    st.page_link("pages/model.py", label="Go to Model", icon=":material/model_training:")
    st.stop()
try:
    scored = state.scores()
except FakeusersError as exc:
    st.error(state.cannot_score(exc), icon=":material/error:")
    state.link_to_a_model_that_scores()
    st.stop()
if scored.out_of_fold:
    st.caption(
        "These users trained the active model, so their probabilities here are the "
        "cross-validated (out-of-fold) ones: the costs below are what the model would have "
        "done on users it had not seen."
    )


def cost_input(label: str, state_key: str, input_key: str, slider_key: str) -> None:
    value = float(st.session_state[state_key])
    top = max(100.0, 10.0 ** math.ceil(math.log10(value))) if value > 0 else 100.0
    typed, slid = st.columns([1, 3], vertical_alignment="bottom")
    typed.number_input(label, min_value=0.0, step=1.0, **state.bound(state_key, input_key))
    slid.slider(
        f"{label}, slider",
        min_value=0.0,
        max_value=top,
        step=top / 200,
        label_visibility="collapsed",
        **state.bound(state_key, slider_key),
    )


@st.fragment
def decide() -> None:
    cost_input(
        "Cost of blocking a real user (M)",
        state.COST_FP,
        state.COST_FP_INPUT,
        state.COST_FP_SLIDER,
    )
    cost_input(
        "Cost of missing a fake user (F)",
        state.COST_FN,
        state.COST_FN_INPUT,
        state.COST_FN_SLIDER,
    )
    rule_col, k_col = st.columns([2, 1], vertical_alignment="bottom")
    rule = rule_col.radio(
        "Decision rule",
        [state.RULE_COSTS, state.RULE_TOP_K],
        horizontal=True,
        **state.bound(state.RULE, state.RULE_INPUT),
    )
    if rule == state.RULE_TOP_K:
        k_col.number_input(
            "Users to review (K)",
            min_value=0,
            step=10,
            **state.bound(state.TOP_K, state.TOP_K_INPUT),
        )
    try:
        decision = state.decide(scored)
    except FakeusersError as exc:
        st.error(str(exc), icon=":material/error:")
        return

    cost_fp, cost_fn = state.costs()
    ranked = export.rank_flagged(scored.p, decision.flagged, scored.order)
    cut = decision.threshold
    if cut is None:
        cut = float(scored.p[ranked[-1]]) if ranked.size else None

    cols = st.columns(4)
    if decision.threshold is not None:
        cols[0].metric("Threshold M/(M+F)", f"{decision.threshold:.4g}")
    else:
        cols[0].metric("Lowest flagged P(fake)", "none" if cut is None else f"{cut:.4g}")
    cols[1].metric("Users flagged", f"{decision.n_flagged:,}")
    cols[2].metric("Share flagged", f"{decision.share_flagged:.2%}")
    cols[3].metric(
        "Expected cost", f"{decision.expected_cost:,.2f}", help="From the probabilities."
    )
    outcome = decision.outcome
    optimum = scored.curve.optimum(cost_fp, cost_fn)
    if outcome is not None:
        cols = st.columns(4)
        cols[0].metric("Precision", f"{outcome.precision:.1%}", help="Flagged users who are fake.")
        cols[1].metric("Recall", f"{outcome.recall:.1%}", help="Fake users who are flagged.")
        cols[2].metric("Realised cost", f"{outcome.realised_cost:,.2f}", help="fp × M + fn × F")
        cols[3].metric(
            "Lowest realised cost",
            f"{optimum[1]:,.2f}",
            f"at threshold {optimum[0]:.3g}",
            delta_color="off",
            delta_arrow="off",
        )
    else:
        st.caption(
            "The log has no usable labels: costs are expected costs, from the probabilities."
        )

    curve = plots.cost_curve_figure(scored.curve, cost_fp, cost_fn, cut, optimum)
    if outcome is None:
        st.plotly_chart(curve)
    else:
        left, right = st.columns([3, 2])
        left.plotly_chart(curve)
        right.plotly_chart(plots.confusion_figure(outcome))

    st.subheader("Flagged users, highest risk first")
    pages = max(1, math.ceil(ranked.size / PAGE_ROWS))
    if st.session_state.get(state.TABLE_PAGE, 1) > pages:
        st.session_state[state.TABLE_PAGE] = pages
    page_col, download_col = st.columns([1, 3], vertical_alignment="bottom")
    page = page_col.number_input("Page", min_value=1, max_value=pages, step=1, key=state.TABLE_PAGE)
    first = (page - 1) * PAGE_ROWS
    shown = ranked[first : first + PAGE_ROWS]
    reasons = None
    with state.user_action("explaining the flagged users"):
        X, contrib = state.explanations(shown)
        reasons = explain.top_reasons(contrib, X)
    table = export.flagged_table(
        state.dataset().log.user_ids, scored.p, scored.n_events, shown, reasons
    )
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "is_fake_probability": st.column_config.ProgressColumn(
                "P(fake)", format="%.3f", min_value=0.0, max_value=1.0
            ),
            "events": st.column_config.NumberColumn("events", format="localized"),
            "top_reason": st.column_config.TextColumn("top reason (log-odds)"),
        },
    )
    if ranked.size:
        st.caption(
            f"Users {first + 1:,}-{first + shown.size:,} of {ranked.size:,} "
            f"(page {page:,} of {pages:,}). The download holds all flagged users."
        )
    else:
        st.info("Nobody is flagged with these settings.")
    download_col.download_button(
        "Download flagged users (CSV)",
        data=state.flagged_csv(scored, ranked),
        file_name="flagged_users.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        disabled=ranked.size == 0,
    )


decide()
