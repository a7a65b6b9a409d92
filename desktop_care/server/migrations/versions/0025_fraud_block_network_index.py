"""The IP check's index on PostgreSQL: a GiST index on ``value::inet`` of the IP blocks,
so "which blocks contain this address" is one tree descent (docs/decisions/0035). SQLite
keeps the ``match_key`` lookup and gets nothing here.

Revision ID: 0025
Revises: 0022
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_fraud_block_network ON fraud_block USING gist ((value::inet) inet_ops) "
                   "WHERE kind = 'ip'")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_fraud_block_network")
