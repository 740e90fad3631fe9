"""The dashboard's pictures in a real browser (Debian's chromium through Playwright), over a year
of a city's life: 216 residents joining month by month in five languages and fourteen areas, a
monthly event, help asked and given, two associations' circulars, messages sent. Each picture is
drawn (an SVG with its bars or points), its table holds the seeded figures, and with
TSUNAGARI_SCREENSHOTS=1 the page is saved as docs/screenshots/console-dashboard.png (the README)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.core.models import (
    Area, Association, Circular, CircularRecipient, Event, HelpOffer, HelpRequest, LedgerTransfer, OutboxMessage,
    Resident, Signup,
)
from tests.browser import _expect_timeout, browser, screenshot, serve  # noqa: F401  (browser fixtures)
from tests.console_support import PASSWORD

pytestmark = pytest.mark.browser

TOKYO = ZoneInfo("Asia/Tokyo")
LOCALES = ["ja"] * 14 + ["en"] * 2 + ["vi", "vi", "zh_Hans", "pt_BR"]  # about the city's mix
JOINED = [4, 6, 9, 12, 15, 18, 22, 26, 30, 34, 40]  # residents who joined, January to November
CATEGORIES = ["garbage", "shopping", "dog_walk", "garden", "smartphone", "tidying"]


def tokyo(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=TOKYO).astimezone(timezone.utc)


@pytest.fixture
def city_year(accounts, clock):
    """2026 seen on 1 December (the `clock`): what a small city's first year could look like."""
    rnd = random.Random(2026)
    db = accounts.extensions["tsunagari"].db
    with db.session() as s:
        areas = list(s.scalars(select(Area.id).where(Area.active.is_(True))))
        asahi = s.scalar(select(Association.id).where(Association.join_code == "ASAHI-2026"))
        minato = s.scalar(select(Association.id).where(Association.join_code == "MINATO-2026"))
        people: list[tuple[int, Resident]] = []
        n = 0
        for month, count in enumerate(JOINED, 1):
            for _ in range(count):
                n += 1
                r = Resident(line_user_id=f"U{n:032x}", nickname=f"r{n}", locale=rnd.choice(LOCALES), following=True,
                             consent_at=tokyo(month, rnd.randint(1, 28)), area_id=rnd.choice(areas))
                s.add(r)
                people.append((month, r))
        s.flush()
        for month in range(1, 12):
            here = [r for joined, r in people if joined <= month]
            # the month's event: more neighbours come as word spreads
            ev = Event(title=f"{month}月の清掃", place="公園", starts_at=tokyo(month, 20))
            s.add(ev)
            s.flush()
            for r in rnd.sample(here, k=int(len(here) * (0.25 + 0.02 * month))):
                s.add(Signup(event_id=ev.id, resident_id=r.id))
            # help asked; most matched, with the hours recorded
            for _ in range(3 + month):
                asker, helper = rnd.sample(here, k=2)
                req = HelpRequest(requester_id=asker.id, category=rnd.choice(CATEGORIES), description="お願い",
                                  status="done", created_at=tokyo(month, rnd.randint(1, 25)),
                                  closes_at=tokyo(month, 28))
                s.add(req)
                s.flush()
                if rnd.random() < 0.75:
                    offer = HelpOffer(request_id=req.id, helper_id=helper.id, status="accepted",
                                      created_at=req.created_at + timedelta(hours=3))
                    s.add(offer)
                    s.flush()
                    req.matched_offer_id = offer.id
                    s.add(LedgerTransfer(request_id=req.id, minutes=rnd.choice([30, 45, 60, 90]),
                                         created_at=req.created_at + timedelta(days=1)))
            # a circular a month in each association, most read within a day
            for assoc, readers, share in ((asahi, 60, 0.6 + 0.03 * month), (minato, 40, 0.5 + 0.02 * month)):
                sent = tokyo(month, 2, 9)
                circ = Circular(association_id=assoc, title=f"{month}月の回覧", body="本文", sent_at=sent)
                s.add(circ)
                s.flush()
                for k in range(readers):
                    read = sent + timedelta(hours=rnd.randint(1, 30)) if rnd.random() < share else None
                    s.add(CircularRecipient(circular_id=circ.id, token=f"t-{circ.id}-{k}", read_at=read))
            # messages: pushes and multicasts to the residents of the month
            for _ in range(6):
                s.add(OutboxMessage(channel="line", payload=[], status="sent",
                                    recipients=[r.line_user_id for r in here[: rnd.randint(1, len(here))]],
                                    sent_at=tokyo(month, rnd.randint(1, 28))))
    return accounts, len(people)


@pytest.fixture
def console_page(browser, city_year):  # noqa: F811
    app, _ = city_year
    for url in serve(app, "console-pictures-server"):
        context = browser.new_context(base_url=url, viewport={"width": 1000, "height": 900})
        context.set_default_timeout(10_000)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("response", lambda res: errors.append(f"{res.status} {res.url}")
                if res.status >= 400 and not res.url.endswith("/favicon.ico") else None)
        page.errors = errors  # type: ignore[attr-defined]
        try:
            yield page
        finally:
            context.close()


def test_the_dashboard_draws_a_year_of_the_city(console_page, city_year):
    from playwright.sync_api import expect

    _, residents = city_year
    page = console_page
    page.goto("/console/login")
    page.fill("#username", "tanaka")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/console/")
    expect(page.locator("h1")).to_have_text("ダッシュボード")
    charts = page.locator("main svg.chart")
    assert charts.count() >= 6
    empty = "データはまだありません"
    for i in range(charts.count()):
        chart = charts.nth(i)
        expect(chart).to_be_visible()
        assert chart.get_attribute("role") == "img" and chart.get_attribute("aria-label")
        # every picture has something drawn in it: none says "no data yet"
        drawn = chart.locator("rect, path, polyline, polygon, circle, line").count()
        assert empty not in chart.inner_html() and drawn > 3, (chart.get_attribute("data-chart"), chart.inner_html()[:2000])
    # the table beside the picture holds the seeded figures: those who joined each month, and in
    # December the four demo residents of the web chat (`serve` seeds them)
    totals = page.locator("table[data-testid=table-joined] tbody tr td:last-child").all_text_contents()
    assert [int(x) for x in totals] == JOINED + [4] and sum(JOINED) == residents
    assert page.errors == []  # type: ignore[attr-defined]
    screenshot(page, "console-dashboard.png")
