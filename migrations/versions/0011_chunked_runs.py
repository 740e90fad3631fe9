"""announcement runs queued in chunks: the run's place and the groups not yet full

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 11:20:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('announcement_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cursor', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('carry', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('announcement_run', schema=None) as batch_op:
        batch_op.drop_column('carry')
        batch_op.drop_column('cursor')
