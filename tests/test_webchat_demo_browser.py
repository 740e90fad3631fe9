"""The local web chat as the demo uses it, in a real browser (Debian's chromium, Playwright): the
chosen resident kept across reloads, a joined resident opening on their history, "+ New
resident", a sticker and a location sent as LINE would send them, the date picker written in
the resident's language, and 「データ削除」 confirmed.

Run: TSUNAGARI_REQUIRE_BROWSER=1 .venv/bin/python -m pytest -q -m browser tests/test_webchat_demo_browser.py
"""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.cli import demo
from bot.core.db import utcnow
from bot.core.models import Resident
from bot.web import chat_dates

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - depends on the environment
    expect = None

pytestmark = pytest.mark.browser

# the shared fixtures: browser, server, page (and the expect() timeout)
from tests.browser import _expect_timeout, browser, page, screenshot, server  # noqa: E402,F401
from tests.test_webchat_browser import Chat  # noqa: E402


@pytest.fixture
def shelters_open(app):
    with app.extensions["tsunagari"].db.session() as s:
        demo.seed_shelters(s, utcnow())


def _open_as(page, user_id: str) -> Chat:
    page.goto("/chat")
    chat = Chat(page)
    # the default resident's follow first, so that its reply cannot land after the switch
    expect(chat.bot_said("つながりへようこそ")).to_have_count(1)
    chat.resident.select_option(user_id)
    expect(page).to_have_url(re.compile("#" + user_id + "$"))
    return chat


def test_reload_keeps_the_resident_and_opens_on_their_history(page, app):
    chat = _open_as(page, "web-demo-hanako")
    chat.say("メニュー")
    expect(chat.bot_said("何をしますか？")).to_have_count(1)
    page.reload()
    chat = Chat(page)
    expect(chat.resident).to_have_value("web-demo-hanako")
    expect(chat.i_said("メニュー")).to_have_count(1)  # her transcript, not a blank chat
    expect(chat.bot_said("何をしますか？")).to_have_count(1)
    expect(chat.bot_said("つながりへようこそ")).to_have_count(0)
    # without the address's #…, this browser remembers her too
    page.goto("/chat?lang=en")
    expect(Chat(page).resident).to_have_value("web-demo-hanako")
    expect(Chat(page).i_said("メニュー")).to_have_count(1)
    assert page.problems == []  # type: ignore[attr-defined]


def test_a_new_resident_slot_starts_joining(page, app):
    page.goto("/chat")
    chat = Chat(page)
    expect(chat.bot_said("つながりへようこそ")).to_have_count(1)
    page.get_by_test_id("add-resident").click()
    expect(chat.resident).to_have_value("web-demo-new-2")
    expect(chat.bot_said("つながりへようこそ")).to_have_count(1)  # its own onboarding, in a cleared chat
    page.reload()
    expect(Chat(page).resident).to_have_value("web-demo-new-2")
    expect(Chat(page).bot_said("つながりへようこそ")).to_have_count(1)
    assert page.problems == []  # type: ignore[attr-defined]


def test_a_sticker_and_a_location(page, app, shelters_open):
    chat = _open_as(page, "web-demo-alex")
    page.get_by_test_id("sticker-button").click()
    page.get_by_test_id("sticker").first.click()
    expect(chat.log.get_by_test_id("sticker-sent")).to_have_count(1)
    expect(chat.bot_said("I can only read text messages")).to_have_count(1)
    expect(page.get_by_test_id("stickers")).to_be_hidden()

    page.get_by_test_id("location-button").click()
    expect(page.get_by_test_id("lat")).to_have_value("35.6915")  # the first place of the city, filled in
    page.get_by_test_id("place").select_option(label="川辺町")  # the page is in Japanese
    expect(page.get_by_test_id("place-name")).to_have_value("川辺町")
    page.get_by_test_id("send-location").click()
    expect(chat.log.get_by_test_id("location-sent")).to_contain_text("川辺町 (35.68600, 139.75800)")
    answer = chat.bot_said("Open shelters nearest the place you sent:")
    expect(answer).to_have_count(1)
    expect(answer).to_contain_text(" km")  # each open shelter with its distance …
    expect(answer).to_contain_text("https://www.google.com/maps/search/?api=1&query=35.685500,139.757500")  # … and map
    screenshot(page, "webchat-sticker-location.png")
    assert page.problems == []  # type: ignore[attr-defined]


def test_the_date_picker_writes_dates_in_the_residents_language(page, app):
    chat = _open_as(page, "web-demo-alex")
    chat.say("ask for help")
    chat.tap("Shopping")
    chat.say("Milk and rice from the supermarket")
    expect(chat.bot_said("When would you like the help?")).to_have_count(1)
    day = chat.quick.get_by_test_id("date-day")
    today = datetime.now(ZoneInfo(app.extensions["tsunagari"].config.tz_name)).date()
    first = day.locator("option").first
    expect(first).to_have_text(chat_dates.date_label(today, today, "en"))
    expect(first).to_have_text(re.compile(r"^[A-Z][a-z]{2}, [A-Z][a-z]{2} \d{1,2}$"))  # "Wed, Dec 9": not 12/09/2026
    expect(chat.quick.get_by_test_id("date-time")).to_have_value("10:00")
    expect(chat.quick.get_by_test_id("date-time").locator("option:checked")).to_have_text("10:00 AM")
    assert page.locator("input[type=date], input[type=datetime-local]").count() == 0
    screenshot(page, "webchat-date-picker.png")
    chat.quick.get_by_test_id("date-time").select_option("18:30")
    chat.quick.get_by_test_id("date-submit").click()
    expect(chat.i_said(chat_dates.date_label(today, today, "en") + " 6:30 PM")).to_have_count(1)
    expect(chat.bot_said("name")).not_to_have_count(0)
    assert page.problems == []  # type: ignore[attr-defined]


def test_deleting_my_data_is_confirmed_in_the_chat(page, app):
    chat = _open_as(page, "web-demo-alex")
    chat.say("delete my data")
    chat.choice("Yes, delete").click()  # (not chat.tap: the tap itself goes with the transcript)
    expect(page.get_by_test_id("note")).to_have_text("この住民のデータを削除しました。チャットは新しい住民として始まります。")
    expect(chat.bot_said("Your data has been deleted")).to_have_count(1)
    expect(chat.i_said("delete my data")).to_have_count(0)  # the transcript went with the data
    expect(chat.resident.locator("option:checked")).to_have_text(re.compile(r"web-demo-alex"))
    with app.extensions["tsunagari"].db.session() as s:
        assert not s.scalar(select(Resident).where(Resident.line_user_id == "web-demo-alex")).onboarded
    page.reload()
    expect(Chat(page).bot_said("Your data has been deleted")).to_have_count(1)
    assert page.problems == []  # type: ignore[attr-defined]
