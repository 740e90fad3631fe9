"""console sessions kept on the server: signing out (or a new password, a disabled account, a
leader's role taken away) ends them, and a copied cookie is of no use after

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 10:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import bot.core.db


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('staff_account_id', sa.Integer(), nullable=True),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('created_at', bot.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', bot.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', bot.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_console_session_resident_id_resident'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_account_id'], ['staff_account.id'],
                            name=op.f('fk_console_session_staff_account_id_staff_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_console_session_token_hash')),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('console_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_session_resident_id'), ['resident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_session_staff_account_id'), ['staff_account_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('console_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_session_staff_account_id'))
        batch_op.drop_index(batch_op.f('ix_console_session_resident_id'))

    op.drop_table('console_session')
