"""Roles in the dashboard: who may train and save models, who may only review.

Read from a small TOML file named by ``FAKEUSERS_ROLES_FILE``::

    admins = ["ana@example.com"]          # train, save, review
    reviewers = ["bo@example.com"]        # review (verdicts) only

Identities are the signed-in ones (a trusted proxy's header or ``st.login``). Without the
file every identity may do everything; with it, anyone not listed may look but not act.

Examples
--------
>>> roles = Roles(admins=frozenset({"ana"}), reviewers=frozenset({"bo"}))
>>> roles.may("bo", "review"), roles.may("bo", "train"), roles.may("cy", "review")
(True, False, False)
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from fakeusers.errors import FakeusersError

__all__ = ["ACTIONS", "ROLES_FILE_ENV", "Roles"]

ROLES_FILE_ENV = "FAKEUSERS_ROLES_FILE"
#: What a role allows: train (and save) models, or review (record verdicts).
ACTIONS = ("train", "review")


@dataclass(frozen=True)
class Roles:
    """Who may do what; ``None`` for both means no roles are configured (everyone may)."""

    admins: frozenset[str] | None = None
    reviewers: frozenset[str] | None = None

    @classmethod
    def from_env(cls) -> Roles:
        """The roles of ``$FAKEUSERS_ROLES_FILE``; no roles when it is not set.

        Raises
        ------
        FakeusersError
            The file cannot be read, is not TOML, or its lists are not lists of names.
        """
        name = os.environ.get(ROLES_FILE_ENV, "").strip()
        if not name:
            return cls()
        path = Path(name)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise FakeusersError(f"{ROLES_FILE_ENV}: cannot read {path}: {exc.strerror}.") from None
        except tomllib.TOMLDecodeError as exc:
            raise FakeusersError(f"{ROLES_FILE_ENV}: {path} is not valid TOML: {exc}.") from None
        lists = {}
        for key in ("admins", "reviewers"):
            value = data.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise FakeusersError(
                    f"{ROLES_FILE_ENV}: in {path}, {key} must be a list of names, like "
                    f'{key} = ["ana@example.com"].'
                )
            lists[key] = frozenset(v.strip() for v in value if v.strip())
        return cls(**lists)

    @property
    def configured(self) -> bool:
        return self.admins is not None or self.reviewers is not None

    def may(self, identity: str | None, action: str) -> bool:
        """Whether ``identity`` may ``action`` (``train`` or ``review``)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        if not self.configured:
            return True
        admins, reviewers = self.admins or frozenset(), self.reviewers or frozenset()
        if identity in admins:
            return True
        return action == "review" and identity in reviewers
