"""The authorization matrix: every LINE action and every console page × every role, each
asserted allowed or refused by its effect (a row written, a conversation started, a page
served), not by the wording of a reply.

Roles: a resident who is a plain member of あさひ町内会; a member of another association; the
班長 of あさひ's 2班; the 会長 of あさひ; center staff (console only: staff have no LINE role); a
visitor who is signed out (console) or has not joined (LINE). The command line is for the
server's operators only (whoever can run `flask --app bot …` can read the database anyway), so
it has no roles of its own."""
from __future__ import annotations

import io

import pytest

from sqlalchemy import func, select

from bot.core.models import (
    Association, Circular, CircularRecipient, Household, ConsoleLink, ConversationState, Membership, OutboxMessage, Resident,
)
from tests import support
from tests.test_circulars import (  # noqa: F401  (fixtures)
    HAN_LEADER, LEADER, MEMBER_JA, OUTSIDER, assoc, run_worker, send,
)

NEWCOMER = "U" + "99" * 16
LINE_ROLES = ("member", "other_association", "han_leader", "leader", "not_joined")
USER_OF = {"member": MEMBER_JA, "other_association": OUTSIDER, "han_leader": HAN_LEADER, "leader": LEADER,
           "not_joined": NEWCOMER}


@pytest.fixture
def world(line, fake_line, bot, db, runner, assoc, clock):
    """あさひ (with a circular to the whole association), OUTSIDER in みなと, NEWCOMER not joined;
    the bot has a public address (for the leaders' console links)."""
    bot.config = bot.config.with_overrides(public_base_url="https://tsunagari.example.jp")
    with db.session() as s:
        minato = s.scalar(select(Association).where(Association.join_code == "MINATO-2026"))
        rid = s.scalar(select(Resident.id).where(Resident.line_user_id == OUTSIDER))
        s.add(Membership(resident_id=rid, association_id=minato.id, role="member"))
    fake_line.profiles[NEWCOMER] = {"displayName": "New", "language": "ja"}
    line.follow(NEWCOMER)
    cid = send(runner)
    run_worker(bot)
    return {"circular": cid, **assoc}


def _rid(db, user):
    with db.session() as s:
        return s.scalar(select(Resident.id).where(Resident.line_user_id == user))


def _flow(db, user):
    with db.session() as s:
        return s.scalar(select(ConversationState.flow).join(Resident, Resident.id == ConversationState.resident_id)
                        .where(Resident.line_user_id == user))


def act_write_circular(line, db, w, user):
    line.say(user, "回覧板を作る")
    return _flow(db, user) == "compose_circular"


def act_roster(line, db, w, user):
    line.say(user, "名簿")
    return _flow(db, user) == "roster"


def act_circular_status(line, db, w, user):
    line.say(user, "回覧板の状況")
    return "清掃のお知らせ" in str(line.fake.messages_to(user)[-1])


def act_console_link(line, db, w, user):
    line.say(user, "管理画面")
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(ConsoleLink).where(ConsoleLink.resident_id == _rid(db, user))) > 0


def act_manage_events(line, db, w, user):
    line.say(user, "イベント管理")
    return "Only association leaders" not in line.last_text(user) and "町内会の役員" not in line.last_text(user) \
        and _flow(db, user) != "onboarding"


def act_read_circular(line, db, w, user):
    line.post([line.postback_event(user, f"a=circ&x=read&c={support.ref_of(db, Circular, w['circular'])}")])
    with db.session() as s:
        return s.scalar(select(CircularRecipient.read_at).where(
            CircularRecipient.circular_id == w["circular"], CircularRecipient.resident_id == _rid(db, user))) is not None


def act_mark_paper(line, db, w, user):
    line.post([line.postback_event(user, f"a=circ&x=pmark&c={support.ref_of(db, Circular, w['circular'])}&h={support.ref_of(db, Household, w['paper'])}")])
    with db.session() as s:
        return s.scalar(select(CircularRecipient.read_at).where(
            CircularRecipient.circular_id == w["circular"], CircularRecipient.household_id == w["paper"],
            CircularRecipient.resident_id.is_(None))) is not None


def act_remind_unread(line, db, w, user):
    with db.session() as s:
        before = s.scalar(select(func.count()).select_from(OutboxMessage)) or 0
    line.post([line.postback_event(user, f"a=circ&x=remind&c={support.ref_of(db, Circular, w['circular'])}")])
    with db.session() as s:
        reminded = s.scalar(select(Circular.last_reminded_on).where(Circular.id == w["circular"])) is not None
        return reminded and (s.scalar(select(func.count()).select_from(OutboxMessage)) or 0) > before


def act_start_safety_check(line, db, w, user):
    line.say(user, "安否確認を始める")
    return _flow(db, user) == "safety_start"


def act_safety_status(line, db, w, user):
    from bot.core.models import SafetyCheck
    from bot.services import safety

    with db.session() as s:
        if s.scalar(select(func.count()).select_from(SafetyCheck)) == 0:
            asahi = s.scalar(select(Association.id).where(Association.join_code == "ASAHI-2026"))
            safety.start(s, {"association": asahi}, safety_now())
    line.say(user, "安否状況")
    return line.last_text(user).startswith("世帯：")


def act_shelters(line, db, w, user):
    line.say(user, "避難所")
    line.say(user, "shelters")
    return "119" in line.last_text(user)  # "no shelter is open now … call 119" (none is open in this world)


def safety_now():
    from bot.core.db import utcnow

    return utcnow()


LINE_MATRIX = {
    "start_safety_check": (act_start_safety_check, {"leader"}),
    "safety_status": (act_safety_status, {"leader", "han_leader"}),
    "shelters": (act_shelters, {"member", "other_association", "han_leader", "leader"}),
    "write_circular": (act_write_circular, {"leader"}),
    "roster": (act_roster, {"leader"}),
    "circular_status": (act_circular_status, {"leader", "han_leader"}),
    "console_link": (act_console_link, {"leader", "han_leader"}),
    "manage_events": (act_manage_events, {"leader"}),
    "read_circular": (act_read_circular, {"member", "han_leader", "leader"}),
    "mark_paper_household": (act_mark_paper, {"leader", "han_leader"}),  # the paper household is in 2班
    "remind_unread": (act_remind_unread, {"leader"}),
}


@pytest.mark.parametrize("role", LINE_ROLES)
@pytest.mark.parametrize("action", list(LINE_MATRIX))
def test_line_action_allowed_or_refused(action, role, line, db, world):
    perform, allowed = LINE_MATRIX[action]
    assert perform(line, db, world, USER_OF[role]) == (role in allowed), f"{action} by {role}"


# -- the console -----------------------------------------------------------------------------
# Who may use each console endpoint (on objects of あさひ町内会, whose 2班 the 班長 leads).
# "other_leader" leads みなと自治会. Pages about other associations' objects are refused.

STAFF, LEADER_, HAN, OTHER = "staff", "leader", "han_leader", "other_leader"
ALL_ROLES = (STAFF, LEADER_, HAN, OTHER)
CONSOLE_MATRIX: dict[str, tuple[str, set[str]]] = {
    # endpoint: (method, roles allowed)
    "console.dashboard": ("GET", {STAFF, LEADER_, HAN, OTHER}),
    "console.accounts": ("GET", {STAFF}),
    "console.account_create": ("POST", {STAFF}),
    "console.account_active": ("POST", {STAFF}),
    "console.account_password": ("POST", {STAFF}),
    "console.aid": ("GET", {STAFF}),
    "console.aid_close": ("POST", {STAFF}),
    "console.aid_hours": ("POST", {STAFF}),
    "console.announcements": ("GET", {STAFF}),
    "console.announcement_cancel": ("POST", {STAFF}),
    "console.announcement_confirm": ("POST", {STAFF}),
    "console.announcement_count": ("GET", {STAFF}),
    "console.announcement_new": ("GET", {STAFF}),
    "console.announcement_preview": ("POST", {STAFF}),
    "console.audit_log": ("GET", {STAFF}),
    "console.circulars": ("GET", {STAFF, LEADER_, HAN, OTHER}),  # each sees their own list
    "console.circular": ("GET", {STAFF, LEADER_, HAN}),
    "console.circular_csv": ("GET", {STAFF, LEADER_, HAN}),
    "console.circular_paper": ("POST", {STAFF, LEADER_, HAN}),
    "console.circular_paper_unmark": ("POST", {STAFF, LEADER_, HAN}),  # the paper household is in 2班
    "console.circular_print": ("GET", {STAFF, LEADER_, HAN}),
    "console.circular_remind": ("POST", {STAFF, LEADER_}),
    "console.circular_new": ("GET", {STAFF, LEADER_, OTHER}),  # a leader composes for their own
    "console.circular_roster": ("GET", {STAFF, LEADER_, OTHER}),
    "console.circular_roster_post": ("POST", {STAFF, LEADER_, OTHER}),
    "console.dead_letters": ("GET", {STAFF}),
    "console.dead_letter_requeue": ("POST", {STAFF}),
    "console.dead_letters_requeue_all": ("POST", {STAFF}),
    "console.events": ("GET", {STAFF, LEADER_, OTHER}),
    "console.figure_csv": ("GET", {STAFF, LEADER_, OTHER}),  # the circulars figure: a leader gets their own
    "console.report": ("GET", {STAFF}),
    "console.report_pdf": ("GET", {STAFF}),
    "console.event_edit": ("GET", {STAFF, LEADER_}),
    "console.event_update": ("POST", {STAFF, LEADER_}),
    "console.event_ics": ("GET", {STAFF, LEADER_}),
    "console.event_attendees": ("GET", {STAFF, LEADER_}),
    "console.event_attendees_csv": ("GET", {STAFF, LEADER_}),
    "console.event_cancel": ("POST", {STAFF, LEADER_}),
    "console.event_new": ("GET", {STAFF, LEADER_, OTHER}),
    "console.event_create": ("POST", {STAFF, LEADER_, OTHER}),
    "console.residents": ("GET", {STAFF, LEADER_, OTHER}),
    "console.resident": ("GET", {STAFF, LEADER_}),  # a member of あさひ
    "console.resident_role": ("POST", {STAFF, LEADER_}),
    "console.safety_checks": ("GET", {STAFF, LEADER_, HAN, OTHER}),  # each sees the checks that asked theirs
    "console.safety_new": ("POST", {STAFF}),
    "console.safety_check": ("GET", {STAFF, LEADER_, HAN}),  # a check of あさひ's members
    "console.safety_csv": ("GET", {STAFF, LEADER_, HAN}),
    "console.safety_visits": ("GET", {STAFF, LEADER_, HAN}),
    "console.safety_mark": ("POST", {STAFF, LEADER_, HAN}),  # the paper household is in 2班
    "console.safety_end": ("POST", {STAFF}),
    "console.shelters_page": ("GET", {STAFF}),
    "console.shelter_set": ("POST", {STAFF}),
    "console.safety_prepared_start": ("POST", {STAFF}),  # a check prepared from the JMA's feeds
    "console.safety_prepared_dismiss": ("POST", {STAFF}),
}
PUBLIC = {"console.login", "console.login_post", "console.link", "console.link_post", "console.logout", "console.language"}


@pytest.fixture(scope="module")
def console_world(tmp_path_factory):
    """One app and database for the whole console matrix (read-mostly; POSTs without a valid
    body change nothing), with an object of あさひ for every endpoint that takes an id."""
    from datetime import timedelta

    from bot import create_app
    from bot.core.areas import load_city
    from bot.core.config import ROOT, Config
    from bot.core.db import Base, utcnow
    from bot.core.models import (
        Announcement, Event, HelpRequest, Household, StaffAccount,
    )
    from tests.console_support import PASSWORD

    url = f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'm.db'}"
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    from tests.conftest import TEST_SECRET_KEY

    app = create_app(Config(database_url=url, secret_key=TEST_SECRET_KEY, public_base_url="https://x.example.jp",
                            resident_events_per_minute=0))
    app.config["TESTING"] = True
    db = app.extensions["tsunagari"].db
    with db.session() as s:
        load_city(s, ROOT / "data" / "cities" / "demo.json")
    runner = app.test_cli_runner()
    for args in (["staff", "create", "staff1", "--role", "staff"],
                 ["staff", "create", "asahi", "--role", "leader", "--association", "ASAHI-2026"],
                 ["staff", "create", "han2", "--role", "han_leader", "--association", "ASAHI-2026", "--han", "2班"],
                 ["staff", "create", "minato", "--role", "leader", "--association", "MINATO-2026"],
                 ["staff", "create", "spare", "--role", "staff"]):  # the account the account pages act on
        assert runner.invoke(args=[*args, "--password", PASSWORD]).exit_code == 0
    now = utcnow()
    with db.session() as s:
        asahi = s.scalar(select(Association).where(Association.join_code == "ASAHI-2026"))
        r = Resident(line_user_id="U" + "7a" * 16, channel="line", nickname="会員", locale="ja", following=True,
                     consent_at=now)
        s.add(r)
        s.flush()
        hh = Household(association_id=asahi.id, label="5番", han="2班", paper=True)
        s.add(hh)
        s.flush()
        m = Membership(resident_id=r.id, association_id=asahi.id, role="member")
        s.add(m)
        circ = Circular(association_id=asahi.id, title="t", body="b", created_at=now)
        s.add(circ)
        s.flush()
        from bot import services
        from bot.services import circulars
        services.apply(s, circulars.send(s, circ, app.extensions["tsunagari"].config, now), "test")
        ev = Event(title="e", place="p", starts_at=now + timedelta(days=3), audience="association",
                   association_id=asahi.id, created_at=now)
        ann = Announcement(text="x", audience={"all": True}, status="scheduled", next_fire_at=now + timedelta(days=1))
        req = HelpRequest(requester_id=r.id, category="garbage", description="d", status="open",
                          closes_at=now + timedelta(days=3), created_at=now)
        dead = OutboxMessage(channel="line", recipients=[], payload=[], status="dead")
        s.add_all([ev, ann, req, dead])
        s.flush()
        from bot.services import safety
        check, outcome = safety.start(s, {"association": asahi.id}, now)
        services.apply(s, outcome, "test")
        from bot.core.models import PreparedCheck, Shelter
        shelter = Shelter(common_id="E0000000000001", name="避難所", address="", hazards=0, names={}, is_open=False,
                          created_at=now)
        prepared = PreparedCheck(event_key="eq:test", event={"kind": "quake", "max_int": "5-", "places": ["x"]},
                                 scope={"all": True}, created_at=now)
        s.add_all([shelter, prepared])
        s.flush()
        ids = {"shelter_id": shelter.id, "check_id": check.id, "prepared_id": prepared.id, "circular_id": circ.id, "household_id": hh.id, "event_id": ev.id, "announcement_id": ann.id,
               "request_id": req.id, "row_id": dead.id, "resident_id": r.id, "membership_id": m.id,
               "account_id": s.scalar(select(StaffAccount.id).where(StaffAccount.username == "spare")),
               "name": "circulars", "year": 2026, "month": 1}
    return app, ids


_SIGNED_IN: dict = {}


def _client(app, role):
    """A client signed out, or signed in as `role`: one sign-in per role and app (each costs a
    scrypt check), kept for the module's tests, which change nothing."""
    from tests.console_support import sign_in

    if role is None:
        return app.test_client()
    key = (id(app), role)
    if key not in _SIGNED_IN:
        c = app.test_client()
        user = {STAFF: "staff1", LEADER_: "asahi", HAN: "han2", OTHER: "minato"}[role]
        assert sign_in(c, user).status_code == 302
        _SIGNED_IN[key] = c
    return _SIGNED_IN[key]


def _url(app, endpoint, ids):
    from flask import url_for

    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with app.test_request_context():
        return url_for(endpoint, **{k: ids[k] for k in rule.arguments})


def test_the_matrix_covers_every_console_endpoint(console_world):
    app, _ = console_world
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("console.")}
    assert endpoints - PUBLIC == set(CONSOLE_MATRIX), "add the new page to CONSOLE_MATRIX"


@pytest.mark.parametrize("endpoint", sorted(CONSOLE_MATRIX))
def test_console_endpoint_allowed_or_refused_for_every_role(endpoint, console_world):
    import re

    app, ids = console_world
    method, allowed = CONSOLE_MATRIX[endpoint]
    url = _url(app, endpoint, ids)
    # Signed out: the sign-in page for a GET, 401 for a POST (before its form is read: also
    # without a CSRF token, and with a large upload).
    anon = _client(app, None)
    if method == "GET":
        r = anon.get(url)
        assert r.status_code == 302 and "/console/login" in r.location, (endpoint, r.status_code)
    else:
        token = re.search(r'name="csrf_token" value="([^"]+)"', anon.get("/console/login").get_data(as_text=True)).group(1)
        assert anon.post(url, data={"csrf_token": token}).status_code == 401, endpoint
        assert anon.post(url, data={}).status_code == 401, endpoint
        upload = {"photo": (io.BytesIO(b"\xff" * (2 * 1024 * 1024)), "a.jpg")}
        assert anon.post(url, data=upload, content_type="multipart/form-data").status_code == 401, endpoint
    for role in ALL_ROLES:
        c = _client(app, role)
        if method == "GET":
            status = c.get(url).status_code
        else:
            assert c.post(url, data={}).status_code == 400, (endpoint, role, "a POST without its CSRF token")
            token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/console/").get_data(as_text=True)).group(1)
            status = c.post(url, data={"csrf_token": token}).status_code
        if role in allowed:
            assert status not in (401, 403), (endpoint, role, status)
        else:
            assert status == 403, (endpoint, role, status)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_a_copy_of_a_signed_out_cookie_reaches_no_console_endpoint(role, console_world):
    """Signing out ends the session on the server: a copy of its cookie (taken before) is
    treated as signed out everywhere."""
    import re

    app, ids = console_world
    c = _client(app, role)
    copy = app.test_client()
    copy.set_cookie("session", c.get_cookie("session").value)
    assert copy.get("/console/").status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/console/").get_data(as_text=True)).group(1)
    assert c.post("/console/logout", data={"csrf_token": token}).status_code == 302
    for endpoint, (method, _) in CONSOLE_MATRIX.items():
        url = _url(app, endpoint, ids)
        if method == "GET":
            r = copy.get(url)
            assert r.status_code == 302 and "/console/login" in r.location, (endpoint, role, r.status_code)
        else:
            assert copy.post(url, data={"csrf_token": token}).status_code == 401, (endpoint, role)
