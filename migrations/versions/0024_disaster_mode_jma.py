"""disaster mode: rich menus by kind (normal/disaster/drill), the check's menu state and event;
checks prepared from the JMA's feeds, and what the clock read of those feeds

Revision ID: 0024
Revises: 0022 (to be chained after 0023 when the shelters branch is merged)
Create Date: 2026-12-06 10:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import bot.core.db


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

KEEP = {"sqlite_autoincrement": True}  # see 0014


def _rich_menu_table(name: str, composite: bool):
    cols = [sa.Column('locale', sa.String(length=16), nullable=False),
            sa.Column('rich_menu_id', sa.String(length=64), nullable=False),
            sa.Column('deployed_at', bot.core.db.UTCDateTime(timezone=True), nullable=False)]
    if composite:
        cols.insert(0, sa.Column('kind', sa.String(length=16), nullable=False))
        pk = sa.PrimaryKeyConstraint('kind', 'locale', name=op.f(f'pk_{name}'))
    else:
        pk = sa.PrimaryKeyConstraint('locale', name=op.f(f'pk_{name}'))
    op.create_table(name, *cols, pk)


def _swap_rich_menu(composite: bool) -> None:
    """The key changes (locale → kind, locale): a new table, the rows copied, renamed."""
    _rich_menu_table('rich_menu_new', composite)
    if composite:
        op.execute("INSERT INTO rich_menu_new (kind, locale, rich_menu_id, deployed_at) "
                    "SELECT 'normal', locale, rich_menu_id, deployed_at FROM rich_menu")
    else:
        op.execute("INSERT INTO rich_menu_new (locale, rich_menu_id, deployed_at) "
                    "SELECT locale, rich_menu_id, deployed_at FROM rich_menu WHERE kind = 'normal'")
    op.drop_table('rich_menu')
    op.rename_table('rich_menu_new', 'rich_menu')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE rich_menu RENAME CONSTRAINT pk_rich_menu_new TO pk_rich_menu")


def upgrade() -> None:
    _swap_rich_menu(True)
    with op.batch_alter_table('safety_check', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column('menu_state', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('event', sa.JSON(), nullable=True))
    op.create_table(
        'prepared_check',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_key', sa.String(length=160), nullable=False),
        sa.Column('event', sa.JSON(), nullable=False),
        sa.Column('scope', sa.JSON(), nullable=False),
        sa.Column('created_at', bot.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('check_id', sa.Integer(), nullable=True),
        sa.Column('dismissed_at', bot.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('dismissed_by', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['check_id'], ['safety_check.id'], name=op.f('fk_prepared_check_check_id_safety_check'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_prepared_check')),
        sa.UniqueConstraint('event_key', name=op.f('uq_prepared_check_event_key')),
        **KEEP,
    )
    op.create_table(
        'jma_feed',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=300), nullable=False),
        sa.Column('etag', sa.String(length=200), nullable=True),
        sa.Column('last_modified', sa.String(length=64), nullable=True),
        sa.Column('checked_at', bot.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('error', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_jma_feed')),
        sa.UniqueConstraint('url', name=op.f('uq_jma_feed_url')),
        **KEEP,
    )
    op.create_table(
        'jma_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.String(length=300), nullable=False),
        sa.Column('seen_at', bot.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_jma_entry')),
        sa.UniqueConstraint('entry_id', name=op.f('uq_jma_entry_entry_id')),
        **KEEP,
    )
    op.create_index(op.f('ix_jma_entry_seen_at'), 'jma_entry', ['seen_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_jma_entry_seen_at'), table_name='jma_entry')
    op.drop_table('jma_entry')
    op.drop_table('jma_feed')
    op.drop_table('prepared_check')
    with op.batch_alter_table('safety_check', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_column('event')
        batch_op.drop_column('menu_state')
    _swap_rich_menu(False)
