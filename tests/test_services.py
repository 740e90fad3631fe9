"""The feature services called directly, with a session and no HTTP: what each step changes and
whom it tells, in whose language (bot.services.aid, bot.services.events)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.core.config import Config
from bot.core.models import Area, Event, Resident
from bot.core.replies import Card, Text
from bot.core.vocab import OfferStatus, RequestStatus
from bot.services import aid, events, mutual_aid

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
CONFIG = Config()


@pytest.fixture
def people(db):
    session = db.Session()
    session.begin()
    area = session.scalar(select(Area).where(Area.code == "minato"))  # the demo city's
    made = {}
    for key, locale, nick in (("asker", "ja", "はなこ"), ("helper", "en", "Hiro"), ("other", "vi", "Lan")):
        r = Resident(line_user_id=f"U{key:0>32}"[:33], locale=locale, nickname=nick, area_id=area.id, consent_at=NOW)
        session.add(r)
        made[key] = r
    session.flush()
    yield session, made
    session.rollback()
    session.close()


def _request(session, asker):
    return mutual_aid.create_request(session, asker, category="dog", description="犬の散歩をお願いしたいです",
                                     when_at=None, anonymous=False, now=NOW)


def test_an_offer_tells_the_asker_in_their_language_and_names_the_helper(people):
    session, p = people
    req = _request(session, p["asker"])
    made, out = aid.offer(session, p["helper"], req.id, "I can come at 9", CONFIG, NOW)
    assert made.status == OfferStatus.PENDING
    [notice] = out.notices
    assert notice.resident is p["asker"] and notice.about is p["helper"]
    [card] = notice.replies
    assert isinstance(card, Card) and "Hiro" in card.body and "I can come at 9" in card.body
    assert card.title == "手伝えるご近所さんがいます！" or "ご近所" in card.title


def test_accepting_one_offer_matches_it_and_tells_every_helper_once(people):
    session, p = people
    req = _request(session, p["asker"])
    first, _ = aid.offer(session, p["helper"], req.id, None, CONFIG, NOW)
    aid.offer(session, p["other"], req.id, None, CONFIG, NOW)
    match, out = aid.accept(session, p["asker"], first.id, CONFIG, NOW)
    assert match.request.status == RequestStatus.MATCHED
    told = {n.resident.nickname: n for n in out.notices}
    assert set(told) == {"Hiro", "Lan"}
    assert isinstance(told["Hiro"].replies[0], Card) and "はなこ" in told["Hiro"].replies[0].body
    assert isinstance(told["Lan"].replies[0], Text) and "Cảm ơn" in told["Lan"].replies[0].text  # Vietnamese
    with pytest.raises(mutual_aid.AidError):
        aid.accept(session, p["asker"], first.id, CONFIG, NOW)  # twice: refused, nobody told again


def test_cancelling_tells_the_helpers_with_the_reason(people):
    session, p = people
    req = _request(session, p["asker"])
    aid.offer(session, p["helper"], req.id, None, CONFIG, NOW)
    out = aid.cancel(session, p["asker"], req.id, NOW, why=aid.DID_NOT_HAPPEN)
    [notice] = out.notices
    assert notice.resident is p["helper"] and "did not work out" in notice.replies[0].text
    assert out.audit == [] and req.status == RequestStatus.CANCELLED


def test_a_new_place_tells_only_who_is_coming_and_drops_the_stale_translated_place(people):
    session, p = people
    ev = Event(title="餅つき", place="公民館", starts_at=NOW + timedelta(days=5), created_at=NOW,
               translations={"en": {"title": "Mochi", "place": "Community hall"}})
    session.add(ev)
    session.flush()
    events.sign_up(session, ev.id, p["helper"], party_size=1, note=None, now=NOW)
    out = events.update_event(session, ev, {"place": "体育館", "title": "餅つき"}, CONFIG, NOW)
    assert out.facts == {"changed": ["place", "translations"], "moved": True, "told": 1, "promoted": 0}
    [notice] = out.notices
    assert notice.resident is p["helper"] and "体育館" in notice.replies[0].text
    assert "Community hall" not in notice.replies[0].text and ev.translations == {"en": {"title": "Mochi"}}
    assert [a.action for a in out.audit] == ["update_event"] and ev.version == 2
    same = events.update_event(session, ev, {"place": "体育館"}, CONFIG, NOW)
    assert same.notices == [] and same.audit == [] and ev.version == 2  # nothing changed: nobody told


# -- many at once: a service returns bulks, `apply` alone queues them --------------------------

def _outbox(session):
    from bot.core.models import OutboxMessage
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_apply_queues_a_bulk_as_multicasts_of_500_rendered_once(people):
    from bot import services
    from bot.core.vocab import Channel, OutboxKind
    session, _ = people
    line_ids = tuple(f"U{i:032x}" for i in range(1201))
    msg = (Text("明日は燃やせるごみの日です。"),)
    out = services.Outcome(bulks=[
        services.Bulk(Channel.LINE, line_ids, msg, source="garbage", dedupe_key="t:line"),
        services.Bulk(Channel.WEB, ("w1", "w2"), msg, source="garbage"),
        services.Bulk(Channel.LINE, ("Uone",), msg, source="rem"),
        services.Bulk(Channel.LINE, (), msg, source="ann:1:0", kind=OutboxKind.BROADCAST, rank=0),
    ])
    assert _outbox(session) == []  # nothing is queued by making an outcome
    services.apply(session, out, "clock")
    rows = _outbox(session)
    line_rows = [r for r in rows if r.source == "garbage" and r.channel == Channel.LINE]
    assert [len(r.recipients) for r in line_rows] == [500, 500, 201]
    assert [r.dedupe_key for r in line_rows] == ["t:line:0", "t:line:1", "t:line:2"]
    assert len({str(r.payload) for r in line_rows}) == 1 and all(r.rank == 1 for r in line_rows)
    assert [r.recipients for r in rows if r.channel == Channel.WEB] == [["w1"], ["w2"]]  # the web chat: one by one
    [single] = [r for r in rows if r.source == "rem"]
    assert single.rank == 0  # one resident's message goes before mass sends
    [everyone] = [r for r in rows if r.kind == OutboxKind.BROADCAST]
    assert everyone.recipients == [] and everyone.rank == 0
    assert out.recipients == 1201 + 2 + 1


def test_tell_many_makes_each_groups_message_once_in_its_language(people):
    from bot import services
    from bot.core.i18n import N_, t
    session, _ = people
    made = []

    def replies_for(locale, key):
        made.append((locale, key))
        return [Text(t(locale, N_("Tomorrow, {day}, is collection day for: {what}."), day="12/2", what=key))]

    out = services.Outcome()
    n = out.tell_many({("line", "ja", "燃やせる"): ["Ua", "Ub"], ("line", "en", "燃やせる"): ["Uc"],
                       ("line", "vi", "x"): []}, replies_for, source="garbage")
    assert n == 3 and sorted(made) == [("en", "燃やせる"), ("ja", "燃やせる")]  # nobody in vi: nothing made
    [ja, en] = out.bulks
    assert ja.recipients == ("Ua", "Ub") and "Tomorrow" in en.replies[0].text and "Tomorrow" not in ja.replies[0].text


def test_a_circular_reminder_is_one_service_with_its_audit_for_every_front_end(people):
    """LINE's 「リマインド」, the console's button, the CLI and the clock all call
    remind_unread and apply its outcome: the same bulks and the same audit entry."""
    from bot import services
    from bot.core.models import Association, AuditEntry, Circular, CircularRecipient, Household, Membership
    from bot.services import circulars
    session, p = people
    assoc = Association(name="港町一丁目町内会", join_code="svc-remind")
    session.add(assoc)
    session.flush()
    for key in ("asker", "helper", "other"):
        hh = Household(association_id=assoc.id, label=key)
        session.add(hh)
        session.flush()
        session.add(Membership(resident_id=p[key].id, association_id=assoc.id, household_id=hh.id))
    circ = Circular(association_id=assoc.id, title="清掃のお知らせ", body="日曜9時", created_at=NOW,
                    deadline=NOW + timedelta(days=3))
    session.add(circ)
    session.flush()
    services.apply(session, circulars.send(session, circ, CONFIG, NOW), "test")
    row = session.scalar(select(CircularRecipient).where(CircularRecipient.circular_id == circ.id,
                                                         CircularRecipient.resident_id == p["asker"].id))
    circulars.mark_read(session, row, NOW)
    before = len(_outbox(session))
    out = circulars.remind_unread(session, circ, CONFIG, NOW + timedelta(days=1))
    assert out.facts["reminded"] == 2 and len(_outbox(session)) == before  # made, not yet queued
    assert sorted(b.recipients[0] for b in out.bulks) == sorted([p["helper"].line_user_id, p["other"].line_user_id])
    by_locale = {b.recipients[0]: b.replies[0] for b in out.bulks}
    assert by_locale[p["helper"].line_user_id].title.startswith("Reminder:")
    services.apply(session, out, "leader:1")
    assert len(_outbox(session)) == before + 2
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "remind_circular"))
    assert entry.actor == "leader:1" and entry.target == f"circular:{circ.id}" and entry.detail == {"members": 2}
    with pytest.raises(circulars.CircularError):  # once a day
        circulars.remind_unread(session, circ, CONFIG, NOW + timedelta(days=1))


def test_the_roster_service_audits_each_change_and_keeps_its_rules_for_every_front_end(people):
    """LINE's 「名簿」, the console's roster and the CLI's `circulars household|assign|role`
    call bot.services.roster: a member never goes in a paper household, the association's leader
    keeps their role, and each change has one audit entry whoever made it."""
    from bot.core.models import Association, Membership
    from bot.core.vocab import Role
    from bot.services import roster
    session, p = people
    assoc = Association(name="港町二丁目自治会", join_code="svc-roster")
    session.add(assoc)
    session.flush()
    leader = Membership(resident_id=p["asker"].id, association_id=assoc.id, role=Role.LEADER)
    member = Membership(resident_id=p["helper"].id, association_id=assoc.id)
    session.add_all([leader, member])
    session.flush()
    home, out = roster.add_household(session, assoc.id, "3番 山田", "2班", paper=False)
    paper, _ = roster.add_household(session, assoc.id, "5番 鈴木", "2班", paper=True)
    assert [(a.action, a.detail["paper"]) for a in out.audit] == [("add_household", False)]
    with pytest.raises(roster.RosterError) as refused:
        roster.assign_household(session, member, paper)
    assert "5番 鈴木" in refused.value.render("en", "Asia/Tokyo") and member.household_id is None
    [entry] = roster.assign_household(session, member, home).audit
    assert member.household_id == home.id and entry.detail == {"household": home.id}
    with pytest.raises(roster.RosterError) as kept:
        roster.set_han_leader(session, leader, make=False)
    assert "はなこ" in kept.value.render("en", "Asia/Tokyo") and leader.role == Role.LEADER
    assert [a.action for a in roster.set_han_leader(session, member, make=True).audit] == ["set_han_leader"]
    assert member.role == Role.HAN_LEADER
    same = roster.set_role(session, member, Role.HAN_LEADER)
    assert same.facts == {"changed": False} and same.audit == []
    [changed] = roster.set_role(session, member, Role.MEMBER).audit
    assert changed.detail["was"] == Role.HAN_LEADER and changed.detail["role"] == Role.MEMBER
