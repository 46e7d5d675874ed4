"""The dashboard's shared state: session keys, their defaults, and the cached work behind them.

Every page reads and writes the session through this module, so each key is defined once
(``app.py`` sets the defaults). What is expensive is cached on content hashes, never on
DataFrames, which Streamlit hashes from a sample:

- reading logs: ``st.cache_data`` keyed on the sha256 of the uploaded names and bytes;
- models from the store: ``st.cache_resource`` keyed on folder, name and bundle sha256
  (shared between sessions, so never mutated);
- scoring: ``st.cache_data`` keyed on (data sha256, model key), and the session keeps its
  current scores, so an ordinary rerun does not even unpickle them.

A cost change therefore reruns only the threshold arithmetic. Nothing is kept at module
level: every browser session has its own state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import streamlit as st

from fakeusers import decisions, explain, export, models, reading, store
from fakeusers.errors import FakeusersError

DEMO_CSV = Path(__file__).resolve().parents[1] / "data" / "demo.csv"

# Session values that outlive pages.
DATASET = "dataset"
MODEL = "model"
SCORES = "scores"
HANDLED_UPLOAD = "handled_upload"
LOAD_ERROR = "load_error"
COST_FP = "cost_fp"
COST_FN = "cost_fn"
RULE = "rule"
TOP_K = "top_k"

# Widget keys (a widget's own value is dropped when its page is left; see ``bound``).
UPLOADER = "logs"
COST_FP_INPUT, COST_FP_SLIDER = "cost_fp_input", "cost_fp_slider"
COST_FN_INPUT, COST_FN_SLIDER = "cost_fn_input", "cost_fn_slider"
RULE_INPUT = "rule_input"
TOP_K_INPUT = "top_k_input"
TABLE_PAGE = "table_page"
USER_SEARCH = "user_search"
USER_PICK = "user_pick"
MODEL_PICK = "model_pick"
MODEL_NAME = "model_name"
REPLACE_MODEL = "replace_model"
REPLACE_CONFIRMS = "replace_confirms"  # the model name that REPLACE_MODEL's tick is for
USE_TIMESTAMPS = "use_timestamps"

RULE_COSTS = "Costs: flag when P(fake) ≥ M/(M+F)"
RULE_TOP_K = "Review capacity (top K users)"

DEFAULTS: dict[str, Any] = {
    DATASET: None,
    MODEL: None,
    SCORES: None,
    HANDLED_UPLOAD: (),
    LOAD_ERROR: None,
    COST_FP: 1.0,
    COST_FN: 4.0,
    RULE: RULE_COSTS,
    TOP_K: 100,
}

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dataset:
    """The loaded log.

    Attributes
    ----------
    log : Log
    key : str
        sha256 of the uploaded file names and bytes: the key of every cache below.
    fingerprint : str
        ``log.fingerprint()``, which model cards record for their training data.
    """

    log: reading.Log
    key: str
    fingerprint: str

    @property
    def labels(self) -> np.ndarray | None:
        """0/1 per user when the log's labels can evaluate a model, else None."""
        labels = self.log.labels
        if labels is None or (labels < 0).any():
            return None
        return labels


@dataclass(frozen=True)
class ActiveModel:
    """The model in use: trained in this session or loaded from the store.

    ``key`` identifies the fitted model for the caches; ``name`` is None until it is saved.
    """

    model: models.TrainedModel
    key: str
    name: str | None = None


@dataclass(frozen=True)
class Scores:
    """The active model's probabilities for the loaded log, and what is derived once from them.

    Attributes
    ----------
    p : numpy.ndarray
        P(fake) per user, in log order.
    y : numpy.ndarray or None
        0/1 labels per user, when the log has usable labels.
    n_events : numpy.ndarray
        Rows per user.
    order : numpy.ndarray
        Users by descending probability, ties in log order.
    curve : CostCurve
        Cost of every threshold, for any costs.
    out_of_fold : bool
        True when these users trained the model: ``p`` are then its cross-validated
        (out-of-fold) probabilities, so costs measured on them are honest.
    """

    p: np.ndarray
    y: np.ndarray | None
    n_events: np.ndarray
    order: np.ndarray
    curve: decisions.CostCurve
    out_of_fold: bool


def dataset() -> Dataset | None:
    return st.session_state[DATASET]


def active_model() -> ActiveModel | None:
    return st.session_state[MODEL]


def load_error() -> str | None:
    return st.session_state[LOAD_ERROR]


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


# Data ----------------------------------------------------------------------------------------


def _digest(sources: Sequence[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for name, data in sources:
        h.update(name.encode("utf-8") + b"\0" + len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


@st.cache_data(show_spinner="Reading the logs ...", max_entries=4)
def _read(digest: str, _sources: tuple[tuple[str, bytes], ...]) -> tuple[reading.Log, str]:
    log = reading.read_logs(list(_sources))
    return log, log.fingerprint()


def load(sources: Sequence[tuple[str, bytes]]) -> Dataset:
    """Read logs given as ``(name, bytes)`` and make them the session's data.

    Raises
    ------
    FakeusersError
        When a file cannot be used; the session's data is then unchanged.
    """
    sources = tuple((str(name), bytes(data)) for name, data in sources)
    digest = _digest(sources)
    log, fingerprint = _read(digest, sources)
    loaded = Dataset(log, digest, fingerprint)
    st.session_state[DATASET] = loaded
    st.session_state[LOAD_ERROR] = None
    return loaded


def _try_load(action: str, sources: Callable[[], Sequence[tuple[str, bytes]]]) -> None:
    files: Sequence[tuple[str, bytes]] = ()
    try:
        files = sources()
        load(files)
    except FakeusersError as exc:
        st.session_state[LOAD_ERROR] = _every_file_error(files, exc)
    except Exception as exc:
        st.session_state[LOAD_ERROR] = friendly(action, exc)


def _every_file_error(files: Sequence[tuple[str, bytes]], exc: FakeusersError) -> str:
    """The library's message for each file that cannot be read, not only the first one.

    The reader stops at the first bad file; with several uploads each is read alone to say
    what is wrong with every one of them. Errors that only the combination causes keep the
    reader's message.
    """
    if len(files) < 2:
        return str(exc)
    messages = []
    for source in files:
        try:
            reading.read_logs([source])
        except FakeusersError as one:
            messages.append(str(one))
    return "\n\n".join(messages) if messages else str(exc)


def load_upload(files: Sequence[Any] | None) -> None:
    """Read newly uploaded files, once per upload; on failure keep the previous data."""
    ids = tuple(f.file_id for f in files or ())
    if not ids and st.session_state[HANDLED_UPLOAD]:
        # The analyst removed the uploads: an error about them no longer applies.
        st.session_state[HANDLED_UPLOAD] = ()
        st.session_state[LOAD_ERROR] = None
    if not ids or ids == st.session_state[HANDLED_UPLOAD]:
        return
    st.session_state[HANDLED_UPLOAD] = ids
    _try_load("reading the uploaded logs", lambda: [(f.name, f.getvalue()) for f in files])


def load_demo() -> None:
    """Load ``data/demo.csv``; on failure keep the previous data."""
    if not DEMO_CSV.is_file():
        st.session_state[LOAD_ERROR] = (
            f"The demo log {DEMO_CSV} is missing. Create it with "
            "`python -m fakeusers demo-data data/demo.csv --timestamps`, or upload a log."
        )
        return
    _try_load("loading the demo data", lambda: [(DEMO_CSV.name, DEMO_CSV.read_bytes())])


def data_summary() -> str:
    loaded = dataset()
    if loaded is None:
        return "No data loaded."
    report = loaded.log.report
    kind = (
        f"labelled, {report.fake_users:,} fake ({report.fake_share:.1%})"
        if report.labelled
        else "unlabelled"
    )
    return f"**{', '.join(report.files)}**  \n{report.users:,} users, {report.rows:,} rows, {kind}"


# Models --------------------------------------------------------------------------------------


def train(
    model_type: str, progress: Callable[[str], None], *, use_timestamps: bool = True
) -> ActiveModel:
    """Train on the loaded log and make the new model active (not yet saved).

    With ``use_timestamps=False`` the model ignores the log's timestamps, so it can also
    score logs that have none.
    """
    loaded = dataset()
    if loaded is None:
        raise FakeusersError("Load a labelled log on the Data page first.")
    model = models.train(loaded.log, model_type, use_timestamps=use_timestamps, progress=progress)
    trained = ActiveModel(model, key=f"session:{uuid.uuid4().hex}")
    st.session_state[MODEL] = trained
    st.session_state.pop(MODEL_NAME, None)  # propose a fresh name for the new model
    return trained


def name_taken(name: str) -> bool:
    """Whether the store already holds a model called ``name``.

    False for a name the store refuses: saving under it then says why.
    """
    try:
        return store.ModelStore().exists(name)
    except FakeusersError:
        return False


def save(name: str, *, replace: bool = False) -> dict:
    """Save the active model in the store under ``name``; returns its card.

    The store is shared between analysts, so an existing model of that name is replaced only
    with ``replace=True``.
    """
    current = active_model()
    if current is None:
        raise FakeusersError("Train or load a model first.")
    model_store = store.ModelStore()
    if not replace and model_store.exists(name):
        raise FakeusersError(
            f"A model named '{name}' is already in {model_store.root}. Choose another name, "
            "or tick 'Replace the existing model'."
        )
    card = model_store.save(name, current.model, current.model.card())
    st.session_state[MODEL] = dataclasses.replace(current, name=name)
    return card


def model_cards() -> list[dict]:
    return store.ModelStore().list()


@st.cache_resource(show_spinner="Loading the model ...", max_entries=8)
def _load_saved(root: str, name: str, bundle_sha256: str) -> models.TrainedModel:
    model, _ = store.ModelStore(root).load(name)
    if not isinstance(model, models.TrainedModel):
        raise FakeusersError(
            f"Model '{name}' in {root} is not a fakeusers model. Retrain it with "
            f"`python -m fakeusers train LOGS --name {name}`."
        )
    return model


def activate_saved(name: str) -> ActiveModel:
    """Make a stored model active, loading it once per process (no retraining)."""
    model_store = store.ModelStore()
    card = model_store.card(name)
    sha = str(card.get("bundle_sha256", ""))
    model = _load_saved(str(model_store.root), name, sha)
    loaded = ActiveModel(model, key=f"store:{model_store.root}:{name}:{sha}", name=name)
    st.session_state[MODEL] = loaded
    return loaded


def model_summary() -> str:
    current = active_model()
    if current is None:
        return "No model active."
    name = f"**{current.name}**" if current.name else "**trained here, not saved**"
    cv = current.model.cv
    needs = ", needs timestamps" if current.model.vocabulary.timestamps else ""
    return f"{name}  \n{current.model.model_type}, CV ROC AUC {cv['roc_auc']:.3f}{needs}"


def active_model_name() -> str:
    """How messages name the active model: its store name, or that it was trained here."""
    current = active_model()
    assert current is not None
    return f"'{current.name}'" if current.name else "(trained here, not saved)"


def cannot_score(exc: FakeusersError) -> str:
    """The message for an active model that cannot score the loaded log, naming the model."""
    return f"The active model {active_model_name()} cannot score the loaded log: {exc}"


def link_to_a_model_that_scores() -> None:
    """Point to the Model page, with the fix when the model needs timestamps the log lacks."""
    loaded, current = dataset(), active_model()
    assert loaded is not None and current is not None
    missing_time = current.model.vocabulary.timestamps and loaded.log.timestamps is None
    label = (
        "Model page: train one without timestamps, or load one that doesn't need them"
        if missing_time
        else "Go to Model"
    )
    st.page_link("pages/model.py", label=label, icon=":material/model_training:")


# Scores and decisions ------------------------------------------------------------------------


@st.cache_data(show_spinner="Scoring users ...", max_entries=4)
def _score(data_key: str, model_key: str, _loaded: Dataset, _model: models.TrainedModel) -> Scores:
    log = _loaded.log
    out_of_fold = (
        _model.training.get("fingerprint_sha256") == _loaded.fingerprint
        and len(_model.oof_p) == log.n_users
    )
    if out_of_fold:
        p = np.asarray(_model.oof_p, dtype=np.float64)
    else:
        p = models.score(_model, log)["is_fake_probability"].to_numpy(dtype=np.float64)
    y = _loaded.labels
    return Scores(
        p=p,
        y=y,
        n_events=np.bincount(log.user_codes, minlength=log.n_users),
        order=np.argsort(-p, kind="stable"),
        curve=decisions.CostCurve.from_scores(p, y),
        out_of_fold=out_of_fold,
    )


def scores() -> Scores | None:
    """The active model's scores for the loaded log; None without data or model.

    Raises
    ------
    FakeusersError
        When the model cannot score this log (for example, it needs timestamps).
    """
    loaded, current = dataset(), active_model()
    if loaded is None or current is None:
        return None
    key = (loaded.key, current.key)
    memo = st.session_state[SCORES]
    if memo is not None and memo[0] == key:
        return memo[1]
    result = _score(loaded.key, current.key, loaded, current.model)
    st.session_state[SCORES] = (key, result)
    return result


def costs() -> tuple[float, float]:
    return float(st.session_state[COST_FP]), float(st.session_state[COST_FN])


def top_k() -> int | None:
    """K in review-capacity mode, None in cost mode."""
    return int(st.session_state[TOP_K]) if st.session_state[RULE] == RULE_TOP_K else None


def decide(scored: Scores) -> decisions.Decision:
    """The current decision: the session's costs and rule applied to the scores."""
    cost_fp, cost_fn = costs()
    return decisions.decide(
        scored.p, cost_fp=cost_fp, cost_fn=cost_fn, top_k=top_k(), y_true=scored.y
    )


# Users and explanations ----------------------------------------------------------------------


def find_users(query: str, scored: Scores | None, limit: int = 50) -> np.ndarray:
    """Indices of up to ``limit`` users whose ID contains ``query``, highest risk first.

    Without a query: the highest-risk users when scored, else the first users of the log.
    """
    loaded = dataset()
    assert loaded is not None
    ids = loaded.log.user_ids
    query = query.strip()
    if not query:
        return (scored.order if scored is not None else np.arange(ids.size))[:limit]
    hits = np.asarray(pc.match_substring(pa.array(ids, pa.string()), query), dtype=bool)
    ranked = scored.order[hits[scored.order]] if scored is not None else np.flatnonzero(hits)
    return ranked[:limit]


@st.cache_data(show_spinner=False, max_entries=8)
def _reference(
    data_key: str, model_key: str, _loaded: Dataset, _model: models.TrainedModel
) -> pd.Series | None:
    if _model.model_type != "boosting":
        return None
    return explain.reference_values(_model, _loaded.log)


def reference() -> pd.Series | None:
    loaded, current = dataset(), active_model()
    assert loaded is not None and current is not None
    return _reference(loaded.key, current.key, loaded, current.model)


@st.cache_data(show_spinner=False, max_entries=64)
def _explain(
    data_key: str,
    model_key: str,
    users: tuple[int, ...],
    _loaded: Dataset,
    _model: models.TrainedModel,
    _reference: pd.Series | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    X = explain.user_features(_loaded.log, _model.vocabulary, np.asarray(users, dtype=np.int64))
    return X, explain.contributions(_model, X, _reference)


def explanations(users: Sequence[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features and per-feature contributions of some users (cached per set of users)."""
    loaded, current = dataset(), active_model()
    assert loaded is not None and current is not None
    users = tuple(int(u) for u in users)
    return _explain(loaded.key, current.key, users, loaded, current.model, reference())


@st.cache_data(show_spinner=False, max_entries=8)
def _importance(
    data_key: str, model_key: str, _loaded: Dataset, _model: models.TrainedModel, _ref: Any
) -> pd.Series:
    rng = np.random.default_rng(0)
    n = min(500, _loaded.log.n_users)
    users = np.sort(rng.choice(_loaded.log.n_users, size=n, replace=False))
    X = explain.user_features(_loaded.log, _model.vocabulary, users)
    return explain.contributions(_model, X, _ref).abs().mean()


def importance() -> tuple[pd.Series, str, str] | None:
    """Feature importance of the active model, its title and unit; None if it needs data.

    Logistic: the coefficients on standardised features (no data needed). Boosting: the mean
    absolute contribution over a sample of up to 500 users of the loaded log.
    """
    current = active_model()
    assert current is not None
    model = current.model
    if model.model_type == "logistic":
        coef = model.pipeline.named_steps["model"].coef_[0]
        series = pd.Series(coef, index=model.feature_names)
        return (
            series,
            "Coefficients (red: pushes towards fake)",
            "log-odds per standard deviation of the feature",
        )
    loaded = dataset()
    if loaded is None:
        return None
    series = _importance(loaded.key, current.key, loaded, model, reference())
    return (
        series,
        "Feature importance (500 users of the loaded log)",
        "mean change in log-odds when the feature is set to typical",
    )


def flagged_csv(scored: Scores, ranked: np.ndarray) -> Callable[[], bytes]:
    """Build the flagged-users CSV (all of them, with top reasons) only when it is downloaded."""
    loaded, current = dataset(), active_model()
    assert loaded is not None and current is not None
    ref = reference()
    log, model = loaded.log, current.model

    def build() -> bytes:
        X = explain.user_features(log, model.vocabulary, ranked)
        reasons = explain.top_reasons(explain.contributions(model, X, ref), X)
        frame = export.flagged_table(log.user_ids, scored.p, scored.n_events, ranked, reasons)
        return export.to_csv(frame)

    return build
