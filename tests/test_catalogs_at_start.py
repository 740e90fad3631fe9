"""A deployment that skipped compiling the catalogs: the bot compiles them at start, or refuses to
start when it cannot; /healthz fails while they are missing or older than their .po files."""
from __future__ import annotations

import os
import shutil

import pytest

from bot.core import i18n
from bot.core.i18n import t


@pytest.fixture
def bare_locales(tmp_path, monkeypatch):
    """A copy of locales/ with no compiled catalog, used by the bot instead of the real one."""
    folder = tmp_path / "locales"
    shutil.copytree(i18n.LOCALES_DIR, folder, ignore=shutil.ignore_patterns("*.mo"))
    monkeypatch.setattr(i18n, "LOCALES_DIR", folder)
    i18n.reset_cache()
    yield folder
    monkeypatch.undo()
    i18n.reset_cache()


def test_missing_catalogs_are_compiled_at_start(bare_locales, app_factory, caplog):
    assert i18n.catalog_problems() and "ja/messages.mo is missing" in i18n.catalog_problems()
    assert t("ja", "Yes") == "Yes"  # what residents would get: the English msgid
    app = app_factory()
    assert i18n.catalog_problems() == []
    assert t("ja", "Yes") == "はい" and t("vi", "Yes") != "Yes"
    assert any("compiled 12 message catalogs at start" in r.getMessage() for r in caplog.records)
    assert app.test_client().get("/healthz").status_code == 200


def test_healthz_fails_while_a_catalog_is_older_than_its_po(bare_locales, app_factory):
    app = app_factory()
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok", "catalogs": "ok"}
    po = bare_locales / "vi" / "LC_MESSAGES" / "messages.po"
    earlier = po.stat().st_mtime - 60
    os.utime(po.with_suffix(".mo"), (earlier, earlier))  # a translator's later edit deployed without compiling
    r = client.get("/healthz")
    assert r.status_code == 503 and r.get_json()["catalogs"] == "1 not compiled or stale"
    (po.with_suffix(".mo")).unlink()
    assert client.get("/healthz").status_code == 503
    app_factory()  # the next start (a new worker) compiles it again
    assert client.get("/healthz").status_code == 200


def test_the_bot_refuses_to_start_when_the_catalogs_cannot_be_compiled(bare_locales, app_factory):
    mo = bare_locales / "ko" / "LC_MESSAGES" / "messages.mo"
    mo.mkdir()  # a path the compiled file cannot be moved onto (even for root)
    os.utime(mo, (0, 0))
    with pytest.raises(RuntimeError, match=r"message catalogs not compiled \(ja/messages.mo is missing.*cannot be compiled here .*ko/LC_MESSAGES/messages.mo"):
        app_factory()
