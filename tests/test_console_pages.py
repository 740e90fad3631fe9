"""The console's pages for events, mutual aid, residents, failed messages, the audit log and
accounts, end to end through the Flask test client: who may open what (403 for the wrong role
or association, the sign-in page or 401 when signed out, 400 without a CSRF token) and what each
action really does (rows written, residents told through the fake LINE API, CSV and .ics)."""
from __future__ import annotations

import re

import csv
import io
from datetime import timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.services import events as ev_domain
from bot.services import timebank
from bot.core.db import utcnow
from bot.core.models import (
    Association, AuditEntry, Event, HelpOffer, HelpRequest, Household, LedgerTransfer, Membership, OutboxMessage,
    RelayMessage, Resident, Signup, StaffAccount,
)
from tests.console_support import PASSWORD, csrf, sign_in
from tests.support import run_worker

AKI = "U" + "a1" * 16  # English, member of あさひ町内会 (1班)
BEN = "U" + "b2" * 16  # Japanese, member of みなと自治会
CHIE = "U" + "c3" * 16  # English, no association
USERS = (AKI, BEN, CHIE)
TZ = ZoneInfo("Asia/Tokyo")


# -- set-up -------------------------------------------------------------------------------------

def local(dt) -> str:
    return dt.astimezone(TZ).strftime("%Y-%m-%dT%H:%M")


def login(app, username: str, english: bool = True):
    c = app.test_client()
    assert sign_in(c, username).status_code == 302
    if english:  # assertions read the English words
        c.post("/console/language", data={"locale": "en", "csrf_token": csrf(c, "/console/events"), "back": "/console/"})
    return c


def post(c, path: str, data: dict | None = None, page: str = "/console/events"):
    """POST a form with the CSRF token of `page`, and the version of the record the page's form
    was drawn for (if it has one), as the browser does after opening it."""
    html = c.get(page).get_data(as_text=True)
    hidden = dict(re.findall(r'name="(csrf_token|version)" value="([^"]*)"', html))
    return c.post(path, data={**hidden, **(data or {})})


def text(resp) -> str:
    return resp.get_data(as_text=True)


def audits(db, action: str) -> list[SimpleNamespace]:
    with db.read() as s:
        return [SimpleNamespace(actor=e.actor, target=e.target, detail=e.detail) for e in
                s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


@pytest.fixture
def world(accounts, joined):
    """Staff "tanaka", leaders "asahi" (あさひ町内会) and "minato" (みなと自治会), 班長 "han1";
    residents Aki, Ben and Chie in LINE; an event for everyone and one of あさひ町内会; a
    matched, a reported and an open help request; a dead-lettered message."""
    app = accounts
    runner = app.test_cli_runner()
    for args in (["staff", "create", "minato", "--role", "leader", "--association", "MINATO-2026", "--password", PASSWORD],
                 ["staff", "create", "han1", "--role", "han_leader", "--association", "ASAHI-2026", "--han", "1班",
                  "--password", PASSWORD]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    joined(AKI, name="Aki")
    joined(BEN, name="Ben", locale_label="日本語")
    joined(CHIE, name="Chie")
    bot = app.extensions["tsunagari"]
    now = utcnow()
    with bot.db.session() as s:
        asahi = s.scalar(select(Association).where(Association.join_code == "ASAHI-2026"))
        minato = s.scalar(select(Association).where(Association.join_code == "MINATO-2026"))
        r = {u: s.scalar(select(Resident).where(Resident.line_user_id == u)) for u in USERS}
        home = Household(association_id=asahi.id, label="Aki's home", han="1班")
        s.add(home)
        s.flush()
        m_aki = Membership(resident_id=r[AKI].id, association_id=asahi.id, role="member", household_id=home.id)
        m_ben = Membership(resident_id=r[BEN].id, association_id=minato.id, role="member")
        ev_all = Event(title="Park clean-up", place="Minato park", starts_at=now + timedelta(days=3), created_at=now)
        ev_asahi = Event(title="あさひ餅つき", place="あさひ公民館", starts_at=now + timedelta(days=5), audience="association",
                         association_id=asahi.id, organizer=asahi.name, created_at=now)
        matched = HelpRequest(requester_id=r[AKI].id, category="shopping", description="Rice from the shop",
                              area_id=r[AKI].area_id, status="open", created_at=now, closes_at=now + timedelta(days=2))
        reported = HelpRequest(requester_id=r[BEN].id, category="other", description="Buy my old car cheap",
                               area_id=r[BEN].area_id, status="hidden", report_count=2, created_at=now,
                               closes_at=now + timedelta(days=2))
        open_req = HelpRequest(requester_id=r[CHIE].id, category="dog", description="Walk Pochi",
                               area_id=r[CHIE].area_id, status="open", created_at=now, closes_at=now + timedelta(days=2))
        s.add_all([m_aki, m_ben, ev_all, ev_asahi, matched, reported, open_req])
        s.flush()
        offer = HelpOffer(request_id=matched.id, helper_id=r[CHIE].id, status="accepted", created_at=now)
        s.add(offer)
        s.flush()
        matched.status, matched.matched_offer_id = "matched", offer.id
        relay = RelayMessage(request_id=matched.id, sender_id=r[CHIE].id, recipient_id=r[AKI].id,
                             text="Call me on 090-0000-0000", report_count=1, created_at=now)
        dead = OutboxMessage(channel="line", resident_id=r[AKI].id, recipients=[AKI], source="rem",
                             payload=[{"type": "text", "text": "Your reminder: recycling"}], status="dead", attempts=5,
                             last_error=f"400 invalid recipient {AKI}", created_at=now)
        s.add_all([relay, dead])
        s.flush()
        ids = SimpleNamespace(asahi=asahi.id, minato=minato.id, aki=r[AKI].id, ben=r[BEN].id, chie=r[CHIE].id,
                              m_aki=m_aki.id, m_ben=m_ben.id, ev_all=ev_all.id, ev_asahi=ev_asahi.id,
                              matched=matched.id, reported=reported.id, open_req=open_req.id, relay=relay.id,
                              dead=dead.id, tanaka=s.scalar(select(StaffAccount.id).where(StaffAccount.username == "tanaka")),
                              asahi_acct=s.scalar(select(StaffAccount.id).where(StaffAccount.username == "asahi")))
    return SimpleNamespace(app=app, bot=bot, db=bot.db, ids=ids)


# -- who may open what ----------------------------------------------------------------------------

STAFF_ONLY_GET = ["/console/aid", "/console/dead-letters", "/console/audit", "/console/accounts"]
LEADER_GET = ["/console/events", "/console/events?past=1", "/console/events/new", "/console/residents",
              "/console/residents?q=a"]


def assoc_pages(ids) -> list[str]:
    """Pages of あさひ町内会's own event and member."""
    e = ids.ev_asahi
    return [f"/console/events/{e}", f"/console/events/{e}/attendees", f"/console/events/{e}/attendees.csv",
            f"/console/events/{e}.ics", f"/console/residents/{ids.aki}"]


def posts(ids) -> list[tuple[str, dict]]:
    e = ids.ev_asahi
    return [("/console/events/new", {"title": "x", "place": "y", "starts": "2030-01-01T10:00"}),
            (f"/console/events/{e}", {"title": "x", "place": "y", "starts": "2030-01-01T10:00"}),
            (f"/console/events/{e}/cancel", {"confirm": "yes"}),
            (f"/console/aid/requests/{ids.open_req}/close", {}),
            (f"/console/aid/requests/{ids.matched}/hours", {"hours": "1"}),
            (f"/console/residents/memberships/{ids.m_aki}/role", {"role": "han_leader"}),
            (f"/console/dead-letters/{ids.dead}/requeue", {}),
            ("/console/dead-letters/requeue-all", {}),
            ("/console/accounts", {"username": "newbie", "name": "New", "role": "staff", "password": "x" * 12}),
            (f"/console/accounts/{ids.asahi_acct}/active", {"active": "0"}),
            (f"/console/accounts/{ids.asahi_acct}/password", {"password": "y" * 12})]


def test_staff_open_every_page(world):
    c = login(world.app, "tanaka")
    for path in STAFF_ONLY_GET + LEADER_GET + assoc_pages(world.ids) + [
            f"/console/events/{world.ids.ev_all}", f"/console/residents/{world.ids.ben}",
            "/console/audit?action=sign_in&page=3", "/console/residents?area=minato"]:
        assert c.get(path).status_code == 200, path
    nav = text(c.get("/console/events"))
    for label in ("Events", "Mutual aid", "Residents", "Failed messages", "Audit log", "Accounts"):
        assert f">{label}</a>" in nav


def test_leaders_open_their_pages_and_not_staff_ones(world):
    c = login(world.app, "asahi")
    for path in LEADER_GET + assoc_pages(world.ids):
        assert c.get(path).status_code == 200, path
    for path in STAFF_ONLY_GET:
        assert c.get(path).status_code == 403, path
    nav = text(c.get("/console/events"))
    assert ">Events</a>" in nav and ">Residents</a>" in nav and ">Accounts</a>" not in nav
    ids = world.ids
    for path, data in posts(ids)[3:]:  # the staff-only actions
        if "memberships" in path:
            continue
        assert post(c, path, data).status_code == 403, path
    # An event for everyone is the center's, not the association's.
    assert c.get(f"/console/events/{ids.ev_all}").status_code == 403
    assert c.get(f"/console/residents/{ids.ben}").status_code == 403


def test_a_leader_of_another_association_is_refused(world):
    c = login(world.app, "minato")
    for path in assoc_pages(world.ids):
        assert c.get(path).status_code == 403, path
    for path, data in posts(world.ids)[1:3] + [posts(world.ids)[5]]:
        assert post(c, path, data).status_code == 403, path
    with world.db.read() as s:
        ev = s.get(Event, world.ids.ev_asahi)
        assert (ev.title, ev.status) == ("あさひ餅つき", "scheduled")
        assert s.get(Membership, world.ids.m_aki).role == "member"


def test_block_leaders_have_none_of_these_pages(world):
    c = login(world.app, "han1", english=False)
    for path in LEADER_GET + STAFF_ONLY_GET + assoc_pages(world.ids):
        assert c.get(path).status_code == 403, path


def test_signed_out_visitors_are_sent_to_sign_in_and_posts_get_401(world):
    c = world.app.test_client()
    for path in STAFF_ONLY_GET + LEADER_GET + assoc_pages(world.ids):
        r = c.get(path)
        assert r.status_code == 302 and r.location.startswith("/console/login"), path
    token = csrf(c, "/console/login")  # a valid token: the refusal is for being signed out
    for path, data in posts(world.ids):
        assert c.post(path, data={**data, "csrf_token": token}).status_code == 401, path


def test_every_form_needs_its_csrf_token(world):
    c = login(world.app, "tanaka")
    for path, data in posts(world.ids):
        assert c.post(path, data=data).status_code == 400, path
    with world.db.read() as s:
        assert s.get(Event, world.ids.ev_asahi).status == "scheduled"
        assert s.get(OutboxMessage, world.ids.dead).status == "dead"
        assert s.scalar(select(StaffAccount.active).where(StaffAccount.username == "asahi")) is True
        assert s.scalar(select(func.count()).select_from(StaffAccount).where(StaffAccount.username == "newbie")) == 0


# -- events -----------------------------------------------------------------------------------------

def test_staff_create_edit_and_cancel_an_event_and_attendees_are_told(world, fake_line):
    c = login(world.app, "tanaka")
    starts = utcnow() + timedelta(days=10)
    form = {"title": "防災訓練", "starts": local(starts), "ends": local(starts + timedelta(hours=2)), "place": "港町小学校",
            "description": "避難の練習をします", "capacity": "1", "deadline": local(starts - timedelta(days=1)),
            "audience": "all", "tr_en_title": "Disaster drill", "tr_en_place": "Minato school"}
    bad = post(c, "/console/events/new", {**form, "starts": local(utcnow() - timedelta(days=1))}, "/console/events/new")
    assert bad.status_code == 400 and "The start must be in the future." in text(bad)
    r = post(c, "/console/events/new", form, "/console/events/new")
    assert r.status_code == 302
    with world.db.session() as s:
        ev = s.scalar(select(Event).where(Event.title == "防災訓練"))
        assert (ev.capacity, ev.audience, ev.place) == (1, "all", "港町小学校")
        assert ev.translations == {"en": {"title": "Disaster drill", "place": "Minato school"}}
        assert local(ev.starts_at) == local(starts) and local(ev.signup_deadline) == form["deadline"]
        event_id = ev.id
        aki, ben = (s.scalar(select(Resident).where(Resident.line_user_id == u)) for u in (AKI, BEN))
        assert not ev_domain.sign_up(s, event_id, aki, party_size=1, note=None, now=utcnow()).waitlisted
        assert ev_domain.sign_up(s, event_id, ben, party_size=1, note=None, now=utcnow(), waitlist_ok=True).waitlisted
    assert r.location.endswith(f"/console/events/{event_id}")
    page = text(c.get("/console/events"))
    assert "防災訓練" in page and "1 people" in page and "1 waiting" in page and "Everyone" in page
    # A new place: Aki (English) and Ben (Japanese, wait-list) are told; the English place that
    # was not updated is dropped, so no one is told the old place.
    edit_page = f"/console/events/{event_id}"
    r = post(c, edit_page, {**form, "place": "港町公民館", "capacity": "1"}, edit_page)
    assert r.status_code == 302
    assert "2 people (attendees and wait-list) will be told" in text(c.get(r.location))
    run_worker(world.bot)
    assert "has changed" in fake_line.texts_to(AKI)[-1] and "港町公民館" in fake_line.texts_to(AKI)[-1]
    assert "Minato school" not in fake_line.texts_to(AKI)[-1]
    assert "内容が変わりました" in fake_line.texts_to(BEN)[-1] and "港町公民館" in fake_line.texts_to(BEN)[-1]
    # Saving without a change tells no one.
    sent = len(fake_line.deliveries)
    with world.db.read() as s:
        saved = s.get(Event, event_id)
        same = {**form, "place": saved.place, "tr_en_place": ""}
    post(c, edit_page, same, edit_page)
    run_worker(world.bot)
    assert len(fake_line.deliveries) == sent
    # More seats: Ben moves up from the wait-list and is told.
    post(c, edit_page, {**same, "capacity": "5"}, edit_page)
    run_worker(world.bot)
    assert "空きが出た" in fake_line.texts_to(BEN)[-1]
    with world.db.read() as s:
        assert {sg.resident.line_user_id: sg.status for sg in s.scalars(
            select(Signup).where(Signup.event_id == event_id)).unique()} == {AKI: "going", BEN: "going"}
    # Cancelling needs the box ticked; then both are told.
    r = post(c, f"{edit_page}/cancel", {}, edit_page)
    assert "Tick the box" in text(c.get(r.location))
    with world.db.read() as s:
        assert s.get(Event, event_id).status == "scheduled"
    r = post(c, f"{edit_page}/cancel", {"confirm": "yes"}, edit_page)
    assert "2 people will be told" in text(c.get(r.location))
    run_worker(world.bot)
    assert "has been cancelled" in fake_line.texts_to(AKI)[-1]
    assert "中止になりました" in fake_line.texts_to(BEN)[-1]
    with world.db.read() as s:
        assert s.get(Event, event_id).status == "cancelled"
    assert post(c, edit_page, form, edit_page).status_code == 302  # a cancelled event stays as it is
    with world.db.read() as s:
        assert s.get(Event, event_id).place == "港町公民館"
    for action in ("create_event", "update_event", "cancel_event"):
        assert audits(world.db, action) and audits(world.db, action)[-1].target == f"event:{event_id}"
    assert audits(world.db, "update_event")[0].detail["told"] == 2
    assert audits(world.db, "cancel_event")[0].detail["told"] == 2


def test_staff_choose_areas_or_an_association(world):
    c = login(world.app, "tanaka")
    starts = local(utcnow() + timedelta(days=4))
    base = {"title": "Area walk", "starts": starts, "place": "Park"}
    r = post(c, "/console/events/new", {**base, "audience": "areas"}, "/console/events/new")
    assert r.status_code == 400 and "Choose at least one area." in text(r)
    r = post(c, "/console/events/new", {**base, "audience": "areas", "areas": ["minato", "kawabe", "nowhere"]},
             "/console/events/new")
    assert r.status_code == 302
    r = post(c, "/console/events/new", {**base, "title": "Members only", "audience": "association",
                                        "association_id": str(world.ids.minato)}, "/console/events/new")
    assert r.status_code == 302
    with world.db.read() as s:
        areas = s.scalar(select(Event).where(Event.title == "Area walk"))
        assoc = s.scalar(select(Event).where(Event.title == "Members only"))
        assert (areas.audience, areas.audience_areas) == ("areas", ["minato", "kawabe"])
        assert (assoc.audience, assoc.association_id, assoc.organizer) == ("association", world.ids.minato, "みなと自治会")
    page = text(c.get("/console/events"))
    assert "Areas: Kawabe-cho, Minato-machi" in page and "Members of みなと自治会" in page


def test_a_leader_manages_only_their_associations_events(world):
    c = login(world.app, "asahi")
    starts = local(utcnow() + timedelta(days=6))
    form = {"title": "あさひ夏祭り", "starts": starts, "place": "あさひ公園", "audience": "all",
            "association_id": str(world.ids.asahi)}
    assert post(c, "/console/events/new", form, "/console/events/new").status_code == 302
    r = post(c, "/console/events/new", {**form, "title": "よその行事", "association_id": str(world.ids.minato)},
             "/console/events/new")
    assert r.status_code == 400 and "Choose the association." in text(r)
    with world.db.read() as s:
        ev = s.scalar(select(Event).where(Event.title == "あさひ夏祭り"))
        assert (ev.audience, ev.association_id, ev.organizer) == ("association", world.ids.asahi, "あさひ町内会")
        event_id = ev.id
        assert s.scalar(select(Event).where(Event.title == "よその行事")) is None
    page = text(c.get("/console/events"))
    assert "あさひ夏祭り" in page and "あさひ餅つき" in page and "Park clean-up" not in page
    other = text(login(world.app, "minato").get("/console/events"))
    assert "あさひ夏祭り" not in other and "あさひ餅つき" not in other
    edit = f"/console/events/{event_id}"
    r = post(c, edit, {**form, "place": "あさひ小学校", "ends": local(utcnow() + timedelta(days=1))}, edit)
    assert r.status_code == 400 and "The end must be after the start." in text(r) and 'value="あさひ小学校"' in text(r)
    r = post(c, edit, {**form, "place": "あさひ小学校"}, edit)
    assert r.status_code == 302
    assert c.get("/console/events/99999").status_code == 404
    with world.db.read() as s:
        assert s.get(Event, event_id).place == "あさひ小学校"


def test_attendees_page_csv_with_bom_and_ics(world):
    c = login(world.app, "asahi")
    starts = utcnow() + timedelta(days=8)
    form = {"title": "芋煮会", "starts": local(starts), "ends": local(starts + timedelta(hours=3)), "place": "河川敷",
            "capacity": "3", "ask_party_size": "1", "note_question": "Any allergies?", "association_id": str(world.ids.asahi)}
    r = post(c, "/console/events/new", form, "/console/events/new")
    event_id = int(r.location.rsplit("/", 1)[1])
    with world.db.session() as s:
        aki = s.scalar(select(Resident).where(Resident.line_user_id == AKI))
        aki.nickname = "=Aki"  # a nickname a spreadsheet would run as a formula
        ev_domain.sign_up(s, event_id, aki, party_size=2, note="卵, peanuts", now=utcnow())
        chie = s.scalar(select(Resident).where(Resident.line_user_id == CHIE))
        s.add(Membership(resident_id=chie.id, association_id=world.ids.asahi, role="member"))
        s.flush()
        ev_domain.sign_up(s, event_id, chie, party_size=2, note=None, now=utcnow(), waitlist_ok=True)
    page = text(c.get(f"/console/events/{event_id}/attendees"))
    assert "=Aki" in page and "卵, peanuts" in page and "Any allergies?" in page
    assert "Going: 2 people" in page and "On the wait-list: 2 people" in page
    assert AKI not in page and CHIE not in page
    r = c.get(f"/console/events/{event_id}/attendees.csv")
    assert r.status_code == 200 and r.headers.getlist("Content-Type") == ["text/csv; charset=utf-8"]
    assert "attachment" in r.headers["Content-Disposition"] and r.headers["Cache-Control"] == "no-store"
    assert r.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows == [["Nickname", "People", "Status", "Answer"], ["'=Aki", "2", "Going", "卵, peanuts"],
                    ["Chie", "2", "On the wait-list", ""]]
    r = c.get(f"/console/events/{event_id}.ics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/calendar")
    ics = r.data.decode("utf-8")
    start_utc = starts.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M00Z")
    assert "BEGIN:VEVENT" in ics and "SUMMARY:芋煮会" in ics and "LOCATION:河川敷" in ics
    assert f"DTSTART:{start_utc}" in ics and "STATUS:CONFIRMED" in ics and ics.endswith("\r\n")
    # The other association's leader gets none of it.
    other = login(world.app, "minato")
    for path in (f"/console/events/{event_id}/attendees", f"/console/events/{event_id}/attendees.csv",
                 f"/console/events/{event_id}.ics"):
        assert other.get(path).status_code == 403


# -- mutual aid -------------------------------------------------------------------------------------

def test_staff_see_reports_close_a_request_and_record_hours(world):
    c = login(world.app, "tanaka")
    ids = world.ids
    page = text(c.get("/console/aid"))
    assert "Buy my old car cheap" in page and "Hidden after reports" in page
    assert "Call me on 090-0000-0000" in page and "Rice from the shop" in page and "Walk Pochi" in page
    assert "Helper: Chie" in page and "Shopping" in page
    for user in USERS:
        assert user not in page
    r = post(c, f"/console/aid/requests/{ids.reported}/close", page="/console/aid")
    assert r.status_code == 302 and f"Request {ids.reported} has been closed." in text(c.get(r.location))
    assert "is already finished" in text(c.get(post(c, f"/console/aid/requests/{ids.reported}/close",
                                                    page="/console/aid").location))
    assert "not matched with a helper" in text(c.get(post(c, f"/console/aid/requests/{ids.open_req}/hours",
                                                          {"hours": "1"}, "/console/aid").location))
    assert "a number from 0.5 to 12" in text(c.get(post(c, f"/console/aid/requests/{ids.matched}/hours",
                                                        {"hours": "40"}, "/console/aid").location))
    r = post(c, f"/console/aid/requests/{ids.matched}/hours", {"hours": "1.5"}, "/console/aid")
    assert "Recorded 1.5 hours" in text(c.get(r.location))
    r = post(c, f"/console/aid/requests/{ids.matched}/hours", {"hours": "1"}, "/console/aid")
    assert "already recorded" in text(c.get(r.location))
    with world.db.read() as s:
        assert s.get(HelpRequest, ids.reported).status == "closed"
        assert s.get(HelpRequest, ids.matched).status == "done"
        transfers = list(s.scalars(select(LedgerTransfer)))
        assert [(t.request_id, t.minutes, t.recorded_by) for t in transfers] == [(ids.matched, 90, "staff")]
        assert timebank.balance(s, s.get(Resident, ids.chie)) == 90 and timebank.ledger_total(s) == 0
    assert "1.5 hours recorded" in text(c.get("/console/aid"))
    assert audits(world.db, "close_request")[0].target == f"request:{ids.reported}"
    assert audits(world.db, "record_hours")[0].detail == {"minutes": 90}


# -- residents --------------------------------------------------------------------------------------

def test_residents_search_and_never_show_line_ids(world):
    with world.db.session() as s:
        s.get(Resident, world.ids.chie).area_id = s.scalar(select(Association.area_id).where(
            Association.id == world.ids.asahi))
    c = login(world.app, "tanaka")
    page = text(c.get("/console/residents?q=ki"))
    assert "Aki" in page and "Ben" not in page and "あさひ町内会" in page and "1班" in page
    page = text(c.get("/console/residents?area=asahi-1"))
    assert "Chie" in page and "Aki" not in page
    page = text(c.get("/console/residents"))
    assert all(name in page for name in ("Aki", "Ben", "Chie")) and "日本語" in page and "English" in page
    pages = [page, text(c.get(f"/console/residents/{world.ids.aki}")), text(c.get(f"/console/residents/{world.ids.ben}"))]
    leader = login(world.app, "asahi")
    page = text(leader.get("/console/residents"))
    assert "Aki" in page and "Ben" not in page and "Chie" not in page
    pages += [page, text(leader.get(f"/console/residents/{world.ids.aki}"))]
    for html in pages:
        for user in USERS:
            assert user not in html


def test_staff_and_leaders_change_member_roles_within_their_limits(world):
    ids = world.ids
    staff = login(world.app, "tanaka")
    page = f"/console/residents/{ids.ben}"
    r = post(staff, f"/console/residents/memberships/{ids.m_ben}/role", {"role": "leader"}, page)
    assert r.status_code == 302 and r.location.endswith(page)
    leader = login(world.app, "asahi")
    page = f"/console/residents/{ids.aki}"
    assert post(leader, f"/console/residents/memberships/{ids.m_aki}/role", {"role": "leader"}, page).status_code == 403
    assert post(leader, f"/console/residents/memberships/{ids.m_ben}/role", {"role": "member"}, page).status_code == 403
    r = post(leader, f"/console/residents/memberships/{ids.m_aki}/role", {"role": "han_leader"}, page)
    assert r.status_code == 302 and "Block leader" in text(leader.get(r.location))
    assert post(leader, f"/console/residents/memberships/{ids.m_aki}/role", {"role": "boss"}, page).status_code == 400
    with world.db.read() as s:
        assert s.get(Membership, ids.m_ben).role == "leader"
        assert s.get(Membership, ids.m_aki).role == "han_leader"
    entries = audits(world.db, "set_member_role")
    assert [(e.target, e.detail["role"], e.detail["was"]) for e in entries] == [
        (f"membership:{ids.m_ben}", "leader", "member"), (f"membership:{ids.m_aki}", "han_leader", "member")]
    assert entries[1].actor == f"staff:{ids.asahi_acct}"
    # A leader's membership is not the other leader's to change.
    with world.db.session() as s:
        s.get(Membership, ids.m_aki).role = "leader"
    assert post(leader, f"/console/residents/memberships/{ids.m_aki}/role", {"role": "member"}, page).status_code == 403


# -- failed messages ----------------------------------------------------------------------------------

def test_failed_messages_are_listed_without_ids_and_sent_again(world, fake_line):
    c = login(world.app, "tanaka")
    page = text(c.get("/console/dead-letters"))
    assert f">{world.ids.dead}<" in page and "1 people" in page and "rem" in page and "400 invalid recipient" in page
    assert AKI not in page and "Your reminder" not in page
    r = post(c, f"/console/dead-letters/{world.ids.dead}/requeue", page="/console/dead-letters")
    assert r.status_code == 302
    with world.db.read() as s:
        assert s.get(OutboxMessage, world.ids.dead).status == "pending"
    run_worker(world.bot)
    assert "Your reminder: recycling" in fake_line.texts_to(AKI)
    assert "no longer among the failed" in text(c.get(post(c, f"/console/dead-letters/{world.ids.dead}/requeue",
                                                            page="/console/dead-letters").location))
    with world.db.session() as s:
        for n in range(3):
            s.add(OutboxMessage(channel="line", recipients=[BEN, CHIE], payload=[{"type": "text", "text": f"n{n}"}],
                                status="dead", attempts=5, last_error="500 server", created_at=utcnow()))
    assert "2 people" in text(c.get("/console/dead-letters"))
    r = post(c, "/console/dead-letters/requeue-all", page="/console/dead-letters")
    assert "3 messages will be sent again" in text(c.get(r.location))
    with world.db.read() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "dead")) == 0
    assert audits(world.db, "requeue_message")[0].target == f"outbox:{world.ids.dead}"
    assert audits(world.db, "requeue_all_messages")[0].detail == {"count": 3}
    assert "No failed messages" in text(c.get("/console/dead-letters"))


# -- audit log ----------------------------------------------------------------------------------------

def test_audit_log_filters_and_pages(world):
    with world.db.session() as s:
        for n in range(60):
            s.add(AuditEntry(actor=f"staff:{world.ids.asahi_acct}", action="test_action", target=f"thing:{n}",
                             detail={"n": n}, at=utcnow() + timedelta(seconds=n)))
    c = login(world.app, "tanaka")  # one more entry: signing in
    page = text(c.get("/console/audit"))
    assert "61 entries" in page and page.count('<td title="test_action">test_action</td>') == 50 and "Page 1 of 2" in page
    assert "<td>thing:59</td>" in page and "n: 59" in page and "<td>thing:9</td>" not in page
    assert "asahi (asahi)" in page  # the person, by name
    page = text(c.get("/console/audit?action=test_action&page=2"))
    assert "60 entries" in page and page.count('<td title="test_action">test_action</td>') == 10 and "<td>thing:0</td>" in page
    assert "Page 2 of 2" in page
    page = text(c.get(f"/console/audit?actor=staff:{world.ids.tanaka}"))
    table = page[page.index("</form>", page.index('class="card filter"')):]
    assert "1 entries" in table and '<td title="sign_in">Signed in</td>' in table and "test_action" not in table


# -- accounts -----------------------------------------------------------------------------------------

def test_accounts_created_disabled_enabled_and_given_a_new_password(world):
    c = login(world.app, "tanaka")
    form = {"username": "suzuki", "name": "Suzuki", "role": "leader", "association_id": str(world.ids.minato),
            "han": "", "locale": "en", "password": "short"}
    r = post(c, "/console/accounts", form, "/console/accounts")
    assert r.status_code == 400 and "at least 10 characters" in text(r)
    r = post(c, "/console/accounts", {**form, "password": "a long first password", "association_id": ""},
             "/console/accounts")
    assert r.status_code == 400 and "needs their association" in text(r)
    r = post(c, "/console/accounts", {**form, "password": "a long first password"}, "/console/accounts")
    assert r.status_code == 302
    assert post(c, "/console/accounts", {**form, "password": "a long first password"},
                "/console/accounts").status_code == 400  # taken
    page = text(c.get("/console/accounts"))
    assert "suzuki" in page and "みなと自治会" in page and "Never" in page
    assert "scrypt:" not in page and "a long first password" not in page
    with world.db.read() as s:
        acct = s.scalar(select(StaffAccount).where(StaffAccount.username == "suzuki"))
        assert (acct.role, acct.association_id, acct.locale, acct.han) == ("leader", world.ids.minato, "en", None)
        account_id = acct.id
    suzuki = world.app.test_client()
    assert sign_in(suzuki, "suzuki", "a long first password").status_code == 302
    assert suzuki.get("/console/events").status_code == 200
    # Disabled: the session ends and signing in fails.
    r = post(c, f"/console/accounts/{account_id}/active", {"active": "0"}, "/console/accounts")
    assert "is disabled" in text(c.get(r.location))
    assert suzuki.get("/console/events").status_code == 302
    assert sign_in(world.app.test_client(), "suzuki", "a long first password").status_code == 401
    post(c, f"/console/accounts/{account_id}/active", {"active": "1"}, "/console/accounts")
    assert sign_in(world.app.test_client(), "suzuki", "a long first password").status_code == 302
    # A new password typed by staff: the old one stops working.
    r = post(c, f"/console/accounts/{account_id}/password", {"password": "too short"}, "/console/accounts")
    assert "at least 10 characters" in text(c.get(r.location))
    r = post(c, f"/console/accounts/{account_id}/password", {"password": "brand new password"}, "/console/accounts")
    assert "has been changed" in text(c.get(r.location))
    assert sign_in(world.app.test_client(), "suzuki", "a long first password").status_code == 401
    assert sign_in(world.app.test_client(), "suzuki", "brand new password").status_code == 302
    # Staff cannot lock themselves out.
    r = post(c, f"/console/accounts/{world.ids.tanaka}/active", {"active": "0"}, "/console/accounts")
    assert "cannot disable your own account" in text(c.get(r.location))
    # A block leader needs a block.
    r = post(c, "/console/accounts", {**form, "username": "sato", "role": "han_leader", "password": "x" * 12},
             "/console/accounts")
    assert r.status_code == 400 and "needs their block" in text(r)
    for action, n in (("create_account", 1), ("disable_account", 1), ("enable_account", 1), ("reset_password", 1)):
        entries = audits(world.db, action)
        assert len(entries) == n and entries[0].target == "account:suzuki", action
        assert "password" not in str(entries[0].detail)
    with world.db.read() as s:
        assert s.scalar(select(StaffAccount.active).where(StaffAccount.id == world.ids.tanaka)) is True


def test_an_event_form_opened_before_someone_else_saved_saves_nothing(world):
    """Two staff open the same event; the first saves; the second's form was drawn for the
    event before that change, so saving it changes nothing and says why."""
    first, second = login(world.app, "tanaka"), login(world.app, "tanaka")
    edit = f"/console/events/{world.ids.ev_all}"
    stale = dict(re.findall(r'name="(csrf_token|version)" value="([^"]*)"', text(second.get(edit))))
    with world.db.read() as s:
        ev = s.get(Event, world.ids.ev_all)
        form = {"title": ev.title, "starts": local(ev.starts_at), "audience": "all"}
    assert post(first, edit, {**form, "place": "Minato hall"}, edit).status_code == 302
    r = second.post(edit, data={**stale, **form, "place": "Somewhere else"})
    assert r.status_code == 302
    assert "Someone changed this event after you opened the form" in text(second.get(r.location))
    with world.db.read() as s:
        assert s.get(Event, world.ids.ev_all).place == "Minato hall"
    # without the version the form was drawn for, nothing is saved either
    r = second.post(edit, data={"csrf_token": stale["csrf_token"], **form, "place": "Elsewhere"})
    with world.db.read() as s:
        assert s.get(Event, world.ids.ev_all).place == "Minato hall"


def test_an_event_is_translated_into_any_language_and_the_form_names_the_missing_ones(world, joined, fake_line):
    """The event form takes a translation per language (title, place, description, the
    question to attendees) and says which languages have none. A Vietnamese resident reads the
    Vietnamese; an English one, with no English translation, gets the Japanese with a note and
    the question said to be in Japanese. A translation without a title is refused, and what was
    typed is kept."""
    from tests import support

    vi_user = "U" + "d4" * 16
    joined(vi_user, name="Lan", locale_label="Tiếng Việt")
    c = login(world.app, "tanaka")
    page = text(c.get("/console/events/new"))
    for loc in ("en", "vi", "ne", "zh_Hans", "ja_easy"):
        assert f'name="tr_{loc}_title"' in page and f'name="tr_{loc}_note_question"' in page
    assert 'name="tr_ja_title"' not in page
    starts = utcnow() + timedelta(days=10)
    form = {"title": "もちつき大会", "starts": local(starts), "place": "港町公民館", "audience": "all",
            "note_question": "アレルギーはありますか？",
            "tr_vi_title": "Hội giã bánh mochi", "tr_vi_place": "Nhà văn hóa Minato",
            "tr_vi_note_question": "Bạn có bị dị ứng không?"}
    bad = post(c, "/console/events/new", {**form, "tr_ko_place": "미나토 공민관"}, "/console/events/new")
    assert bad.status_code == 400
    assert "한국어: please give the title too" in text(bad) and 'value="미나토 공민관"' in text(bad)
    assert 'value="Hội giã bánh mochi"' in text(bad)
    r = post(c, "/console/events/new", form, "/console/events/new")
    assert r.status_code == 302
    edit = text(c.get(r.location))
    missing = edit.split('id="tr-missing">')[1].split("</p>")[0]
    assert "English" in missing and "Tiếng Việt" not in missing
    with world.db.read() as s:
        ev = s.scalar(select(Event).where(Event.title == "もちつき大会"))
        assert ev.translations == {"vi": {"title": "Hội giã bánh mochi", "place": "Nhà văn hóa Minato",
                                          "note_question": "Bạn có bị dị ứng không?"}}
    line = support.Line(world.app.test_client(), fake_line)
    for user in (vi_user, AKI):
        line.say(user, "sự kiện" if user == vi_user else "events")
        bubble = [m for m in fake_line.messages_to(user) if m["type"] == "flex"][-1]
        shown = str(bubble)
        if user == vi_user:
            assert "Hội giã bánh mochi" in shown and "Nhà văn hóa Minato" in shown and "もちつき" not in shown
        else:
            assert "もちつき大会" in shown  # no English: the Japanese, with a note
        contents = bubble["contents"]
        bubbles = contents["contents"] if contents.get("type") == "carousel" else [contents]
        ours = next(b for b in bubbles if "もちつき大会" in str(b) or "Hội giã bánh mochi" in str(b))
        data = {b["action"]["label"]: b["action"]["data"] for b in ours["footer"]["contents"]}
        line.post([line.postback_event(user, data["Đăng ký" if user == vi_user else "Sign up"])])
    assert line.last_text(vi_user) == "Bạn có bị dị ứng không?"
    assert line.last_text(AKI) == "The organiser asks (in Japanese): アレルギーはありますか？"
