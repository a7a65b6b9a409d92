"""Orders, invoices and payments; account transactions get a kind, a currency, an
order and a provider reference (docs/decisions/0016-payments-and-ledger.md).

Revision ID: 0013
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "test_checkout",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("success_url", sa.String(length=500), nullable=False),
        sa.Column("cancel_url", sa.String(length=500), nullable=False),
        sa.Column("webhook_url", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("payment_status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_checkout")),
    )
    op.create_table(
        "test_checkout_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_checkout_key")),
    )
    op.create_table(
        "sales_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_no", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.Enum("order", "renewal", name="orderkind", native_enum=False, length=20), nullable=False),
        sa.Column("contact_member_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("unpaid", "payment_pending", "paid", "cancelled", name="orderstate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exported", sa.Boolean(), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exported_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_member_id"], ["member.id"], name=op.f("fk_sales_order_contact_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_order")),
        sa.UniqueConstraint("order_no", name=op.f("uq_sales_order_order_no")),
    )
    with op.batch_alter_table("sales_order", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sales_order_contact_member_id"), ["contact_member_id"], unique=False)
    op.create_table(
        "test_checkout_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=120), nullable=False),
        sa.Column("checkout_id", sa.String(length=120), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkout_id"], ["test_checkout.id"], name=op.f("fk_test_checkout_event_checkout_id_test_checkout")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_checkout_event")),
        sa.UniqueConstraint("event_id", name=op.f("uq_test_checkout_event_event_id")),
    )
    with op.batch_alter_table("test_checkout_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_test_checkout_event_checkout_id"), ["checkout_id"], unique=False)
    op.create_table(
        "invoice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_no", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["sales_order.id"], name=op.f("fk_invoice_order_id_sales_order"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice")),
        sa.UniqueConstraint("invoice_no", name=op.f("uq_invoice_invoice_no")),
        sa.UniqueConstraint("order_id", name=op.f("uq_invoice_order_id")),
    )
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.create_index("ix_invoice_issued", ["issued_at"], unique=False)
    op.create_table(
        "order_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_cents", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["sales_order.id"], name=op.f("fk_order_line_order_id_sales_order"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_line")),
    )
    with op.batch_alter_table("order_line", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_line_order_id"), ["order_id"], unique=False)
    op.create_table(
        "order_registrant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], name=op.f("fk_order_registrant_member_id_member")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["sales_order.id"], name=op.f("fk_order_registrant_order_id_sales_order"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_registrant")),
    )
    with op.batch_alter_table("order_registrant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_registrant_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_order_registrant_order_id"), ["order_id"], unique=False)
    op.create_table(
        "payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("checkout_id", sa.String(length=120), nullable=False),
        sa.Column("checkout_url", sa.String(length=500), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "open", "paid", "declined", "cancelled", "expired", name="checkoutstate", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_by_user_id", sa.Integer(), nullable=True),
        sa.Column("txn_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], name=op.f("fk_payment_member_id_member")),
        sa.ForeignKeyConstraint(["order_id"], ["sales_order.id"], name=op.f("fk_payment_order_id_sales_order")),
        sa.ForeignKeyConstraint(
            ["started_by_user_id"], ["app_user.id"], name=op.f("fk_payment_started_by_user_id_app_user")
        ),
        sa.ForeignKeyConstraint(["txn_id"], ["account_txn.id"], name=op.f("fk_payment_txn_id_account_txn")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint("checkout_id", name=op.f("uq_payment_checkout_id")),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_order_id"), ["order_id"], unique=False)
        batch_op.create_index("ix_payment_order_state", ["order_id", "state"], unique=False)
    with op.batch_alter_table("account_txn", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                sa.Enum("charge", "payment", name="txnkind", native_enum=False, length=20),
                server_default="charge",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("currency", sa.String(length=3), server_default="GBP", nullable=False))
        batch_op.add_column(sa.Column("order_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reference", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_account_txn_order_id"), ["order_id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_account_txn_reference"), ["reference"])
        batch_op.create_foreign_key(
            batch_op.f("fk_account_txn_order_id_sales_order"), "sales_order", ["order_id"], ["id"]
        )
    # Existing rows: a positive amount was a charge, anything else a payment; settled
    # rows settled when they were made.
    op.execute("UPDATE account_txn SET kind = 'payment' WHERE amount_cents <= 0")
    op.execute("UPDATE account_txn SET settled_at = created_at WHERE status = 'settled'")


def downgrade() -> None:
    with op.batch_alter_table("account_txn", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_account_txn_order_id_sales_order"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_account_txn_reference"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_account_txn_order_id"))
        for column in ("settled_at", "reference", "order_id", "currency", "kind"):
            batch_op.drop_column(column)
    for table in (
        "payment",
        "order_registrant",
        "order_line",
        "invoice",
        "test_checkout_event",
        "sales_order",
        "test_checkout_key",
        "test_checkout",
    ):
        op.drop_table(table)
