"""Review: the flagged users one at a time with their evidence; confirm bots, clear real users.

The queue is the decision's flagged users (``fakeusers.review_queue``), unreviewed first,
riskiest first. A verdict goes to the review database with the analyst's name, the model,
the user's probability and the threshold, and from then on decides over the model on every
page. Below: the queue as a table (a verdict for several users at once), the user's verdict
history (revert with a reason), and the audit trail.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import math
from collections.abc import Iterator, Sequence

import pandas as pd
import streamlit as st

from fakeusers import plots
from fakeusers.audit import ACTIONS
from fakeusers.errors import DatabaseUnavailableError, FakeusersError
from fakeusers.review_queue import ReviewQueue, review_queue
from fakeusers.scoring import ScoredLog
from fakeusers.verdicts import KINDS, NewVerdict
from views import _state as state
from views import _status

QUEUE_ROWS = 100
AUDIT_ROWS = 500
# "R" is Streamlit's own rerun key: "real" gets L (legitimate).
KEYS = {"fake": "F", "real": "L", "previous": "P", "next": "N"}
SAID = {"fake": "confirmed fake", "real": "real (cleared)"}
P_COLUMN = st.column_config.ProgressColumn("P(fake)", format="%.3f", min_value=0.0, max_value=1.0)

st.title("Review")
base = _status.scored_or_stop("the queue is the users a decision flags")
try:
    scored = base.with_rule(state.rule())
    queue = review_queue(scored)
except FakeusersError as exc:
    st.error(str(exc), icon=":material/error:")
    st.page_link("views/decisions.py", label="Go to Decisions", icon=":material/gavel:")
    st.stop()
ids = scored.user_ids


def fresh_queue() -> tuple[ScoredLog, ReviewQueue]:
    """The queue after a write: verdicts read again, under the session's rule."""
    now = state.scored_log().with_rule(state.rule())
    return now, review_queue(now)


def say(kind: str, text: str) -> None:
    st.session_state[state.REVIEW_MESSAGE] = (kind, text)


def show(user: int | None) -> None:
    """Show ``user``; the one shown now is where Previous goes back to."""
    current = st.session_state[state.REVIEW_USER]
    if user is None or user == current:
        return
    if current is not None:
        st.session_state[state.REVIEW_BACK] = (*st.session_state[state.REVIEW_BACK], current)[-200:]
    st.session_state[state.REVIEW_USER] = user


def go_back() -> None:
    back = st.session_state[state.REVIEW_BACK]
    if back:
        st.session_state[state.REVIEW_USER] = back[-1]
        st.session_state[state.REVIEW_BACK] = back[:-1]


def go_next() -> None:
    user = queue.next(st.session_state[state.REVIEW_USER])
    if user is None:
        say("info", "That was the last user in the queue.")
    show(user)


def record(users: Sequence[int], kind: str, *, advance: bool) -> None:
    """Record ``kind`` for ``users``; then show the next user without a verdict."""
    if not users:
        return
    try:
        analyst = state.analyst()
        note = str(st.session_state.get(state.REVIEW_NOTE, "")).strip()
        state.verdict_store().record(
            [NewVerdict(str(ids[u]), kind, note, float(scored.p[u])) for u in users],
            analyst,
            source="dashboard",
            model=scored.model_ref,
            threshold=scored.decision.threshold,
            cost_fp=scored.rule.cost_fp,
            cost_fn=scored.rule.cost_fn,
            detail=f"on the Review page, at {scored.rule.describe()}",
        )
    except FakeusersError as exc:
        say("error", str(exc))
        return
    state.verdicts_changed()
    st.session_state[state.REVIEW_NOTE] = ""
    who = f"User {ids[users[0]]}" if len(users) == 1 else f"{len(users):,} users"
    say("success", f"{who} recorded as {SAID[kind]} by {analyst.name}.")
    if advance:
        now, new = fresh_queue()
        after = new.next_unreviewed(users[-1], now.order)
        show(users[-1] if after is None else after)
    else:
        st.session_state[state.REVIEW_ROUND] += 1  # clears the table's selection


def revert(verdict_id: int, user: int) -> None:
    try:
        state.verdict_store().revert(
            verdict_id, st.session_state.get(f"{state.REVERT_REASON}_{user}", ""), state.analyst()
        )
    except FakeusersError as exc:
        say("error", str(exc))
        return
    state.verdicts_changed()
    st.session_state[f"{state.REVERT_REASON}_{user}"] = ""
    say("success", f"Verdict #{verdict_id} on user {ids[user]} reverted.")


def unavailable(what: str) -> bool:
    """True, saying so, when the verdicts could not be read (the warning at the top of the
    page): ``what`` is then not tried on every rerun."""
    if state.held().warning:
        st.caption(f"{what} needs the review database: see the warning above.")
        return True
    return False


@contextlib.contextmanager
def from_database(what: str) -> Iterator[None]:
    """Show a database problem as a warning in place of ``what``; the page keeps working."""
    try:
        yield
    except DatabaseUnavailableError as exc:
        st.warning(f"{what} cannot be shown. {exc}", icon=":material/warning:")


# The queue and where the analyst is in it ---------------------------------------------------

if queue.n == 0:
    st.info("Nobody is flagged with these settings: there is no one to review.")
    st.page_link(
        "views/decisions.py", label="Change the costs on Decisions", icon=":material/gavel:"
    )
user = st.session_state[state.REVIEW_USER]
if queue.n and queue.position(user) is None:
    user = st.session_state[state.REVIEW_USER] = queue.first()

if queue.n:
    st.progress(
        queue.n_reviewed / queue.n, text=f"**{queue.n_reviewed:,} of {queue.n:,} reviewed**"
    )
    rule = scored.rule.describe() if scored.rule is not None else "no rule"
    model = scored.model_ref or "(trained here, not saved: save it to name it in verdicts)"
    st.caption(
        f"The users flagged by model {model} at {rule}, and everyone with a verdict; those "
        "without a verdict first, highest risk first. A verdict decides over the model on every "
        "page: a confirmed fake is always flagged, a cleared user never."
    )
if state.signed_in() is None and state.identity_required():
    st.warning(
        "Sign in to record verdicts: this dashboard records them under the signed-in "
        "identity only.",
        icon=":material/lock:",
    )
elif state.signed_in() is None and not str(st.session_state[state.ANALYST]).strip():
    st.warning(
        "Type your name in the sidebar (“Your name”) to record verdicts: every verdict records "
        "who decided, and nothing is recorded without a name.",
        icon=":material/badge:",
    )
message = st.session_state[state.REVIEW_MESSAGE]
if message is not None:
    kind, text = message
    {"error": st.error, "success": st.success}.get(kind, st.info)(text)
    st.session_state[state.REVIEW_MESSAGE] = None


def one_user(user: int) -> None:
    """The user's verdict buttons, figures and reasons."""
    uid = str(ids[user])
    at = queue.position(user)
    where = f"{at + 1:,} of {queue.n:,}" if at is not None else "not in the queue"
    st.subheader(f"User {uid}")
    cols = st.columns(4)
    cols[0].metric("In the queue", where)
    cols[1].metric("P(fake)", f"{scored.p[user]:.3f}")
    why = scored.why[user]
    cols[2].metric("Verdict", "none yet" if why == "model" else why)
    rows = scored.log.rows_of(uid)
    cols[3].metric("Events", f"{len(rows['Event']):,}")

    fake, real, note, back, forward = st.columns([2, 2, 3, 1.6, 1.4], vertical_alignment="bottom")
    fake.button(
        "Fake (confirmed)",
        type="primary",
        icon=":material/block:",
        on_click=record,
        args=([user], "fake"),
        kwargs={"advance": True},
        shortcut=KEYS["fake"],
        width="stretch",
    )
    real.button(
        "Real (false alarm)",
        icon=":material/verified_user:",
        on_click=record,
        args=([user], "real"),
        kwargs={"advance": True},
        shortcut=KEYS["real"],
        width="stretch",
    )
    note.text_input(
        "Note (optional)", key=state.REVIEW_NOTE, placeholder="what convinced you", max_chars=2000
    )
    back.button(
        "Previous",
        icon=":material/arrow_back:",
        on_click=go_back,
        disabled=not st.session_state[state.REVIEW_BACK],
        shortcut=KEYS["previous"],
        width="stretch",
    )
    forward.button(
        "Next",
        icon=":material/arrow_forward:",
        on_click=go_next,
        shortcut=KEYS["next"],
        width="stretch",
    )
    st.caption(
        f"Keyboard: **{KEYS['fake']}** fake · **{KEYS['real']}** real (legitimate) · "
        f"**{KEYS['next']}** next · **{KEYS['previous']}** previous, when no text box has the "
        "focus (Tab moves between buttons too). After a verdict the next user without one "
        "is shown."
    )

    st.plotly_chart(plots.timeline_figure(rows))
    left, right = st.columns(2)
    left.plotly_chart(
        plots.user_mix_figure(rows["Event"], scored.log.report.events, "Events vs all users")
    )
    right.plotly_chart(
        plots.user_mix_figure(
            rows["Category"], scored.log.report.categories, "Categories vs all users"
        )
    )
    with state.user_action("explaining this user's probability"):
        reasons = state.reasons([user])[0]
        st.markdown("**Why the model flags this user**")
        if reasons:
            st.markdown("\n".join(f"{n}. {r.text}" for n, r in enumerate(reasons, 1)))
        else:
            st.markdown("No feature pushes this user towards fake.")


def history(user: int) -> None:
    """The user's verdicts and reverts, newest first, and a revert with a reason."""
    uid = str(ids[user])
    if unavailable("The verdict history"):
        return
    with from_database("The verdict history"):
        found = state.verdict_store().history(uid)
        if not found:
            st.caption(f"No verdict on user {uid} yet.")
            return
        frame = pd.DataFrame([dataclasses.asdict(v) for v in found])
        st.dataframe(
            frame[
                [
                    "id",
                    "verdict",
                    "note",
                    "analyst",
                    "analyst_verified",
                    "created_at",
                    "model",
                    "probability",
                    "threshold",
                    "source",
                    "reverts",
                ]
            ],
            hide_index=True,
            column_config={
                "created_at": st.column_config.DatetimeColumn("time (UTC)"),
                "analyst_verified": st.column_config.CheckboxColumn("verified"),
                "reverts": st.column_config.NumberColumn("reverts #", format="%d"),
            },
        )
        undone = {v.reverts for v in found if v.reverts is not None}
        revertible = [v for v in found if v.verdict in KINDS and v.id not in undone]
        if not revertible:
            return
        pick, reason, go = st.columns([2, 3, 1], vertical_alignment="bottom")
        chosen = pick.selectbox(
            "Verdict to revert",
            revertible,
            format_func=lambda v: (
                f"#{v.id} {v.verdict} by {v.analyst}, {v.created_at:%Y-%m-%d %H:%M}"
            ),
            key=f"{state.REVERT_PICK}_{user}",
        )
        reason.text_input(
            "Why revert it (recorded)",
            key=f"{state.REVERT_REASON}_{user}",
            placeholder="e.g. the seller proved their identity",
        )
        go.button(
            "Revert",
            icon=":material/undo:",
            on_click=revert,
            args=(chosen.id, user),
            width="stretch",
        )


def queue_table() -> None:
    """The queue a page at a time: pick several users and give them one verdict."""
    st.subheader("The queue")
    pages = max(1, math.ceil(queue.n / QUEUE_ROWS))
    if st.session_state.get(state.QUEUE_PAGE, 1) > pages:
        st.session_state[state.QUEUE_PAGE] = pages
    page = st.number_input("Queue page", min_value=1, max_value=pages, step=1, key=state.QUEUE_PAGE)
    first = (page - 1) * QUEUE_ROWS
    shown = queue.users[first : first + QUEUE_ROWS]
    frame = scored.table(shown)
    frame["why"] = frame["why"].replace({"model": "to review"})
    event = st.dataframe(
        frame.rename(columns={"why": "verdict"}),
        hide_index=True,
        key=f"review_table_{st.session_state[state.REVIEW_ROUND]}_{page}",
        on_select="rerun",
        selection_mode="multi-row",
        column_config={"is_fake_probability": P_COLUMN},
    )
    chosen = [int(shown[i]) for i in event.selection.rows]
    st.caption(
        f"Users {first + 1:,}-{first + shown.size:,} of {queue.n:,}. Tick rows to give "
        "several users one verdict (with the note above), or to open one."
    )
    fake, real, open_ = st.columns(3)
    fake.button(
        f"Fake: the {len(chosen)} selected",
        icon=":material/block:",
        on_click=record,
        args=(chosen, "fake"),
        kwargs={"advance": False},
        disabled=not chosen,
        width="stretch",
    )
    real.button(
        f"Real: the {len(chosen)} selected",
        icon=":material/verified_user:",
        on_click=record,
        args=(chosen, "real"),
        kwargs={"advance": False},
        disabled=not chosen,
        width="stretch",
    )
    open_.button(
        "Show the first selected",
        icon=":material/person_search:",
        on_click=show,
        args=(chosen[0] if chosen else None,),
        disabled=not chosen,
        width="stretch",
    )


def audit_trail() -> None:
    """Who did what, newest first, filtered; the whole filtered trail as CSV."""
    st.subheader("Audit trail")
    action_col, actor_col, download_col = st.columns(3, vertical_alignment="bottom")
    action = action_col.selectbox("Action", ["all", *ACTIONS], key=state.AUDIT_ACTION)
    actor = actor_col.text_input(
        "Analyst", key=state.AUDIT_ACTOR, placeholder="a name, exactly; empty: everyone"
    )
    filters = {"action": None if action == "all" else action, "actor": actor.strip() or None}
    if unavailable("The audit trail"):
        return
    with from_database("The audit trail"):
        trail = state.verdict_store().audit
        entries = trail.entries(**filters, limit=AUDIT_ROWS)
        st.dataframe(
            entries,
            hide_index=True,
            column_config={
                "at": st.column_config.DatetimeColumn("time (UTC)"),
                "actor": "analyst",
                "actor_verified": st.column_config.CheckboxColumn("verified"),
                "cost_fp": "M",
                "cost_fn": "F",
            },
        )
        shown = f"The {len(entries):,} latest entries" if len(entries) else "No entries"
        st.caption(
            f"{shown}; the download holds every entry that matches the filters, its text made "
            "safe for spreadsheets."
        )
        download_col.download_button(
            "Audit trail (CSV)",
            data=lambda: trail.to_csv(**filters),
            file_name=f"audit-trail-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M}.csv",
            mime="text/csv",
            on_click="ignore",
            icon=":material/download:",
        )


if user is not None:
    one_user(user)
    with st.expander(f"Verdict history of user {ids[user]}", expanded=False):
        history(user)
    queue_table()
audit_trail()
