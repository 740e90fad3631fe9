"""The local web chat (`GET /chat`) in a real browser: Debian's chromium driven by Playwright,
against the app served for real on loopback.

Skipped when chromium or Playwright is missing, unless TSUNAGARI_REQUIRE_BROWSER=1 (then it
fails). With TSUNAGARI_SCREENSHOTS=1 it also rewrites the screenshots in docs/screenshots/.

Run: .venv/bin/python -m pytest -q -m browser tests/test_webchat_browser.py
"""
from __future__ import annotations

from bot.core.i18n import LANGUAGES, t
from handlers.menu import items as menu_items

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.models import ConversationState, Resident, WebChatMessage

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None

pytestmark = pytest.mark.browser

# the shared fixtures: browser, server, page (and the expect() timeout)
from tests.browser import _expect_timeout, browser, page, screenshot, server  # noqa: E402,F401

ROOT = Path(__file__).resolve().parent.parent
EN_MENU = [t("en", item.label) for item in menu_items()]  # 困りごとを相談 … データ削除, as the menu table says
JA_MENU = [t("ja", item.label) for item in menu_items()]
assert EN_MENU[0] == "Ask for help" and JA_MENU[0] == "困りごとを相談"
MAX_TEXT = 5000


# -- helpers ---------------------------------------------------------------------------------

class Chat:
    """The chat page, through the data-testids of the template."""

    def __init__(self, page):
        self.page = page
        self.log = page.get_by_test_id("log")
        self.quick = page.get_by_test_id("quick")
        self.text = page.get_by_test_id("text")
        self.send_button = page.get_by_test_id("send")
        self.resident = page.get_by_test_id("resident")
        self.error = page.locator("#error")

    def bot_said(self, text: str):
        """The bot's bubbles containing `text`."""
        return self.log.locator("li.out .bubble").filter(has_text=text)

    def i_said(self, text: str):
        return self.log.locator("li.in .bubble").filter(has_text=text)

    def choice(self, label: str):
        return self.quick.get_by_test_id("choice").filter(has_text=re.compile(f"^{re.escape(label)}$"))

    def choices(self):
        return self.quick.get_by_test_id("choice")

    def tap(self, label: str) -> None:
        """Tap a quick-reply button; it shows as the resident's own message."""
        shown = self.log.locator("li.in .bubble").filter(has_text=re.compile(f"^{re.escape(label)}$"))
        before = shown.count()
        button = self.choice(label)
        expect(button).to_have_count(1)
        button.click()
        expect(shown).to_have_count(before + 1)

    def say(self, text: str) -> None:
        self.text.fill(text)
        self.send_button.click()
        expect(self.text).to_have_value("")


def _state(app, user_id: str) -> tuple[str | None, str | None, int]:
    """(flow, step, number of transcript rows) for a demo resident."""
    with app.extensions["tsunagari"].db.session() as s:
        r = s.scalar(select(Resident).where(Resident.line_user_id == user_id))
        conv = s.scalar(select(ConversationState).where(ConversationState.resident_id == r.id))
        rows = len(list(s.scalars(select(WebChatMessage.id).where(WebChatMessage.resident_id == r.id))))
        return (conv.flow if conv else None, conv.step if conv else None, rows)


def _wait_for_onboarding_question(chat: Chat) -> None:
    expect(chat.resident).to_have_value("web-demo-new")
    expect(chat.bot_said("つながりへようこそ")).to_have_count(1)
    expect(chat.choices()).to_have_text([*LANGUAGES.values(), "やめる"])


# -- tests -----------------------------------------------------------------------------------

def test_onboarding_then_settings_in_the_browser(page, app):
    page.goto("/chat")
    chat = Chat(page)
    expect(page).to_have_title("つながり — ボットを試す")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(chat.send_button).to_have_text("送信")

    # The default resident has not joined: opening the chat is a follow, answered by onboarding.
    _wait_for_onboarding_question(chat)
    screenshot(page, "webchat-onboarding.png")

    chat.tap("English")
    expect(chat.bot_said("Which area do you live in?")).to_have_count(1)
    expect(chat.choice("Asahi 1-chome")).to_be_visible()
    expect(chat.choice("Minamimachi")).to_have_count(0)
    expect(chat.choices().last).to_have_text("Cancel")

    chat.tap("More…")
    expect(chat.bot_said("Which area do you live in?")).to_have_count(2)
    expect(chat.choice("Asahi 1-chome")).to_have_count(0)
    chat.tap("Minamimachi")

    expect(chat.bot_said("join code")).to_have_count(1)
    expect(chat.choices()).to_have_text(["Skip", "Cancel"])
    chat.say("ASAHI-2026")
    expect(chat.i_said("ASAHI-2026")).to_have_count(1)

    expect(chat.bot_said("What name should your neighbours see?")).to_have_count(1)
    chat.say("Ken")

    expect(chat.bot_said("Do you agree?")).to_have_count(1)
    expect(chat.choices()).to_have_text(["I agree", "I do not agree", "Cancel"])
    chat.tap("I agree")

    welcome = chat.bot_said("Thank you, Ken! You are all set.")
    expect(welcome).to_have_count(1)
    expect(welcome).to_contain_text("You have joined your neighbourhood association.")
    expect(chat.bot_said("What would you like to do?")).to_have_count(1)
    expect(chat.choices()).to_have_text(EN_MENU)
    expect(chat.error).to_be_hidden()
    screenshot(page, "webchat-menu.png")

    chat.say("settings")
    summary = chat.bot_said("Your settings:")
    expect(summary).to_have_count(1)
    expect(summary).to_contain_text("Name: Ken")
    expect(summary).to_contain_text("Area: Minamimachi")
    expect(summary).to_contain_text("Association: Asahi Neighbourhood Association")  # the city gave its English name
    expect(summary).to_contain_text("What would you like to change?")
    expect(chat.choices()).to_have_text(["Language", "Area", "Association", "Name", "Quiet hours", "How notices come", "Topics", "Cancel"])

    chat.tap("Cancel")
    expect(chat.bot_said("Stopped. Nothing was changed.")).to_have_count(1)
    expect(chat.bot_said("What would you like to do?")).to_have_count(2)
    expect(chat.choices()).to_have_text(EN_MENU)

    assert _state(app, "web-demo-new")[:2] == (None, None)
    assert page.problems == []  # type: ignore[attr-defined]


def test_joined_resident_in_japanese(page, app):
    page.goto("/chat")
    chat = Chat(page)
    expect(chat.resident.locator("option[value='web-demo-hanako']")).to_have_text("はなこ (web-demo-hanako)")
    # Let the default resident's follow finish first, so its reply cannot land after the switch.
    _wait_for_onboarding_question(chat)

    chat.resident.select_option("web-demo-hanako")
    expect(chat.log.locator("li")).to_have_count(0)  # the log is cleared for the new resident
    # She has no messages yet: a line says so, with one button to the menu.
    expect(page.get_by_test_id("note")).to_have_text("まだメッセージはありません。「メニュー」などの言葉を入力するか、ボタンを押してください。")
    expect(chat.choices()).to_have_text(["メニュー"])

    chat.say("メニュー")
    expect(chat.i_said("メニュー")).to_have_count(1)
    expect(chat.bot_said("何をしますか？")).to_have_count(1)
    expect(chat.choices()).to_have_text(JA_MENU)

    chat.say("やめる")
    expect(chat.bot_said("やめるものはありません。")).to_have_count(1)
    expect(chat.choices()).to_have_text(JA_MENU)
    expect(chat.bot_said("つながりへようこそ")).to_have_count(0)  # nothing of the other resident

    # Hanako was never asked to join: no onboarding started for her.
    assert _state(app, "web-demo-hanako")[:2] == (None, None)
    assert page.problems == []  # type: ignore[attr-defined]


def test_too_long_message_is_refused_and_the_conversation_goes_on(page, app, server):
    page.goto("/chat")
    chat = Chat(page)
    _wait_for_onboarding_question(chat)
    assert _state(app, "web-demo-new")[:2] == ("onboarding", "language")
    too_long = "あ" * (MAX_TEXT + 1)
    refused = "メッセージが長すぎます（5,000文字まで）。"

    # The page's own limit: a 5,001-character paste is cut to 5,000, and those 5,000 arrive.
    expect(chat.text).to_have_attribute("maxlength", str(MAX_TEXT))
    chat.text.fill(too_long)
    assert len(chat.text.input_value()) == MAX_TEXT
    chat.send_button.click()
    expect(chat.i_said("あ")).to_have_count(1)
    assert len(chat.i_said("あ").inner_text()) == MAX_TEXT
    # It is no language, so the bot asks the same question again.
    expect(chat.bot_said("ボタンから言語を選んでください。")).to_have_count(1)
    expect(chat.bot_said("つながりへようこそ")).to_have_count(2)
    expect(chat.choices()).to_have_text([*LANGUAGES.values(), "やめる"])
    before = _state(app, "web-demo-new")
    assert before[:2] == ("onboarding", "language")

    # The server's limit, for a client that ignores maxlength: 400 with the message, nothing stored.
    response = page.evaluate(
        """async (text) => {
            const res = await fetch("/chat/api/send?lang=ja", {
                method: "POST", headers: {"Content-Type": "application/json"},
                body: JSON.stringify({resident: "web-demo-new", text: text}),
            });
            return {status: res.status, body: await res.json()};
        }""",
        too_long,
    )
    assert response == {"status": 400, "body": {"error": refused}}
    assert _state(app, "web-demo-new") == before

    # The page shows that error when the server refuses what it sent, and adds nothing to the log.
    chat.text.evaluate("el => el.removeAttribute('maxlength')")
    chat.text.fill(too_long)
    chat.send_button.click()
    expect(chat.error).to_be_visible()
    expect(chat.error).to_have_text(refused)
    expect(chat.log.locator("li.in")).to_have_count(1)
    assert _state(app, "web-demo-new") == before

    # The conversation is where it was: the same buttons still work.
    expect(chat.choices()).to_have_text([*LANGUAGES.values(), "やめる"])
    chat.tap("English")
    expect(chat.bot_said("Which area do you live in?")).to_have_count(1)
    expect(chat.error).to_be_hidden()
    assert _state(app, "web-demo-new")[:2] == ("onboarding", "area")
    # Only the two refused sends failed.
    assert page.problems == [f"400 POST {server}/chat/api/send?lang=ja"] * 2  # type: ignore[attr-defined]
