"""console session epoch: a new password (or disabling an account) ends its other sessions

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 11:30:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('staff_account', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')
