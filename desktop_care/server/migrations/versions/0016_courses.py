"""Courses, their sessions, registrations and certificates; e-learning modules and
enrolments; waiting lists (issue 9, docs/decisions/0020-courses-and-waiting-lists.md).
Server only: not replicated, so no feed triggers.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('course',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('price_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('transfer_allowed', sa.Boolean(), nullable=False),
    sa.Column('cancellation_allowed', sa.Boolean(), nullable=False),
    sa.Column('cutoff_hours', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course')),
    sa.UniqueConstraint('code', name=op.f('uq_course_code'))
    )
    op.create_table('elearning_module',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('sections', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_elearning_module')),
    sa.UniqueConstraint('code', name=op.f('uq_elearning_module_code'))
    )
    op.create_table('course_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('online', sa.Boolean(), nullable=False),
    sa.Column('venue', sa.String(length=200), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_course_session_course_id_course')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_session'))
    )
    op.create_index(op.f('ix_course_session_course_id'), 'course_session', ['course_id'], unique=False)
    op.create_table('elearning_enrolment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('module_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('enrolled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sections_done', sa.Integer(), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_elearning_enrolment_member_id_member')),
    sa.ForeignKeyConstraint(['module_id'], ['elearning_module.id'], name=op.f('fk_elearning_enrolment_module_id_elearning_module')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_elearning_enrolment'))
    )
    op.create_index(op.f('ix_elearning_enrolment_member_id'), 'elearning_enrolment', ['member_id'], unique=False)
    op.create_index(op.f('ix_elearning_enrolment_module_id'), 'elearning_enrolment', ['module_id'], unique=False)
    op.create_table('course_registration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('registrant_member_id', sa.Integer(), nullable=False),
    sa.Column('contact_member_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('price_cents', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('registered', 'transferred', 'cancelled', 'completed', name='registrationstate', native_enum=False, length=20), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('transferred_from_id', sa.Integer(), nullable=True),
    sa.Column('refund_due_cents', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['contact_member_id'], ['member.id'], name=op.f('fk_course_registration_contact_member_id_member')),
    sa.ForeignKeyConstraint(['order_id'], ['sales_order.id'], name=op.f('fk_course_registration_order_id_sales_order')),
    sa.ForeignKeyConstraint(['registrant_member_id'], ['member.id'], name=op.f('fk_course_registration_registrant_member_id_member')),
    sa.ForeignKeyConstraint(['session_id'], ['course_session.id'], name=op.f('fk_course_registration_session_id_course_session')),
    sa.ForeignKeyConstraint(['transferred_from_id'], ['course_registration.id'], name=op.f('fk_course_registration_transferred_from_id_course_registration')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_registration'))
    )
    op.create_index(op.f('ix_course_registration_contact_member_id'), 'course_registration', ['contact_member_id'], unique=False)
    op.create_index(op.f('ix_course_registration_order_id'), 'course_registration', ['order_id'], unique=False)
    op.create_index(op.f('ix_course_registration_registrant_member_id'), 'course_registration', ['registrant_member_id'], unique=False)
    op.create_index(op.f('ix_course_registration_session_id'), 'course_registration', ['session_id'], unique=False)
    op.create_table('course_certificate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=24), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_by', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['course_registration.id'], name=op.f('fk_course_certificate_registration_id_course_registration')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_certificate')),
    sa.UniqueConstraint('code', name=op.f('uq_course_certificate_code')),
    sa.UniqueConstraint('registration_id', name=op.f('uq_course_certificate_registration_id'))
    )
    op.create_table('waiting_list_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('waiting', 'offered', 'accepted', 'declined', 'expired', 'removed', name='waitstate', native_enum=False, length=20), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('offer_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('offer_hours', sa.Integer(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('registration_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_waiting_list_entry_member_id_member')),
    sa.ForeignKeyConstraint(['registration_id'], ['course_registration.id'], name=op.f('fk_waiting_list_entry_registration_id_course_registration')),
    sa.ForeignKeyConstraint(['session_id'], ['course_session.id'], name=op.f('fk_waiting_list_entry_session_id_course_session')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waiting_list_entry'))
    )
    op.create_index(op.f('ix_waiting_list_entry_member_id'), 'waiting_list_entry', ['member_id'], unique=False)
    op.create_index('ix_waiting_list_session_position', 'waiting_list_entry', ['session_id', 'position'], unique=False)


def downgrade() -> None:
    for table in ("waiting_list_entry", "course_certificate", "course_registration", "elearning_enrolment",
                  "course_session", "elearning_module", "course"):
        op.drop_table(table)
