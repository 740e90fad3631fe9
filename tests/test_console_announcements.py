"""The console's announcements (staff only), end to end: compose → preview (the audience counted,
the message shown as LINE shows it) → confirm → the clock's due job → the worker → the fake LINE
API; scheduling then cancelling; urgent notices need their confirmation; the live count; who may
open what. Forms are filled in from the pages as a browser would. Time is moved with time-machine."""
from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from bot.core.models import Announcement, Area, AuditEntry, Resident
from scheduler import clock as clock_mod
from tests.browser import _expect_timeout, browser, page, screenshot, server  # noqa: F401  (browser fixtures)
from tests.console_support import csrf, sign_in
from tests.support import run_worker

EN1 = "U" + "e1" * 16
EN2 = "U" + "e2" * 16
JA1 = "U" + "a1" * 16
NEW = "/console/announcements/new"
CONFIRM = "/console/announcements/confirm"
HISTORY = "/console/announcements"


# -- helpers ----------------------------------------------------------------------------------

class _Form(HTMLParser):
    """The fields a browser would submit from the form posting to `action` (no button)."""

    def __init__(self, action: str):
        super().__init__(convert_charrefs=True)
        self.action, self.inside, self.fields, self._textarea = action, False, [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action
        elif self.inside and tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a or kind in ("file", "submit"):
                return
            self.fields.append((a["name"], a.get("value", "")))
        elif self.inside and tag == "textarea":
            self._textarea = [a["name"], ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None:
            self.fields.append(tuple(self._textarea))
            self._textarea = None
        elif tag == "form":
            self.inside = False


def form_fields(html: str, action: str) -> list[tuple[str, str]]:
    parser = _Form(action)
    parser.feed(html)
    return parser.fields


def fill(fields: list[tuple[str, str]], **changes) -> dict[str, list[str]]:
    """The form's fields with some replaced (a list value: several checkboxes of one name)."""
    out: dict[str, list[str]] = {}
    for name, value in fields:
        out.setdefault(name, []).append(value)
    for name, value in changes.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value if isinstance(value, list) else [value]
    return out


def english(client):
    """Switch the console to English (the tests read the English words)."""
    client.post("/console/language", data={"locale": "en", "csrf_token": csrf(client, "/console/"), "back": "/console/"})


def staff(accounts):
    c = accounts.test_client()
    assert sign_in(c, "tanaka").status_code == 302
    english(c)
    return c


def compose(c, **changes):
    """Fill in the compose form as a browser does and submit it: the preview (or the form again)."""
    html = c.get(NEW).get_data(as_text=True)
    data = fill(form_fields(html, NEW), **changes)
    photo = data.pop("photo", None)
    if photo:
        data["photo"] = photo
    return c.post(NEW, data=data, content_type="multipart/form-data")


def confirm(c, preview_html: str, action: str = "send", **changes):
    data = fill(form_fields(preview_html, CONFIRM), action=action, **changes)
    return c.post(CONFIRM, data=data)


def texts(fake, user):
    return [m.get("text", "") for m in fake.messages_to(user) if m["type"] == "text"]


@pytest.fixture
def people(accounts, joined, clock):
    """Two English readers (one in Sakuradai following disaster news) and a Japanese reader who
    follows disaster news; all in Minato-machi unless said."""
    joined(EN1, name="Emma")
    joined(EN2, name="Liam")
    joined(JA1, name="花子", locale_label="日本語")
    bot = accounts.extensions["tsunagari"]
    with bot.db.session() as s:
        sakura = s.scalar(select(Area.id).where(Area.code == "sakura"))
        liam = s.scalar(select(Resident).where(Resident.line_user_id == EN2))
        liam.area_id, liam.interests = sakura, ["disaster"]
        s.scalar(select(Resident).where(Resident.line_user_id == JA1)).interests = ["disaster", "health"]
    return bot


def announcements_in(bot):
    with bot.db.read() as s:
        return list(s.execute(select(Announcement.id, Announcement.status, Announcement.urgent, Announcement.created_by,
                                     Announcement.rule, Announcement.image_id)).all())


# -- compose, preview, send -------------------------------------------------------------------

def test_staff_compose_preview_then_send_reaches_each_language(accounts, people, fake_line, clock):
    bot = people
    c = staff(accounts)
    form = c.get(NEW).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in form and 'type="datetime-local"' in form
    assert "さくら台" in form and "あさひ町内会" in form and "Disaster &amp; safety" in form  # areas in Japanese
    assert form.count('name="tr_') == 9  # one per language besides Japanese
    history = c.get(HISTORY).get_data(as_text=True)
    assert "No announcements yet." in history and NEW in history

    r = compose(c, text="年末年始のごみ収集のお知らせです。", tr_en="Garbage collection over the New Year.")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'class="line-preview"' in html and 'class="bubble"' in html
    assert '<dd data-testid="total">3</dd>' in html
    assert ">Garbage collection over the New Year.</div>" in html  # the English bubble
    assert ">年末年始のごみ収集のお知らせです。</div>" in html
    assert "Send now" in html and "Back to edit" in html
    assert announcements_in(bot) == []  # a preview sends nothing
    before = len(fake_line.deliveries)
    assert clock_mod.due_now(bot)["announcements"] == 0

    r = confirm(c, html)
    assert r.status_code == 302 and r.location.endswith(HISTORY)
    [(ann_id, status, urgent, created_by, rule, image_id)] = announcements_in(bot)
    assert (status, urgent, created_by, rule) == ("scheduled", False, "staff:tanaka", None)
    with bot.db.read() as s:
        assert s.scalar(select(AuditEntry.target).where(AuditEntry.action == "create_announcement")) == f"announcement:{ann_id}"
    assert f"Announcement {ann_id} is being sent now; residents in their quiet hours" in c.get(HISTORY).get_data(as_text=True)

    assert clock_mod.due_now(bot)["announcements"] == 1
    run_worker(bot)
    assert "Garbage collection over the New Year." in texts(fake_line, EN1)
    assert "Garbage collection over the New Year." in texts(fake_line, EN2)
    assert "年末年始のごみ収集のお知らせです。" in texts(fake_line, JA1)
    for user in (EN1, EN2, JA1):
        assert len([d for d in fake_line.deliveries[before:] if user in d.to]) == 1

    history = c.get(HISTORY).get_data(as_text=True)
    assert "Done" in history and "Everyone" in history and "Sent out" in history
    assert "Multicast" in history and re.search(r"<td>3</td><td>0</td>\s*<td>2</td>", history)  # 3 reached, 2 calls
    assert "Delivered to LINE 2" in history and "Failed 0" in history
    assert f"Announcement {ann_id} — <span lang=\"ja\">年末年始のごみ収集のお知らせです。</span>" in history  # its first line
    assert 'data-testid="held"' not in history and 'data-testid="not-all-delivered"' not in history
    assert "Cancel announcement" not in history  # only scheduled ones can be cancelled
    # Sending the same preview again (a second click) creates nothing more.
    again = confirm(c, html)
    assert again.status_code == 302 and len(announcements_in(bot)) == 1


def test_missing_translations_are_shown_and_back_to_edit_keeps_everything(accounts, people, fake_line, clock):
    c = staff(accounts)
    r = compose(c, text="防災訓練を行います。\n持ち物：タオル", link="https://example.jp/kunren",
                everyone=None, topic="disaster", when="at", at="2026-12-05T09:00", tr_ko="방재 훈련")
    html = r.get_data(as_text=True)
    assert r.status_code == 200, html
    assert '<dd data-testid="total">2</dd>' in html  # Liam (en) and 花子 (ja) follow disaster news
    assert "Missing: they get the Japanese with a note" in html  # English has no translation
    assert "Not translated into your language" in html  # how the English bubble reads
    assert "https://example.jp/kunren" in html
    assert "Sat, Dec 5, 2026, 9:00 AM" in html and "Schedule" in html
    back = confirm(c, html, action="edit")
    assert back.status_code == 200
    fields = dict(form_fields(back.get_data(as_text=True), NEW))
    assert fields["text"] == "防災訓練を行います。\n持ち物：タオル"
    assert (fields["link"], fields["topic"], fields["when"], fields["at"], fields["tr_ko"]) == (
        "https://example.jp/kunren", "disaster", "at", "2026-12-05T09:00", "방재 훈련")
    assert "everyone" not in fields
    assert announcements_in(people) == []


def test_validation_errors_show_the_form_again_with_what_was_typed(accounts, people, clock):
    c = staff(accounts)
    r = compose(c, text="  ", tr_en="Hello neighbours", link="http://insecure.example", area="sakura")
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "Please write the announcement in Japanese." in html
    assert "A link must start with https://." in html
    assert "Choose either “Everyone” or some groups below, not both." in html
    fields = form_fields(html, NEW)
    assert ("tr_en", "Hello neighbours") in fields and ("link", "http://insecure.example") in fields
    assert ("area", "sakura") in fields and ("everyone", "1") in fields
    # Times: past, a single time given as "repeating", a repeat without a time.
    r = compose(c, text="お知らせ", when="at", at="2026-12-01T08:00")
    assert r.status_code == 422 and "That time has already passed." in r.get_data(as_text=True)
    r = compose(c, text="お知らせ", when="repeat", repeat="12/24 10:00")
    assert r.status_code == 422 and "a single time, not a repeating one" in r.get_data(as_text=True)
    r = compose(c, text="お知らせ", when="repeat", repeat="every day")
    assert r.status_code == 422 and "Please add a time, like 7:00." in r.get_data(as_text=True)
    assert 'value="every day"' in r.get_data(as_text=True)
    r = compose(c, text="お知らせ", everyone=None)
    assert r.status_code == 422 and "Choose who receives it" in r.get_data(as_text=True)
    assert announcements_in(people) == []


def test_a_repeating_announcement_is_parsed_described_and_sent_on_its_day(accounts, people, fake_line, clock):
    c = staff(accounts)
    r = compose(c, text="資源回収の日です。", when="repeat", repeat="毎週火曜 7:00", everyone=None, lang="ja")
    html = r.get_data(as_text=True)
    assert r.status_code == 200, html
    assert "Every Tue at 7:00 AM (first: Tue, Dec 8, 2026, 7:00 AM)" in html
    assert '<dd data-testid="total">1</dd>' in html and "Recipients: 1" in html
    assert confirm(c, html).status_code == 302
    [(_, status, _, _, rule, _)] = announcements_in(people)
    assert status == "scheduled" and '"kind":"weekly"' in rule
    history = c.get(HISTORY).get_data(as_text=True)
    assert "Every Tue at 7:00 AM" in history and "<dt>Languages</dt><dd>日本語</dd>" in history
    assert "Tue, Dec 8, 2026, 7:00 AM" in history and "Not sent yet." in history
    clock.move_to("2026-12-08 08:00:00+09:00", tick=False)  # after the quiet hours end
    assert clock_mod.due_now(people)["announcements"] == 1
    run_worker(people)
    assert texts(fake_line, JA1).count("資源回収の日です。") == 1
    assert not any("資源回収" in x for x in texts(fake_line, EN1))


def test_scheduled_at_a_time_then_cancelled_sends_nothing(accounts, people, fake_line, clock):
    c = staff(accounts)
    html = compose(c, text="取り消されるお知らせ", when="at", at="2026-12-01T15:00").get_data(as_text=True)
    assert confirm(c, html).status_code == 302
    [(ann_id, status, *_)] = announcements_in(people)
    history = c.get(HISTORY).get_data(as_text=True)
    assert status == "scheduled" and "Scheduled" in history and f"Announcement {ann_id} is scheduled for" in history
    assert f"Cancel announcement {ann_id}" in history
    cancel = f"/console/announcements/{ann_id}/cancel"
    assert c.post(cancel).status_code == 400  # no CSRF token
    assert c.post(cancel, data={"csrf_token": csrf(c, HISTORY)}).status_code == 302
    assert announcements_in(people)[0][1] == "cancelled"
    history = c.get(HISTORY).get_data(as_text=True)
    assert "Cancelled" in history and f"Cancel announcement {ann_id}" not in history
    r = c.post(cancel, data={"csrf_token": csrf(c, HISTORY)})  # only once
    assert r.status_code == 302 and "Only an announcement that has not gone out yet" in c.get(HISTORY).get_data(as_text=True)
    assert c.post("/console/announcements/999/cancel", data={"csrf_token": csrf(c, HISTORY)}).status_code == 404
    with people.db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "cancel_announcement")) == 1
    before = len(fake_line.deliveries)
    clock.move_to("2026-12-01 15:00:01+09:00", tick=False)
    assert clock_mod.due_now(people)["announcements"] == 0
    run_worker(people)
    assert fake_line.deliveries[before:] == []
    assert not any("取り消される" in x for u in (EN1, EN2, JA1) for x in texts(fake_line, u))


def test_urgent_needs_its_confirmation_and_goes_through_quiet_hours(accounts, people, fake_line, clock):
    clock.move_to("2026-12-01 22:00:00+09:00", tick=False)  # everyone's quiet hours (21:00–8:00)
    c = staff(accounts)
    html = compose(c, text="【避難情報】川辺町に避難指示", tr_en="Evacuation order for Kawabe", urgent="1").get_data(as_text=True)
    assert "This is an URGENT notice" in html and "goes out at once (recipients: 3)" in html
    assert 'name="confirm_urgent"' in html and "I confirm this is an urgent notice" in html
    assert "[URGENT]\nEvacuation order for Kawabe" in html
    r = confirm(c, html)  # the box not ticked
    assert r.status_code == 422
    again = r.get_data(as_text=True)
    assert "Please tick the box to confirm that this is an urgent notice." in again
    assert 'name="confirm_urgent"' in again and "Evacuation order for Kawabe" in again  # still the preview
    assert announcements_in(people) == []
    assert confirm(c, again, confirm_urgent="1").status_code == 302
    [(_, _, urgent, *_)] = announcements_in(people)
    assert urgent is True
    assert "⚠ Urgent" in c.get(HISTORY).get_data(as_text=True)
    clock_mod.due_now(people)
    run_worker(people)
    assert "[URGENT]\nEvacuation order for Kawabe" in texts(fake_line, EN1)
    assert any(x.startswith("【緊急】") and "避難指示" in x for x in texts(fake_line, JA1))


def test_a_photo_is_stored_at_the_preview_and_sent_with_the_text(accounts, people, fake_line, clock):
    from PIL import Image

    raw = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(raw, "PNG")
    c = staff(accounts)
    r = compose(c, text="写真付きのお知らせ", everyone=None, lang="en",
                photo=(io.BytesIO(raw.getvalue()), "poster.png", "image/png"))
    html = r.get_data(as_text=True)
    assert r.status_code == 200, html
    token = dict(form_fields(html, CONFIRM))["photo_token"]
    assert token and f"/m/{token}/preview.jpg" in html
    assert c.get(f"/m/{token}/preview.jpg").status_code == 200
    back = confirm(c, html, action="edit").get_data(as_text=True)
    assert f'name="photo_token" value="{token}"' in back  # kept when going back to edit
    bad = compose(c, text="x", photo=(io.BytesIO(b"not a picture"), "x.png", "image/png"))
    assert bad.status_code == 422 and "The photo must be a JPEG or PNG picture" in bad.get_data(as_text=True)
    assert confirm(c, html).status_code == 302
    [(*_, image_id)] = announcements_in(people)
    assert image_id is not None
    clock_mod.due_now(people)
    run_worker(people)
    images = [m for m in fake_line.messages_to(EN1) if m["type"] == "image"]
    assert images and images[-1]["originalContentUrl"] == f"https://tsunagari.example.jp/m/{token}.jpg"
    assert not [m for m in fake_line.messages_to(JA1) if m["type"] == "image"]


# -- the live count ---------------------------------------------------------------------------

def test_the_count_endpoint_counts_an_audience_by_language(accounts, people):
    c = staff(accounts)

    def count(query):
        r = c.get("/console/announcements/count?" + query)
        return r.status_code, r.get_json()

    assert count("everyone=1") == (200, {"total": 3, "by_language": {"en": 2, "ja": 1}, "missing_translations": ["en"]})
    assert count("everyone=1&translated=en")[1]["missing_translations"] == []
    assert count("area=sakura")[1] == {"total": 1, "by_language": {"en": 1}, "missing_translations": ["en"]}
    assert count("area=minato&area=sakura")[1]["total"] == 3
    assert count("lang=ja")[1] == {"total": 1, "by_language": {"ja": 1}, "missing_translations": []}
    assert count("topic=disaster")[1]["by_language"] == {"en": 1, "ja": 1}
    assert count("topic=disaster&area=minato")[1]["by_language"] == {"ja": 1}  # kinds combine with AND
    assert count("topic=health&lang=en")[1]["total"] == 0
    status, body = count("area=atlantis")
    assert status == 400 and "atlantis" in body["error"]
    status, body = count("")
    assert status == 400 and "Choose who receives it" in body["error"]
    form = c.get(NEW).get_data(as_text=True)
    assert 'id="recipients"' in form and "/console/announcements/count" in form  # the html's script uses it


# -- who may open what ------------------------------------------------------------------------

PAGES = [HISTORY, NEW, "/console/announcements/count?everyone=1"]
POSTS = [NEW, CONFIRM, "/console/announcements/1/cancel"]


def test_leaders_are_refused_everywhere(accounts, people):
    c = accounts.test_client()
    assert sign_in(c, "asahi").status_code == 302
    token = csrf(c, "/console/")
    for path in PAGES:
        assert c.get(path).status_code == 403, path
    for path in POSTS:
        assert c.post(path, data={"csrf_token": token, "text": "x", "everyone": "1", "action": "send"}).status_code == 403, path
    assert "/console/announcements" not in c.get("/console/").get_data(as_text=True)  # not in the menu
    assert announcements_in(people) == []


def test_signed_out_visitors_and_missing_csrf_tokens(accounts, people, clock):
    c = accounts.test_client()
    for path in PAGES:
        r = c.get(path)
        assert r.status_code == 302 and r.location.startswith("/console/login"), path
    token = csrf(c)  # a valid token from the sign-in html: the refusal is for being signed out
    for path in POSTS:
        assert c.post(path, data={"csrf_token": token, "text": "x", "everyone": "1"}).status_code == 401, path
    s = staff(accounts)
    html = compose(s, text="CSRFのないお知らせ").get_data(as_text=True)
    for path in POSTS:
        assert s.post(path, data={"text": "x", "everyone": "1", "action": "send"}).status_code == 400, path
    without = fill(form_fields(html, CONFIRM), action="send", csrf_token=None)
    assert s.post(CONFIRM, data=without).status_code == 400
    assert announcements_in(people) == []
    assert "/console/announcements" in s.get("/console/").get_data(as_text=True)  # staff see it in the menu


def test_the_pages_speak_japanese_by_default(accounts, people):
    c = accounts.test_client()
    sign_in(c, "tanaka")
    form = c.get(NEW).get_data(as_text=True)
    assert '<html lang="ja">' in form and "防災・防犯" in form  # topic labels from the residents' catalog
    r = compose(c, text="お知らせ", when="repeat", repeat="毎週火曜 7:00")
    assert "毎週 火 7:00" in r.get_data(as_text=True)  # the rule described in Japanese


# -- in a real browser: the live count ------------------------------------------------------

@pytest.mark.browser
def test_the_live_count_follows_the_checkboxes_in_a_browser(app, page, server):
    """The demo residents: はなこ, やまだ and さとう (日本語, あさひ町1丁目) and Alex (English, あさひ町2丁目)."""
    from playwright.sync_api import expect

    from tests.console_support import PASSWORD

    assert app.test_cli_runner().invoke(args=["staff", "create", "tanaka", "--role", "staff", "--password",
                                              PASSWORD]).exit_code == 0
    page.goto("/console/login")
    page.fill("#username", "tanaka")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.select_option("#locale", "en")
    page.click("form.lang button")
    page.goto(NEW)
    recipients = page.locator("#recipients")
    expect(recipients).to_contain_text("Recipients: 4 (日本語 3, English 1)")
    expect(recipients).to_contain_text("No translation yet for: English")
    page.check("#area-asahi-2")
    expect(page.locator("#everyone")).not_to_be_checked()  # a group instead of everyone
    expect(recipients).to_contain_text("Recipients: 1 (English 1)")
    page.locator("details#translations summary").click()
    page.fill("#tr_en", "Hello from the center")
    page.locator("#tr_en").blur()
    expect(recipients).not_to_contain_text("No translation yet")
    page.uncheck("#area-asahi-2")
    expect(recipients).to_contain_text("Choose who receives it")
    page.check("#everyone")
    expect(recipients).to_contain_text("Recipients: 4")
    page.fill("#text", "センターからのお知らせです。")
    screenshot(page, "console-announcement-compose.png")
    page.click("main button.primary[type=submit]")
    expect(page.locator(".line-preview .bubble").first).to_be_visible()
    expect(page.locator("[data-testid=total]")).to_have_text("4")
    screenshot(page, "console-announcement-preview.png")
    page.click("button[value=send]")
    expect(page.locator(".flash")).to_contain_text("is being sent now")
    # Only the count asked while nothing was chosen was refused (400, with the message shown).
    assert page.problems == [f"400 GET {server}/console/announcements/count?translated=en"]  # type: ignore[attr-defined]


def test_a_notice_sent_in_quiet_hours_says_who_is_still_waiting_not_done(accounts, people, fake_line, clock):
    """At 22:00 an ordinary notice is queued for 8:00 (residents' quiet hours): the list must not
    say 「完了」 as if everyone had it."""
    bot = people
    clock.move_to("2026-12-01 22:00:00+09:00", tick=False)
    c = staff(accounts)
    html = compose(c, text="明日の朝、断水します。").get_data(as_text=True)
    assert confirm(c, html).status_code == 302
    assert clock_mod.due_now(bot)["announcements"] == 1
    run_worker(bot)
    assert not any("明日の朝、断水します。" in x for user in (EN1, EN2, JA1) for x in texts(fake_line, user))
    history = c.get(HISTORY).get_data(as_text=True)
    assert 'data-testid="not-all-delivered"' in history and "Not everyone has it yet" in history
    assert ">Done<" not in history
    assert 'data-testid="held">3 residents get it when their quiet hours end (by Wed, Dec 2, 2026, 8:00 AM).' in history
    assert "Waiting to be sent 2" in history and "Residents addressed" in history
    clock.move_to("2026-12-02 08:00:30+09:00", tick=False)
    run_worker(bot)
    assert all(any("明日の朝、断水します。" in x for x in texts(fake_line, user)) for user in (EN1, EN2, JA1))
    history = staff(accounts).get(HISTORY).get_data(as_text=True)  # (signed in again: the night was long)
    assert 'data-testid="held"' not in history and ">Done<" in history


def test_the_audit_log_speaks_in_words(accounts, people, clock):
    c = staff(accounts)
    html = compose(c, text="お知らせ").get_data(as_text=True)
    confirm(c, html)
    page = c.get("/console/audit").get_data(as_text=True)
    assert "Created an announcement" in page and "Signed in" in page
    assert "Audience: Everyone" in page and "Urgent: no" in page
    assert "create_announcement" not in page.replace('value="create_announcement"', "").replace(
        'title="create_announcement"', "")  # the code only as the filter's value and a tooltip
    assert "rule=" not in page and "null" not in page and '{"all": true}' not in page
    assert re.search(r"<td>Announcement \d+</td>", page)
