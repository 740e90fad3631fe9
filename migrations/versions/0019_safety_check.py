"""safety checks (安否確認): the check and one row per resident asked (or paper household marked)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 12:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

import bot.core.db


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

KEEP = {"sqlite_autoincrement": True}  # see 0014


def upgrade() -> None:
    op.create_table(
        'safety_check',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.JSON(), nullable=False),
        sa.Column('drill', sa.Boolean(), nullable=False),
        sa.Column('note', sa.String(length=200), nullable=True),
        sa.Column('started_by', sa.String(length=64), nullable=False),
        sa.Column('reask_minutes', sa.Integer(), nullable=False),
        sa.Column('created_at', bot.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('reasked_at', bot.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('ended_at', bot.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        **KEEP,
    )
    op.create_table(
        'safety_answer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('check_id', sa.Integer(), nullable=False),
        sa.Column('resident_id', sa.Integer(), nullable=True),
        sa.Column('association_id', sa.Integer(), nullable=True),
        sa.Column('household_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=True),
        sa.Column('note', sa.String(length=200), nullable=True),
        sa.Column('household_too', sa.Boolean(), nullable=False),
        sa.Column('marked_by', sa.String(length=64), nullable=True),
        sa.Column('created_at', bot.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('answered_at', bot.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['check_id'], ['safety_check.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['association_id'], ['association.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['household_id'], ['household.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('check_id', 'resident_id'),
        **KEEP,
    )
    op.create_index('ix_safety_answer_check_status', 'safety_answer', ['check_id', 'status'])


def downgrade() -> None:
    op.drop_index('ix_safety_answer_check_status', table_name='safety_answer')
    op.drop_table('safety_answer')
    op.drop_table('safety_check')
