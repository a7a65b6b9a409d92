"""Sort indexes: one per sortable column of the member search, ending with the member
id, so a sorted page is an index walk (docs/decisions/0028). Text keys are ordered
byte-wise: ``COLLATE "C"`` on PostgreSQL, SQLite's default ``BINARY``. No table
changes, so no feed triggers are touched.

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (name, table, columns, text columns ordered byte-wise).
_INDEXES: tuple[tuple[str, str, list[str], set[str]], ...] = (
    ("ix_member_search_sort_member_no", "member_search", ["member_no", "member_id"], {"member_no"}),
    ("ix_member_search_sort_name", "member_search", ["last_key", "first_key", "member_id"], {"last_key", "first_key"}),
    ("ix_member_search_sort_email", "member_search", ["email_key", "member_id"], {"email_key"}),
    ("ix_member_sort_status", "member", ["status", "id"], set()),
    ("ix_member_sort_points", "member", ["points_balance", "id"], set()),
    ("ix_member_sort_balance", "member", ["account_balance_cents", "id"], set()),
    ("ix_member_sort_pending", "member", ["pending_cents", "id"], set()),
    ("ix_member_sort_last_login", "member", ["last_login_at", "id"], set()),
)


def upgrade() -> None:
    for name, table, columns, text in _INDEXES:
        op.create_index(name, table, columns, postgresql_ops={c: 'COLLATE "C"' for c in text})


def downgrade() -> None:
    for name, table, _, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
