"""The dashboard's pictures, their CSV files and the monthly report (page and PDF), with a year
of seeded data: the numbers in the tables are the ones seeded, months are Tokyo's, messages are
counted as LINE counts them, and a leader sees their own association's circulars only."""
from __future__ import annotations

import csv
import io
import os
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.console import pictures
from bot.core.models import (
    Area, Association, Circular, CircularRecipient, Event, HelpOffer, HelpRequest, LedgerTransfer, OutboxMessage,
    Resident, Signup,
)
from bot.services import statistics
from bot.services.richmenu import RichMenuError
from tests.console_support import sign_in

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def year(accounts, clock):
    """2026, seen on 1 December: residents joining, an event, a help request matched with
    hours, a circular half read, messages sent."""
    db = accounts.extensions["tsunagari"].db
    with db.session() as s:
        area = s.scalar(select(Area).where(Area.code == "asahi-1"))
        asahi = s.scalar(select(Association).where(Association.join_code == "ASAHI-2026"))
        minato = s.scalar(select(Association).where(Association.join_code == "MINATO-2026"))

        def resident(n, locale, consent, following=True, area_id=None):
            r = Resident(line_user_id="U" + f"{n:02x}" * 16, nickname=f"r{n}", locale=locale, following=following,
                         consent_at=at(consent) if consent else None, area_id=area_id)
            s.add(r)
            s.flush()
            return r

        r1 = resident(1, "ja", "2026-01-10T09:00+09:00", area_id=area.id)
        r2 = resident(2, "ja", "2026-02-01T01:00+09:00", area_id=area.id)  # 31 January in UTC: February in Tokyo
        r3 = resident(3, "en", "2026-03-05T12:00+09:00")
        resident(4, "vi", "2026-11-20T12:00+09:00", following=False)  # joined, then blocked
        resident(5, "ja", "2025-12-01T12:00+09:00")  # joined last year
        resident(6, "ja", None)  # never agreed: not a resident of the figures

        # October: r1 went to an event; a cancelled event and a cancelled sign-up do not count
        held = Event(title="清掃", place="公園", starts_at=at("2026-10-05T09:00+09:00"))
        called_off = Event(title="祭り", place="公園", starts_at=at("2026-10-12T09:00+09:00"), status="cancelled")
        to_come = Event(title="餅つき", place="集会所", starts_at=at("2026-12-20T10:00+09:00"))
        s.add_all([held, called_off, to_come])
        s.flush()
        s.add_all([Signup(event_id=held.id, resident_id=r1.id), Signup(event_id=held.id, resident_id=r2.id, status="cancelled"),
                   Signup(event_id=called_off.id, resident_id=r3.id), Signup(event_id=to_come.id, resident_id=r3.id)])
        # November: r2 asked, r3 helped (accepted), 90 minutes recorded; another request unanswered
        req = HelpRequest(requester_id=r2.id, category="shopping", description="買い物", status="done",
                          created_at=at("2026-11-10T10:00+09:00"), closes_at=at("2026-11-17T10:00+09:00"))
        other = HelpRequest(requester_id=r1.id, category="garbage", description="ごみ", status="closed",
                            created_at=at("2026-09-03T10:00+09:00"), closes_at=at("2026-09-10T10:00+09:00"))
        s.add_all([req, other])
        s.flush()
        offer = HelpOffer(request_id=req.id, helper_id=r3.id, status="accepted", created_at=at("2026-11-10T12:00+09:00"))
        s.add_all([offer, HelpOffer(request_id=other.id, helper_id=r3.id, status="declined",
                                    created_at=at("2026-09-03T12:00+09:00"))])
        s.flush()
        req.matched_offer_id = offer.id
        s.add(LedgerTransfer(request_id=req.id, minutes=90, created_at=at("2026-11-12T10:00+09:00")))
        # a circular of あさひ sent on 2 November: 4 recipients, read after 2 and 4 hours
        sent = at("2026-11-02T09:00+09:00")
        circ = Circular(association_id=asahi.id, title="回覧", body="本文", sent_at=sent)
        circ_m = Circular(association_id=minato.id, title="みなと", body="本文", sent_at=sent)
        s.add_all([circ, circ_m])
        s.flush()
        for n, read in enumerate([2, 4, None, None]):
            s.add(CircularRecipient(circular_id=circ.id, token=f"tok-asahi-{n}",
                                    read_at=sent + timedelta(hours=read) if read else None))
        s.add(CircularRecipient(circular_id=circ_m.id, token="tok-minato", read_at=sent + timedelta(hours=1)))
        # messages: in November a push to 3, a reply (free) and a broadcast; in December a push to 2
        line = dict(channel="line", payload=[], status="sent")
        s.add_all([
            OutboxMessage(**line, recipients=["Ua", "Ub", "Uc"], sent_at=at("2026-11-03T10:00+09:00")),
            OutboxMessage(**line, recipients=["Ua"], reply_token="r" * 20, sent_at=at("2026-11-03T10:00+09:00")),
            OutboxMessage(**line, recipients=[], kind="broadcast", sent_at=at("2026-11-04T10:00+09:00")),
            OutboxMessage(**line, recipients=["Ua", "Ub"], sent_at=at("2026-12-01T00:30+09:00")),
            OutboxMessage(**line, recipients=["Ua", "Ub"], sent_at=at("2026-11-30T23:30+09:00") - timedelta(days=400)),
            OutboxMessage(channel="line", payload=[], recipients=["Ua"], status="dead", sent_at=None),
        ])
    return accounts


def table(html: str, name: str) -> list[list[str]]:
    body = re.search(rf'<table data-testid="table-{name}">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


def staff(app):
    c = app.test_client()
    assert sign_in(c, "tanaka").status_code == 302
    return c


def test_the_months_are_tokyos_and_each_figure_counts_what_was_seeded(year):
    html = staff(year).get("/console/").get_data(as_text=True)
    part = table(html, "participation")
    assert part[0] == ["月", "参加した人", "住民", "割合（%）"]
    rows = {r[0]: r[1:] for r in part[1:]}
    assert list(rows) == [f"2026-{m:02d}" for m in range(1, 13)]
    assert rows["2026-01"] == ["0", "2", "0.0"]  # r5 (last year) and r1
    assert rows["2026-10"] == ["1", "4", "25.0"]  # r1 at the event
    assert rows["2026-11"] == ["2", "5", "40.0"]  # r2 helped by r3
    assert rows["2026-12"] == ["0", "5", "0.0"]  # the event of the 20th has not happened yet
    joined = table(html, "joined")
    assert joined[0] == ["月", "日本語", "English", "Tiếng Việt", "合計"]
    jrows = {r[0]: r[1:] for r in joined[1:]}
    assert jrows["2026-01"] == ["1", "0", "0", "1"] and jrows["2026-02"] == ["1", "0", "0", "1"]
    assert jrows["2026-03"] == ["0", "1", "0", "1"] and jrows["2026-11"] == ["0", "0", "1", "1"]
    assert table(html, "areas")[1:] == [["あさひ町1丁目", "2", "0"], ["地区なし", "2", "0"]]  # r3 and r4; none in December
    assert table(html, "circulars")[1:] == [["あさひ町内会", "1", "4", "2", "50.0", "3.0"],
                                            ["みなと自治会", "1", "1", "1", "100.0", "1.0"]]
    aid = {r[0]: r[1:] for r in table(html, "aid")[1:]}
    assert aid["2026-11"] == ["1", "1", "1.5"] and aid["2026-09"] == ["1", "0", "0"]
    msgs = {r[0]: r[1:] for r in table(html, "messages")[1:]}
    assert msgs["2026-11"] == ["7", "-"]  # 3 pushed + a broadcast to the 4 following; the reply is free
    assert msgs["2026-12"] == ["2", "-"]
    assert re.search(r'<p class="n">2</p><p>今月の送信数', html)  # the key figure agrees
    # each chart is an image with a name and a text alternative, the target line drawn
    for key in ("participation", "joined", "circulars", "aid", "aid-hours", "messages"):
        assert re.search(rf'<svg [^>]*role="img" [^>]*aria-label="[^"]+"[^>]*data-chart="{key}"', html), key
    assert 'class="target"' in html and "目標 65%" in html
    assert "11月: 参加した人 40%" in html  # the description names the values


def test_the_target_and_the_quota_come_from_the_configuration(year):
    app = year
    bot = app.extensions["tsunagari"]
    bot.config = bot.config.with_overrides(participation_target=50, line_monthly_quota=200)
    html = staff(app).get("/console/").get_data(as_text=True)
    assert "目標 50%" in html and "上限 200" in html
    assert {r[0]: r[1:] for r in table(html, "messages")[1:]}["2026-11"] == ["7", "200"]


def test_each_figure_downloads_as_csv_for_staff(year):
    c = staff(year)
    r = c.get("/console/figures/aid.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment; filename=aid-2026.csv" == r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0] == ["月", "依頼", "マッチ", "時間"] and len(rows) == 13
    assert rows[11] == ["2026-11", "1", "1", "1.5"]
    for name in pictures.NAMES:
        assert c.get(f"/console/figures/{name}.csv").status_code == 200, name
    assert c.get("/console/figures/secrets.csv").status_code == 404


def test_csv_cells_cannot_run_as_formulas(year):
    with year.extensions["tsunagari"].db.session() as s:
        s.scalar(select(Association).where(Association.join_code == "MINATO-2026")).name = "=HYPERLINK(\"x\")"
    body = staff(year).get("/console/figures/circulars.csv").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in body


def test_a_leader_sees_and_downloads_only_their_own_associations_circulars(year):
    c = year.test_client()
    assert sign_in(c, "asahi").status_code == 302
    html = c.get("/console/").get_data(as_text=True)
    assert table(html, "circulars")[1:] == [["あさひ町内会", "1", "4", "2", "50.0", "3.0"]]
    assert "みなと" not in html and 'data-chart="participation"' not in html
    r = c.get("/console/figures/circulars.csv")
    assert r.status_code == 200 and "みなと" not in r.data.decode("utf-8-sig") and "あさひ町内会" in r.data.decode("utf-8-sig")
    for name in ("participation", "joined", "areas", "aid", "messages"):
        assert c.get(f"/console/figures/{name}.csv").status_code == 403, name
    assert c.get("/console/report/2026-11").status_code == 403
    assert c.get("/console/report/2026-11.pdf").status_code == 403


def test_the_monthly_report_page_prints_the_month_and_the_year_so_far(year):
    c = staff(year)
    dash = c.get("/console/").get_data(as_text=True)
    assert 'href="/console/report/2026-12"' in dash and 'href="/console/report/2026-11"' in dash
    html = c.get("/console/report/2026-11").get_data(as_text=True)
    assert "月次報告 2026-11" in html
    summary = dict(table_rows(html, "report-summary"))
    assert summary["参加した住民"] == "40.0% (2/5)"
    assert summary["回覧板の既読"] == "60.0% (3/5)"  # both associations' circulars of November
    assert summary["LINE のメッセージ送信数"] == "7"
    part = {r[0]: r[1:] for r in table(html, "participation")[1:]}
    assert list(part) == [f"2026-{m:02d}" for m in range(1, 12)]  # January to November only
    assert "Download CSV" not in html and "CSV" not in re.sub(r"<svg.*?</svg>", "", html, flags=re.S)
    assert c.get("/console/report/2027-01").status_code == 404  # not yet
    assert c.get("/console/report/2026-13").status_code == 404


def table_rows(html: str, testid: str) -> list[tuple[str, str]]:
    body = re.search(rf'<table data-testid="{testid}">(.*?)</table>', html, re.S).group(1)
    return [(re.sub(r"<[^>]+>", "", a).strip(), re.sub(r"<[^>]+>", "", b).strip())
            for a, b in re.findall(r"<tr><th[^>]*>(.*?)</th><td>(.*?)</td></tr>", body, re.S)]


def test_the_monthly_report_as_a_pdf(year):
    pypdf = pytest.importorskip("pypdf")
    try:
        pictures.font_for("ja", bold=False)
    except RichMenuError:
        if os.environ.get("TSUNAGARI_REQUIRE_FONTS"):  # CI installs them
            raise
        pytest.skip("no Japanese font installed (Debian: fonts-noto-cjk)")
    r = staff(year).get("/console/report/2026-11.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.data.startswith(b"%PDF") and len(r.data) > 10_000
    assert "tsunagari-report-2026-11.pdf" in r.headers["Content-Disposition"]
    reader = pypdf.PdfReader(io.BytesIO(r.data))
    # (pypdf reads fpdf2's ToUnicode map with a NUL before each letter; the map itself is right)
    text = "".join(page.extract_text() for page in reader.pages).replace("\x00", "")
    assert "月次報告 2026-11" in text
    assert "40.0% (2/5)" in text and "あさひ町内会" in text and "2026-11" in text


def test_without_a_japanese_font_the_pdf_is_refused_with_a_reason(year, monkeypatch):
    def no_font(*args, **kwargs):
        raise RichMenuError("no font with ja letters")

    monkeypatch.setattr(pictures, "font_for", no_font)
    r = staff(year).get("/console/report/2026-11.pdf")
    assert r.status_code == 503
    assert "日本語のフォント" in r.get_data(as_text=True)


def test_an_empty_year_draws_empty_charts(accounts, clock):
    html = staff(accounts).get("/console/").get_data(as_text=True)
    assert html.count('role="img"') >= 6 and "データはまだありません" in html


def test_statistics_months_follow_the_city_clock():
    m = statistics.months_of(2026, 3, "Asia/Tokyo", at("2026-03-15T00:00+09:00"))
    assert m.keys == ["2026-01", "2026-02", "2026-03"]
    assert m.start == at("2026-01-01T00:00+09:00") and m.end == at("2026-04-01T00:00+09:00")
    assert statistics.months_of(2026, 12, "Asia/Tokyo", m.now).start_of(13) == at("2027-01-01T00:00+09:00")
    with pytest.raises(ValueError):
        statistics.months_of(2026, 13, "Asia/Tokyo", m.now)


def test_the_participation_target_is_a_percentage_from_the_environment():
    from bot.core.config import Config

    assert Config.from_env({}).participation_target == 65
    assert Config.from_env({"PARTICIPATION_TARGET": "70.5"}).participation_target == 70.5
    assert Config.from_env({"PARTICIPATION_TARGET": "60%"}).participation_target == 60
    for bad in ("abc", "120", "-1"):
        with pytest.raises(ValueError, match="PARTICIPATION_TARGET"):
            Config.from_env({"PARTICIPATION_TARGET": bad})
