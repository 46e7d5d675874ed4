"""The model store: named, versioned models on disk, and which one is the default.

A store is a folder::

    promoted.json               the default model, ``{"name": ..., "version": ...}``
    .lock                       serialises promotions
    <name>/
        .lock                   serialises saves of this name
        current.json            which version ``<name>`` means (after a rollback)
        v1/ model.json          the model card (JSON, ``schema`` 2)
            model.skops         the fitted bundle: stock scikit-learn objects and arrays
            scoring.npz         logistic models: the scorer's arrays and the out-of-fold
                                probabilities, numbers only (see fakeusers.linear)
        v2/ ...

The rules live here and nowhere else:

- **Names.** :func:`validate_name` says which names are allowed; :func:`default_name` builds
  the name of a model saved without one. A name is *taken* once it has a version;
  :meth:`ModelStore.save` decides that under the name's lock, so of two trainings racing for
  one free name exactly one succeeds. ``replace=True`` adds a new version instead.
- **Versions.** Saving never destroys an earlier version. ``name`` means the name's newest
  version, unless :meth:`ModelStore.rollback` chose an older one; ``name@3`` is version 3.
- **The default.** The model an operator promoted (:meth:`ModelStore.promote`); the first model
  saved in a store is promoted automatically, so a fresh store with one model uses it, and a
  later training never takes over callers that name no model.
- **Loading runs no code.** A bundle is written with skops and read with an explicit list of
  trusted types (:data:`TRUSTED_TYPES`): every type the file names is checked against it
  before anything is built, whatever the sha256 says. Our own classes are rebuilt from the
  card. Folders and files that are symlinks are refused. Models saved in the old
  joblib/pickle format are refused with a message that says how to retrain.
- **Scoring needs no scikit-learn.** A model with a scorer (:mod:`fakeusers.linear`) is
  loaded from its card and ``scoring.npz`` (read with ``allow_pickle=False``, its sha256 in
  the card like the bundle's); the bundle is verified and its types checked at once, and
  built only when its pipeline is first used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import stat
from pathlib import Path
from typing import Any

from fakeusers.atomic import fsync_dir, locked, write_bytes_atomic
from fakeusers.bundles import (
    CARD_SCHEMA,
    TRUSTED_TYPES,
    build,
    build_scored,
    card_bytes,
    check_libraries,
    dumps,
    plain,
    read_verified,
    running_versions,
    scoring_bytes,
)
from fakeusers.bundles import retrain_hint as _train_hint
from fakeusers.errors import (
    FakeusersError,
    ModelExistsError,
    ModelNotFoundError,
    ModelUnusableError,
    StoreUnavailableError,
)

__all__ = [
    "CARD_SCHEMA",
    "MODELS_DIR_ENV",
    "TRUSTED_TYPES",
    "ModelStore",
    "StoredModel",
    "default_name",
    "parse_ref",
    "resolve_models_dir",
    "validate_name",
]

MODELS_DIR_ENV = "FAKEUSERS_MODELS_DIR"

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_VERSION_RE = re.compile(r"v([1-9][0-9]{0,8})")
_CARD = "model.json"
_BUNDLE = "model.skops"
_SCORING = "scoring.npz"
_CURRENT = "current.json"
_PROMOTED = "promoted.json"


def resolve_models_dir(models_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder that holds the models.

    Parameters
    ----------
    models_dir : str or path-like, optional
        An explicit folder. When omitted, ``$FAKEUSERS_MODELS_DIR`` if set and non-empty,
        else ``models`` (relative to the working directory).

    Examples
    --------
    >>> resolve_models_dir("/srv/models")
    PosixPath('/srv/models')
    """
    if models_dir is None:
        models_dir = os.environ.get(MODELS_DIR_ENV) or "models"
    return Path(models_dir).expanduser()


def validate_name(name: str) -> str:
    """Check that ``name`` can name a model and return it.

    1 to 64 letters, digits, ``.``, ``_`` or ``-``, starting with a letter or digit: always one
    plain folder inside the store, never a path, never hidden.

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


def default_name(model_type: str, now: dt.datetime | None = None) -> str:
    """The name of a model saved without one: ``TYPE-YYYYMMDD-HHMMSS`` (local time).

    Examples
    --------
    >>> default_name("logistic", dt.datetime(2026, 11, 29, 9, 30, 5))
    'logistic-20261129-093005'
    """
    now = now or dt.datetime.now()
    return validate_name(f"{model_type}-{now:%Y%m%d-%H%M%S}")


def parse_ref(ref: str) -> tuple[str, int | None]:
    """Split ``name`` or ``name@version`` into the name and the version (None: current).

    Examples
    --------
    >>> parse_ref("june@2"), parse_ref("june")
    (('june', 2), ('june', None))
    """
    name, at, version = str(ref).partition("@")
    validate_name(name)
    if not at:
        return name, None
    if not version.isdigit() or int(version) < 1:
        raise FakeusersError(
            f"{ref!r} names no version: write NAME@N with N a version number, e.g. {name}@1 "
            f"(list them with `python -m fakeusers models versions {name}`)."
        )
    return name, int(version)


@dataclasses.dataclass(frozen=True)
class StoredModel:
    """A model loaded from the store.

    Attributes
    ----------
    name : str
    version : int
    model : TrainedModel
        Rebuilt from the bundle and the card; shared between callers, never mutate it.
    card : dict
        The model card as stored.
    """

    name: str
    version: int
    model: Any
    card: dict[str, Any]

    @property
    def ref(self) -> str:
        """``name@version``, how messages and outputs name this model."""
        return f"{self.name}@{self.version}"


class ModelStore:
    """Save, load, list, promote and roll back named models in a folder.

    Parameters
    ----------
    root : str or path-like, optional
        The store's folder, see :func:`resolve_models_dir`. Created on the first save.

    Examples
    --------
    >>> store = ModelStore(tmp_dir)  # doctest: +SKIP
    >>> card = store.save("june", trained)  # doctest: +SKIP
    >>> store.load("june@1").model  # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = resolve_models_dir(root).absolute()

    def __repr__(self) -> str:
        return f"ModelStore({str(self.root)!r})"

    # Saving ---------------------------------------------------------------------------------

    def save(self, name: str, model: Any, *, replace: bool = False) -> dict[str, Any]:
        """Save a trained model as a new version of ``name``.

        Parameters
        ----------
        name : str
            See :func:`validate_name`.
        model : TrainedModel
            What :func:`fakeusers.models.train` returned.
        replace : bool
            When False (the default) a name that already has a model is refused; when True
            the model becomes the name's newest version (earlier versions are kept).

        Returns
        -------
        dict
            The card as written, with ``name``, ``version``, ``created``, ``bundle_sha256``,
            ``libraries`` and ``default`` (whether it is the store's default model).

        Raises
        ------
        ModelExistsError
            The name is taken and ``replace`` is False.
        StoreUnavailableError
            The store cannot be written; nothing of this save is left behind.
        """
        validate_name(name)
        bundle = dumps(model)
        scoring = scoring_bytes(model)
        card = plain(model.card())
        try:
            with locked(self.root / name):
                versions = self._versions(name)
                if (versions or self._legacy(name)) and not replace:
                    raise self._taken(name)
                version = max(versions, default=0) + 1
                card = self._write_version(name, version, bundle, scoring, card)
                (self.root / name / _CURRENT).unlink(missing_ok=True)
                self._remove_legacy(name)
            with locked(self.root):
                if not (self.root / _PROMOTED).exists():
                    self._write_promoted(name, version, reason="the first model of this store")
        except OSError as exc:
            raise StoreUnavailableError(
                f"Could not save model '{name}' in {self.root}: {exc.strerror or exc}. Earlier "
                f"versions are unchanged. Free some disk space or set {MODELS_DIR_ENV} to a "
                "writable folder, then save again."
            ) from exc
        return self._with_default(card)

    def _write_version(
        self, name: str, version: int, bundle: bytes, scoring: bytes | None, card: dict[str, Any]
    ) -> dict[str, Any]:
        folder = self.root / name / f"v{version}"
        staging = self.root / name / f".v{version}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        card = {
            **card,
            "schema": CARD_SCHEMA,
            "name": name,
            "version": version,
            "created": dt.datetime.now(dt.UTC).isoformat(),
            "bundle_file": _BUNDLE,
            "bundle_sha256": hashlib.sha256(bundle).hexdigest(),
            "bundle_bytes": len(bundle),
            "libraries": running_versions(),
        }
        if scoring is not None:
            card["scoring_file"] = _SCORING
            card["scoring_sha256"] = hashlib.sha256(scoring).hexdigest()
            write_bytes_atomic(staging / _SCORING, scoring, mode=0o644)
        write_bytes_atomic(staging / _BUNDLE, bundle, mode=0o644)
        write_bytes_atomic(staging / _CARD, card_bytes(card), mode=0o644)
        # A version appears whole (one rename) or not at all.
        os.rename(staging, folder)
        fsync_dir(folder.parent)
        return card

    # Loading --------------------------------------------------------------------------------

    def load(self, ref: str | None = None) -> StoredModel:
        """Load a model: ``name``, ``name@version``, or the default when ``ref`` is None.

        Nothing runs from the file: the card is checked, the bundle's sha256 compared, every
        type it names checked against :data:`TRUSTED_TYPES`, and only then is it built.
        Loaded models are kept in a small cache keyed on the bundle's sha256.

        Raises
        ------
        ModelNotFoundError
            No such model or version, or no default.
        ModelUnusableError
            The model exists but cannot be used (broken, tampered with, unsafe, old format,
            other scikit-learn); the message says how to fix it.
        """
        name, version = self.resolve(ref)
        card = self._card(name, version)
        bundle = self._bundle_bytes(name, version, card)
        key = (str(self.root), name, version, card["bundle_sha256"])
        if card.get("scoring_file") == _SCORING:
            path = self._plain_file(name, version, _SCORING, "scoring arrays")
            scoring = read_verified(path, f"{name}@{version}", card.get("scoring_sha256"))
            key = (*key, card["scoring_sha256"])
            model = build_scored(key, name, version, bundle, scoring, card)
        else:
            model = build(key, name, version, bundle, card)
        return StoredModel(name, version, model, card)

    def card(self, ref: str | None = None) -> dict[str, Any]:
        """A model's card, read from ``model.json`` only; same ``ref`` as :meth:`load`."""
        name, version = self.resolve(ref)
        return self._with_default(self._card(name, version))

    def resolve(self, ref: str | None = None) -> tuple[str, int]:
        """The (name, version) that ``ref`` (or the default, when None) means.

        Raises
        ------
        ModelNotFoundError
            No such name or version, or no default model.
        """
        if ref is None:
            return self.default()
        name, version = parse_ref(ref)
        versions = self._versions(name)
        if not versions:
            if self._legacy(name):
                raise _legacy_error(name)
            raise self._no_model(name)
        if version is None:
            version = self._current(name, versions)
        elif version not in versions:
            shown = ", ".join(str(v) for v in sorted(versions))
            raise ModelNotFoundError(
                f"Model '{name}' has no version {version} in {self.root}; it has {shown}."
            )
        return name, version

    def default(self) -> tuple[str, int]:
        """The default model: the promoted one, else the only one.

        Raises
        ------
        ModelNotFoundError
            When the store is empty, or holds several models and none is promoted.
        """
        found = self._default_or_none()
        if found is not None:
            return found
        names = self.names()
        if not names:
            raise ModelNotFoundError(
                f"No models in {self.root}. Train one first: python -m fakeusers train "
                "LOGS.csv --name NAME, POST /train, or the dashboard's Model page."
            )
        raise ModelNotFoundError(
            f"{self.root} holds {len(names)} models and none is the default. Name one "
            f"(--model, model=...) or promote one: python -m fakeusers models promote "
            f"{names[0]} (or POST /models/{names[0]}/promote)."
        )

    def _with_default(self, card: dict[str, Any]) -> dict[str, Any]:
        """The card with ``default``: whether it is the store's default model."""
        try:
            default = self._default_or_none()
        except FakeusersError:
            default = None
        return {**card, "default": default == (card.get("name"), card.get("version"))}

    def _default_or_none(self) -> tuple[str, int] | None:
        promoted = self._read_json(self.root / _PROMOTED)
        if promoted is not None:
            name, version = promoted.get("name"), promoted.get("version")
            if not isinstance(name, str) or not isinstance(version, int):
                raise ModelUnusableError(
                    f"{self.root / _PROMOTED} does not name a model. Promote one again: "
                    "python -m fakeusers models promote NAME"
                )
            if version not in self._versions(validate_name(name)):
                raise ModelNotFoundError(
                    f"The default model {name}@{version} is no longer in {self.root}. Promote "
                    "another: python -m fakeusers models promote NAME[@VERSION]"
                )
            return name, version
        names = self.names()
        if len(names) == 1 and self._versions(names[0]):
            return names[0], self._current(names[0], self._versions(names[0]))
        return None

    # Promotion and rollback -----------------------------------------------------------------

    def promote(self, ref: str, *, by: str | None = None) -> dict[str, Any]:
        """Make ``ref`` (``name`` means its current version) the store's default model.

        The model must load; a broken one is refused. Returns its card.
        """
        stored = self.load(ref)
        try:
            with locked(self.root):
                self._write_promoted(stored.name, stored.version, reason=by)
        except OSError as exc:
            raise self._unwritable("promote", exc) from exc
        return self._with_default(stored.card)

    def rollback(self, ref: str) -> dict[str, Any]:
        """Make ``name@version`` what ``name`` means again; later versions are kept.

        The default model is not changed: promote the name again to make it the default.
        """
        name, version = parse_ref(ref)
        if version is None:
            raise FakeusersError(
                f"Say which version to roll back to: {name}@N "
                f"(see python -m fakeusers models versions {name})."
            )
        stored = self.load(ref)
        try:
            with locked(self.root / name):
                body = json.dumps({"version": version}).encode() + b"\n"
                write_bytes_atomic(self.root / name / _CURRENT, body, mode=0o644)
        except OSError as exc:
            raise self._unwritable("roll back", exc) from exc
        return stored.card

    # Listing --------------------------------------------------------------------------------

    def names(self) -> list[str]:
        """The model names in the store, sorted (usable or not)."""
        try:
            return sorted(
                p.name
                for p in self.root.iterdir()
                if _NAME_RE.fullmatch(p.name) and (p.is_dir() or p.is_symlink())
            )
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreUnavailableError(
                f"Cannot read the models folder {self.root}: {exc.strerror}. Point "
                f"{MODELS_DIR_ENV} at a readable folder."
            ) from exc

    def list(self) -> list[dict[str, Any]]:
        """One entry per name, its current version's card, newest first.

        Entries carry ``default`` (True for the default model) and ``n_versions``; a model
        that cannot be used carries ``error`` with the reason instead of failing the list.
        """
        try:
            default = self._default_or_none()
        except FakeusersError:
            default = None
        entries = []
        for name in self.names():
            entries.append(self._entry(name, None, default))
        entries.sort(key=lambda e: (e.get("created") or "", e["name"]), reverse=True)
        return entries

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Every version of ``name``, newest first, each with ``current`` and ``default``."""
        validate_name(name)
        versions = self._versions(name)
        if not versions:
            raise _legacy_error(name) if self._legacy(name) else self._no_model(name)
        try:
            default = self._default_or_none()
        except FakeusersError:
            default = None
        current = self._current(name, versions)
        entries = []
        for version in sorted(versions, reverse=True):
            entry = self._entry(name, version, default)
            entries.append({**entry, "current": version == current})
        return entries

    def exists(self, name: str) -> bool:
        """Whether ``name`` is taken (it has a version, or a model in the old format)."""
        validate_name(name)
        return bool(self._versions(name)) or self._legacy(name)

    def check_free(self, name: str) -> None:
        """Refuse a taken name early (before a long training); :meth:`save` decides for good.

        Raises
        ------
        ModelExistsError
        """
        if self.exists(name):
            raise self._taken(name)

    def delete(self, name: str) -> None:
        """Delete a model and all its versions; the default is unset if it was this one."""
        validate_name(name)
        folder = self.root / name
        if not folder.is_dir() or folder.is_symlink():
            raise self._no_model(name)
        try:
            with locked(self.root):
                promoted = self._read_json(self.root / _PROMOTED) or {}
                if promoted.get("name") == name:
                    (self.root / _PROMOTED).unlink()
            with locked(folder):
                shutil.rmtree(folder)
        except OSError as exc:
            raise self._unwritable("delete", exc) from exc

    # Internals ------------------------------------------------------------------------------

    def _entry(self, name: str, version: int | None, default: tuple[str, int] | None) -> dict:
        ref = name if version is None else f"{name}@{version}"
        try:
            name, version = self.resolve(ref)
            card = self._card(name, version)
            self._bundle_path(name, version)
            check_libraries(name, card)
            entry = {**card, "name": name, "version": version}
        except FakeusersError as exc:
            entry = {"name": name, "version": version, "error": str(exc)}
            with contextlib.suppress(FakeusersError):
                entry = {**self._card(name, version), **entry}
        entry["default"] = default == (name, version)
        with contextlib.suppress(FakeusersError):
            entry["n_versions"] = len(self._versions(name))
        return entry

    def _versions(self, name: str) -> set[int]:
        folder = self.root / name
        if folder.is_symlink():
            raise _link_error(name, folder, self.root)
        try:
            children = list(folder.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            return set()
        except OSError as exc:
            raise StoreUnavailableError(
                f"Cannot read {folder}: {exc.strerror}. Check the folder's permissions."
            ) from exc
        return {
            int(m.group(1))
            for p in children
            if (m := _VERSION_RE.fullmatch(p.name)) and (p / _CARD).exists()
        }

    def _current(self, name: str, versions: set[int]) -> int:
        pointer = self._read_json(self.root / name / _CURRENT) or {}
        version = pointer.get("version")
        return version if version in versions else max(versions)

    def _legacy(self, name: str) -> bool:
        return not (self.root / name).is_symlink() and (self.root / name / _CARD).exists()

    def _remove_legacy(self, name: str) -> None:
        folder = self.root / name
        for path in folder.iterdir():
            if path.name == _CARD or (path.name.startswith("bundle-") and path.is_file()):
                path.unlink()

    def _folder(self, name: str, version: int) -> Path:
        """The version's folder; refuses a name or version folder that is a symlink."""
        for folder in (self.root / name, self.root / name / f"v{version}"):
            try:
                mode = os.lstat(folder).st_mode
            except FileNotFoundError:
                raise self._no_model(name) from None
            if stat.S_ISLNK(mode) or not stat.S_ISDIR(mode):
                raise _link_error(name, folder, self.root)
        return self.root / name / f"v{version}"

    def _card(self, name: str, version: int) -> dict[str, Any]:
        path = self._folder(name, version) / _CARD
        card = self._read_json(path, nofollow=True)
        if card is None:
            raise self._no_model(name)
        if card.get("schema") != CARD_SCHEMA:
            raise ModelUnusableError(
                f"The model card {path} has schema {card.get('schema')!r}; this fakeusers "
                f"reads schema {CARD_SCHEMA}. Retrain the model with {_train_hint(name)}."
            )
        return card

    def _bundle_path(self, name: str, version: int) -> Path:
        return self._plain_file(name, version, _BUNDLE, "bundle")

    def _plain_file(self, name: str, version: int, file: str, what: str) -> Path:
        path = self._folder(name, version) / file
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            raise ModelUnusableError(
                f"The {what} file {path} of model '{name}@{version}' is missing. Restore it "
                f"from a backup or retrain the model with {_train_hint(name)}."
            ) from None
        if not stat.S_ISREG(mode):
            raise ModelUnusableError(
                f"The {what} file {path} of model '{name}@{version}' is not a plain file (a "
                f"link, folder or device); it was not loaded. Retrain the model with "
                f"{_train_hint(name)}."
            )
        return path

    def _bundle_bytes(self, name: str, version: int, card: dict[str, Any]) -> bytes:
        check_libraries(name, card)
        path = self._bundle_path(name, version)
        return read_verified(path, f"{name}@{version}", card.get("bundle_sha256"))

    def _read_json(self, path: Path, *, nofollow: bool = False) -> dict[str, Any] | None:
        """A JSON object from ``path``; None when the file does not exist."""
        try:
            fd = os.open(path, os.O_RDONLY | (os.O_NOFOLLOW if nofollow else 0))
            with os.fdopen(fd, "rb") as f:
                text = f.read().decode("utf-8")
            data = json.loads(text)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise ModelUnusableError(
                f"Cannot read {path}: {exc.strerror}. Check that it is a plain, readable file."
            ) from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelUnusableError(
                f"{path} is not valid JSON ({exc}). Retrain the model or promote one again."
            ) from exc
        if not isinstance(data, dict):
            raise ModelUnusableError(f"{path} holds a JSON {type(data).__name__}, not an object.")
        return data

    def _write_promoted(self, name: str, version: int, *, reason: str | None) -> None:
        promoted = {
            "name": name,
            "version": version,
            "promoted": dt.datetime.now(dt.UTC).isoformat(),
            "by": reason,
        }
        write_bytes_atomic(self.root / _PROMOTED, card_bytes(promoted), mode=0o644)

    def _taken(self, name: str) -> ModelExistsError:
        return ModelExistsError(
            f"Model '{name}' already exists in {self.root}. Choose another name, or replace "
            "it (--replace, replace=true, or the dashboard's 'Replace' tick): the new model "
            "then becomes its next version and the earlier ones are kept."
        )

    def _no_model(self, name: str) -> ModelNotFoundError:
        return ModelNotFoundError(
            f"No model named '{name}' in {self.root}. Train one with `python -m fakeusers "
            f"train LOGS --name {name}` (or POST /train), or list them with "
            "`python -m fakeusers models` (GET /models)."
        )

    def _unwritable(self, action: str, exc: OSError) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"Could not {action} in {self.root}: {exc.strerror or exc}. Check the folder's "
            "permissions and free space."
        )


def _link_error(name: str, folder: Path, root: Path) -> ModelUnusableError:
    return ModelUnusableError(
        f"{folder} is a link or not a folder; the store does not follow links, so model "
        f"'{name}' was not loaded. Move the model itself into {root}, or retrain it with "
        f"{_train_hint(name)}."
    )


def _legacy_error(name: str) -> ModelUnusableError:
    return ModelUnusableError(
        f"Model '{name}' was saved by an older fakeusers as a pickle, which runs code when it "
        f"is read, so it is no longer loaded. Retrain it with {_train_hint(name)} (it then "
        "becomes version 1 in the new format)."
    )
