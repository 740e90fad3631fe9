"""outbox rank: urgent notices and one resident's messages are sent before mass sends

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 12:10:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rank', sa.Integer(), server_default='1', nullable=False))
        batch_op.drop_index('ix_outbox_message_status_next')
        batch_op.create_index('ix_outbox_message_status_rank_next', ['status', 'rank', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_message_status_rank_next')
        batch_op.create_index('ix_outbox_message_status_next', ['status', 'next_attempt_at'], unique=False)
        batch_op.drop_column('rank')
