"""The application factory, configuration and the command line."""
from __future__ import annotations

import gc
import json
import runpy
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from bot.core.config import Config
from bot.core.models import Area, Association

ROOT = Path(__file__).resolve().parent.parent


def test_importing_the_package_does_nothing():
    # No engine, no .env read, no scheduler at import: only create_app() wires things.
    code = (
        "import sqlalchemy, dotenv\n"
        "def boom(*a, **k): raise SystemExit('side effect at import')\n"
        "sqlalchemy.create_engine = boom; dotenv.load_dotenv = boom\n"
        "import bot, bot.app, bot.core.models, bot.delivery.pipeline, bot.web.webhook, bot.web.webchat, bot.delivery.worker\n"
        "import handlers, conversations, scheduler.clock\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_config_comes_from_the_environment():
    env = {
        "LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t",
        "LINE_API_BASE_URL": "http://127.0.0.1:1234", "DATABASE_URL": "sqlite:///x.db",
        "TZ_NAME": "Asia/Tokyo", "FLASK_SECRET_KEY": "k",
    }
    cfg = Config.from_env(env)
    assert (cfg.line_channel_secret, cfg.line_channel_access_token, cfg.line_api_base_url) == ("s", "t", "http://127.0.0.1:1234")
    assert cfg.database_url == "sqlite:///x.db" and cfg.secret_key == "k"
    assert cfg.line_configured and not cfg.webchat_on
    defaults = Config.from_env({})
    assert defaults.line_api_base_url == "https://api.line.me" and defaults.tz_name == "Asia/Tokyo"
    assert defaults.database_url is None and defaults.webchat_on
    assert Config.from_env({**env, "WEBCHAT_ENABLED": "1"}).webchat_on


def test_default_database_is_a_sqlite_file_under_instance(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("DATABASE_URL", "LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    from bot import create_app
    app = create_app()
    url = app.extensions["tsunagari"].config.database_url
    assert url.startswith("sqlite:///") and url.endswith("instance/tsunagari.db")
    app.extensions["tsunagari"].db.dispose()


def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(db, is_postgres):
    if is_postgres:
        return
    with db.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_areas_load_and_reload(runner, db, tmp_path):
    city = json.loads((ROOT / "data" / "cities" / "demo.json").read_text(encoding="utf-8"))
    city["areas"] = city["areas"][:3]
    for a in city["areas"]:
        a["neighbours"] = [n for n in a["neighbours"] if n in {"asahi-1", "asahi-2", "sakura"}]
    city["associations"] = [{"name": "テスト会", "area": "asahi-1", "join_code": "test-1"}]
    f = tmp_path / "city.json"
    f.write_text(json.dumps(city, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["areas", "load", str(f)])
    assert result.exit_code == 0, result.output
    assert "3 areas" in result.output
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Area).where(Area.active.is_(True))) == 3
        assert s.scalar(select(Association.join_code).where(Association.name == "テスト会")) == "TEST-1"


def test_areas_load_refuses_a_broken_file(runner, tmp_path):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps({"areas": [{"code": "a", "names": {"ja": "A"}, "neighbours": ["zz"]}]}))
    result = runner.invoke(args=["areas", "load", str(f)])
    assert result.exit_code == 1
    assert "unknown neighbour zz" in result.output
    f.write_text("{not json")
    assert runner.invoke(args=["areas", "load", str(f)]).exit_code == 1


def test_worker_once_from_the_command_line(runner):
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0 and "0 rows" in result.output


def test_procfile_names_web_worker_and_clock():
    lines = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert set(lines) == {"web", "worker", "clock"}
    assert "gunicorn" in lines["web"] and "bot:create_app()" in lines["web"]
    assert "flask --app bot worker" in lines["worker"] and "flask --app bot clock" in lines["clock"]


def test_a_web_worker_freezes_its_start_up_heap_once_warm():
    """gunicorn's post_worker_init (gunicorn.conf.py) loads every language's words, then takes
    what start-up made out of the full garbage collections (a 110 ms pause mid-request before)."""
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    gc.unfreeze()
    conf["post_worker_init"](None)
    assert gc.get_freeze_count() > 100_000


def test_requirements_are_pinned():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "-r")):
                assert "==" in line, f"{name}: {line} is not pinned"
