"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from desktop_care.models import Base
from desktop_care.models import changefeed, sync  # noqa: F401 (their tables are part of the schema)
from desktop_care.server.db import (
    current_revision,
    downgrade,
    head_revision,
    include_name,
    make_engine,
    object_filter,
    upgrade,
)
from tests.support.servers import DatabaseFactory


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": include_name,
                "include_object": object_filter(engine.dialect.name),
            },
        )
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_is_idempotent_and_downgrade_removes_everything(databases: DatabaseFactory, backend: str) -> None:
    engine = make_engine(databases.create(backend))
    upgrade(engine)
    upgrade(engine)  # already at the head: nothing to do
    downgrade(engine, "base")
    assert [name for name in inspect(engine).get_table_names() if name != "alembic_version"] == []
    upgrade(engine)
    assert {"member", "member_search", "staff_token"} <= set(inspect(engine).get_table_names())
    engine.dispose()
