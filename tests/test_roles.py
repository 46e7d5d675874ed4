"""Roles from FAKEUSERS_ROLES_FILE: admins train and review, reviewers only review, others
neither; no file, no roles; a bad file is refused in words."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from fakeusers import roles as roles_module
from fakeusers.errors import FakeusersError
from fakeusers.roles import ROLES_FILE_ENV, Roles


def test_doctests() -> None:
    assert doctest.testmod(roles_module).failed == 0


def test_roles_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not Roles.from_env().configured and Roles.from_env().may("anyone", "train")
    path = tmp_path / "roles.toml"
    path.write_text('admins = ["ana@example.com"]\nreviewers = [" bo@example.com "]\n')
    monkeypatch.setenv(ROLES_FILE_ENV, str(path))
    roles = Roles.from_env()
    assert roles.may("ana@example.com", "train") and roles.may("ana@example.com", "review")
    assert roles.may("bo@example.com", "review") and not roles.may("bo@example.com", "train")
    assert not roles.may("cy@example.com", "review") and not roles.may(None, "review")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("admins = 'ana'", "admins must be a list of names"),
        ("admins = [", "is not valid TOML"),
        ("reviewers = [1, 2]", "reviewers must be a list of names"),
    ],
)
def test_a_bad_roles_file_is_refused_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, words: str
) -> None:
    path = tmp_path / "roles.toml"
    path.write_text(text)
    monkeypatch.setenv(ROLES_FILE_ENV, str(path))
    with pytest.raises(FakeusersError, match=words):
        Roles.from_env()
    monkeypatch.setenv(ROLES_FILE_ENV, str(tmp_path / "missing.toml"))
    with pytest.raises(FakeusersError, match="cannot read"):
        Roles.from_env()
