"""The dashboard's session: its keys and defaults, widget bindings, and the caches behind them.

Every page reads and writes the session through the keys defined here (``app.py`` sets the
defaults). The work itself is the library's; this module only caches it, on content hashes,
never on DataFrames, which Streamlit hashes from a sample:

- reading logs: ``st.cache_data`` keyed on the sha256 of the uploaded names and bytes;
- scoring: ``st.cache_resource`` keyed on (data key, model key). The :class:`ScoredLog` is
  shared, not copied (``st.cache_data`` would pickle the whole log on every rerun), and
  never mutated: a cost change re-decides it with ``with_rule``, which does not rescore;
- explanations of the users on screen: ``st.cache_data`` keyed on (data, model, users);
- the analysts' verdicts that hold: ``st.cache_resource`` keyed on (database URL, a version
  bumped by every write of this process), kept 30 s so that writes by other processes (the
  command line, the API) show soon; the scored log every page uses carries them.

Models need no cache here: the store keeps the models it has loaded. Nothing is kept at
module level: every browser session has its own state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from fakeusers import reading, scoring
from fakeusers.audit import Actor, AuditTrail
from fakeusers.database import Database, database_url
from fakeusers.errors import DatabaseUnavailableError, FakeusersError
from fakeusers.models import TrainedModel
from fakeusers.reasons import Reason
from fakeusers.store import StoredModel
from fakeusers.verdicts import Verdict, VerdictStore, held_verdicts

DEMO_CSV = Path(__file__).resolve().parents[1] / "data" / "demo.csv"

# Session values that outlive pages.
DATASET = "dataset"
MODEL = "model"
HANDLED_UPLOAD = "handled_upload"
LOAD_ERROR = "load_error"
COST_FP = "cost_fp"
COST_FN = "cost_fn"
RULE = "rule"
TOP_K = "top_k"
THRESHOLD = "threshold"
ANALYST = "analyst"  # the name typed in the sidebar, recorded as not verified
REVIEW_USER = "review_user"  # index of the user the Review page shows
REVIEW_BACK = "review_back"  # users shown before, for Previous
REVIEW_MESSAGE = "review_message"  # (kind, text) of the last verdict, shown once
REVIEW_ROUND = "review_round"  # bumped to clear the queue table's selection

# Widget keys (a widget's own value is dropped when its page is left; see ``bound``).
UPLOADER = "logs"
COST_FP_INPUT, COST_FP_SLIDER = "cost_fp_input", "cost_fp_slider"
COST_FN_INPUT, COST_FN_SLIDER = "cost_fn_input", "cost_fn_slider"
RULE_INPUT = "rule_input"
TOP_K_INPUT = "top_k_input"
THRESHOLD_INPUT = "threshold_input"
TABLE_PAGE = "table_page"
USER_SEARCH = "user_search"
USER_PICK = "user_pick"
MODEL_PICK = "model_pick"
MODEL_NAME = "model_name"
REPLACE_MODEL = "replace_model"
REPLACE_CONFIRMS = "replace_confirms"  # the model name that REPLACE_MODEL's tick is for
USE_TIMESTAMPS = "use_timestamps"
ANALYST_INPUT = "analyst_input"
REVIEW_NOTE = "review_note"
QUEUE_PAGE = "queue_page"
REVERT_PICK, REVERT_REASON = "revert_pick", "revert_reason"
AUDIT_ACTION, AUDIT_ACTOR = "audit_action", "audit_actor"

RULE_COSTS = "Costs: flag when P(fake) ≥ M/(M+F)"
RULE_TOP_K = "Review capacity (top K users)"
RULE_THRESHOLD = "Threshold typed directly"

DEFAULTS: dict[str, Any] = {
    DATASET: None,
    MODEL: None,
    HANDLED_UPLOAD: (),
    LOAD_ERROR: None,
    COST_FP: 1.0,
    COST_FN: 4.0,
    RULE: RULE_COSTS,
    TOP_K: 100,
    THRESHOLD: 0.2,
    ANALYST: "",
    REVIEW_USER: None,
    REVIEW_BACK: (),
    REVIEW_MESSAGE: None,
    REVIEW_ROUND: 0,
}

_LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """The loaded log; ``key`` (sha256 of the uploaded names and bytes) keys the caches."""

    log: reading.Log
    key: str


@dataclasses.dataclass(frozen=True)
class ActiveModel:
    """The model in use: trained in this session or loaded from the store.

    ``key`` identifies the fitted model for the caches; ``name`` is ``name@version`` once it
    is in the store, None before.
    """

    model: TrainedModel
    key: str
    name: str | None = None

    @classmethod
    def trained(cls, model: TrainedModel) -> ActiveModel:
        return cls(model, key=f"session:{uuid.uuid4().hex}")

    @classmethod
    def stored(cls, stored: StoredModel) -> ActiveModel:
        sha = stored.card.get("bundle_sha256", "")
        return cls(stored.model, key=f"store:{stored.ref}:{sha}", name=stored.ref)


def dataset() -> Dataset | None:
    return st.session_state[DATASET]


def active_model() -> ActiveModel | None:
    return st.session_state[MODEL]


def rule() -> scoring.Rule | None:
    """The session's decision rule: its costs, and K or the typed threshold in those modes.

    In top-K and typed-threshold modes the costs still price the decision.

    Raises
    ------
    FakeusersError
        When the costs or K cannot make a rule (both costs zero, for example).
    """
    top_k = int(st.session_state[TOP_K]) if st.session_state[RULE] == RULE_TOP_K else None
    typed = st.session_state[RULE] == RULE_THRESHOLD
    threshold = float(st.session_state[THRESHOLD]) if typed else None
    cost_fp, cost_fn = float(st.session_state[COST_FP]), float(st.session_state[COST_FN])
    return scoring.Rule.of(cost_fp, cost_fn, top_k, threshold)


def bound(state_key: str, widget_key: str) -> dict[str, Any]:
    """Keyword arguments for a widget that edits a session value which outlives its page.

    Streamlit drops a widget's value when its page is not shown; so the value lives under
    ``state_key``, the widget starts from it on every run and writes it back on change.
    Two widgets bound to one value (a number input and a slider) stay in sync.
    """
    st.session_state[widget_key] = st.session_state[state_key]
    return {"key": widget_key, "on_change": _copy, "args": (widget_key, state_key)}


def _copy(widget_key: str, state_key: str) -> None:
    st.session_state[state_key] = st.session_state[widget_key]


# Errors --------------------------------------------------------------------------------------


def friendly(action: str, exc: Exception) -> str:
    """The message to show for a failed user action; tracebacks go to the server log only."""
    if isinstance(exc, FakeusersError):
        return str(exc)
    _LOG.exception("Unexpected error while %s", action)
    return (
        f"Something unexpected went wrong while {action} ({type(exc).__name__}: {exc}). "
        "What was loaded before is kept. If it happens again, send this message and the file "
        "to the fakeusers team."
    )


@contextlib.contextmanager
def user_action(action: str) -> Iterator[None]:
    """Show any error of the enclosed action with ``st.error``; the app keeps running."""
    try:
        yield
    except Exception as exc:
        st.error(friendly(action, exc), icon=":material/error:")


# Caches --------------------------------------------------------------------------------------


@st.cache_data(show_spinner="Reading the logs ...", max_entries=4)
def _read(digest: str, _sources: tuple[tuple[str, bytes], ...]) -> reading.Log:
    return reading.read_logs(list(_sources))


def read(sources: Sequence[tuple[str, bytes]]) -> Dataset:
    """Read logs given as ``(name, bytes)``, once per content.

    Raises
    ------
    FakeusersError
        When a file cannot be used.
    """
    sources = tuple((str(name), bytes(data)) for name, data in sources)
    h = hashlib.sha256()
    for name, data in sources:
        h.update(name.encode("utf-8") + b"\0" + len(data).to_bytes(8, "little"))
        h.update(data)
    digest = h.hexdigest()
    return Dataset(_read(digest, sources), digest)


@st.cache_resource(show_spinner="Scoring users ...", max_entries=4)
def _scored(
    data_key: str, model_key: str, model_ref: str | None, _log: reading.Log, _model: TrainedModel
) -> scoring.ScoredLog:
    # The name is part of the key: a model saved after scoring is named in downloads.
    return scoring.score_log(_log, _model, model_ref=model_ref)


@st.cache_resource(show_spinner=False, max_entries=4)
def _with_verdicts(
    data_key: str,
    model_key: str,
    model_ref: str | None,
    held_token: str,
    _base: scoring.ScoredLog,
    _verdicts: Mapping[str, Verdict],
) -> scoring.ScoredLog:
    return _base.with_verdicts(_verdicts)


def scored_log() -> scoring.ScoredLog | None:
    """The active model's scores for the loaded log, with the analysts' verdicts that hold,
    without a rule; None lacking either.

    Raises
    ------
    FakeusersError
        When the model cannot score this log (for example, it needs timestamps).
    """
    loaded, current = dataset(), active_model()
    if loaded is None or current is None:
        return None
    base = _scored(loaded.key, current.key, current.name, loaded.log, current.model)
    found = held()
    if not found.verdicts:
        return base
    return _with_verdicts(loaded.key, current.key, current.name, found.token, base, found.verdicts)


@st.cache_data(show_spinner=False, max_entries=192)
def _of_users(
    what: str,
    data_key: str,
    model_key: str,
    held_token: str,
    users: tuple[int, ...],
    _scored: scoring.ScoredLog,
) -> Any:
    if what == "table":
        return _scored.table(users, reasons=True)
    return getattr(_scored, what)(users)


def _for_users(what: str, users: Sequence[int]) -> Any:
    """``scored_log().<what>(users)``, once per set of users, data and model (and verdicts,
    for the table, whose ``why`` column they change).

    Asked of the shared, rule-free scored log, so what it derives once (a boosting model's
    reference values, when it needs them) serves every later rule.
    """
    loaded, current = dataset(), active_model()
    assert loaded is not None and current is not None
    users = tuple(int(u) for u in users)
    token = held().token if what == "table" else ""
    return _of_users(what, loaded.key, current.key, token, users, scored_log())


def explained(users: Sequence[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features and contributions of some users (:meth:`ScoredLog.explain`)."""
    return _for_users("explain", users)


def table(users: Sequence[int]) -> pd.DataFrame:
    """Table rows of some users with their reasons (:meth:`ScoredLog.table`)."""
    return _for_users("table", users)


def reasons(users: Sequence[int]) -> list[list[Reason]]:
    """Each user's reasons in words (:meth:`ScoredLog.reasons`)."""
    return _for_users("reasons", users)


# Verdicts and the audit trail -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class Held:
    """The verdicts that hold, as last read; ``token`` changes with them; ``warning`` says
    why there are none when the database cannot be read."""

    verdicts: Mapping[str, Verdict]
    warning: str | None
    token: str


class _Version:
    """Bumped by every write of this process, so the next read does not use the cache."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self.value = 0

    def bump(self) -> None:
        with self._lock:
            self.value = next(self._counter)


@st.cache_resource
def _version() -> _Version:
    return _Version()


@st.cache_resource(show_spinner=False)
def _database(url: str) -> Database:
    return Database(url)


def database() -> Database:
    """The review database (``FAKEUSERS_DB_URL``); not opened until used.

    Raises
    ------
    DatabaseUnavailableError
        When the URL is not a database URL.
    """
    return _database(database_url())


@st.cache_resource(show_spinner=False, ttl=30, max_entries=8)
def _held(url: str, version: int) -> Held:
    try:
        verdicts, warning = held_verdicts(_database(url))
    except DatabaseUnavailableError as exc:
        verdicts, warning = {}, f"Verdicts not applied: {exc}"
    # The same verdicts give the same token, so a re-read that finds nothing new (every 30 s)
    # keeps what the caches derived from them.
    ids = ",".join(map(str, sorted(v.id for v in verdicts.values())))
    return Held(verdicts, warning, hashlib.sha256(f"{url}\0{ids}".encode()).hexdigest())


def held() -> Held:
    """The analysts' verdicts to apply, read once per write (or every 30 s at most)."""
    return _held(database_url(), _version().value)


def verdicts_changed() -> None:
    """Call after writing verdicts: every session reads them again."""
    _version().bump()


def verdict_store() -> VerdictStore:
    """The verdicts of the review database.

    Raises
    ------
    DatabaseUnavailableError
        When the URL is not a database URL (others when it is used).
    """
    return VerdictStore(database())


def analyst() -> Actor:
    """Who acts in this session: the name typed in the sidebar, not verified.

    Raises
    ------
    FakeusersError
        When no name was typed.
    """
    try:
        return Actor.named(st.session_state[ANALYST])
    except FakeusersError:
        raise FakeusersError(
            "Type your name in the sidebar (“Your name”) first: every verdict records who "
            "decided, and nothing is recorded without it."
        ) from None


def audited_download(
    scored: scoring.ScoredLog, *, for_spreadsheets: bool = True
) -> Callable[[], bytes]:
    """The flagged list's CSV, built when the browser asks for it, and recorded then in the
    audit trail (action ``download``, with the sha256 of exactly the bytes sent).

    A download is never refused for the audit trail: when the database is unavailable the
    file is still served and the failure is logged on the server.
    """
    name = str(st.session_state[ANALYST]).strip()
    actor = Actor(name or "(no name given)", verified=False)
    rule, decision = scored.rule, scored.decision
    # Known to be down: do not make the download wait for a connection that will fail.
    trail, why = None, held().warning or ""
    if not why:
        try:
            trail = AuditTrail(database())
        except DatabaseUnavailableError as exc:
            why = str(exc)

    def build() -> bytes:
        data = scored.flagged_csv(for_spreadsheets=for_spreadsheets)
        form = "for spreadsheets" if for_spreadsheets else "exact IDs"
        try:
            if trail is None:
                raise DatabaseUnavailableError(why)
            trail.record(
                "download",
                actor,
                model=scored.model_ref,
                cost_fp=None if rule is None else rule.cost_fp,
                cost_fn=None if rule is None else rule.cost_fn,
                threshold=None if decision is None else decision.threshold,
                count=int(scored.ranked_flagged.size),
                sha256=hashlib.sha256(data).hexdigest(),
                detail=f"flagged list ({form}) at {rule.describe() if rule else 'no rule'}",
            )
        except DatabaseUnavailableError as exc:
            _LOG.warning("A download was not recorded in the audit trail: %s", exc)
        return data

    return build
