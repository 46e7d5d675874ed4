"""Fixtures for every test: a review database of its own, and a real PostgreSQL server.

No test writes to the checkout's ``data/fakeusers.db``: the session points
``FAKEUSERS_DB_URL`` at a SQLite file in a temporary folder (subprocesses inherit it), and a
test that needs a fresh database asks for ``database_url`` (SQLite and PostgreSQL).

PostgreSQL: the server ``.ci/run`` started (``FAKEUSERS_TEST_POSTGRES_URL``), else a throwaway
one started here from Debian's ``postgresql`` package (``initdb`` and ``pg_ctl`` as the
``postgres`` user when run as root), listening on a Unix socket in a temporary folder only,
stopped at the end. Without PostgreSQL the PostgreSQL cases skip, except in CI (``CI=true``),
where they fail.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_counter = itertools.count()


@pytest.fixture(scope="session", autouse=True)
def review_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's default review database, away from the checkout."""
    url = f"sqlite:///{tmp_path_factory.mktemp('review') / 'fakeusers.db'}"
    before = os.environ.get("FAKEUSERS_DB_URL")
    os.environ["FAKEUSERS_DB_URL"] = url
    yield url
    if before is None:
        os.environ.pop("FAKEUSERS_DB_URL", None)
    else:
        os.environ["FAKEUSERS_DB_URL"] = before


def _unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI: {why}")
    pytest.skip(f"PostgreSQL not available: {why}")


def _as_postgres(*command: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A base URL (no database name) of a running PostgreSQL server."""
    given = os.environ.get("FAKEUSERS_TEST_POSTGRES_URL")
    if given:
        yield given.rstrip("/")
        return
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        _unavailable("initdb not found (apt-get install postgresql)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        _unavailable("runuser not found")
    bin_dir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="fakeusers-pg-"))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True}
    init = subprocess.run(
        _as_postgres(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ),
        **quiet,
    )
    if init.returncode:
        shutil.rmtree(folder, ignore_errors=True)
        _unavailable(f"initdb failed: {init.stderr.strip()[-300:]}")
    options = f"-k {folder} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
    start = subprocess.run(
        _as_postgres(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(folder / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        ),
        **quiet,
    )
    if start.returncode:
        shutil.rmtree(folder, ignore_errors=True)
        _unavailable(f"pg_ctl start failed: {start.stderr.strip()[-300:]}")
    try:
        yield f"postgresql+psycopg://postgres@/?host={folder}"
    finally:
        subprocess.run(
            _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
            **quiet,
        )
        shutil.rmtree(folder, ignore_errors=True)


def new_postgres_database(base: str) -> str:
    """A new, empty database on the server at ``base``; its URL."""
    import sqlalchemy as sa

    name = f"fakeusers_test_{os.getpid()}_{next(_counter)}"
    url = sa.make_url(base)
    engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty review database: a SQLite file, or a database on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'review.db'}"
    return new_postgres_database(request.getfixturevalue("postgres_server"))
