"""Sort indexes for the Society Users page and the Fraud stop page: one per sortable
column, ending with the row id, so a sorted page is an index walk (docs/decisions/0028).
Text columns sort with ASCII case folded, byte-wise: ``lower(x)`` on SQLite,
``lower(x COLLATE "C")`` on PostgreSQL (``models/keyset.py`` ``folded``). No table
changes, so no feed triggers are touched.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (name, table, leading column, folded text).
_INDEXES: tuple[tuple[str, str, str, bool], ...] = (
    ("ix_app_user_sort_username", "app_user", "username", True),
    ("ix_app_user_sort_name", "app_user", "display_name", True),
    ("ix_app_user_sort_email", "app_user", "email", True),
    ("ix_app_user_sort_role", "app_user", "role", False),
    ("ix_app_user_sort_last_login", "app_user", "last_login_at", False),
    ("ix_fraud_block_sort_kind", "fraud_block", "kind", False),
    ("ix_fraud_block_sort_by", "fraud_block", "created_by", True),
    ("ix_fraud_block_sort_expires", "fraud_block", "expires_at", False),
    ("ix_fraud_block_sort_hits", "fraud_block", "would_have_blocked", False),
)


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, table, column, text in _INDEXES:
        lead: str | sa.TextClause = column
        if text:
            lead = sa.text(f'lower({column} COLLATE "C")' if postgresql else f"lower({column})")
        op.create_index(name, table, [lead, "id"])


def downgrade() -> None:
    for name, table, _, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
