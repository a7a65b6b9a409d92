"""The payment manager: refunds (``refund``) and the account ledger's new columns
(how money moved, a manual payment's reference, the reason, the payment a refund pays
back, who recorded it) with the index the Payments tab reads by. Server only: neither
table is replicated, so no feed triggers.

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_METHODS = ("card", "cash", "cheque", "bank_transfer")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def upgrade() -> None:
    with op.batch_alter_table("account_txn", schema=None) as batch_op:
        batch_op.add_column(sa.Column("method", _enum("paymentmethod", *_METHODS), nullable=True))
        batch_op.add_column(sa.Column("method_reference", sa.String(length=120), server_default="", nullable=False))
        batch_op.add_column(sa.Column("note", sa.String(length=500), server_default="", nullable=False))
        batch_op.add_column(sa.Column("refund_of_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("recorded_by", sa.String(length=120), server_default="", nullable=False))
        batch_op.create_index(batch_op.f("ix_account_txn_refund_of_id"), ["refund_of_id"], unique=False)
        batch_op.create_index("ix_account_txn_member_created", ["member_id", "created_at", "id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_account_txn_refund_of_id_account_txn"), "account_txn", ["refund_of_id"], ["id"]
        )
    # Payments made before: those with a checkout reference were card payments.
    op.execute("UPDATE account_txn SET method = 'card' WHERE kind = 'payment' AND reference IS NOT NULL")
    op.create_table(
        "refund",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("payment_txn_id", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("method", _enum("paymentmethod", *_METHODS), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("state", _enum("refundstate", "awaiting_approval", "rejected", "pending", "settled", "failed"),
                  nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=True),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(length=120), nullable=False),
        sa.Column("decision_reason", sa.String(length=500), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("provider_refund_id", sa.String(length=120), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure", sa.String(length=200), nullable=False),
        sa.Column("txn_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], name=op.f("fk_refund_member_id_member")),
        sa.ForeignKeyConstraint(["payment_txn_id"], ["account_txn.id"],
                                name=op.f("fk_refund_payment_txn_id_account_txn")),
        sa.ForeignKeyConstraint(["txn_id"], ["account_txn.id"], name=op.f("fk_refund_txn_id_account_txn")),
        sa.ForeignKeyConstraint(["requested_by_user_id"], ["app_user.id"],
                                name=op.f("fk_refund_requested_by_user_id_app_user")),
        sa.ForeignKeyConstraint(["decided_by_user_id"], ["app_user.id"],
                                name=op.f("fk_refund_decided_by_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund")),
        sa.UniqueConstraint("provider_refund_id", name=op.f("uq_refund_provider_refund_id")),
    )
    op.create_index(op.f("ix_refund_member_id"), "refund", ["member_id"], unique=False)
    op.create_index(op.f("ix_refund_payment_txn_id"), "refund", ["payment_txn_id"], unique=False)
    op.create_index("ix_refund_state_requested", "refund", ["state", "requested_at", "id"], unique=False)
    op.create_table(
        "test_refund",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("checkout_id", sa.String(length=120), nullable=False),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["checkout_id"], ["test_checkout.id"],
                                name=op.f("fk_test_refund_checkout_id_test_checkout")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_refund")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_test_refund_idempotency_key")),
    )


def downgrade() -> None:
    op.drop_table("test_refund")
    op.drop_index("ix_refund_state_requested", table_name="refund")
    op.drop_index(op.f("ix_refund_payment_txn_id"), table_name="refund")
    op.drop_index(op.f("ix_refund_member_id"), table_name="refund")
    op.drop_table("refund")
    with op.batch_alter_table("account_txn", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_account_txn_refund_of_id_account_txn"), type_="foreignkey")
        batch_op.drop_index("ix_account_txn_member_created")
        batch_op.drop_index(batch_op.f("ix_account_txn_refund_of_id"))
        for column in ("recorded_by", "refund_of_id", "note", "method_reference", "method"):
            batch_op.drop_column(column)
