"""Models: scikit-learn pipelines that turn user features into calibrated probabilities.

Two model types, both tuned on log loss (a proper scoring rule) and never class-weighted or
resampled, so their probabilities stay calibrated and the cost rule ``p >= M/(M+F)`` holds:

- ``logistic``: median imputation, standard scaling, logistic regression whose
  regularisation is chosen by cross-validated log loss.
- ``boosting``: histogram gradient boosting with log-loss early stopping.

Training runs stratified 5-fold cross-validation over users (one row per user, so no user is
in two folds) and records ROC AUC, average precision, Brier score, log loss and a 10-bin
reliability table from the out-of-fold probabilities, then fits on all users.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fakeusers import DEFAULT_MODEL, MODEL_TYPES
from fakeusers.bundles import retrain_hint
from fakeusers.errors import FakeusersError, ModelUnusableError
from fakeusers.features import Vocabulary, featurize
from fakeusers.linear import LinearScorer
from fakeusers.log import Log
from fakeusers.progress import FitClock, Progress

if TYPE_CHECKING:  # imported where used: scoring with a stored scorer needs neither
    import pandas as pd
    from sklearn.pipeline import Pipeline

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_TYPES",
    "TrainedModel",
    "classification_metrics",
    "features_and_probabilities",
    "make_pipeline",
    "reliability_table",
    "score",
    "train",
    "training_problem",
]

MIN_USERS_PER_CLASS = 5
N_FOLDS = 5
# Shares of a training's progress: features, then the fits, then the figures and profile.
FEATURES_SHARE = 0.1
FITS_SHARE = 0.8


def make_pipeline(model_type: str = DEFAULT_MODEL, *, random_state: int = 0) -> Pipeline:
    """A fresh, unfitted pipeline of the given type.

    Examples
    --------
    >>> make_pipeline("logistic").steps[-1][0]
    'model'
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if model_type == "logistic":
        return Pipeline(
            [
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("scale", StandardScaler()),
                (
                    "model",
                    LogisticRegressionCV(
                        Cs=[0.01, 0.1, 1.0, 10.0],
                        cv=3,
                        l1_ratios=(0.0,),
                        scoring="neg_log_loss",
                        max_iter=2000,
                        use_legacy_attributes=False,
                    ),
                ),
            ]
        )
    if model_type == "boosting":
        return Pipeline(
            [
                (
                    "model",
                    HistGradientBoostingClassifier(
                        learning_rate=0.05,
                        max_iter=400,
                        max_leaf_nodes=15,
                        l2_regularization=1.0,
                        early_stopping=True,
                        scoring="loss",
                        validation_fraction=0.15,
                        n_iter_no_change=20,
                        random_state=random_state,
                    ),
                )
            ]
        )
    raise FakeusersError(
        f"Unknown model type {model_type!r}. Choose one of: {', '.join(MODEL_TYPES)}."
    )


def reliability_table(y_true: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    """Observed fake rate against mean predicted probability in equal-width bins.

    Empty bins are kept with ``users = 0`` and ``None`` rates so the table always has
    ``bins`` rows.
    """
    y_true = np.asarray(y_true, dtype=float)
    p = np.asarray(p, dtype=float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    n = np.bincount(which, minlength=bins)
    sum_p = np.bincount(which, weights=p, minlength=bins)
    sum_y = np.bincount(which, weights=y_true, minlength=bins)
    rows = []
    for b in range(bins):
        rows.append(
            {
                "bin_low": b / bins,
                "bin_high": (b + 1) / bins,
                "users": int(n[b]),
                "mean_predicted": float(sum_p[b] / n[b]) if n[b] else None,
                "observed_fake_rate": float(sum_y[b] / n[b]) if n[b] else None,
            }
        )
    return rows


def classification_metrics(y_true: np.ndarray, p: np.ndarray) -> dict:
    """ROC AUC, average precision, Brier score, log loss and the reliability table."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    y_true = np.asarray(y_true)
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    both = len(np.unique(y_true)) == 2
    return {
        "users": int(len(y_true)),
        "fake_users": int(y_true.sum()),
        "roc_auc": float(roc_auc_score(y_true, p)) if both else None,
        "average_precision": float(average_precision_score(y_true, p)) if both else None,
        "brier": float(brier_score_loss(y_true, p, pos_label=1)),
        "log_loss": float(log_loss(y_true, p, labels=[0, 1])),
        "reliability": reliability_table(y_true, p),
    }


class Deferred:
    """A value built on first use, once, whichever thread asks first.

    A stored model's pipeline is one: skops builds it, which imports scikit-learn (about
    1.5 s of CPU), and scoring with a :class:`~fakeusers.linear.LinearScorer` never needs it.
    """

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build: Callable[[], Any] | None = build
        self._value: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._build is not None:
                self._value = self._build()  # raises again on the next call if it fails
                self._build = None
            return self._value

    def __getstate__(self) -> dict:
        return {"value": self.get()}  # pickled built: a lock and a closure cannot be

    def __setstate__(self, state: dict) -> None:
        self.__init__(lambda: state["value"])


class _BuiltOnUse:
    """The descriptor behind :attr:`TrainedModel.pipeline`: holds a pipeline or a
    :class:`Deferred` one, and gives the pipeline."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_{name}"

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            raise AttributeError("no default")  # a required dataclass field
        value = obj.__dict__[self._slot]
        if isinstance(value, Deferred):
            value = obj.__dict__[self._slot] = value.get()
        return value

    def __set__(self, obj: object, value: Any) -> None:
        obj.__dict__[self._slot] = value


@dataclass(eq=False, repr=False)  # neither compares nor shows (so builds) the pipeline
class TrainedModel:
    """A fitted pipeline with what it needs to score new logs and explain itself.

    Attributes
    ----------
    model_type : str
    pipeline : sklearn.pipeline.Pipeline
        Fitted on all training users. May be given as a :class:`Deferred`: it is then built
        the first time it is read (a stored model scored by its ``scorer`` never reads it).
    vocabulary : Vocabulary
    cv : dict
        Cross-validated metrics (see :func:`classification_metrics`).
    oof_y, oof_p : numpy.ndarray
        Labels and out-of-fold probabilities behind ``cv``, for ROC, PR and reliability plots.
    training : dict
        Where the model was trained: files, fingerprint, rows, users.
    profile : dict
        What the training data looked like (:func:`fakeusers.applicability.profile`); empty
        for models saved before profiles were recorded.
    scorer : LinearScorer or None
        The pipeline's arithmetic in numpy, equal to it to the last bit on the training
        users (logistic models; see :mod:`fakeusers.linear`); None when it has none.
    """

    model_type: str
    pipeline: Pipeline = _BuiltOnUse()  # type: ignore[assignment]
    vocabulary: Vocabulary
    cv: dict
    oof_y: np.ndarray
    oof_p: np.ndarray
    training: dict = field(default_factory=dict)
    profile: dict = field(default_factory=dict)
    scorer: LinearScorer | None = None

    @property
    def feature_names(self) -> list[str]:
        return self.vocabulary.feature_names()

    def __repr__(self) -> str:
        built = not isinstance(self.__dict__.get("_pipeline"), Deferred)
        return (
            f"TrainedModel({self.model_type!r}, {len(self.oof_p):,} training users, "
            f"scorer={'yes' if self.scorer is not None else 'no'}, "
            f"pipeline {'built' if built else 'not built yet'})"
        )

    @property
    def predictor(self) -> Any:
        """What answers ``predict_proba``: the scorer when there is one, else the pipeline."""
        return self.pipeline if self.scorer is None else self.scorer

    def params(self) -> dict:
        """The final estimator's parameters, JSON-friendly."""
        est = self.pipeline.steps[-1][1]
        out = {}
        for k, v in est.get_params(deep=False).items():
            if isinstance(v, (int, float, str, bool, type(None))):
                out[k] = v
            elif isinstance(v, (list, tuple)):
                out[k] = list(v)
        if hasattr(est, "C_"):
            out["chosen_C"] = float(np.ravel(est.C_)[0])
        if hasattr(est, "n_iter_") and isinstance(est.n_iter_, (int, np.integer)):
            out["boosting_iterations"] = int(est.n_iter_)
        return out

    def bundle(self) -> dict:
        """What the store writes with skops: stock scikit-learn objects and arrays only."""
        return {"pipeline": self.pipeline, "oof_y": self.oof_y, "oof_p": self.oof_p}

    def scoring_arrays(self) -> dict[str, np.ndarray] | None:
        """What the store writes beside the bundle when the model has a scorer: its arrays
        and the out-of-fold labels and probabilities, numbers only (``numpy.savez``)."""
        if self.scorer is None:
            return None
        return {"oof_y": self.oof_y, "oof_p": self.oof_p, **self.scorer.arrays()}

    @classmethod
    def from_bundle(cls, bundle: object, card: dict) -> TrainedModel:
        """Rebuild a model from what :meth:`bundle` and :meth:`card` stored.

        Raises
        ------
        ModelUnusableError
            If the bundle or the card do not hold what a model needs.
        """
        from sklearn.pipeline import Pipeline

        with _unusable_when_lacking(card):
            pipeline = bundle["pipeline"]
            oof_y = np.asarray(bundle["oof_y"], dtype=np.int8)
            oof_p = np.asarray(bundle["oof_p"], dtype=np.float64)
            fields = _card_fields(card)
        if not isinstance(pipeline, Pipeline):
            raise ModelUnusableError(
                f"Model '{card.get('name', '?')}' holds a {type(pipeline).__name__}, not a "
                f"fakeusers model. Retrain it with {retrain_hint(card.get('name', '?'))}."
            )
        return cls(pipeline=pipeline, oof_y=oof_y, oof_p=oof_p, **fields)

    @classmethod
    def from_scoring(cls, arrays: Any, card: dict, pipeline: Deferred) -> TrainedModel:
        """Rebuild a model from what :meth:`scoring_arrays` and :meth:`card` stored, with its
        pipeline built from the bundle when first read.

        Raises
        ------
        ModelUnusableError
            If the arrays or the card do not hold what a model needs.
        """
        with _unusable_when_lacking(card):
            oof_y = np.asarray(arrays["oof_y"], dtype=np.int8)
            oof_p = np.asarray(arrays["oof_p"], dtype=np.float64)
            scorer = LinearScorer.from_arrays(arrays)
            fields = _card_fields(card)
        return cls(pipeline=pipeline, oof_y=oof_y, oof_p=oof_p, scorer=scorer, **fields)

    def card(self) -> dict:
        """What the model store records in ``model.json`` besides its own fields."""
        return {
            "model_type": self.model_type,
            "params": self.params(),
            "vocabulary": self.vocabulary.to_dict(),
            "features": self.feature_names,
            "training": self.training,
            "cv": self.cv,
            "profile": self.profile,
        }


@contextmanager
def _unusable_when_lacking(card: dict) -> Iterator[None]:
    """Turn a missing or malformed part of a stored model into a :class:`ModelUnusableError`."""
    name = card.get("name", "?")
    try:
        yield
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelUnusableError(
            f"Model '{name}' lacks {exc} in its bundle or card, so it cannot be used. "
            f"Retrain it with {retrain_hint(name)}."
        ) from exc


def _card_fields(card: dict) -> dict[str, Any]:
    """The model's fields a stored card holds: type, vocabulary, cv, training and profile."""
    model_type = card["model_type"]
    if model_type not in MODEL_TYPES:
        raise ValueError(f"the model type {model_type!r}")
    recorded = card.get("profile")
    return {
        "model_type": model_type,
        "vocabulary": Vocabulary.from_dict(card["vocabulary"]),
        "cv": dict(card["cv"]),
        "training": dict(card.get("training") or {}),
        "profile": dict(recorded) if isinstance(recorded, dict) else {},
    }


def training_problem(log: Log) -> str | None:
    """Why ``log`` cannot train a model, in words for the analyst; None when it can.

    No ``Fake`` column, conflicting labels, or fewer than 5 fake or 5 real users. Such a
    log can still be scored.
    """
    try:
        y = log.require_labels()
    except FakeusersError as exc:
        return str(exc)
    n_fake = int((y == 1).sum())
    n_real = int((y == 0).sum())
    if min(n_fake, n_real) < MIN_USERS_PER_CLASS:
        return (
            f"{', '.join(log.report.files)} has {n_fake} fake and {n_real} real users; training "
            f"needs at least {MIN_USERS_PER_CLASS} of each. Add labelled logs with more users."
        )
    return None


def _workers() -> int:
    """Fits to run at once by default: one per core this process may use, at most six.

    Each fit then runs on one thread: on a busy machine threads of one fit (OpenMP for
    boosting, BLAS for logistic) mostly wait for each other, at up to six times the CPU
    (benchmarks/README.md, "Training").
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, N_FOLDS + 1))


def _fit(
    model_type: str,
    random_state: int,
    X: pd.DataFrame,
    y: np.ndarray,
    rows: np.ndarray,
    held_out: np.ndarray | None,
    side_by_side: bool,
) -> tuple[Pipeline, np.ndarray | None]:
    """A pipeline fitted on ``rows``, and its probabilities for the ``held_out`` rows."""
    from threadpoolctl import threadpool_limits

    # Fits side by side get one OpenMP thread each (the limit is per thread), one per core.
    with threadpool_limits(limits=1 if side_by_side else None, user_api="openmp"):
        pipeline = make_pipeline(model_type, random_state=random_state).fit(X.iloc[rows], y[rows])
        if held_out is None:
            return pipeline, None
        return pipeline, pipeline.predict_proba(X.iloc[held_out])[:, 1]


def train(
    log: Log,
    model_type: str = DEFAULT_MODEL,
    *,
    random_state: int = 0,
    use_timestamps: bool = True,
    progress: Progress | None = None,
    workers: int | None = None,
) -> TrainedModel:
    """Cross-validate and fit a model on a labelled log.

    The five fold models and the model on all users are six independent fits: ``workers``
    at a time, in threads, each on one core when more than one runs at once.

    Parameters
    ----------
    log : Log
        A labelled log (``Fake`` column), each user with one label.
    model_type : {"logistic", "boosting"}
    random_state : int
        Seeds the folds and the boosting, so training is reproducible (whatever ``workers``).
    use_timestamps : bool
        Use the timestamp features when the log has timestamps. A model that uses them can
        only score logs with timestamps; pass False to train one that scores any log.
    progress : callable, optional
        ``progress(stage, done, eta_seconds)`` as training goes (:mod:`fakeusers.progress`):
        features, the fits (with an estimate of the time left once a fit has finished), the
        out-of-fold figures, the training profile, and last ``done == 1.0``. It is called
        from the calling thread only, so it may draw on a Streamlit page.
    workers : int, optional
        Fits at once; by default one per core, at most six. With one, the fit may use every
        core itself.

    Raises
    ------
    FakeusersError
        Unlabelled log, conflicting labels, or fewer than 5 users in a class.
    """
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    from fakeusers.applicability import profile

    make_pipeline(model_type)  # validate the type before any work
    problem = training_problem(log)
    if problem is not None:
        raise FakeusersError(problem)

    def say(stage: str, done: float, eta: float | None = None) -> None:
        if progress is not None:
            progress(stage, done, eta)

    y = log.require_labels().astype(int)
    say(f"Computing features for {log.n_users:,} users ...", 0.0)
    vocabulary = Vocabulary.from_log(log)
    if not use_timestamps:
        vocabulary = dataclasses.replace(vocabulary, timestamps=False)
    X = featurize(log, vocabulary)

    folds = StratifiedKFold(n_splits=N_FOLDS, shuffle=True, random_state=random_state)
    splits = list(folds.split(np.zeros(len(y)), y))
    # Fit 0 is the model on all users, the largest, started first so that no worker is left
    # with it alone at the end; fits 1 to 5 are the folds.
    rows = [np.arange(len(y)), *(train_rows for train_rows, _ in splits)]
    workers = _workers() if workers is None else max(1, int(workers))
    clock = FitClock([len(r) for r in rows], workers)
    stage = (
        f"Cross-validating {model_type} ({N_FOLDS} folds by user) and fitting on all users: "
        f"{len(rows)} fits, {min(workers, len(rows))} at a time ..."
    )
    say(stage, FEATURES_SHARE)

    def fit(i: int) -> tuple[Pipeline, np.ndarray | None]:
        clock.start(i)
        held_out = splits[i - 1][1] if i else None
        return _fit(model_type, random_state, X, y, rows[i], held_out, workers > 1)

    oof = np.empty(len(y), dtype=np.float64)
    # One BLAS thread, for the whole process (its limit is not per thread): on users x 40
    # features more threads only wait for each other, 6.6 times the CPU on a busy machine.
    with (
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        running = {pool.submit(fit, i): i for i in range(len(rows))}
        for future in as_completed(running):
            i = running[future]
            fitted, p = future.result()
            if i == 0:
                pipeline = fitted
            else:
                oof[splits[i - 1][1]] = p
            clock.finish(i)
            say(stage, FEATURES_SHARE + FITS_SHARE * clock.done, clock.eta_seconds())

    say("Measuring the out-of-fold probabilities ...", FEATURES_SHARE + FITS_SHARE)
    cv = classification_metrics(y, oof)
    say("Recording what the training data looks like ...", 0.95)
    recorded = profile(X, y, oof)
    report = log.report
    training = {
        "files": list(report.files),
        "fingerprint_sha256": log.fingerprint(),
        "rows": log.n_rows,
        "users": log.n_users,
        "fake_share": float(y.mean()),
        "timestamps": report.has_timestamps,
    }
    scorer = _exact_scorer(pipeline, X)
    say(f"Trained {model_type} on {log.n_users:,} users.", 1.0)
    return TrainedModel(
        model_type, pipeline, vocabulary, cv, y.astype(np.int8), oof, training, recorded, scorer
    )


def _exact_scorer(pipeline: Pipeline, X: pd.DataFrame) -> LinearScorer | None:
    """The pipeline's :class:`~fakeusers.linear.LinearScorer` when it gives the pipeline's
    probabilities to the last bit on the training users (asked in the blocks
    :func:`probabilities` uses); None otherwise, and the pipeline scores."""
    scorer = LinearScorer.from_pipeline(pipeline)
    if scorer is None:
        return None
    for i in range(0, len(X), PREDICT_ROWS):
        block = X.iloc[i : i + PREDICT_ROWS]
        if not np.array_equal(
            scorer.predict_proba(block), pipeline.predict_proba(block), equal_nan=True
        ):
            return None
    return scorer


def score(model: TrainedModel, log: Log) -> pd.DataFrame:
    """Probability that each user of ``log`` is fake.

    Returns
    -------
    pandas.DataFrame
        Columns ``UserId`` and ``is_fake_probability``, one row per user in order of first
        appearance in the log.
    """
    import pandas as pd

    X, p = features_and_probabilities(model, log)
    return pd.DataFrame({"UserId": X.index.to_numpy(), "is_fake_probability": p})


def features_and_probabilities(model: TrainedModel, log: Log) -> tuple[pd.DataFrame, np.ndarray]:
    """The features of each user of ``log`` and the probability that they are fake.

    The features are what :mod:`fakeusers.applicability` compares with the training data.
    """
    X = featurize(log, model.vocabulary)
    return X, probabilities(model, X)


#: Users per call to the model: a user's probability must not depend on how many users are
#: scored with it (BLAS computes the last rows of a call another way), so that a log scored in
#: partitions (:mod:`fakeusers.partitioned`) gets the in-memory probabilities to the last bit.
PREDICT_ROWS = 65536


def probabilities(model: TrainedModel, X: pd.DataFrame) -> np.ndarray:
    """The probability that each user (row of ``X``) is fake, in blocks of
    :data:`PREDICT_ROWS` users counted from the first, by the model's scorer when it has one
    (the same bits, without scikit-learn), else by its pipeline."""
    predictor = model.predictor
    blocks = [
        predictor.predict_proba(X.iloc[i : i + PREDICT_ROWS])[:, 1]
        for i in range(0, len(X), PREDICT_ROWS)
    ]
    return np.concatenate(blocks).astype(np.float64) if blocks else np.zeros(0)
