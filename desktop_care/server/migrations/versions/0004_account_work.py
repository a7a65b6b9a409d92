"""Account work: who blocked a member for payment, when and why; the workstation an
audited change came from; and an audit log that the database itself keeps append-only.

The triggers refuse UPDATE and DELETE on ``audit_event`` (and TRUNCATE on PostgreSQL)
for every client, not only for our ORM: a script with the database password cannot
rewrite the history either (only dropping the trigger, a schema change, could).

Revision ID: 0004
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The message both databases give when something tries to change the audit log.
APPEND_ONLY = "audit_event is append-only: audit events are never changed or deleted"

_SQLITE = (
    f"CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END",
    f"CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END",
)
_POSTGRES = (
    "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'insufficient_privilege'; END $$",
    "CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
)


def upgrade() -> None:
    with op.batch_alter_table("member") as batch:
        batch.add_column(sa.Column("blocked_reason", sa.String(500), nullable=False, server_default=""))
        batch.add_column(sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("blocked_by", sa.String(120), nullable=False, server_default=""))
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("origin", sa.String(64), nullable=False, server_default=""))
    # The history of a member is read newest first by (entity_type, entity_id).
    op.create_index("ix_audit_event_entity", "audit_event", ["entity_type", "entity_id", "id"])
    op.create_index("ix_points_entry_member_created", "points_entry", ["member_id", "created_at", "id"])
    for statement in _POSTGRES if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER audit_event_no_change ON audit_event")
        op.execute("DROP FUNCTION audit_event_append_only()")
    else:
        op.execute("DROP TRIGGER audit_event_no_delete")
        op.execute("DROP TRIGGER audit_event_no_update")
    op.drop_index("ix_points_entry_member_created", "points_entry")
    op.drop_index("ix_audit_event_entity", "audit_event")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("origin")
    with op.batch_alter_table("member") as batch:
        batch.drop_column("blocked_by")
        batch.drop_column("blocked_at")
        batch.drop_column("blocked_reason")
