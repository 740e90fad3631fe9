"""Fixtures: `fake_line` (a fake LINE API on loopback), `app`, `client`, `line` (signed
webhooks), `db` (the app's Database), `bot` (the app's wired parts), `runner` (the CLI).

The database is SQLite unless TSUNAGARI_TEST_DATABASE_URL names a PostgreSQL server; then the
whole suite runs there, in a database of its own, and an unreachable server fails the run.
"""
from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import create_app  # noqa: E402
from bot.core.areas import load_city  # noqa: E402
from bot.core.config import Config  # noqa: E402
from bot.core.db import Base  # noqa: E402
from bot.core.i18n import missing_compiled_catalogs, reset_cache  # noqa: E402
from tests import support  # noqa: E402
from tests.fakeline import FakeLine  # noqa: E402


# CI runs the property tests on a fixed seed, so a run is repeatable; locally they roam.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: runs a real browser (Debian's chromium)")
    config.addinivalue_line("markers", "postgres_only: needs PostgreSQL (skipped on SQLite)")
    if missing_compiled_catalogs():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "i18n.py"), "compile"], check=True,
                       stdout=subprocess.DEVNULL)
        reset_cache()


@pytest.fixture(autouse=True)
def _unfreeze_heap():
    """The processes' warm-ups freeze their heap (bot.core.heap); a test that runs one must not
    leave the test process's objects out of garbage collection for the tests after it."""
    yield
    if gc.get_freeze_count():
        gc.unfreeze()


@pytest.fixture(scope="session")
def fake_line_server():
    fake = FakeLine().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_line(fake_line_server):
    fake_line_server.reset()
    return fake_line_server


@pytest.fixture(scope="session")
def pg_database():
    admin = support.postgres_admin_url()
    if not admin:
        yield None
        return
    if not support.postgres_reachable(admin):
        pytest.exit("TSUNAGARI_TEST_DATABASE_URL is set but PostgreSQL cannot be reached", returncode=3)
    url = support.create_pg_database(admin)
    engine = sa.create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    yield url
    support.drop_pg_database(admin, url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """The schema, built once per session; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("schema") / "template.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_engine(pg_database):
    if not pg_database:
        yield None
        return
    engine = sa.create_engine(pg_database, pool_size=1)
    yield engine
    engine.dispose()


def _pg_empty(engine) -> None:
    """Every table empty and every id sequence back at 1, truncating only the tables a test
    wrote to (one query finds them)."""
    tables = [t.name for t in Base.metadata.sorted_tables]
    probe = " UNION ALL ".join(f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")" for name in tables)
    with engine.begin() as c:
        used = [row[0] for row in c.execute(sa.text(probe))]
        if used:
            c.execute(sa.text("TRUNCATE " + ", ".join(f'"{name}"' for name in used) + " RESTART IDENTITY CASCADE"))
        c.execute(sa.text("SELECT setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                          "WHERE c.relkind = 'S' AND n.nspname = current_schema()"))


@pytest.fixture
def db_url(pg_database, pg_engine, sqlite_template, tmp_path):
    if pg_database:
        _pg_empty(pg_engine)
        return pg_database
    path = tmp_path / "bot.core.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def is_postgres(db_url) -> bool:
    return db_url.startswith("postgresql")


# A strong key for apps configured with LINE (a production configuration refuses a weak one).
TEST_SECRET_KEY = "test-only-" + "kS3cr3t-x9QvT2bLm7WzR4pN8yHd"


def make_config(db_url: str, fake: FakeLine, **overrides) -> Config:
    values = dict(
        line_channel_secret=support.SECRET,
        line_channel_access_token=fake.token,
        line_api_base_url=fake.url,
        database_url=db_url,
        webchat_enabled=True,
        secret_key=TEST_SECRET_KEY,
    )
    # Tests send many events within one frozen minute; the rate limit has its own test.
    values.setdefault("resident_events_per_minute", 0)
    # A reply's send recorded before the request returns, as the tests read the outbox right
    # after (and move the clock past OUTBOX_STALE_SECONDS at once); recording it with the next
    # event, the default, has its own tests (tests/test_unrecorded_sends.py).
    values.setdefault("reply_record_ms", 0)
    values.update(overrides)
    return Config(**values)


@pytest.fixture
def app_factory(db_url, fake_line):
    made = []

    def factory(**overrides):
        app = create_app(make_config(db_url, fake_line, **overrides))
        app.config["TESTING"] = True
        made.append(app)
        return app

    yield factory
    for app in made:
        bot = app.extensions["tsunagari"]
        try:
            bot.sender.unrecorded.flush()  # (else the exit would, on a database dropped by then)
        except Exception:
            pass
        bot.db.dispose()


@pytest.fixture
def app(app_factory):
    app = app_factory()
    with app.extensions["tsunagari"].db.session() as s:
        load_city(s, ROOT / "data" / "cities" / "demo.json")
    return app


@pytest.fixture
def bot(app):
    return app.extensions["tsunagari"]


@pytest.fixture
def db(bot):
    return bot.db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def line(client, fake_line):
    return support.Line(client, fake_line)


LOCALE_OF_LABEL = {"English": "en", "日本語": "ja", "やさしい日本語": "ja_easy", "Tiếng Việt": "vi", "简体中文": "zh_Hans",
                   "한국어": "ko", "Tagalog": "tl", "Português": "pt_BR", "नेपाली": "ne", "Bahasa Indonesia": "id"}


@pytest.fixture
def joined(db, fake_line):
    """Make a resident who has finished onboarding (Minato, no association; English unless a
    language's label is given), without the webhooks: `support.add_resident`."""

    def make(user: str = "U" + "a" * 32, name: str = "Taro", locale_label: str = "English"):
        fake_line.profiles[user] = {"displayName": name, "language": "en"}
        support.add_resident(db, user, name=name, locale=LOCALE_OF_LABEL[locale_label])
        return user

    return make


@pytest.fixture
def joined_http(line, fake_line):
    """Make a resident who has finished onboarding through the real webhooks (follow, language,
    area, skip the association, name, consent): for tests of what onboarding itself does."""

    def make(user: str = "U" + "a" * 32, name: str = "Taro", locale_label: str = "English"):
        fake_line.profiles[user] = {"displayName": name, "language": "en"}
        line.follow(user)
        line.tap(user, locale_label)
        line.say(user, "Minato-machi")
        english = locale_label == "English"
        line.tap(user, "Skip" if english else "スキップ")
        line.say(user, name)
        line.tap(user, "I agree" if english else "同意する")
        return user

    return make


@pytest.fixture
def console_app(app_factory):
    """An app served as over https (Secure cookies), with the demo city loaded."""
    app = app_factory(public_base_url="https://tsunagari.example.jp")
    with app.extensions["tsunagari"].db.session() as s:
        load_city(s, ROOT / "data" / "cities" / "demo.json")
    return app


@pytest.fixture(scope="session")
def password_hash() -> str:
    """tests.console_support.PASSWORD hashed once (scrypt takes a tenth of a second a time)."""
    from bot.console.auth import hash_password
    from tests.console_support import PASSWORD

    return hash_password(PASSWORD)


@pytest.fixture
def accounts(console_app, password_hash):
    """Console accounts: staff "tanaka" and the leader of ASAHI-2026 "asahi" (password
    tests.console_support.PASSWORD), the rows `flask --app bot staff create` writes (that
    command has its own tests), with the password hashed once per session."""
    from bot.core.models import Association, StaffAccount

    with console_app.extensions["tsunagari"].db.session() as s:
        asahi = s.scalar(sa.select(Association.id).where(Association.join_code == "ASAHI-2026"))
        s.add_all([StaffAccount(username="tanaka", display_name="tanaka", password_hash=password_hash, role="staff",
                                locale="ja"),
                   StaffAccount(username="asahi", display_name="asahi", password_hash=password_hash, role="leader",
                                association_id=asahi, locale="ja")])
    return console_app


@pytest.fixture
def clock(time_machine):
    """Tuesday 2026-12-01, 10:00 in Tokyo, standing still (time moves only when a test moves it)."""
    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)
    return time_machine
