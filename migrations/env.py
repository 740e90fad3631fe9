"""Alembic environment. The engine comes from the app (`flask --app bot db upgrade`); when
Alembic is run by hand, from DATABASE_URL."""
from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from bot.core.db import Base
import bot.core.models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = Base.metadata

# Tables that are not ours (APScheduler keeps its job store in the same database).
FOREIGN_TABLES = {"apscheduler_jobs"}


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table" and name in FOREIGN_TABLES:
        return False
    return True


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(os.environ["DATABASE_URL"])
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Rebuilding a table (batch mode) drops the old one, and with foreign keys on SQLite
            # first runs every ON DELETE action of its rows (CASCADE would empty child tables).
            # Off for the migration (it must be said outside a transaction), checked after.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            include_object=include_object,
            compare_type=True,
        )
        try:
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                connection.commit()
                if broken:
                    raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `flask --app bot db upgrade`")
run_migrations_online()
