"""`flask --app bot db upgrade` builds the schema on an empty database, and the migrations
match the models exactly."""
from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.core.db import Base
from tests import support


def _empty_db_url(tmp_path, pg_database):
    if pg_database:
        admin = support.postgres_admin_url()
        return support.create_pg_database(admin), admin
    return f"sqlite:///{tmp_path / 'fresh.db'}", None


def test_upgrade_on_an_empty_database_matches_the_models(app_factory, tmp_path, pg_database):
    url, admin = _empty_db_url(tmp_path, pg_database)
    try:
        app = app_factory(database_url=url)
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
            assert diff == [], f"models and migrations differ: {diff}"
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        engine.dispose()
        assert app.test_client().get("/healthz").status_code == 200
        # and back down, and up again
        assert app.test_cli_runner().invoke(args=["db", "downgrade", "base"]).exit_code == 0
        assert app.test_client().get("/healthz").status_code == 503
        assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
        app.extensions["tsunagari"].db.dispose()
    finally:
        if admin:
            support.drop_pg_database(admin, url)
