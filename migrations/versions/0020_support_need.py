"""residents who may need help in a disaster (避難行動要支援者), registered by themselves

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 12:30:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

import bot.core.db


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

KEEP = {"sqlite_autoincrement": True}  # see 0014


def upgrade() -> None:
    op.create_table(
        'support_need',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('resident_id', sa.Integer(), nullable=False),
        sa.Column('needs', sa.JSON(), nullable=False),
        sa.Column('note', sa.String(length=200), nullable=True),
        sa.Column('leaders_may_see', sa.Boolean(), nullable=False),
        sa.Column('consent_at', bot.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_at', bot.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('resident_id'),
        **KEEP,
    )


def downgrade() -> None:
    op.drop_table('support_need')
