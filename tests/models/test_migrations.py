"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from desktop_care.models import Base, changefeed, sync  # noqa: F401 (their tables are part of the schema)
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


# SQLite cannot reflect expression indexes (lower(email)): alembic says it skips them there.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
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


def test_the_single_opt_in_becomes_every_category_and_back(databases: DatabaseFactory, backend: str) -> None:
    """Migration 0005: a member who was opted in is opted in to all three categories;
    going back, opted in to any category is opted in."""
    from sqlalchemy import text

    engine = make_engine(databases.create(backend))
    upgrade(engine, "0010")
    with engine.begin() as conn:
        for number, opted in (("5000001", True), ("5000002", False)):
            conn.execute(text(
                "INSERT INTO member (member_no, logon_id, title, first_name, last_name, email, phone, email_opt_in, "
                "status, blocked_for_balance, points_balance, account_balance_cents, pending_count, pending_cents, "
                "created_at, updated_at, version, field_versions) VALUES (:no, :no, '', 'A', 'B', 'a@example.org', "
                "'', :opted, 'enrolled', FALSE, 0, 0, 0, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, '{}')"
            ), {"no": number, "opted": opted})
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT member_no, email_newsletters, email_offers, email_event_reminders "
                                 "FROM member ORDER BY member_no")).all()
    assert [(r[0], bool(r[1]), bool(r[2]), bool(r[3])) for r in rows] == [
        ("5000001", True, True, True), ("5000002", False, False, False)]
    with engine.begin() as conn:
        conn.execute(text("UPDATE member SET email_newsletters = FALSE, email_offers = FALSE "
                          "WHERE member_no = '5000001'"))
    downgrade(engine, "0010")
    with engine.connect() as conn:
        back = conn.execute(text("SELECT member_no, email_opt_in FROM member ORDER BY member_no")).all()
    assert [(r[0], bool(r[1])) for r in back] == [("5000001", True), ("5000002", False)]
    engine.dispose()
