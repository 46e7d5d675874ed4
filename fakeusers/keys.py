"""API keys: who may call the REST API, and what they may do.

A key is made once, shown once (``python -m fakeusers keys add NAME --scope SCOPE``), and only
its sha256 is kept, in the review database (:mod:`fakeusers.database`). Keys are 32 random
bytes, so a plain hash cannot be reversed or guessed. Scopes are nested:

- ``predict``: score logs and read models;
- ``review``: also read and write verdicts;
- ``admin``: also train, replace and promote models.

Once any key exists the API asks every caller (but ``/health`` and the docs) for one; the
key's name is the actor in the audit trail.

Examples
--------
>>> keys = KeyStore(Database())  # doctest: +SKIP
>>> secret = keys.add("scoring-job", "predict")  # doctest: +SKIP
>>> keys.authenticate(secret).name  # doctest: +SKIP
'scoring-job'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from fakeusers.database import Database, tables
from fakeusers.errors import FakeusersError

__all__ = ["PREFIX", "SCOPES", "ApiKey", "KeyStore", "allows"]

#: The scopes, from least to most allowed.
SCOPES = ("predict", "review", "admin")
#: Every key starts so, which makes a leaked one easy to recognise.
PREFIX = "fku_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def allows(scope: str, needed: str) -> bool:
    """Whether a key of ``scope`` may do what needs ``needed``.

    Examples
    --------
    >>> allows("review", "predict"), allows("predict", "review")
    (True, False)
    """
    return SCOPES.index(scope) >= SCOPES.index(needed)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """A key as stored: its name, scope and when it was made (never the key itself)."""

    name: str
    scope: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


class KeyStore:
    """The API keys of one review database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, name: str, scope: str) -> str:
        """Make a key; the key itself, to show once.

        Raises
        ------
        FakeusersError
            A bad name or scope, or a name that has a key that is not revoked.
        """
        if not _NAME.match(name or ""):
            raise FakeusersError(
                f"A key name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter "
                f"or digit; got {name!r}."
            )
        if scope not in SCOPES:
            raise FakeusersError(f"The scope must be one of {', '.join(SCOPES)}; got {scope!r}.")
        key = PREFIX + secrets.token_urlsafe(32)
        k = tables.api_keys
        with self.db.begin() as conn:
            held = conn.execute(
                sa.select(k.c.id).where(k.c.name == name, k.c.revoked_at.is_(None))
            ).first()
            if held is not None:
                raise FakeusersError(
                    f"A key named {name!r} exists; revoke it first (python -m fakeusers keys "
                    f"revoke {name}) or choose another name."
                )
            conn.execute(
                k.insert(),
                {
                    "name": name,
                    "scope": scope,
                    "key_sha256": _digest(key),
                    "created_at": dt.datetime.now(dt.UTC),
                },
            )
        return key

    def list(self) -> list[ApiKey]:
        """Every key ever made, oldest first, revoked ones with the time."""
        k = tables.api_keys
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(k.c.name, k.c.scope, k.c.created_at, k.c.revoked_at).order_by(k.c.id)
            ).all()
        return [ApiKey(*row) for row in rows]

    def revoke(self, name: str) -> None:
        """Revoke the key named ``name`` at once.

        Raises
        ------
        FakeusersError
            No key of that name is in use.
        """
        k = tables.api_keys
        with self.db.begin() as conn:
            done = conn.execute(
                k.update()
                .where(k.c.name == name, k.c.revoked_at.is_(None))
                .values(revoked_at=dt.datetime.now(dt.UTC))
            )
        if done.rowcount == 0:
            raise FakeusersError(
                f"No key named {name!r} is in use (see: python -m fakeusers keys list)."
            )

    def any_active(self) -> bool:
        """Whether any key is in use: then the API asks every caller for one."""
        k = tables.api_keys
        with self.db.connect() as conn:
            return (
                conn.execute(sa.select(k.c.id).where(k.c.revoked_at.is_(None)).limit(1)).first()
                is not None
            )

    def authenticate(self, key: str) -> ApiKey | None:
        """The key in use that ``key`` is, or None."""
        if not key.startswith(PREFIX):
            return None
        k = tables.api_keys
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(k.c.name, k.c.scope, k.c.created_at, k.c.revoked_at).where(
                    k.c.key_sha256 == _digest(key), k.c.revoked_at.is_(None)
                )
            ).first()
        return None if row is None else ApiKey(*row)
