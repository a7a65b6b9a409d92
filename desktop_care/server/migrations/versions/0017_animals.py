"""A breed society's herd book: breeds, animals, their history, ownership and
transfers (``breed``, ``animal``, ``animal_event``, ``animal_owner``,
``animal_transfer``). Server only: not replicated, so no feed triggers.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    op.create_table(
        "breed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(3), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("sire_min_months", sa.Integer(), nullable=False),
        sa.Column("dam_min_months", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breed")),
        sa.UniqueConstraint("code", name=op.f("uq_breed_code")),
        sa.UniqueConstraint("name", name=op.f("uq_breed_name")),
    )
    op.create_table(
        "animal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reg_no", sa.String(20), nullable=False),
        sa.Column("breed_id", sa.Integer(), nullable=False),
        sa.Column("reg_year", sa.Integer(), nullable=False),
        sa.Column("reg_seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("sex", _enum("sex", "male", "female"), nullable=False),
        sa.Column("born", sa.Date(), nullable=False),
        sa.Column("sire_id", sa.Integer(), nullable=True),
        sa.Column("dam_id", sa.Integer(), nullable=True),
        sa.Column("owner_member_id", sa.Integer(), nullable=False),
        sa.Column("status", _enum("animalstatus", "registered", "deceased"), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("op_id", sa.String(36), nullable=True),
        _fk("animal", "breed_id", "breed"),
        _fk("animal", "sire_id", "animal"),
        _fk("animal", "dam_id", "animal"),
        _fk("animal", "owner_member_id", "member"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_animal")),
        sa.UniqueConstraint("reg_no", name=op.f("uq_animal_reg_no")),
        sa.UniqueConstraint("op_id", name=op.f("uq_animal_op_id")),
        sa.UniqueConstraint("breed_id", "reg_year", "reg_seq", name="uq_animal_breed_year_seq"),
    )
    for column in ("sire_id", "dam_id", "owner_member_id"):
        op.create_index(op.f(f"ix_animal_{column}"), "animal", [column])
    op.create_table(
        "animal_transfer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("animal_id", sa.Integer(), nullable=False),
        sa.Column("from_member_id", sa.Integer(), nullable=False),
        sa.Column("to_member_id", sa.Integer(), nullable=False),
        sa.Column("state", _enum("transferstate", "pending", "accepted", "declined", "expired", "cancelled"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("decided_by", sa.String(120), nullable=False),
        _fk("animal_transfer", "animal_id", "animal"),
        _fk("animal_transfer", "from_member_id", "member"),
        _fk("animal_transfer", "to_member_id", "member"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_animal_transfer")),
    )
    for column in ("animal_id", "from_member_id", "to_member_id"):
        op.create_index(op.f(f"ix_animal_transfer_{column}"), "animal_transfer", [column])
    op.create_table(
        "animal_owner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("animal_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transfer_id", sa.Integer(), nullable=True),
        _fk("animal_owner", "animal_id", "animal"),
        _fk("animal_owner", "member_id", "member"),
        _fk("animal_owner", "transfer_id", "animal_transfer"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_animal_owner")),
    )
    op.create_index("ix_animal_owner_member", "animal_owner", ["member_id"])
    op.create_index("ix_animal_owner_animal", "animal_owner", ["animal_id", "id"])
    op.create_table(
        "animal_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("animal_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("eventkind", "registered", "corrected", "transfer_offered", "transfer_accepted",
                                "transfer_declined", "transfer_cancelled", "transfer_expired"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(120), nullable=False),
        sa.Column("impersonation_id", sa.String(36), nullable=True),
        sa.Column("op_id", sa.String(36), nullable=False),
        _fk("animal_event", "animal_id", "animal"),
        _fk("animal_event", "member_id", "member"),
        _fk("animal_event", "actor_user_id", "app_user"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_animal_event")),
    )
    op.create_index(op.f("ix_animal_event_member_id"), "animal_event", ["member_id"])
    op.create_index("ix_animal_event_animal", "animal_event", ["animal_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_animal_event_animal", table_name="animal_event")
    op.drop_index(op.f("ix_animal_event_member_id"), table_name="animal_event")
    op.drop_table("animal_event")
    op.drop_index("ix_animal_owner_animal", table_name="animal_owner")
    op.drop_index("ix_animal_owner_member", table_name="animal_owner")
    op.drop_table("animal_owner")
    for column in ("animal_id", "from_member_id", "to_member_id"):
        op.drop_index(op.f(f"ix_animal_transfer_{column}"), table_name="animal_transfer")
    op.drop_table("animal_transfer")
    for column in ("sire_id", "dam_id", "owner_member_id"):
        op.drop_index(op.f(f"ix_animal_{column}"), table_name="animal")
    op.drop_table("animal")
    op.drop_table("breed")
