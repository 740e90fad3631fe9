"""console session epoch: a new password (or disabling an account) ends its other sessions

Revision ID: 0012
Revises: 0011 (0010 until 0011 is merged, see down_revision)
Create Date: 2026-11-29 11:30:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0012'
# Comes after 0011 (being written on main at the same time). Until 0011 is merged here it points
# at 0010 so that this branch upgrades; change it to '0011' when merging.
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('staff_account', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')
