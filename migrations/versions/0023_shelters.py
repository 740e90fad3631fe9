"""shelters (指定緊急避難場所, from GSI's open data) that staff mark open; where an area is; the
shelter a resident said they evacuated to in a safety check

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 14:30:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

import bot.core.db


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

KEEP = {"sqlite_autoincrement": True}  # see 0014


def upgrade() -> None:
    op.create_table(
        'shelter',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('common_id', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('address', sa.String(length=200), nullable=False),
        sa.Column('hazards', sa.Integer(), nullable=False),
        sa.Column('lat', sa.Float(), nullable=True),
        sa.Column('lon', sa.Float(), nullable=True),
        sa.Column('names', sa.JSON(), server_default='{}', nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('is_open', sa.Boolean(), nullable=False),
        sa.Column('opened_at', bot.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', bot.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', bot.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('common_id'),
        **KEEP,
    )
    with op.batch_alter_table('area', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column('lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('lon', sa.Float(), nullable=True))
    with op.batch_alter_table('safety_answer', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column('shelter_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_safety_answer_shelter_id_shelter'), 'shelter', ['shelter_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('safety_answer', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_safety_answer_shelter_id_shelter'), type_='foreignkey')
        batch_op.drop_column('shelter_id')
    with op.batch_alter_table('area', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_column('lon')
        batch_op.drop_column('lat')
    op.drop_table('shelter')
