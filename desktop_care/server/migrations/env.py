"""Alembic environment: migrations run programmatically by :func:`desktop_care.server.db.upgrade`,
which passes an open connection in ``config.attributes["connection"]``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from desktop_care.models import Base
from desktop_care.server.db import include_name, object_filter

#: Serialises migrations of several server processes starting on one PostgreSQL.
_PG_MIGRATION_LOCK = 0x6463_6D69  # "dcmi"


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_name=include_name,
        include_object=object_filter(connection.dialect.name),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        context.run_migrations()


connection = context.config.attributes.get("connection")
if context.is_offline_mode() or connection is None:
    raise RuntimeError("run migrations with `desktop-care-server migrate` (desktop_care.server.db.upgrade)")
run_migrations(connection)
