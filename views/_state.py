"""The dashboard's session: its keys and defaults, widget bindings, and the caches behind them.

Every page reads and writes the session through the keys defined here (``app.py`` sets the
defaults). The work itself is the library's; this module only caches it, on content hashes,
never on DataFrames, which Streamlit hashes from a sample:

- reading logs: ``st.cache_data`` keyed on the sha256 of the uploaded names and bytes and the
  choice for users repeated in two files;
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
import datetime as dt
import hashlib
import itertools
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from fakeusers import quality, reading, scoring
from fakeusers.audit import Actor, AuditTrail
from fakeusers.database import Database, database_url
from fakeusers.errors import DatabaseUnavailableError, FakeusersError
from fakeusers.log import Log
from fakeusers.models import TrainedModel
from fakeusers.reasons import Reason
from fakeusers.roles import Roles
from fakeusers.store import StoredModel
from fakeusers.verdicts import VerdictStore, held_verdicts

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
USER = "user"  # ID of the user shown up close on the Users page
USER_OPENED = "user_opened"  # the Users page was opened on USER from the flagged list
ANALYST = "analyst"  # the name typed in the sidebar, recorded as not verified
REVIEW_USER = "review_user"  # index of the user the Review page shows
REVIEW_BACK = "review_back"  # users shown before, for Previous
REVIEW_MESSAGE = "review_message"  # (kind, text) of the last verdict, shown once
REVIEW_ROUND = "review_round"  # bumped to clear the queue table's selection

# Widget keys (a widget's own value is dropped when its page is left; see ``bound``).
UPLOADER = "logs"
OVERLAPS_INPUT = "overlaps_input"
COST_FP_INPUT, COST_FP_SLIDER = "cost_fp_input", "cost_fp_slider"
COST_FN_INPUT, COST_FN_SLIDER = "cost_fn_input", "cost_fn_slider"
RULE_INPUT = "rule_input"
TOP_K_INPUT = "top_k_input"
THRESHOLD_INPUT = "threshold_input"
TABLE_PAGE = "table_page"
FLAGGED_PICK = "flagged_pick"  # the flagged table's row selection, suffixed by FLAGGED_PICKS
PREPARED = "prepared_list"  # (what it was built for, the rows) of a long flagged list
FLAGGED_PICKS = "flagged_picks"  # rows opened so far: a new selection key after each one
USER_SEARCH = "user_search"
USER_PICK = "user_pick"
MODEL_PICK = "model_pick"
MODEL_NAME = "model_name"
REPLACE_MODEL = "replace_model"
REPLACE_CONFIRMS = "replace_confirms"  # the model name that REPLACE_MODEL's tick is for
NAME_FOR = "name_for"  # key of the model that MODEL_NAME proposes a name for
USE_TIMESTAMPS = "use_timestamps"
CANDIDATE_SHOWN_INPUT = "candidate_shown_input"
WITH_VERDICTS = "with_verdicts"  # the Model page trains on the analysts' verdicts too

# The session's models to compare on the Model page (see ``activate``).
CANDIDATES = "candidates"  # a tuple of ActiveModel, oldest first
CANDIDATE_SHOWN = "candidate_shown"  # key of the candidate whose figures are shown
DROPPED = "dropped_candidate"  # what the last new candidate pushed out, in words
TRAINED = "trained"  # how many models this session has trained
MAX_CANDIDATES = 3
# (key of a model retrained on verdicts, label of the one it replaced, both models' figures on
# the same folds): shown on the Model page while that model is a candidate.
SAME_FOLDS = "same_folds"
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
    USER: None,
    FLAGGED_PICKS: 0,
    CANDIDATES: (),
    SAME_FOLDS: None,
    CANDIDATE_SHOWN: None,
    DROPPED: None,
    TRAINED: 0,
    ANALYST: "",
    REVIEW_USER: None,
    REVIEW_BACK: (),
    REVIEW_MESSAGE: None,
    REVIEW_ROUND: 0,
}

_LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """The loaded log; ``key`` (sha256 of the uploaded names and bytes, and the overlaps
    choice) keys the caches.

    ``sources`` holds the files as uploaded when they overlap (the load report lists users
    repeated in two of them), so the Data page can read them again with the other choice;
    otherwise it is empty, so that a session does not keep every upload's bytes.
    """

    log: Log
    key: str
    sources: tuple[tuple[str, bytes], ...] = ()


@dataclasses.dataclass(frozen=True)
class ActiveModel:
    """The model in use: trained in this session or loaded from the store.

    ``key`` identifies the fitted model for the caches; ``name`` is ``name@version`` once it
    is in the store, None before.
    """

    model: TrainedModel
    key: str
    name: str | None = None
    trained_at: str = ""  # "model N, HH:MM:SS UTC" for the N-th model trained in a session

    @classmethod
    def trained(cls, model: TrainedModel, number: int = 1) -> ActiveModel:
        now = dt.datetime.now(dt.UTC)
        return cls(
            model, key=f"session:{uuid.uuid4().hex}", trained_at=f"#{number} at {now:%H:%M:%S}"
        )

    @property
    def label(self) -> str:
        """How the page names the model: ``name@version``, or its type and training time."""
        if self.name:
            return self.name
        timing = "" if self.model.vocabulary.timestamps else " without timestamps"
        when = f" {self.trained_at} UTC" if self.trained_at else ""
        return f"{self.model.model_type}{timing}{when} (not saved)"

    @classmethod
    def stored(cls, stored: StoredModel) -> ActiveModel:
        sha = stored.card.get("bundle_sha256", "")
        return cls(stored.model, key=f"store:{stored.ref}:{sha}", name=stored.ref)


def activate(model: ActiveModel) -> None:
    """Make ``model`` the active one, keeping it and the one it replaces as candidates.

    At most :data:`MAX_CANDIDATES` are kept: the oldest that is not ``model`` leaves, and
    :data:`DROPPED` says which (an unsaved model that leaves is gone for good).
    """
    # A model saved and loaded again is the same model: one entry, by name.
    kept = [c for c in st.session_state[CANDIDATES] if c.key == model.key or c.label != model.label]
    for each in (active_model(), model):
        if each is not None and all(c.key != each.key for c in kept):
            kept.append(each)
    while len(kept) > MAX_CANDIDATES:
        gone = next(c for c in kept if c.key != model.key)
        kept.remove(gone)
        st.session_state[DROPPED] = f"{gone.label} left the candidates (at most " + (
            f"{MAX_CANDIDATES} are kept): it was not saved, so it is gone. Save a candidate to "
            "keep it."
            if gone.name is None
            else f"{MAX_CANDIDATES} are kept); it is still among the saved models below."
        )
    st.session_state[CANDIDATES] = tuple(kept)
    st.session_state[MODEL] = model
    st.session_state[CANDIDATE_SHOWN] = model.key


def trained(model: TrainedModel) -> ActiveModel:
    """A model just trained in this session, numbered in the order of training."""
    st.session_state[TRAINED] += 1
    return ActiveModel.trained(model, st.session_state[TRAINED])


def named(model: ActiveModel, ref: str) -> None:
    """``model`` was saved as ``ref``: so name it among the candidates, and when active."""
    saved = dataclasses.replace(model, name=ref)
    st.session_state[CANDIDATES] = tuple(
        saved if c.key == model.key else c for c in st.session_state[CANDIDATES]
    )
    current = active_model()
    if current is not None and current.key == model.key:
        st.session_state[MODEL] = saved


def candidates() -> list[ActiveModel]:
    """The active model first, then the session's other candidates, newest first."""
    current = active_model()
    others = [
        c for c in reversed(st.session_state[CANDIDATES]) if current is None or c.key != current.key
    ]
    return ([current] if current is not None else []) + others


def costs() -> tuple[float, float] | None:
    """The session's costs M and F, or None when they cannot set a threshold."""
    try:
        rule = scoring.Rule.of(float(st.session_state[COST_FP]), float(st.session_state[COST_FN]))
    except FakeusersError:
        return None
    return rule.cost_fp, rule.cost_fn


def dataset() -> Dataset | None:
    return st.session_state[DATASET]


def active_model() -> ActiveModel | None:
    return st.session_state[MODEL]


def focused_user(log: Log) -> int | None:
    """The index in ``log`` of the user to show up close (:data:`USER`), if it is in ``log``."""
    user_id = st.session_state[USER]
    if user_id is None:
        return None
    hits = np.flatnonzero(log.user_ids == user_id)
    return int(hits[0]) if hits.size else None


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
def _read(digest: str, _sources: tuple[tuple[str, bytes], ...], overlaps: str) -> Log:
    return reading.read_logs(list(_sources), overlaps=overlaps)


def read(sources: Sequence[tuple[str, bytes]], overlaps: str = "keep_one") -> Dataset:
    """Read logs given as ``(name, bytes)``, once per content and choice.

    ``overlaps`` is :func:`fakeusers.reading.read_logs`'s choice for users repeated whole in
    two files.

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
    h.update(b"\0overlaps=" + overlaps.encode("utf-8"))
    digest = h.hexdigest()
    log = _read(digest, sources, overlaps)
    return Dataset(log, digest, sources if log.report.overlaps else ())


@st.cache_resource(show_spinner="Scoring users ...", max_entries=4)
def _scored(
    data_key: str, model_key: str, model_ref: str | None, _log: Log, _model: TrainedModel
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
    _verdicts: Mapping[str, str],
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


@st.cache_data(show_spinner=False, max_entries=64)
def _meaning(
    model_key: str, costs: tuple[float, float] | None, _model: TrainedModel
) -> quality.Meaning:
    m, f = costs if costs is not None else (None, None)
    return quality.in_plain_words(_model.oof_y, _model.oof_p, m, f)


def meaning(model: ActiveModel) -> quality.Meaning:
    """``quality.in_plain_words`` for a model at the session's costs, once per model and costs."""
    return _meaning(model.key, costs(), model.model)


@st.cache_data(show_spinner="Comparing the models ...", max_entries=16)
def _recommendation(
    keys: tuple[str, ...],
    labels: tuple[str, ...],
    costs: tuple[float, float] | None,
    _models: tuple[TrainedModel, ...],
) -> quality.Recommendation | None:
    m, f = costs if costs is not None else (None, None)
    rivals = [
        quality.Candidate.of(label, model) for label, model in zip(labels, _models, strict=True)
    ]
    return quality.recommend(rivals, m, f)


def recommendation(models: Sequence[ActiveModel]) -> quality.Recommendation | None:
    """``quality.recommend`` among ``models`` (the active first) at the session's costs."""
    return _recommendation(
        tuple(m.key for m in models),
        tuple(m.label for m in models),
        costs(),
        tuple(m.model for m in models),
    )


# Verdicts and the audit trail -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class Held:
    """The verdicts that hold, as last read; ``token`` changes with them; ``warning`` says
    why there are none when the database cannot be read."""

    verdicts: Mapping[str, str]
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
    digest = hashlib.sha256(url.encode())
    for user, kind in sorted(verdicts.items()):
        digest.update(f"\0{user}\0{kind}".encode())
    return Held(verdicts, warning, digest.hexdigest())


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


#: The request header a trusted reverse proxy sets to the signed-in user (operator's choice).
TRUSTED_USER_HEADER_ENV = "FAKEUSERS_TRUSTED_USER_HEADER"


def identity_header() -> str | None:
    """The header that names the signed-in user, when the operator set one."""
    return os.environ.get(TRUSTED_USER_HEADER_ENV, "").strip() or None


def signed_in() -> Actor | None:
    """The verified identity of this session: from the trusted proxy's header, or from
    Streamlit's own sign-in (``st.login``, when ``[auth]`` is configured); None without."""
    header = identity_header()
    if header is not None:
        value = (st.context.headers.get(header) or "").strip()
        return Actor.named(value, verified=True) if value else None
    if _login_configured() and getattr(st.user, "is_logged_in", False):
        name = st.user.get("email") or st.user.get("name") or ""
        return Actor.named(str(name), verified=True) if name else None
    return None


def _login_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def identity_required() -> bool:
    """Whether only a verified identity may act (a proxy header or sign-in is configured)."""
    return identity_header() is not None or _login_configured()


def refusal(action: str) -> str | None:
    """Why this session may not ``action`` (``train`` or ``review``) under the roles of
    ``FAKEUSERS_ROLES_FILE``; None when it may (always, without roles)."""
    roles = Roles.from_env()
    if not roles.configured:
        return None
    who = signed_in()
    if who is None:
        return "Sign in first: roles are set for this dashboard, and only signed-in people act."
    if roles.may(who.name, action):
        return None
    what = {"train": "Training and saving models", "review": "Recording verdicts"}[action]
    return f"{what} is not among {who.name}'s roles here; ask an admin of this dashboard."


def analyst() -> Actor:
    """Who acts in this session: the signed-in identity (verified) when the dashboard has one,
    else the name typed in the sidebar (not verified).

    Raises
    ------
    FakeusersError
        When no name was typed, a sign-in is required and missing, or the roles do not let
        this identity review.
    """
    refused = refusal("review")
    if refused is not None:
        raise FakeusersError(refused)
    who = signed_in()
    if who is not None:
        return who
    if identity_required():
        raise FakeusersError(
            "Sign in first: this dashboard records verdicts under the signed-in identity only."
        )
    try:
        return Actor.named(st.session_state[ANALYST])
    except FakeusersError:
        raise FakeusersError(
            "Type your name in the sidebar (“Your name”) first: every verdict records who "
            "decided, and nothing is recorded without it."
        ) from None


def actor() -> Actor:
    """Who acts in this session for the audit trail: the signed-in identity, else the name
    typed in the sidebar (not verified), or "(no name given)"."""
    who = signed_in()
    if who is not None:
        return who
    name = "" if identity_required() else str(st.session_state[ANALYST]).strip()
    return Actor(name or "(no name given)", verified=False)


def audit(action: str, **fields: Any) -> None:
    """Record an action of this session in the audit trail. The action is already done: a
    database that is unavailable is logged on the server and said on the page, not raised."""
    try:
        AuditTrail(database()).record(action, actor(), **fields)
    except DatabaseUnavailableError as exc:
        _LOG.warning("Not recorded in the audit trail (%s): %s", action, exc)
        st.toast(f"Not recorded in the audit trail: {exc}", icon=":material/warning:")


def audited_download(
    scored: scoring.ScoredLog, make: Callable[[], bytes], *, for_spreadsheets: bool = True
) -> Callable[[], bytes]:
    """The flagged list's CSV from ``make`` (in the form ``for_spreadsheets`` says), built
    when the browser asks for it, and recorded then in the audit trail (action ``download``,
    with the sha256 of exactly the bytes sent).

    A download is never refused for the audit trail: when the database is unavailable the
    file is still served and the failure is logged on the server.
    """
    who = actor()
    rule, decision = scored.rule, scored.decision
    # Known to be down: do not make the download wait for a connection that will fail.
    trail, why = None, held().warning or ""
    if not why:
        try:
            trail = AuditTrail(database())
        except DatabaseUnavailableError as exc:
            why = str(exc)

    def build() -> bytes:
        data = make()
        form = "for spreadsheets" if for_spreadsheets else "exact IDs"
        try:
            if trail is None:
                raise DatabaseUnavailableError(why)
            trail.record(
                "download",
                who,
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
