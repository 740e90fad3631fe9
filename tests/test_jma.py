"""Disaster mode (issue 20, item 5) and the JMA's feeds (item 6).

Disaster mode: a safety check switches the residents it asks to disaster mode's rich menu of
their language by LINE's bulk link (through the outbox, to the fake LINE API), and back when it
ends, each step recorded on the check (`menu_state`) and advanced by the clock.

The JMA: a fake JMA server on loopback serves Atom feeds and documents in the official format
(the JMA's published VXSE51/VXSE53 samples, tests/data/jma/README.md); the clock's poll prepares
one check per event, none below the threshold, starts it by itself with JMA_AUTO_START, and
survives a feed server error."""
from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from bot.core.models import OutboxMessage, PreparedCheck, RichMenu, SafetyCheck
from scheduler import clock as clock_mod
from scheduler import jma_jobs
from tests.support import run_worker
from tests.test_richmenu import FONTS

DATA = Path(__file__).parent / "data" / "jma"
EMMA, HANAKO, KIM = "U" + "a1" * 16, "U" + "a2" * 16, "U" + "a3" * 16
needs_fonts = pytest.mark.skipif(not FONTS, reason="fonts for every language are not installed (test_richmenu)")


# -- disaster mode ----------------------------------------------------------------------------

def _menus(db, kind: str) -> dict[str, str]:
    with db.read() as s:
        return dict(s.execute(select(RichMenu.locale, RichMenu.rich_menu_id).where(RichMenu.kind == kind)).all())


def _state(db, check_id: int) -> str | None:
    with db.read() as s:
        return s.get(SafetyCheck, check_id).menu_state


def _people(joined):
    joined(EMMA, name="Emma")
    joined(HANAKO, name="花子", locale_label="日本語")
    joined(KIM, name="Kim", locale_label="한국어")


@needs_fonts
def test_a_check_switches_everyone_to_the_disaster_menu_of_their_language_and_back(runner, bot, db, fake_line, joined):
    _people(joined)
    assert runner.invoke(args=["richmenu", "deploy"]).exit_code == 0
    normal, disaster = _menus(db, "normal"), _menus(db, "disaster")
    assert fake_line.rich_menus[disaster["ja"]]["chatBarText"] == "災害時メニュー"
    assert [a["action"]["text"] for a in fake_line.rich_menus[disaster["ja"]]["areas"]] == [
        "安否を答える", "避難所", "緊急情報", "連絡先"]
    assert [a["action"]["text"] for a in fake_line.rich_menus[disaster["en"]]["areas"]][1] == "shelters"
    fake_line.calls.clear()
    out = runner.invoke(args=["safety", "start", "--to", "all", "--yes"])
    assert out.exit_code == 0, out.output
    check_id = int(out.output.split("safety check ")[1].split()[0])
    assert _state(db, check_id) == "switching"
    assert clock_mod.disaster_menus(bot) == {check_id: "switching"}  # the links are not sent yet
    run_worker(bot)
    links = [c.body for c in fake_line.calls if c.path == "/v2/bot/richmenu/bulk/link"]
    assert sorted((b["richMenuId"], tuple(b["userIds"])) for b in links) == sorted([
        (disaster["en"], (EMMA,)), (disaster["ja"], (HANAKO,)), (disaster["ko"], (KIM,))])
    assert fake_line.user_rich_menu == {EMMA: disaster["en"], HANAKO: disaster["ja"], KIM: disaster["ko"]}
    assert clock_mod.disaster_menus(bot) == {check_id: "switched"}
    assert clock_mod.disaster_menus(bot) == {}  # nothing more to do while it runs
    fake_line.calls.clear()
    assert runner.invoke(args=["safety", "end", str(check_id)]).exit_code == 0
    assert _state(db, check_id) == "restoring"
    run_worker(bot)
    assert fake_line.user_rich_menu == {EMMA: normal["en"], HANAKO: normal["ja"], KIM: normal["ko"]}
    assert all(c.path == "/v2/bot/richmenu/bulk/link" for c in fake_line.calls)
    assert clock_mod.disaster_menus(bot) == {check_id: "restored"}
    run_worker(bot)
    with db.read() as s:  # each step queued once
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "richmenu",
                                                                           OutboxMessage.status == "sent")) == 6


@needs_fonts
def test_ending_before_the_switch_was_sent_restores_after_it_and_a_drill_shows_the_drills_menu(runner, bot, db, fake_line,
                                                                                             joined, line):
    """A process may die anywhere: the state is on the check and the rows in the outbox. The
    links back wait for the switch, so they never arrive first."""
    _people(joined)
    assert runner.invoke(args=["richmenu", "deploy"]).exit_code == 0
    normal, drill = _menus(db, "normal"), _menus(db, "drill")
    out = runner.invoke(args=["safety", "start", "--to", "all", "--yes", "--drill"])
    check_id = int(out.output.split("safety check ")[1].split()[0])
    assert runner.invoke(args=["safety", "end", str(check_id)]).exit_code == 0  # before the worker ran
    assert _state(db, check_id) == "switching"
    assert clock_mod.disaster_menus(bot) == {check_id: "switching"}
    run_worker(bot)
    assert fake_line.user_rich_menu[EMMA] == drill["en"]
    assert fake_line.rich_menus[drill["en"]]["chatBarText"] == "Drill menu"
    assert clock_mod.disaster_menus(bot) == {check_id: "restoring"}  # switched, then the links back queued
    run_worker(bot)
    assert fake_line.user_rich_menu == {EMMA: normal["en"], HANAKO: normal["ja"], KIM: normal["ko"]}
    assert clock_mod.disaster_menus(bot) == {check_id: "restored"}


def test_the_disaster_menus_buttons_answer(app_factory, fake_line, time_machine):
    """「安否を答える」 asks the check's question again; 「緊急情報」 says what the check is
    about; 「連絡先」 gives the center's number (CENTER_PHONE)."""
    from bot.core.areas import load_city
    from tests.conftest import ROOT
    from tests.support import Line, add_resident

    time_machine.move_to("2026-12-06 02:00:00+09:00", tick=False)
    app = app_factory(center_phone="0120-000-000")
    db = app.extensions["tsunagari"].db
    with db.session() as s:
        load_city(s, ROOT / "data" / "cities" / "demo.json")
    add_resident(db, EMMA, name="Emma")
    line = Line(app.test_client(), fake_line)
    line.say(EMMA, "answer safety check")
    assert "No safety check is running" in line.last_text(EMMA)
    out = app.test_cli_runner().invoke(args=["safety", "start", "--to", "all", "--yes", "--note", "震度5弱の地震がありました"])
    assert out.exit_code == 0, out.output
    line.say(EMMA, "answer safety check")
    assert line.last_text(EMMA).startswith("Safety check: are you safe?")
    assert fake_line.quick_labels(EMMA) == ["I am safe", "I need help", "I have evacuated"]
    line.say(EMMA, "emergency information")
    assert "A safety check is running" in line.last_text(EMMA) and "震度5弱" in line.last_text(EMMA)
    line.say(EMMA, "contact the center")
    assert "0120-000-000" in line.last_text(EMMA) and "119" in line.last_text(EMMA)


# -- the JMA's feeds --------------------------------------------------------------------------

class FakeJma:
    """The JMA's feed server on loopback: feeds and documents from tests/data/jma, ETag and
    Last-Modified answered with 304, and a switch to fail with 500."""

    def __init__(self, feeds: dict[str, list[str]]):
        self.feeds = feeds  # feed name → documents it lists (the files in tests/data/jma)
        self.requests: list[tuple[str, int]] = []
        self.fail = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                status, body, headers = fake.answer(self.path, self.headers)
                fake.requests.append((self.path, status))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/developer/xml/feed/"

    def answer(self, path: str, headers) -> tuple[int, bytes, dict]:
        if self.fail:
            return 500, b"error", {}
        name = path.rsplit("/", 1)[-1]
        if path.startswith("/developer/xml/feed/data/") and (DATA / name).exists():
            return 200, (DATA / name).read_bytes(), {"Content-Type": "application/xml"}
        if name in self.feeds:
            docs = self.feeds[name]
            tag = f'"{name}-{len(docs)}"'
            if headers.get("If-None-Match") == tag:
                return 304, b"", {"ETag": tag}
            text = (DATA / name).read_text(encoding="utf-8").replace("{base}", self.base)
            if name == "eqvol.xml":  # only the entries whose documents are listed
                for doc in ("32-35_04_04_100831_VXSE53.xml", "32-35_04_02_100831_VXSE51.xml"):
                    if doc not in docs:
                        start = text.index(f"data/{doc}")
                        text = text[:text.rindex("<entry>", 0, start)] + text[text.index("</entry>", start) + 8:]
            return 200, text.encode(), {"Content-Type": "application/atom+xml", "ETag": tag,
                                        "Last-Modified": "Mon, 25 Jan 2010 07:19:22 GMT"}
        return 404, b"", {}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jma_server():
    server = FakeJma({"eqvol.xml": ["32-35_04_04_100831_VXSE53.xml", "32-35_04_02_100831_VXSE51.xml"],
                      "extra.xml": ["VPWW53_special.xml"]})
    yield server
    server.stop()


@pytest.fixture
def city(app_factory, jma_server, joined, time_machine):
    """A city in 鹿屋市 (鹿児島県大隅, the JMA's sample earthquake: 震度4 there), with two residents."""
    from bot.core.areas import load_city
    from tests.conftest import ROOT

    time_machine.move_to("2026-12-06 10:00:00+09:00", tick=False)

    def make(**overrides):
        values = dict(jma_area_codes=("771", "4620300"), jma_min_intensity="4", jma_feed_base_url=jma_server.base)
        values.update(overrides)
        app = app_factory(**values)
        bot = app.extensions["tsunagari"]
        with bot.db.session() as s:
            load_city(s, ROOT / "data" / "cities" / "demo.json")
        return app, bot

    return make


def _prepared(bot) -> list[SimpleNamespace]:
    with bot.db.read() as s:
        return [SimpleNamespace(id=p.id, event_key=p.event_key, event=p.event, check_id=p.check_id)
                for p in s.scalars(select(PreparedCheck).order_by(PreparedCheck.id))]


def test_a_qualifying_earthquake_prepares_one_check_once_and_staff_start_it(city, jma_server, fake_line):
    from tests.support import add_resident

    app, bot = city()
    add_resident(bot.db, EMMA, name="Emma")
    add_resident(bot.db, HANAKO, name="花子", locale="ja")
    counts = jma_jobs.poll(bot)
    assert counts == {"read": 3, "prepared": 1, "started": 0, "errors": 0}  # 震度速報 and 震源・震度情報: one event
    (prepared,) = _prepared(bot)
    assert prepared.event_key == "eq:20100125161517" and prepared.check_id is None
    # the 震度速報 came first (the feed's oldest entry): its areas name the event
    assert prepared.event["max_int"] == "4" and prepared.event["places"] == ["鹿児島県大隅"]
    with bot.db.read() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0  # prepared, not sent
    # the next minute: the feeds have not changed (304), nothing is read or prepared again
    assert jma_jobs.poll(bot) == {"read": 0, "prepared": 0, "started": 0, "errors": 0}
    assert [st for path, st in jma_server.requests[-2:]] == [304, 304]
    assert len(_prepared(bot)) == 1
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["safety", "list"]).output
    assert f"prepared: {prepared.id}" in listing and "seismic intensity 4" in listing and "鹿児島県大隅" in listing
    out = runner.invoke(args=["safety", "start-prepared", str(prepared.id)])
    assert out.exit_code == 0 and "2 residents asked" in out.output, out.output
    assert runner.invoke(args=["safety", "start-prepared", str(prepared.id)]).exit_code != 0  # once
    run_worker(bot)
    assert "seismic intensity 4" in fake_line.texts_to(EMMA)[-1]
    assert "鹿児島県大隅で震度4を観測しました" in fake_line.texts_to(HANAKO)[-1]


def test_below_the_threshold_nothing_is_prepared(city):
    _, bot = city(jma_min_intensity="5弱")
    assert jma_jobs.poll(bot)["prepared"] == 0
    assert _prepared(bot) == []
    _, other = city(jma_area_codes=("4520100",), jma_min_intensity="4")  # 宮崎市: 震度3
    assert jma_jobs.poll(other)["prepared"] == 0


def test_with_auto_start_the_check_goes_to_residents_at_once(city, fake_line):
    from tests.support import add_resident

    _, bot = city(jma_auto_start=True)
    add_resident(bot.db, EMMA, name="Emma")
    counts = jma_jobs.poll(bot)
    assert counts["prepared"] == 1 and counts["started"] == 1
    with bot.db.read() as s:
        check = s.scalar(select(SafetyCheck))
        assert check.started_by == "jma" and check.event["event_id"] == "20100125161517"
        assert s.scalar(select(PreparedCheck.check_id)) == check.id
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.source == f"safety:{check.id}", OutboxMessage.rank == 0)) == 1
    run_worker(bot)
    assert fake_line.texts_to(EMMA)[-1].startswith("Safety check: are you safe?")


def test_a_special_warning_prepares_a_check_when_the_city_asked_for_it(city):
    _, bot = city(jma_area_codes=("4620300",), jma_min_intensity="7", jma_special_warnings=True)
    assert jma_jobs.poll(bot)["prepared"] == 1
    (prepared,) = _prepared(bot)
    assert prepared.event == {"kind": "warning", "warnings": ["33"], "places": ["鹿屋市"]}
    from bot.core import jma

    assert jma.describe(prepared.event, "ja").startswith("鹿屋市に特別警報")
    _, quiet = city(jma_area_codes=("4620100",), jma_min_intensity="7", jma_special_warnings=True)  # 鹿児島市: 大雨警報
    assert jma_jobs.poll(quiet)["prepared"] == 0


def test_a_feed_server_error_is_logged_and_tried_again_next_minute(city, jma_server, caplog):
    _, bot = city()
    jma_server.fail = True
    with caplog.at_level(logging.WARNING, logger="scheduler.jma_jobs"):
        counts = clock_mod.jma_feeds(bot)  # the clock's job: never raises
    assert counts["errors"] == 2 and counts["prepared"] == 0
    assert "HTTP 500" in caplog.text and "trying again next minute" in caplog.text
    jma_server.fail = False
    assert clock_mod.jma_feeds(bot)["prepared"] == 1


def test_the_watch_is_off_without_area_codes(app_factory, jma_server):
    bot = app_factory(jma_feed_base_url=jma_server.base).extensions["tsunagari"]
    assert jma_jobs.poll(bot) == {"read": 0, "prepared": 0, "started": 0, "errors": 0}
    assert jma_server.requests == []


def test_documents_are_read_with_defusedxml(tmp_path):
    """An entity expansion (billion laughs) is refused, not expanded."""
    from bot.core import jma

    bomb = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><r>&b;</r>'
    with pytest.raises(jma.JmaError):
        jma.read(bomb, {"1"})
