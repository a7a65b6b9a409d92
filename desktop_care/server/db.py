"""The server's database: engines for SQLite and PostgreSQL, and schema migrations.

The schema changes only through the Alembic migrations in ``migrations/``, run
programmatically (no ``alembic.ini`` at run time); the server upgrades on start.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Index, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: How long a SQLite connection waits for another writer before giving up, in ms.
SQLITE_BUSY_TIMEOUT_MS = 10_000


class DatabaseUrlError(ValueError):
    """A database URL the server cannot use."""


def database_url(url: str | URL) -> URL:
    """Parse ``url``; ``postgresql://`` and ``postgres://`` mean psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUrlError(f"not a database URL: {url!r}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseUrlError(f"unsupported database {backend!r}: use sqlite:///PATH or postgresql+psycopg://...")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for SQLite (WAL, foreign keys on, busy timeout) or PostgreSQL."""
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    # No server-side prepared statements: a cached generic plan cannot use the pattern
    # of a LIKE parameter (prefix ranges, trigram selectivity), so every search would
    # fall back to a scan. Planning each statement with its values costs well under 1 ms.
    connect_args = {"prepare_threshold": None, **kwargs.pop("connect_args", {})}
    return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def _configure_sqlite(dbapi_connection: Any, connection_record: object) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(target: Engine | str | URL, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (the newest by default)."""
    _migrate(target, command.upgrade, revision)


def downgrade(target: Engine | str | URL, revision: str) -> None:
    """Migrate the database back to ``revision`` (``"base"``: no tables at all)."""
    _migrate(target, command.downgrade, revision)


def _migrate(target: Engine | str | URL, step: Callable[[Config, str], None], revision: str) -> None:
    engine = target if isinstance(target, Engine) else make_engine(target)
    try:
        with engine.begin() as connection:
            step(_alembic_config(connection), revision)
    finally:
        if engine is not target:
            engine.dispose()


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Schema comparisons leave out SQLite's FTS5 tables and their shadow tables: the
    migrations manage them by hand."""
    if type_ == "table" and name is not None:
        return not any(name == fts or name.startswith(f"{fts}_") for fts in ("member_fts", "user_fts", "ticket_fts"))
    return True


def object_filter(dialect: str) -> Callable[..., bool]:
    """Schema comparisons leave out indexes that only another database has."""

    def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        condition = getattr(obj, "_ddl_if", None) if isinstance(obj, Index) else None
        if condition is not None and condition.dialect is not None:
            return bool(condition.dialect == dialect)
        return True

    return include_object


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
