"""Fraud stop: blocks on an IP address or range, a card or an e-mail address or domain
(``fraud_block``), and the card the test provider saw on each checkout
(``test_checkout_card``). Server only: not replicated, so no feed triggers.

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def upgrade() -> None:
    op.create_table(
        "fraud_block",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("blockkind", "ip", "card", "email"), nullable=False),
        sa.Column("value", sa.String(254), nullable=False),
        sa.Column("match_key", sa.String(80), nullable=False),
        sa.Column("card_brand", sa.String(20), nullable=False),
        sa.Column("card_bin", sa.String(8), nullable=False),
        sa.Column("card_last4", sa.String(4), nullable=False),
        sa.Column("reason_code", _enum("blockreason", "chargeback", "stolen_card", "card_testing", "fake_account",
                                       "abuse", "other"), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(120), nullable=False),
        sa.Column("lift_reason", sa.Text(), nullable=False),
        sa.Column("would_have_blocked", sa.Integer(), nullable=False),
        sa.Column("last_blocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_block")),
    )
    op.create_index("ix_fraud_block_match", "fraud_block", ["match_key"])
    op.create_index("ix_fraud_block_created", "fraud_block", ["created_at", "id"])
    op.create_table(
        "test_checkout_card",
        sa.Column("checkout_id", sa.String(120), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("brand", sa.String(20), nullable=False),
        sa.Column("bin", sa.String(8), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.ForeignKeyConstraint(["checkout_id"], ["test_checkout.id"],
                                name=op.f("fk_test_checkout_card_checkout_id_test_checkout")),
        sa.PrimaryKeyConstraint("checkout_id", name=op.f("pk_test_checkout_card")),
    )
    op.create_index(op.f("ix_test_checkout_card_fingerprint"), "test_checkout_card", ["fingerprint"])


def downgrade() -> None:
    op.drop_index(op.f("ix_test_checkout_card_fingerprint"), table_name="test_checkout_card")
    op.drop_table("test_checkout_card")
    op.drop_index("ix_fraud_block_created", table_name="fraud_block")
    op.drop_index("ix_fraud_block_match", table_name="fraud_block")
    op.drop_table("fraud_block")
