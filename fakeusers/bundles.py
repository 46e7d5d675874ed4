"""The persisted form of a model: a skops bundle that runs no code, and a JSON card.

A bundle holds stock scikit-learn objects and plain arrays only (:meth:`TrainedModel.bundle`);
it is written with skops and read back with an explicit list of trusted types,
:data:`TRUSTED_TYPES`. Our own classes (``TrainedModel``, ``Vocabulary``) are never in it:
they are rebuilt from the card, so renaming or moving them breaks no saved model. The card
carries :data:`CARD_SCHEMA`; the store refuses other schemas.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import platform
import stat
import sys
import threading
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import fakeusers
from fakeusers.errors import FakeusersError, ModelUnusableError

__all__ = [
    "CARD_SCHEMA",
    "TRUSTED_TYPES",
    "build",
    "build_scored",
    "card_bytes",
    "check_libraries",
    "dumps",
    "plain",
    "read_verified",
    "retrain_hint",
    "running_versions",
    "scoring_bytes",
]

#: The model card's format. Version 1 (joblib bundles) is refused: it runs code when read.
CARD_SCHEMA = 2
_CACHED_MODELS = 8

#: Every type a bundle may contain. Anything else is refused before it is built.
TRUSTED_TYPES = (
    "builtins.bool",
    "builtins.dict",
    "builtins.float",
    "builtins.int",
    "builtins.list",
    "builtins.NoneType",
    "builtins.str",
    "builtins.tuple",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
    "numpy.uint64",
    "numpy.random._generator.Generator",
    "numpy.random._pcg64.PCG64",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.linear_model._logistic.LogisticRegressionCV",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._label.LabelEncoder",
)


def retrain_hint(name: str) -> str:
    """The command that replaces an unusable model ``name``."""
    return f"`python -m fakeusers train LOGS --name {name} --replace`"


def read_verified(path: Path, ref: str, sha256: object) -> bytes:
    """A stored file's bytes (the bundle, the scoring arrays), read from a plain file (never
    through a link) and checked against the sha256 its card records.

    Raises
    ------
    ModelUnusableError
        Not a plain file, unreadable, or not the bytes the card describes.
    """
    name = ref.partition("@")[0]
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise ModelUnusableError(f"{path} is not a plain file; it was not loaded.")
            data = f.read()
    except OSError as exc:
        raise ModelUnusableError(
            f"Cannot read the file {path} of model '{ref}': {exc.strerror}. Check the "
            "file's permissions."
        ) from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ModelUnusableError(
            f"The file {path} of model '{ref}' does not match the sha256 in its "
            "model.json: it was changed or corrupted, so it was not loaded. Restore it from a "
            f"backup or retrain the model with {retrain_hint(name)}."
        )
    return data


def dumps(model: Any) -> bytes:
    """The skops bytes of a trained model's bundle."""
    import skops.io as sio

    return sio.dumps(model.bundle())


def scoring_bytes(model: Any) -> bytes | None:
    """The ``numpy.savez`` bytes of a model's scoring arrays; None when it has no scorer."""
    import numpy as np

    arrays = model.scoring_arrays()
    if arrays is None:
        return None
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


@functools.cache
def _sklearn_version() -> str:
    """The installed scikit-learn's version, without importing it (1 s) when not imported."""
    if "sklearn" in sys.modules:
        return sys.modules["sklearn"].__version__
    from importlib.metadata import version

    return version("scikit-learn")


def check_libraries(name: str, card: dict[str, Any]) -> None:
    """Refuse a model fitted by another scikit-learn: its internals may load wrong."""
    libraries = card.get("libraries")
    trained = libraries.get("scikit-learn") if isinstance(libraries, dict) else None
    if trained != _sklearn_version():
        raise ModelUnusableError(
            f"Model '{name}' was trained with scikit-learn {trained} but this is "
            f"{_sklearn_version()}; retrain it with {retrain_hint(name)} "
            f"(or install scikit-learn=={trained} to use it as it is)."
        )


def _schema(name: str, data: bytes) -> Any:
    """A skops file's schema: what it holds, read without building anything."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ModelUnusableError(
            f"The bundle of model '{name}' is not a skops file ({exc}). Retrain it with "
            f"{retrain_hint(name)}."
        ) from exc


def _bundle_types(schema: Any) -> set[str]:
    """Every ``module.class`` a skops schema names."""
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__module__" in node or "__class__" in node:
                found.add(f"{node.get('__module__')}.{node.get('__class__')}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


_CACHE: OrderedDict[tuple, Any] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def build(key: tuple, name: str, version: int, data: bytes, card: dict) -> Any:
    """Build the model from bytes whose sha256 matched the card, once per ``key``.

    Every type the file names is checked against :data:`TRUSTED_TYPES` first, and skops is
    given the same list, so nothing else is ever built.

    Raises
    ------
    ModelUnusableError
        Untrusted types, not a skops file, or a bundle that does not make a model.
    """
    return _cached(key, lambda: _built(name, version, data, card))


def _cached(key: tuple, make: Any) -> Any:
    """The model cached under ``key``, made by ``make()`` and cached when missing."""
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    model = make()
    with _CACHE_LOCK:
        _CACHE[key] = model
        while len(_CACHE) > _CACHED_MODELS:
            _CACHE.popitem(last=False)
    return model


def _built(name: str, version: int, data: bytes, card: dict) -> Any:
    """The model a verified bundle and its card make (see :func:`build`), not cached."""
    import skops.io as sio

    from fakeusers.models import TrainedModel

    _check_trusted(name, version, _schema(name, data))
    try:
        bundle = sio.loads(data, trusted=list(TRUSTED_TYPES))
        return TrainedModel.from_bundle(bundle, card)
    except FakeusersError:
        raise
    # A file that passes the checks but does not build is unusable, whatever went wrong.
    except Exception as exc:
        raise ModelUnusableError(
            f"The bundle of model '{name}@{version}' could not be read ({type(exc).__name__}: "
            f"{exc}). Retrain it with {retrain_hint(name)}."
        ) from exc


def _check_trusted(name: str, version: int, schema: Any) -> None:
    untrusted = sorted(_bundle_types(schema) - set(TRUSTED_TYPES))
    if untrusted:
        raise ModelUnusableError(
            f"The bundle of model '{name}@{version}' contains types fakeusers does not trust "
            f"({', '.join(untrusted[:5])}), so it was not loaded, whatever its sha256. "
            f"Retrain it with {retrain_hint(name)}."
        )


def build_scored(
    key: tuple, name: str, version: int, data: bytes, scoring: bytes, card: dict
) -> Any:
    """A model whose scoring arrays (:func:`scoring_bytes`) matched the card, once per ``key``.

    It scores without scikit-learn; its pipeline is built from the bundle ``data`` (as
    :func:`build` does) the first time it is read, and must agree with the arrays. What can be
    checked without building is checked now: the bundle's types (:data:`TRUSTED_TYPES`) and
    that it holds a pipeline.

    Raises
    ------
    ModelUnusableError
        Untrusted types, not a skops file, not a pipeline, or arrays that do not make a model.
    """
    return _cached(key, lambda: _scored(name, version, data, scoring, card))


def _scored(name: str, version: int, data: bytes, scoring: bytes, card: dict) -> Any:
    """The model :func:`build_scored` describes, not cached."""
    import numpy as np

    from fakeusers.linear import LinearScorer
    from fakeusers.models import Deferred, TrainedModel

    schema = _schema(name, data)
    _check_trusted(name, version, schema)
    held = schema.get("content") if isinstance(schema, dict) else None
    pipeline = held.get("pipeline") if isinstance(held, dict) else None
    if not isinstance(pipeline, dict) or pipeline.get("__class__") != "Pipeline":
        what = pipeline.get("__class__") if isinstance(pipeline, dict) else "nothing"
        raise ModelUnusableError(
            f"Model '{name}@{version}' holds a {what}, not a fakeusers model. Retrain it with "
            f"{retrain_hint(name)}."
        )
    try:
        with np.load(io.BytesIO(scoring), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelUnusableError(
            f"The scoring arrays of model '{name}@{version}' cannot be read ({exc}). Retrain "
            f"it with {retrain_hint(name)}."
        ) from exc

    def pipeline_from_bundle() -> Any:
        # built once (by whichever thread reads the pipeline first): not kept in the cache
        # beside the model, which holds it from then on
        from_bundle = _built(name, version, data, card)
        agrees = LinearScorer.from_pipeline(from_bundle.pipeline)
        expected = {
            **({} if agrees is None else agrees.arrays()),
            "oof_y": from_bundle.oof_y,
            "oof_p": from_bundle.oof_p,
        }
        if agrees is None or any(
            k not in arrays or not np.array_equal(a, arrays[k]) for k, a in expected.items()
        ):
            raise ModelUnusableError(
                f"The bundle and the scoring arrays of model '{name}@{version}' disagree: the "
                f"files were changed. Retrain it with {retrain_hint(name)}."
            )
        return from_bundle.pipeline

    return TrainedModel.from_scoring(arrays, card, Deferred(pipeline_from_bundle))


@functools.cache
def running_versions() -> dict[str, str]:
    import numpy
    import pandas
    import sklearn
    import skops

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "fakeusers": fakeusers.__version__,
    }


def plain(card: dict[str, Any]) -> dict[str, Any]:
    """The card as plain JSON values (numpy scalars and arrays become numbers and lists)."""

    def default(value: object) -> object:
        if hasattr(value, "tolist"):
            return value.tolist()
        raise TypeError(f"{type(value).__name__} is not JSON-serialisable")

    return json.loads(json.dumps(card, default=default))


def card_bytes(card: dict[str, Any]) -> bytes:
    return (json.dumps(card, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
