"""machine translations kept so that one text is sent to the provider once per language
(bot.core.translate): a digest of the source text, never the text itself

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 11:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import bot.core.db


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mt_cache',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('source_hash', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', bot.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mt_cache')),
    sa.UniqueConstraint('key', name=op.f('uq_mt_cache_key')),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('mt_cache', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mt_cache_source_hash'), ['source_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_mt_cache_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('mt_cache', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mt_cache_created_at'))
        batch_op.drop_index(batch_op.f('ix_mt_cache_source_hash'))

    op.drop_table('mt_cache')
