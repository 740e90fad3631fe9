"""household labels in other languages: {"en": "…"}, shown through the name chain (bot.core.names)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 12:50:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

KEEP = {"sqlite_autoincrement": True}  # see 0014


def upgrade() -> None:
    with op.batch_alter_table('household', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column('names', sa.JSON(), server_default='{}', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('household', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_column('names')
