"""The model store: fitted bundles and their model cards, on disk.

A model lives in ``<models_dir>/<name>/``::

    model.json                     the model card (JSON)
    bundle-<sha256[:16]>.joblib    the fitted bundle the card points at
    .lock                          serialises concurrent saves of this name

Saves are atomic: the bundle goes to a temporary file, is fsync'ed and renamed to its
content-addressed name, then ``model.json`` is replaced in one ``os.replace``. Until that
replace the card still points at the previous, still present bundle, so a process killed
mid-save leaves the previous version loadable. Loads check the card, the bundle's path, its
sha256 and the scikit-learn version *before* unpickling anything, because unpickling runs
code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import io
import json
import os
import platform
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib

import fakeusers
from fakeusers.errors import FakeusersError

__all__ = ["MODELS_DIR_ENV", "ModelStore", "resolve_models_dir", "validate_name"]

MODELS_DIR_ENV = "FAKEUSERS_MODELS_DIR"

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_CARD_FILE = "model.json"
_LOCK_FILE = ".lock"
_BUNDLE_TMP_PREFIX = ".bundle-"
_CARD_TMP_PREFIX = ".model-"
_TMP_SUFFIX = ".tmp"
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20
_LOAD_ATTEMPTS = 3


def resolve_models_dir(models_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder that holds the models.

    Parameters
    ----------
    models_dir : str or path-like, optional
        An explicit folder. When omitted, the environment variable
        ``FAKEUSERS_MODELS_DIR`` is used if set and non-empty, else ``models``
        (relative to the working directory).

    Returns
    -------
    Path
        The folder, with ``~`` expanded. It is not created.

    Examples
    --------
    >>> resolve_models_dir("/srv/models")
    PosixPath('/srv/models')
    """
    if models_dir is None:
        models_dir = os.environ.get(MODELS_DIR_ENV) or "models"
    return Path(models_dir).expanduser()


def validate_name(name: str) -> str:
    """Check that ``name`` can be used as a model name and return it.

    A name is 1 to 64 letters, digits, ``.``, ``_`` or ``-`` and starts with a letter or
    digit, so it is always one plain folder inside the models folder: never a path, never
    ``..``, never hidden.

    Parameters
    ----------
    name : str
        The proposed model name.

    Returns
    -------
    str
        ``name``, unchanged.

    Raises
    ------
    FakeusersError
        If the name is not allowed.

    Examples
    --------
    >>> validate_name("rf-2024.05")
    'rf-2024.05'
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise FakeusersError(
            f"Model name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


class ModelStore:
    """Save, load, list and delete named models in a folder.

    Parameters
    ----------
    root : str or path-like, optional
        The models folder, resolved with :func:`resolve_models_dir`. It is created on the
        first save, not before.

    Attributes
    ----------
    root : Path
        The models folder, as an absolute path.

    Examples
    --------
    >>> store = ModelStore(tmp_dir)  # doctest: +SKIP
    >>> card = store.save("rf", fitted_pipeline, {"model": "random_forest"})  # doctest: +SKIP
    >>> pipeline, card = store.load("rf")  # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = resolve_models_dir(root).absolute()

    def __repr__(self) -> str:
        return f"ModelStore({str(self.root)!r})"

    def save(self, name: str, bundle: object, card: dict[str, Any]) -> dict[str, Any]:
        """Save ``bundle`` and its card under ``name``, replacing any model of that name.

        Parameters
        ----------
        name : str
            The model name, see :func:`validate_name`.
        bundle : object
            Anything joblib can pickle, typically the fitted pipeline.
        card : dict
            The caller's model card (model type, parameters, vocabulary, training
            fingerprint, metrics...). It must be JSON-serialisable; numpy scalars and
            arrays are converted to plain numbers and lists. It is not modified.

        Returns
        -------
        dict
            The card as written: the caller's keys plus ``name``, ``created`` (UTC,
            ISO 8601), ``bundle_file``, ``bundle_sha256``, ``bundle_bytes`` and
            ``versions``. These added keys override caller keys of the same name.

        Raises
        ------
        FakeusersError
            If the name is not allowed, the card is not JSON-serialisable, or the model
            cannot be written (the previous version, if any, is then left unchanged).
        """
        validate_name(name)
        if not isinstance(card, dict):
            raise TypeError(f"card must be a dict, not {type(card).__name__}")
        # Serialise the caller's card before touching the disk, so a bad card fails fast.
        try:
            full_card = json.loads(json.dumps(card, default=_json_default))
        except (TypeError, ValueError) as exc:
            raise FakeusersError(
                f"The card for model '{name}' cannot be saved as JSON ({exc}). "
                "Use plain numbers, strings, lists and dicts with string keys."
            ) from exc

        model_dir = self.root / name
        try:
            with _exclusive_lock(model_dir):
                bundle_file, sha, size = _write_bundle(model_dir, bundle)
                full_card.update(
                    name=name,
                    created=dt.datetime.now(dt.UTC).isoformat(),
                    bundle_file=bundle_file,
                    bundle_sha256=sha,
                    bundle_bytes=size,
                    versions=_running_versions(),
                )
                _write_card(model_dir, full_card)
                _remove_leftovers(model_dir, keep=bundle_file)
        except OSError as exc:
            raise FakeusersError(
                f"Could not save model '{name}' in {self.root}: {exc.strerror or exc}. "
                "Any previous version of it is unchanged. Free some disk space or set "
                f"{MODELS_DIR_ENV} to a writable folder, then save again."
            ) from exc
        return full_card

    def load(self, name: str) -> tuple[object, dict[str, Any]]:
        """Load a model after checking that it is safe to unpickle.

        Before anything is unpickled, the card must parse, name a plain file inside the
        model's folder, that file's sha256 must match the card, and the card's
        scikit-learn version must equal the running one.

        Parameters
        ----------
        name : str
            The model name.

        Returns
        -------
        bundle : object
            The saved bundle.
        card : dict
            The model card.

        Raises
        ------
        FakeusersError
            If the model is missing, its card is broken, its bundle is missing, tampered
            with, corrupted or truncated, or it was trained with another scikit-learn.
        """
        for _ in range(_LOAD_ATTEMPTS):
            card = self.card(name)
            _check_versions(name, card)
            path = self._bundle_path(name, card)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except FileNotFoundError:
                # A concurrent save may have replaced the card and removed this bundle.
                if self._read_card(name).get("bundle_file") != card["bundle_file"]:
                    continue
                raise FakeusersError(
                    f"The bundle file {path} of model '{name}' is missing. Restore it from "
                    f"a backup or retrain the model with {_train_hint(name)}."
                ) from None
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise FakeusersError(
                        f"Cannot read the bundle file {path} of model '{name}': "
                        f"{exc.strerror}. Check the file's permissions."
                    ) from exc
                raise _not_plain_file(name, path) from None
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    raise _not_plain_file(name, path)
                # Hash and unpickle the same open file, so it cannot be swapped in between.
                if _sha256_of(f) != card.get("bundle_sha256"):
                    raise FakeusersError(
                        f"The bundle file {path} of model '{name}' does not match the "
                        "sha256 recorded in its model.json: it was tampered with or "
                        "corrupted, so it was not loaded. Restore it from a backup or "
                        f"retrain the model with {_train_hint(name)}."
                    )
                f.seek(0)
                try:
                    bundle = joblib.load(f)
                # Unpickling can fail with almost any exception (EOFError, ValueError,
                # AttributeError, ModuleNotFoundError...); all mean "this file is unusable".
                except Exception as exc:
                    raise FakeusersError(
                        f"The bundle file {path} of model '{name}' could not be read "
                        f"({type(exc).__name__}: {exc}). Retrain the model with "
                        f"{_train_hint(name)}."
                    ) from exc
            return bundle, card
        raise FakeusersError(
            f"Model '{name}' kept being replaced while it was loading. Wait for the running "
            "save to finish and try again."
        )

    def card(self, name: str) -> dict[str, Any]:
        """Return a model's card, read from ``model.json`` only (nothing is unpickled).

        Parameters
        ----------
        name : str
            The model name.

        Returns
        -------
        dict
            The model card.

        Raises
        ------
        FakeusersError
            If there is no such model or its ``model.json`` is unreadable or not a JSON
            object.
        """
        validate_name(name)
        return self._read_card(name)

    def list(self) -> list[dict[str, Any]]:
        """Return the cards of all models, newest first.

        Only the cards are read, so this is cheap. A model that cannot be loaded (broken
        or missing ``model.json``, bundle file missing or unsafe, other scikit-learn
        version) is listed with an ``"error"`` key holding the reason, after the card's
        readable fields; entries without a valid ``created`` come last.

        Returns
        -------
        list of dict
            One card per model folder. Empty if the models folder does not exist.

        Raises
        ------
        FakeusersError
            If the models folder exists but cannot be read.
        """
        try:
            folders = sorted(p for p in self.root.iterdir() if p.is_dir())
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise FakeusersError(
                f"Cannot read the models folder {self.root}: {exc.strerror}. Point "
                f"{MODELS_DIR_ENV} at a readable folder."
            ) from exc

        entries = []
        for folder in folders:
            name = folder.name
            if not _NAME_RE.fullmatch(name):
                continue
            card: dict[str, Any] = {}
            try:
                card = self._read_card(name)
                _check_versions(name, card)
                path = self._bundle_path(name, card)
                if not path.is_file() or path.is_symlink():
                    raise FakeusersError(
                        f"The bundle file {path} of model '{name}' is missing or not a "
                        f"plain file. Retrain the model with {_train_hint(name)}."
                    )
                entry = {**card, "name": name}
                _created(entry)
            except FakeusersError as exc:
                entry = {**card, "name": name, "error": str(exc)}
            entries.append(entry)

        entries.sort(key=lambda e: e["name"])
        entries.sort(key=_created, reverse=True)
        return entries

    def exists(self, name: str) -> bool:
        """Whether a model (usable or not) is stored under ``name``."""
        return (self.root / validate_name(name) / _CARD_FILE).exists()

    def newest(self) -> str | None:
        """Return the name of the most recently created model that can be loaded.

        Returns
        -------
        str or None
            The name, or None if there is no loadable model.
        """
        return next((e["name"] for e in self.list() if "error" not in e), None)

    def delete(self, name: str) -> None:
        """Delete a model, waiting for any save of it in progress to finish first.

        Parameters
        ----------
        name : str
            The model name. Broken models (for example without ``model.json``) can be
            deleted too.

        Raises
        ------
        FakeusersError
            If there is no folder for that model or it cannot be removed.
        """
        validate_name(name)
        model_dir = self.root / name
        if not model_dir.is_dir():
            raise self._no_model(name)
        try:
            with _exclusive_lock(model_dir):
                # Card first: a half-deleted folder is then a broken entry, not a model.
                with contextlib.suppress(FileNotFoundError):
                    (model_dir / _CARD_FILE).unlink()
                shutil.rmtree(model_dir)
        except OSError as exc:
            raise FakeusersError(
                f"Could not delete model '{name}' in {self.root}: {exc.strerror or exc}. "
                "Check the folder's permissions."
            ) from exc

    def _no_model(self, name: str) -> FakeusersError:
        return FakeusersError(
            f"No model named '{name}' in {self.root}. Train one with {_train_hint(name)} "
            "or list them with `python -m fakeusers models`."
        )

    def _read_card(self, name: str) -> dict[str, Any]:
        path = self.root / name / _CARD_FILE
        try:
            text = path.read_bytes().decode("utf-8")
        except (FileNotFoundError, NotADirectoryError):
            raise self._no_model(name) from None
        except UnicodeDecodeError as exc:
            raise FakeusersError(
                f"The model card {path} is not UTF-8 text ({exc.reason}). Retrain the "
                f"model with {_train_hint(name)}."
            ) from exc
        except OSError as exc:
            raise FakeusersError(
                f"Cannot read the model card {path}: {exc.strerror}. Check the file's permissions."
            ) from exc
        try:
            card = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FakeusersError(
                f"The model card {path} is not valid JSON (line {exc.lineno}, column "
                f"{exc.colno}: {exc.msg}). Retrain the model with {_train_hint(name)}."
            ) from exc
        if not isinstance(card, dict):
            raise FakeusersError(
                f"The model card {path} holds a JSON {type(card).__name__}, not an object. "
                f"Retrain the model with {_train_hint(name)}."
            )
        return card

    def _bundle_path(self, name: str, card: dict[str, Any]) -> Path:
        """Return the bundle's path; refuse names that could leave the folder, or no sha."""
        model_dir = self.root / name
        bundle_file = card.get("bundle_file")
        if (
            not isinstance(bundle_file, str)
            or bundle_file in ("", ".", "..")
            or bundle_file.startswith(".")
            or "/" in bundle_file
            or "\\" in bundle_file
            or "\0" in bundle_file
        ):
            raise FakeusersError(
                f"The model card {model_dir / _CARD_FILE} names the bundle file "
                f"{bundle_file!r}, which is not a file inside the model's folder; it was "
                f"not loaded. Retrain the model with {_train_hint(name)}."
            )
        if not _SHA256_RE.fullmatch(str(card.get("bundle_sha256", ""))):
            raise FakeusersError(
                f"The model card {model_dir / _CARD_FILE} has no valid bundle_sha256, so "
                f"its bundle cannot be checked and was not loaded. Retrain the model with "
                f"{_train_hint(name)}."
            )
        return model_dir / bundle_file


def _train_hint(name: str) -> str:
    return f"`python -m fakeusers train LOGS --name {name}`"


def _not_plain_file(name: str, path: Path) -> FakeusersError:
    return FakeusersError(
        f"The bundle file {path} of model '{name}' is not a plain file (a link, folder or "
        f"device); it was not loaded. Retrain the model with {_train_hint(name)}."
    )


def _check_versions(name: str, card: dict[str, Any]) -> None:
    """Refuse a model pickled by another scikit-learn: it may load wrong or not at all."""
    import sklearn

    versions = card.get("versions")
    trained = versions.get("scikit-learn") if isinstance(versions, dict) else None
    if trained is None:
        raise FakeusersError(
            f"Model '{name}' has no scikit-learn version in its model.json, so it cannot be "
            f"checked and was not loaded. Retrain it with {_train_hint(name)}."
        )
    if trained != sklearn.__version__:
        raise FakeusersError(
            f"Model '{name}' was trained with scikit-learn {trained} but this is "
            f"{sklearn.__version__}; retrain it with {_train_hint(name)} "
            f"(or install scikit-learn=={trained} to use it as it is)."
        )


def _running_versions() -> dict[str, str]:
    import numpy
    import pandas
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "joblib": joblib.__version__,
        "fakeusers": fakeusers.__version__,
    }


def _json_default(value: object) -> object:
    """Convert what json cannot: numpy/pandas scalars and arrays, paths, sets, datetimes."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} value {value!r} is not JSON-serialisable")


def _created(entry: dict[str, Any]) -> dt.datetime:
    """Return an entry's creation time; entries without a valid one sort as the oldest."""
    try:
        created = dt.datetime.fromisoformat(entry["created"])
    except (KeyError, TypeError, ValueError):
        if "error" in entry:
            return dt.datetime.min.replace(tzinfo=dt.UTC)
        raise FakeusersError(
            f"Model '{entry['name']}' has no valid 'created' time in its model.json. "
            f"Retrain it with {_train_hint(entry['name'])}."
        ) from None
    return created if created.tzinfo else created.replace(tzinfo=dt.UTC)


@contextlib.contextmanager
def _exclusive_lock(model_dir: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``<model_dir>/.lock``, creating the folder if needed."""
    lock_path = model_dir / _LOCK_FILE
    while True:
        model_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # a concurrent delete removed the folder again
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # delete() removes the folder, lock file included, while holding the lock. A
            # save that was waiting then holds a lock on a file nobody else sees: retry.
            try:
                on_disk = os.stat(lock_path)
            except FileNotFoundError:
                on_disk = None
            held = os.fstat(fd)
            if on_disk is not None and (on_disk.st_dev, on_disk.st_ino) == (
                held.st_dev,
                held.st_ino,
            ):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_bundle(model_dir: Path, bundle: object) -> tuple[str, str, int]:
    """Write the bundle durably under its content-addressed name; return (file, sha, bytes)."""
    fd, tmp = tempfile.mkstemp(dir=model_dir, prefix=_BUNDLE_TMP_PREFIX, suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "w+b") as f:
            joblib.dump(bundle, f)
            f.flush()
            os.fsync(f.fileno())
            f.seek(0)
            sha = _sha256_of(f)
            size = f.tell()
        bundle_file = f"bundle-{sha[:16]}.joblib"
        os.replace(tmp, model_dir / bundle_file)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(model_dir)
    return bundle_file, sha, size


def _write_card(model_dir: Path, card: dict[str, Any]) -> None:
    """Replace model.json in one atomic step."""
    data = (json.dumps(card, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=model_dir, prefix=_CARD_TMP_PREFIX, suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, model_dir / _CARD_FILE)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(model_dir)


def _remove_leftovers(model_dir: Path, keep: str) -> None:
    """Delete older bundles and temp files of crashed saves (safe: we hold the lock)."""
    for path in model_dir.iterdir():
        name = path.name
        old_bundle = name.startswith("bundle-") and name.endswith(".joblib")
        tmp = name.startswith((_BUNDLE_TMP_PREFIX, _CARD_TMP_PREFIX)) and name.endswith(_TMP_SUFFIX)
        if name != keep and (old_bundle or tmp):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _sha256_of(f: io.BufferedIOBase) -> str:
    """Hash a binary file object from its current position to the end."""
    digest = hashlib.sha256()
    while chunk := f.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    """Make renames inside ``path`` durable across a power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
