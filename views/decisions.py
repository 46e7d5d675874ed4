"""Decisions: set the two costs (or a review capacity), see who is flagged and what it costs."""

from __future__ import annotations

import datetime as dt
import functools
import math

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from fakeusers import export, plots
from fakeusers.decisioninputs import MAX_COST
from fakeusers.errors import FakeusersError
from fakeusers.scoring import ScoredLog
from views import _state as state
from views import _status, _url

PAGE_ROWS = 100
QUALITY = (
    ("roc_auc", "ROC AUC", ".3f"),
    ("average_precision", "average precision", ".3f"),
    ("brier", "Brier score", ".4f"),
    ("log_loss", "log loss", ".4f"),
)

st.title("Decisions")
base = _status.scored_or_stop("decisions need users' probabilities")
for note in base.notes():
    st.caption(note)
if base.metrics is not None:
    kind = "out-of-fold" if base.out_of_fold else "on this log"
    quality = " · ".join(
        f"{label} {'n/a' if base.metrics[key] is None else format(base.metrics[key], form)}"
        for key, label, form in QUALITY
    )
    st.caption(f"Model quality ({kind}): {quality}")


def cost_input(label: str, state_key: str, input_key: str, slider_key: str) -> None:
    value = float(st.session_state[state_key])
    typed, slid = st.columns([1, 3], vertical_alignment="bottom")
    typed.number_input(label, min_value=0.0, step=1.0, **state.bound(state_key, input_key))
    if value > MAX_COST:
        return  # refused by the rule, whose message shows below; no slider reaches it
    top = max(100.0, 10.0 ** math.ceil(math.log10(value))) if value > 0 else 100.0
    slid.slider(
        f"{label}, slider",
        min_value=0.0,
        max_value=top,
        step=top / 200,
        label_visibility="collapsed",
        **state.bound(state_key, slider_key),
    )


def rule_inputs() -> None:
    """The two costs, and the review capacity K or the threshold when that is the rule."""
    cost_input(
        "Cost of blocking a real user (M)", state.COST_FP, state.COST_FP_INPUT, state.COST_FP_SLIDER
    )
    cost_input(
        "Cost of missing a fake user (F)", state.COST_FN, state.COST_FN_INPUT, state.COST_FN_SLIDER
    )
    rule_col, k_col = st.columns([2, 1], vertical_alignment="bottom")
    mode = rule_col.radio(
        "Decision rule",
        [state.RULE_COSTS, state.RULE_TOP_K, state.RULE_THRESHOLD],
        horizontal=True,
        **state.bound(state.RULE, state.RULE_INPUT),
    )
    if mode == state.RULE_TOP_K:
        k_col.number_input(
            "Users to review (K)",
            min_value=0,
            step=10,
            **state.bound(state.TOP_K, state.TOP_K_INPUT),
        )
    elif mode == state.RULE_THRESHOLD:
        k_col.number_input(
            "Flag when P(fake) ≥",
            min_value=0.0,
            max_value=1.0,
            step=0.01,
            format="%.4f",
            **state.bound(state.THRESHOLD, state.THRESHOLD_INPUT),
        )


def use_threshold(threshold: float) -> None:
    """Switch the rule to the typed threshold, set to ``threshold``."""
    st.session_state[state.RULE] = state.RULE_THRESHOLD
    st.session_state[state.THRESHOLD] = threshold


def applicability(scored: ScoredLog) -> None:
    """Whether the model fits this log, above the decision it qualifies."""
    check = scored.applicability
    reasons = "\n".join(f"- {reason}" for reason in check.reasons[:3])
    if check.status == "does_not_fit":
        st.error(
            "**This log does not fit the model: the flags and the costs below are unreliable.** "
            f"Do not act on them without checking.\n\n{reasons}",
            icon=":material/gpp_bad:",
        )
    elif check.status == "shifted":
        st.warning(
            f"**This log has shifted from the model's training data:** check the flags before "
            f"acting on them.\n\n{reasons}",
            icon=":material/warning:",
        )
    elif check.status == "unknown":
        st.info(f"**Cannot tell whether the model fits this log.**\n\n{reasons}")
    else:
        st.caption(f"The model fits this log. {check.reasons[0]}")


def summary(scored: ScoredLog) -> None:
    """What the decision flags and costs, the cost of every threshold, the confusion matrix."""
    decision, rule, ranked = scored.decision, scored.rule, scored.ranked_flagged
    cut = decision.threshold
    if cut is None:  # top K: the curve marks the lowest probability flagged
        cut = float(scored.p[ranked[-1]]) if ranked.size else None
    cols = st.columns(4)
    if rule.typed_threshold is not None:
        cols[0].metric("Threshold (typed)", f"{decision.threshold:.4g}")
    elif decision.threshold is not None:
        cols[0].metric("Threshold M/(M+F)", f"{decision.threshold:.4g}")
    else:
        cols[0].metric("Lowest flagged P(fake)", "none" if cut is None else f"{cut:.4g}")
    cols[1].metric("Users flagged", f"{decision.n_flagged:,}")
    cols[2].metric("Share flagged", f"{decision.share_flagged:.2%}")
    low, high = decision.expected_cost_interval
    unreliable = scored.applicability.status == "does_not_fit"
    cols[3].metric(
        "Expected cost (unreliable)" if unreliable else "Expected cost",
        f"{decision.expected_cost:,.2f}",
        f"likely between {low:,.1f} and {high:,.1f}",
        delta_color="off",
        delta_arrow="off",
        help="From the probabilities: if they are calibrated, the realised cost falls "
        "between these two amounts 9 times in 10."
        + (
            " This log does not fit the model, so they are not calibrated here: the cost "
            "can be far off."
            if unreliable
            else ""
        ),
    )
    outcome = decision.outcome
    optimum = scored.curve.optimum(rule.cost_fp, rule.cost_fn)
    if outcome is not None:
        cols = st.columns(4)
        cols[0].metric("Precision", f"{outcome.precision:.1%}", help="Flagged users who are fake.")
        cols[1].metric("Recall", f"{outcome.recall:.1%}", help="Fake users who are flagged.")
        cols[2].metric("Realised cost", f"{outcome.realised_cost:,.2f}", help="fp × M + fn × F")
        if optimum is not None:
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
    curve = plots.cost_curve_figure(scored.curve, rule.cost_fp, rule.cost_fn, cut, optimum)
    if outcome is None:
        left = st.container()
        left.plotly_chart(curve)
    else:
        left, right = st.columns([3, 2])
        left.plotly_chart(curve)
        right.plotly_chart(plots.confusion_figure(outcome))
    if optimum is not None:
        left.button(
            "Use the cheapest threshold",
            icon=":material/star:",
            on_click=use_threshold,
            args=(optimum[0],),
            disabled=decision.threshold == optimum[0],
            help=f"Flag when P(fake) ≥ {optimum[0]:.4g}, where the curve's cost is lowest "
            f"({'realised' if outcome is not None else 'expected'}).",
        )


def open_user(user_id: str) -> None:
    """Show ``user_id`` up close on the Users page; coming back finds no row selected."""
    st.session_state[state.USER] = user_id
    st.session_state[state.USER_OPENED] = True
    st.session_state[state.FLAGGED_PICKS] += 1
    st.switch_page("views/users.py")


def prepared(scored: ScoredLog, place: DeltaGenerator) -> pd.DataFrame | None:
    """The rows of a long flagged list with their reasons, built on request with progress.

    Kept for the session until the data, the model or the rule changes; None until built.
    """
    ranked = scored.ranked_flagged
    loaded, current = state.dataset(), state.active_model()
    assert loaded is not None and current is not None
    rule = scored.rule.describe() if scored.rule is not None else "no rule"
    wanted = (loaded.key, current.key, rule, ranked.size)
    kept = st.session_state.get(state.PREPARED)
    if kept is not None and kept[0] == wanted:
        return kept[1]
    st.session_state.pop(state.PREPARED, None)  # a stale list: free its memory
    slot = place.empty()
    if not slot.button(
        f"Prepare the download ({ranked.size:,} users)",
        icon=":material/build:",
        help="A long list takes a while to build: each user's reasons are worked out.",
    ):
        place.caption(
            f"{ranked.size:,} users are flagged: the list is built when you ask, and the page "
            "shows how far it has got."
        )
        return None
    slot.empty()  # the download buttons take its place
    failure = frame = None
    with st.status(
        f"Building the list of {ranked.size:,} flagged users with their reasons ...",
        expanded=True,
    ) as status:
        bar = st.progress(0.0, text=f"0 of {ranked.size:,} users")
        try:
            frame = export.table_in_parts(
                ranked,
                functools.partial(scored.table, reasons=True),
                progress=lambda done, total: bar.progress(
                    done / total, text=f"{done:,} of {total:,} users"
                ),
            )
            st.session_state[state.PREPARED] = (wanted, frame)
            status.update(
                label=f"The list of {ranked.size:,} flagged users is ready",
                state="complete",
                expanded=False,
            )
        except Exception as exc:
            failure = state.friendly("building the flagged list", exc)
            status.update(label="Building the list failed", state="error", expanded=False)
    if failure is not None:  # in the open, not inside the collapsed progress box
        st.error(failure, icon=":material/error:")
    return frame


def flagged_list(scored: ScoredLog) -> None:
    """The flagged users, a page at a time, and the download of all of them."""
    ranked = scored.ranked_flagged
    st.subheader("Flagged users, highest risk first")
    pages = max(1, math.ceil(ranked.size / PAGE_ROWS))
    if st.session_state.get(state.TABLE_PAGE, 1) > pages:
        st.session_state[state.TABLE_PAGE] = pages
    page_col, download_col = st.columns([1, 3], vertical_alignment="bottom")
    page = page_col.number_input("Page", min_value=1, max_value=pages, step=1, key=state.TABLE_PAGE)
    first = (page - 1) * PAGE_ROWS
    shown = ranked[first : first + PAGE_ROWS]
    table = None
    with state.user_action("explaining the flagged users"):
        table = state.table(shown)
    picked = st.dataframe(
        scored.table(shown) if table is None else table,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key=f"{state.FLAGGED_PICK}-{st.session_state[state.FLAGGED_PICKS]}",
        column_config={
            "is_fake_probability": st.column_config.ProgressColumn(
                "P(fake)", format="%.3f", min_value=0.0, max_value=1.0
            ),
            "events": st.column_config.NumberColumn("events", format="localized"),
            "reason_1": st.column_config.TextColumn("main reason", width="large"),
            "reason_2": st.column_config.TextColumn("second reason"),
            "reason_3": st.column_config.TextColumn("third reason"),
        },
    )
    rows = picked.selection.rows
    if rows and rows[0] < shown.size:
        open_user(str(scored.user_ids[shown[rows[0]]]))
    if ranked.size:
        st.caption(
            f"Users {first + 1:,}-{first + shown.size:,} of {ranked.size:,} "
            f"(page {page:,} of {pages:,}); click a row to see that user's events and reasons "
            "on the Users page. The download holds all flagged users."
        )
    else:
        st.info("Nobody is flagged with these settings.")
    now = dt.datetime.now(dt.UTC)
    if ranked.size <= export.BUILD_ON_REQUEST:  # quick enough to build when clicked
        for_spreadsheets = scored.flagged_csv
        exact_ids = functools.partial(scored.flagged_csv, for_spreadsheets=False)
    else:
        frame = prepared(scored, download_col)
        if frame is None:
            return
        for_spreadsheets = functools.partial(export.to_csv, frame)
        exact_ids = functools.partial(export.to_csv, frame, for_spreadsheets=False)
    spreadsheet, exact = download_col.columns(2)
    spreadsheet.download_button(
        "Download flagged users (CSV)",
        data=state.audited_download(scored, for_spreadsheets),  # built when clicked
        file_name=scored.download_name(now),
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        disabled=ranked.size == 0,
        help="For spreadsheets: an ID a spreadsheet would run as a formula gets a leading "
        "apostrophe.",
    )
    exact.download_button(
        "Exact IDs for blocking tools (CSV)",
        data=state.audited_download(scored, exact_ids, for_spreadsheets=False),
        file_name=scored.download_name(now, exact_ids=True),
        mime="text/csv",
        on_click="ignore",
        icon=":material/block:",
        disabled=ranked.size == 0,
        help="IDs exactly as in the log, for a blocking tool. Do not open it in a spreadsheet.",
    )
    if ranked.size:
        rule = scored.rule.describe() if scored.rule is not None else "no rule"
        st.caption(
            f"The downloads hold {ranked.size:,} users flagged by model "
            f"{scored.model_ref or '(trained here, not saved)'} at {rule}, "
            f"{now:%Y-%m-%d %H:%M} UTC; the file name says the same."
        )


@st.fragment
def decide() -> None:
    """A cost change reruns only this: the scores are cached, the rule re-decides them."""
    rule_inputs()
    _url.remember()  # a fragment rerun skips app.py: keep the URL in step with the rule
    try:
        scored = base.with_rule(state.rule())
    except FakeusersError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    applicability(scored)
    summary(scored)
    flagged_list(scored)


decide()
