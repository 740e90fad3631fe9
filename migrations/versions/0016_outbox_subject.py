"""outbox subject: the resident whose words or name a message to someone else carries, so that
deleting their data scrubs it from other residents' messages too

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 10:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# A table rebuilt in batch mode on SQLite is made from its reflection, which does not say
# AUTOINCREMENT: say it again, or ids would be reusable after this migration (see 0014).
KEEP = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column('subject_resident_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_message_subject_resident_id'), ['subject_resident_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_message_subject_resident_id_resident'), 'resident',
                                    ['subject_resident_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_message_subject_resident_id_resident'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_message_subject_resident_id'))
        batch_op.drop_column('subject_resident_id')
