"""The review database: where verdicts and the audit trail are kept.

SQLite by default (``data/fakeusers.db`` beside the app, created on first use, in WAL mode so
that readers never wait for a writer), or any SQLAlchemy URL in ``FAKEUSERS_DB_URL`` —
``postgresql+psycopg://user@host/db`` for a team. The schema is created and upgraded by the
Alembic migrations in ``fakeusers/migrations`` when the database is first opened by a
process; concurrent processes take a lock first (a file lock beside a SQLite file, an
advisory lock on PostgreSQL), so two of them starting at once do not race.

Every failure to open, read or write the database (locked, read-only, unreachable, a newer
schema than this version knows) raises :class:`~fakeusers.errors.DatabaseUnavailableError`
with the URL (password hidden), what went wrong and what to do; scoring never depends on it.

Examples
--------
>>> db = Database("sqlite:///:memory:")  # doctest: +SKIP
>>> with db.begin() as conn:  # doctest: +SKIP
...     conn.execute(tables.verdicts.select()).all()
[]
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fakeusers.errors import DatabaseUnavailableError

__all__ = ["DEFAULT_PATH", "Database", "database_url", "metadata", "tables"]

#: Where the SQLite database goes when ``FAKEUSERS_DB_URL`` is not set.
DEFAULT_PATH = Path("data") / "fakeusers.db"
_MIGRATIONS = Path(__file__).with_name("migrations")
# Waited for a lock held by another writer before giving up, in seconds.
_BUSY_TIMEOUT = 10.0
# Advisory lock key taken while migrating a PostgreSQL database ("fakeusrs" in ASCII).
_PG_LOCK_KEY = 0x66616B6575737273 & 0x7FFFFFFFFFFFFFFF

metadata = sa.MetaData()


class _Tables:
    """The tables, as the latest migration leaves them."""

    verdicts = sa.Table(
        "verdicts",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Text, nullable=False, index=True),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("analyst", sa.Text, nullable=False),
        sa.Column("analyst_verified", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model", sa.Text),
        sa.Column("probability", sa.Float),
        sa.Column("threshold", sa.Float),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("reverts", sa.Integer, sa.ForeignKey("verdicts.id")),
        sa.CheckConstraint("verdict IN ('fake', 'real', 'revert')", name="verdict_kind"),
    )
    audit = sa.Table(
        "audit",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("actor_verified", sa.Boolean, nullable=False),
        sa.Column("action", sa.String(16), nullable=False, index=True),
        sa.Column("model", sa.Text),
        sa.Column("cost_fp", sa.Float),
        sa.Column("cost_fn", sa.Float),
        sa.Column("threshold", sa.Float),
        sa.Column("count", sa.Integer),
        sa.Column("sha256", sa.String(64)),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
    )
    api_keys = sa.Table(
        "api_keys",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, index=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("scope IN ('predict', 'review', 'admin')", name="key_scope"),
    )


tables = _Tables()


def database_url(url: str | None = None) -> str:
    """The database to use: ``url``, else ``$FAKEUSERS_DB_URL``, else the SQLite default."""
    url = url or os.environ.get("FAKEUSERS_DB_URL", "").strip()
    return url or f"sqlite:///{DEFAULT_PATH}"


def _shown(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)


class Database:
    """A review database, migrated to the latest schema on first use.

    Parameters
    ----------
    url : str, optional
        A SQLAlchemy URL; default :func:`database_url`.
    timeout : float
        Seconds to wait for a lock another writer holds (SQLite) before giving up.

    Raises
    ------
    DatabaseUnavailableError
        Only when used (:meth:`begin`, :meth:`connect`), never when built, so a face can hold
        one and keep scoring while it is down.
    """

    def __init__(self, url: str | None = None, *, timeout: float = _BUSY_TIMEOUT) -> None:
        try:
            self.url = sa.make_url(database_url(url))
        except sa.exc.ArgumentError as exc:
            raise DatabaseUnavailableError(
                f"FAKEUSERS_DB_URL is not a database URL ({exc}). Use sqlite:///PATH or "
                "postgresql+psycopg://USER:PASSWORD@HOST/DATABASE."
            ) from None
        self.timeout = float(timeout)
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def shown(self) -> str:
        """The URL with any password hidden, for messages."""
        return _shown(self.url)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def exists(self) -> bool:
        """False for a SQLite file not created yet (nothing to read); True otherwise."""
        if not self.is_sqlite or self.url.database in (None, "", ":memory:"):
            return True
        return Path(self.url.database).exists()

    def _create_engine(self) -> Engine:
        if self.is_sqlite:
            path = self.url.database
            if path and path != ":memory:" and not path.startswith("file:"):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(
                self.url, connect_args={"timeout": self.timeout, "check_same_thread": False}
            )

            @sa.event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
                cursor = dbapi_conn.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
                cursor.close()

            return engine
        connect_args = {}
        if self.url.get_backend_name() == "postgresql" and "connect_timeout" not in self.url.query:
            # libpq waits for an unreachable host as long as TCP does (minutes): a face
            # that reads verdicts on every page must hear "unavailable" sooner.
            connect_args["connect_timeout"] = max(1, round(self.timeout))
        return sa.create_engine(self.url, pool_pre_ping=True, connect_args=connect_args)

    def engine(self) -> Engine:
        """The engine, created and migrated on first call."""
        with self._lock:
            if self._engine is None:
                engine = self._translated(self._create_engine, "open")
                self._translated(lambda: self._migrate(engine), "open")
                self._engine = engine
            return self._engine

    def _migrate(self, engine: Engine) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with self._migration_lock(engine) as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    @contextlib.contextmanager
    def _migration_lock(self, engine: Engine) -> Iterator[Connection]:
        if self.is_sqlite and self.url.database not in (None, "", ":memory:"):
            from fakeusers.atomic import locked

            path = Path(self.url.database)
            with locked(path.parent, f".{path.name}.migrate.lock"), engine.begin() as conn:
                yield conn
            return
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            yield conn

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction: committed at the end, rolled back on an error."""
        engine = self.engine()
        try:
            with engine.begin() as conn:
                yield conn
        except sa.exc.DBAPIError as exc:
            raise self._unavailable(exc, "write to") from None

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reading."""
        engine = self.engine()
        try:
            with engine.connect() as conn:
                yield conn
        except sa.exc.DBAPIError as exc:
            raise self._unavailable(exc, "read") from None

    def _translated(self, step, verb: str):
        try:
            return step()
        except DatabaseUnavailableError:
            raise
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            raise self._unavailable(exc, verb) from None
        except Exception as exc:  # alembic: a schema newer than this version knows
            if type(exc).__module__.startswith("alembic"):
                raise DatabaseUnavailableError(
                    f"The review database {self.shown} has a schema this version of fakeusers "
                    f"does not know ({exc}). Upgrade fakeusers, or point FAKEUSERS_DB_URL at "
                    "another database."
                ) from None
            raise

    def _unavailable(self, exc: BaseException, verb: str) -> DatabaseUnavailableError:
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        lowered = text.lower()
        if "locked" in lowered or "busy" in lowered:
            fix = f"another process held it for more than {self.timeout:g} s; try again in a moment"
        elif "readonly" in lowered or "read-only" in lowered or "permission" in lowered:
            fix = "the file or its folder is read-only for this user; fix the permissions"
        elif self.is_sqlite:
            fix = "check that the folder exists and is writable"
        else:
            fix = "check that the server is running and FAKEUSERS_DB_URL is right"
        return DatabaseUnavailableError(
            f"Cannot {verb} the review database {self.shown}: {text}. Verdicts and the audit "
            f"trail are unavailable until this is fixed ({fix}); scoring and deciding still "
            "work."
        )

    def dispose(self) -> None:
        """Close every pooled connection (tests; a process that forks)."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
