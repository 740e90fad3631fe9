"""a safety check's 「助けが必要」: the registered helper nearby who said 「向かいます」 first

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 12:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

KEEP = {"sqlite_autoincrement": True}  # see 0014


def upgrade() -> None:
    with op.batch_alter_table('safety_answer', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column('responder_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_safety_answer_responder_id_resident'), 'resident', ['responder_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('safety_answer', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_safety_answer_responder_id_resident'), type_='foreignkey')
        batch_op.drop_column('responder_id')
