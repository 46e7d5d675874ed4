"""A fitted logistic pipeline's arithmetic, so that scoring needs no scikit-learn.

Loading a skops bundle imports scikit-learn, SciPy's optimisers and pytest: about 1.5 s of
CPU, more than parsing a 10M-event log takes one core. A logistic model's probabilities are
a few array operations: fill the missing features with the imputer's medians, subtract the
scaler's means, divide by its scales, one matrix product with the coefficients, the logistic
function. :class:`LinearScorer` holds those arrays and does those operations in the order,
memory layout and functions scikit-learn uses (SciPy's ``expit``, one BLAS product per call),
so its probabilities equal the pipeline's **to the last bit**. :func:`fakeusers.models.train`
checks that on every training log and keeps a scorer only when it holds; the model store
writes the arrays beside the bundle (``scoring.npz``, numbers only, read with
``allow_pickle=False``) and scores and explains with them. The pipeline itself is still
stored, and built when something asks for it (the Model page's parameters, for one).

Boosting models have no such form: they are scored by scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit

__all__ = ["LinearScorer"]

_FIELDS = ("fill", "mean", "scale", "coef", "intercept")


@dataclass(frozen=True, eq=False)
class LinearScorer:
    """Median imputation, standard scaling and a binary logistic regression, in numpy.

    Attributes
    ----------
    fill : numpy.ndarray
        The value of each feature where it is missing (the imputer's ``statistics_``).
    mean, scale : numpy.ndarray
        The scaler's ``mean_`` and ``scale_``.
    coef : numpy.ndarray
        Shape ``(1, n_features)``, the regression's ``coef_``.
    intercept : numpy.ndarray
        Shape ``(1,)``, its ``intercept_``.
    features : tuple of str or None
        The features' names in order (the pipeline's ``feature_names_in_``): a frame with
        other columns is refused, as scikit-learn refuses it.

    Examples
    --------
    >>> fill, mean, scale = np.zeros(2), np.zeros(2), np.ones(2)
    >>> s = LinearScorer(fill, mean, scale, coef=np.ones((1, 2)), intercept=np.zeros(1))
    >>> s.predict_proba(np.array([[1.0, 1.0]]))[:, 1].round(3).tolist()
    [0.881]
    """

    fill: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    features: tuple[str, ...] | None = None

    @classmethod
    def from_pipeline(cls, pipeline: Any) -> LinearScorer | None:
        """The scorer of a fitted ``impute -> scale -> model`` logistic pipeline (see
        :func:`fakeusers.models.make_pipeline`); None for any other pipeline."""
        steps = dict(getattr(pipeline, "steps", []))
        if list(steps) != ["impute", "scale", "model"]:
            return None
        impute, scale, model = steps["impute"], steps["scale"], steps["model"]
        coef = np.asarray(getattr(model, "coef_", np.zeros((0, 0))), dtype=np.float64)
        if (
            type(model).__name__ not in ("LogisticRegression", "LogisticRegressionCV")
            or len(getattr(model, "classes_", ())) != 2
            or coef.shape[0] != 1
            or getattr(impute, "add_indicator", True)
            or not (scale.with_mean and scale.with_std)
        ):
            return None
        names = getattr(impute, "feature_names_in_", None)
        return cls(
            np.asarray(impute.statistics_, dtype=np.float64),
            np.asarray(scale.mean_, dtype=np.float64),
            np.asarray(scale.scale_, dtype=np.float64),
            coef,
            np.asarray(model.intercept_, dtype=np.float64),
            None if names is None else tuple(str(n) for n in names),
        )

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> LinearScorer:
        """A scorer from what :meth:`arrays` returned.

        Raises
        ------
        ValueError
            Missing arrays, or shapes that do not make a scorer.
        """
        missing = [f"scorer_{f}" for f in _FIELDS if f"scorer_{f}" not in arrays]
        if missing:
            raise ValueError(f"no {', '.join(missing)}")
        numbers = [np.asarray(arrays[f"scorer_{f}"], dtype=np.float64) for f in _FIELDS]
        names = arrays.get("scorer_features")
        scorer = cls(*numbers, None if names is None else tuple(str(n) for n in names))
        n = scorer.fill.shape
        if not (
            len(n) == 1
            and scorer.mean.shape == scorer.scale.shape == n
            and scorer.coef.shape == (1, *n)
            and scorer.intercept.shape == (1,)
            and (scorer.features is None or len(scorer.features) == n[0])
        ):
            raise ValueError("scorer arrays of inconsistent shapes")
        if not all(np.isfinite(a).all() for a in numbers):
            raise ValueError("scorer arrays that are not finite numbers")
        return scorer

    def arrays(self) -> dict[str, np.ndarray]:
        """The scorer as named arrays (``scorer_fill``, ...), for ``numpy.savez``: numbers,
        and the feature names as fixed-width text (no object arrays: read without pickle)."""
        out = {f"scorer_{f}": getattr(self, f) for f in _FIELDS}
        if self.features is not None:
            out["scorer_features"] = np.array(self.features, dtype=str)
        return out

    def standardised(self, X: Any) -> np.ndarray:
        """``X`` imputed and scaled, as the pipeline's first two steps give it (the same bits).

        ``X`` holds one row per user, the model's features in order (a DataFrame or an
        array). The operations are scikit-learn's, on a copy of ``X`` in its own memory
        order (a one-block DataFrame is Fortran-ordered), so the results are the same bits.

        Raises
        ------
        ValueError
            A frame with other feature names, or infinite values (as scikit-learn raises).
        """
        columns = getattr(X, "columns", None)
        named = None if columns is None else tuple(str(c) for c in columns)
        if self.features is not None and named is not None and named != self.features:
            raise ValueError(
                "The features are not the model's, in its order: "
                f"got {list(named)[:5]}..., expected {list(self.features)[:5]}..."
            )
        x = np.array(X, dtype=np.float64, order="K", copy=True)
        if np.isinf(x).any():
            raise ValueError("The features hold infinite values, which the model cannot score.")
        missing = np.isnan(x)
        if missing.any():
            x[missing] = np.take(self.fill, np.nonzero(missing)[1])
        x -= self.mean
        x /= self.scale
        return x

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of the two classes, as the pipeline's ``predict_proba`` returns them
        (see :meth:`standardised` for ``X``)."""
        p = (self.standardised(X) @ self.coef.T + self.intercept).reshape(-1)
        expit(p, out=p)
        return np.stack([1 - p, p], axis=1)
