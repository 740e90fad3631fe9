"""association names in other languages: {"en": "…", "vi": "…"}, from the city's file or the
console, shown through the name chain (bot.core.names) to residents who do not read Japanese

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 07:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

KEEP = {"sqlite_autoincrement": True}  # see 0014


def upgrade() -> None:
    with op.batch_alter_table('association', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column('names', sa.JSON(), server_default='{}', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('association', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_column('names')
