"""The console in a real browser (Debian's chromium through Playwright): center staff sign in,
compose and schedule an announcement that then reaches the fake LINE API; an association's
leader opens a circular's status and marks a paper household. With TSUNAGARI_SCREENSHOTS=1 the
main pages are saved under docs/screenshots/ (shown in the README)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.delivery import worker
from bot.core.db import utcnow
from bot.core.models import Announcement, Circular, CircularRecipient, Household
from tests.browser import _expect_timeout, browser, screenshot, serve  # noqa: F401  (browser fixtures)
from tests.console_support import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def console_server(accounts):
    # With はなこ, やまだ (会長), さとう (班長) (日本語) and Alex (English), following in the web chat.
    yield from serve(accounts, "console-test-server")


@pytest.fixture
def console_page(browser, console_server):  # noqa: F811
    context = browser.new_context(base_url=console_server, viewport={"width": 1000, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda res: errors.append(f"{res.status} {res.url}") if res.status >= 500 else None)
    page.errors = errors  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()


def sign_in(page, user: str) -> None:
    page.goto("/console/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/console/")


def test_staff_schedule_an_announcement_and_it_reaches_line(console_page, accounts, fake_line, time_machine):
    from playwright.sync_api import expect

    page = console_page
    bot = accounts.extensions["tsunagari"]
    sign_in(page, "tanaka")
    expect(page.locator("h1")).to_have_text("ダッシュボード")  # its screenshot: test_console_pictures_browser.py
    page.click("nav >> text=お知らせ配信")
    page.goto("/console/announcements/new")
    page.fill("#text", "12月20日（日）9時から、公園の清掃を行います。")
    page.locator("details#translations summary").click()
    page.fill("#tr_en", "Park clean-up on Sunday, December 20, from 9:00.")
    page.check("#everyone")
    expect(page.locator("#recipients")).to_contain_text("4人 (日本語 3, English 1)")
    page.check("#when-at")
    from zoneinfo import ZoneInfo

    # Tomorrow at 10:00 in Tokyo: outside everyone's quiet hours.
    when = (utcnow().astimezone(ZoneInfo("Asia/Tokyo")) + timedelta(days=1)).replace(hour=10, minute=0, second=0,
                                                                                    microsecond=0)
    page.fill("#at", when.strftime("%Y-%m-%dT%H:%M"))
    screenshot(page, "console-announcement-compose.png")
    page.click("main button.primary[type=submit]")
    expect(page.locator(".line-preview .bubble").first).to_be_visible()
    expect(page.locator(".line-preview[lang=en]")).to_contain_text("Park clean-up")
    screenshot(page, "console-announcement-preview.png")
    page.click("button[value=send]")
    expect(page.locator(".flash").first).to_be_visible()
    expect(page.locator("main")).to_contain_text("公園の清掃")
    screenshot(page, "console-announcements.png")
    with bot.db.session() as s:
        ann = s.scalar(select(Announcement))
        assert ann.status == "scheduled" and ann.created_by and "tanaka" in ann.created_by
    # Nothing goes before its time; when the clock reaches it, each resident gets it in their
    # language through the fake LINE API... (the demo residents use the web chat channel, so
    # the delivery is checked in their transcripts).
    from bot import services
    from bot.services import announcements
    from bot.core.models import WebChatMessage

    with bot.db.session() as s:
        assert services.apply(s, announcements.fire_due(s, bot.config, utcnow()), "clock").facts["runs"] == []
    time_machine.move_to(when + timedelta(minutes=1), tick=True)  # the clock reaches the time
    with bot.db.session() as s:
        assert len(services.apply(s, announcements.fire_due(s, bot.config, utcnow()), "clock").facts["runs"]) == 1
    while worker.run_once(bot):
        pass
    with bot.db.session() as s:
        said = [m.payload.get("text", "") for m in s.scalars(select(WebChatMessage))]
    assert any("公園の清掃" in x for x in said) and any("Park clean-up" in x for x in said), said
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_leader_checks_a_circular_and_marks_a_paper_household(console_page, accounts):
    from playwright.sync_api import expect

    page = console_page
    bot = accounts.extensions["tsunagari"]
    runner = accounts.test_cli_runner()
    for label, paper in (("1番 田中", False), ("4番 鈴木（紙）", True)):
        args = ["circulars", "household", "--association", "ASAHI-2026", "--label", label, "--han", "1班"]
        assert runner.invoke(args=args + (["--paper"] if paper else [])).exit_code == 0
    assert runner.invoke(args=["circulars", "send", "--association", "ASAHI-2026", "--title", "防災訓練のお知らせ",
                               "--body", "12月14日に防災訓練を行います。", "--question", "attendance"]).exit_code == 0
    sign_in(page, "asahi")
    page.click("nav >> text=回覧板")
    page.click("text=防災訓練のお知らせ")
    expect(page.locator("main")).to_contain_text("4番 鈴木（紙）")
    screenshot(page, "console-circular-status.png")
    row = page.locator("tr", has_text="4番 鈴木（紙）")
    row.locator("button[type=submit]").click()
    expect(page.locator(".flash").first).to_be_visible()
    with bot.db.session() as s:
        cid = s.scalar(select(Circular.id))
        marked = s.scalar(select(Household.id).where(Household.label == "4番 鈴木（紙）"))
        read = s.scalar(select(CircularRecipient.read_at).where(CircularRecipient.circular_id == cid,
                                                                 CircularRecipient.household_id == marked))
    assert read is not None
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_main_pages_open_for_staff_and_refuse_a_leader(console_page, accounts):
    from playwright.sync_api import expect

    page = console_page
    sign_in(page, "tanaka")
    for path, shot in (("/console/events", "console-events.png"), ("/console/residents", "console-residents.png"),
                       ("/console/audit", "console-audit.png"), ("/console/dead-letters", None),
                       ("/console/accounts", None), ("/console/aid", None)):
        page.goto(path)
        expect(page.locator("h1")).to_be_visible()
        if shot:
            screenshot(page, shot)
    page.click("header button:has-text('ログアウト')")
    sign_in(page, "asahi")
    response = page.goto("/console/accounts")
    assert response.status == 403
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_leader_writes_a_circular_with_a_photo_and_a_translation(console_page, accounts, tmp_path):
    """The compose form in a browser: a photo file and an English translation, the preview with
    both, then "Send now"; a paper mark made by mistake is undone on the status page."""
    import io

    from PIL import Image
    from playwright.sync_api import expect

    from bot.core.models import Media

    page = console_page
    bot = accounts.extensions["tsunagari"]
    runner = accounts.test_cli_runner()
    assert runner.invoke(args=["circulars", "household", "--association", "ASAHI-2026", "--label", "4番 鈴木（紙）",
                               "--han", "1班", "--paper"]).exit_code == 0
    photo = tmp_path / "map.png"
    Image.new("RGB", (800, 600), (40, 160, 90)).save(photo, "PNG")
    sign_in(page, "asahi")
    page.goto("/console/circulars/new")
    page.fill("#title", "夏祭りの会場")
    page.fill("#body", "会場の地図です。")
    page.set_input_files("#photo", str(photo))
    page.locator("details#translations > summary").click()
    page.locator("details#tr-en > summary").click()
    page.fill("#tr_en_title", "Summer festival")
    page.fill("#tr_en_body", "The map of the festival.")
    screenshot(page, "console-circular-compose.png")
    page.click("main button.primary[type=submit]")
    expect(page.locator("[data-testid=notice] img.hero")).to_be_visible()
    expect(page.locator("[data-testid=language-en]")).to_contain_text("Summer festival")
    screenshot(page, "console-circular-preview.png")
    page.click("button[value=send]")
    expect(page.locator(".flash").first).to_be_visible()
    with bot.db.session() as s:
        circ = s.scalar(select(Circular))
        assert circ.translations == {"en": {"title": "Summer festival", "body": "The map of the festival."}}
        with Image.open(io.BytesIO(s.get(Media, circ.image_id).data)) as im:
            assert im.format == "JPEG" and im.size == (800, 600)
    row = page.locator("tr", has_text="4番 鈴木（紙）")
    row.locator("button:has-text('既読にする')").click()
    expect(page.locator("tr", has_text="4番 鈴木（紙）")).to_contain_text("✔")
    page.locator("tr", has_text="4番 鈴木（紙）").locator("button:has-text('既読の印を取り消す')").click()
    expect(page.locator(".flash").first).to_contain_text("未読に戻りました")
    expect(page.locator("tr", has_text="4番 鈴木（紙）")).not_to_contain_text("✔")
    assert page.errors == []  # type: ignore[attr-defined]


def test_staff_start_a_safety_check_and_follow_it(console_page, accounts, fake_line):
    """The safety check in a real browser: the form, the confirmation with the count (the box
    must be ticked), the check's page with everyone still to answer, then the end."""
    from playwright.sync_api import expect

    page = console_page
    bot = accounts.extensions["tsunagari"]
    sign_in(page, "tanaka")
    page.click("nav >> text=安否確認")
    expect(page.locator("h1")).to_have_text("安否確認")
    page.check("#to-all")
    page.fill("#note", "震度5弱の地震がありました")
    page.check("#drill")
    page.click("main form button.primary")
    expect(page.locator("[data-testid=count]")).to_contain_text("4人")
    page.click("main button.danger")  # the box is not ticked: the browser refuses to send
    expect(page.locator("[data-testid=count]")).to_be_visible()
    page.check("#confirm")
    page.click("main button.danger")
    expect(page.locator("h1")).to_contain_text("訓練")
    expect(page.locator("[data-testid=tally]")).to_contain_text("未回答 6")  # 4 households in the chat, 2 on paper
    screenshot(page, "console-safety-check.png")
    while worker.run_once(bot):
        pass
    import json as _json

    from bot.core.models import WebChatMessage

    with bot.db.read() as s:  # the demo residents are in the web chat
        said = [_json.dumps(p, ensure_ascii=False) for p in s.scalars(select(WebChatMessage.payload).where(
            WebChatMessage.direction == "out"))]
    asked = [x for x in said if "震度5弱" in x]
    assert len(asked) == 4 and any("【訓練】" in x for x in asked) and any("[DRILL]" in x for x in asked), said[-3:]
    page.click("text=安否確認を終了する")
    expect(page.locator("h1")).to_contain_text("終了")
    assert not page.errors, page.errors


def test_staff_open_a_shelter_and_residents_are_shown_it(console_page, accounts):
    """Center staff import the city's shelters, search the list, open one; the web chat's
    resident who types 「避難所」 is shown it, with a map link."""
    from playwright.sync_api import expect

    from bot.core.config import ROOT
    from bot.core.models import AuditEntry, WebChatMessage

    page = console_page
    bot = accounts.extensions["tsunagari"]
    runner = accounts.test_cli_runner()
    assert runner.invoke(args=["shelters", "import", str(ROOT / "data" / "shelters" / "demo.csv")]).exit_code == 0
    sign_in(page, "tanaka")
    page.click("nav >> text=避難所")
    expect(page.get_by_test_id("counts")).to_contain_text("5か所中 0か所")
    page.fill("#q", "さくら台")
    page.click("form.search button[type=submit]")
    row = page.locator("tr", has_text="さくら台公園")
    expect(page.locator("tbody tr")).to_have_count(1)
    row.get_by_role("button", name="開設").click()
    expect(page.locator(".flash").first).to_contain_text("「さくら台公園」を開設にしました")
    expect(page.locator("tr.is-open")).to_have_count(1)
    expect(page.get_by_test_id("counts")).to_contain_text("5か所中 1か所")
    screenshot(page, "console-shelters.png")
    with bot.db.read() as s:
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "open_shelter")) == "open_shelter"
    chat = page.request.post(
        page.url.split("/console")[0] + "/chat/api/send", data={"resident": "web-demo-hanako", "text": "避難所"})
    assert chat.ok
    with bot.db.read() as s:
        said = [m.payload.get("text", "") for m in s.scalars(select(WebChatMessage))]
    assert any("さくら台公園" in x and "google.com/maps" in x for x in said), said


def test_the_dashboards_charts_are_pictures_with_names_and_tables(console_page, accounts):
    """The charts are drawn by the server (no script), visible, named for a screen reader, and
    each has its table a click away and its CSV; the report opens from the dashboard."""
    from playwright.sync_api import expect

    page = console_page
    sign_in(page, "tanaka")
    charts = page.get_by_role("img", name="地域の活動に参加した住民の割合（%）")
    expect(charts).to_be_visible()
    for name in ("登録した住民（言語別）", "回覧板の既読率（%、町内会別）", "助け合い：依頼とマッチ",
                 "助け合い：記録された時間", "LINE のメッセージ送信数と月の上限"):
        chart = page.get_by_role("img", name=name)
        chart.scroll_into_view_if_needed()
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 120, name
    assert page.locator("svg.chart line.target").count() >= 1  # the participation target
    table = page.get_by_test_id("table-participation")
    expect(table).to_be_hidden()
    page.locator("#figure-participation summary").click()
    expect(table).to_be_visible()
    expect(page.locator("#figure-participation a[download]")).to_have_attribute("href", "/console/figures/participation.csv")
    page.locator("a[data-testid^=report-]").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("月次報告")
    expect(page.get_by_role("img", name="地域の活動に参加した住民の割合（%）")).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]
