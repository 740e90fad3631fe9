"""record identity: ids are never reused (SQLite AUTOINCREMENT), versions for edited records,
and a garbage subscription whose area left the calendar is told once

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 22:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

# Tables that are not ours (APScheduler's job store lives in the same database).
FOREIGN_TABLES = {"apscheduler_jobs", "alembic_version", "sqlite_sequence"}


def _tables_to_rebuild(bind) -> list[str]:
    """Our SQLite tables with a single INTEGER primary key that are not AUTOINCREMENT yet."""
    out = []
    rows = bind.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all()
    for name, sql in rows:
        if name in FOREIGN_TABLES or name.startswith("_alembic_tmp") or "AUTOINCREMENT" in (sql or "").upper():
            continue
        pk = [c for c in sa.inspect(bind).get_columns(name) if c.get("primary_key")]
        if len(pk) == 1 and isinstance(pk[0]["type"], sa.Integer):
            out.append(name)
    return sorted(out)


def upgrade() -> None:
    with op.batch_alter_table('help_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    with op.batch_alter_table('garbage_subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gone_notified_at', sa.DateTime(timezone=True), nullable=True))
        # real cities' collection areas can be long (40, 100, 200 characters)
        batch_op.alter_column('area', existing_type=sa.String(length=100), type_=sa.Text(), existing_nullable=False)

    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL's sequences never hand out an id twice
    # SQLite reuses the highest rowid after a delete unless the table is AUTOINCREMENT, which
    # only CREATE TABLE can say: each table is rebuilt with its rows, indexes and constraints
    # (migrations/env.py turns foreign keys off meanwhile, so no ON DELETE action runs).
    for name in _tables_to_rebuild(bind):
        with op.batch_alter_table(name, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade() -> None:
    # AUTOINCREMENT stays: going back must not make ids reusable again.
    with op.batch_alter_table('garbage_subscription', schema=None) as batch_op:
        batch_op.alter_column('area', existing_type=sa.Text(), type_=sa.String(length=100), existing_nullable=False)
        batch_op.drop_column('gone_notified_at')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_column('version')
    with op.batch_alter_table('help_request', schema=None) as batch_op:
        batch_op.drop_column('version')
