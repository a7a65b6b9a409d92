"""Users are looked up by their address in lower case (an invitation, and each row of
a bulk invite, asks whether the address is already a user): indexes on lower(username)
and lower(email), so that the look-up no longer reads the whole user table.

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_app_user_lower_username", "app_user", [sa.text("lower(username)")])
    op.create_index("ix_app_user_lower_email", "app_user", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_app_user_lower_email", table_name="app_user")
    op.drop_index("ix_app_user_lower_username", table_name="app_user")
