"""Community events end to end through signed webhooks: find, sign up, wait-list, cancel,
reminders, changes, the organizer's view and figures; capacity under concurrency."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.services import events
from bot.core.db import utcnow
from bot.core.models import Association, Event, Membership, OutboxMessage, Resident, Signup
from scheduler import event_jobs
from tests import support
from tests.support import run_worker

A = "U" + "e1" * 16
B = "U" + "f2" * 16
C = "U" + "a3" * 16


@pytest.fixture
def people(joined):
    for user, name in ((A, "Aki"), (B, "Ben"), (C, "Chie")):
        joined(user, name=name)
    return A, B, C


def make_event(db, **kw) -> int:
    values = dict(title="Park clean-up", place="Minato park", starts_at=utcnow() + timedelta(days=3),
                  capacity=None, created_at=utcnow())
    values.update(kw)
    with db.session() as s:
        ev = Event(**values)
        s.add(ev)
        s.flush()
        return ev.id


def flex(fake, user):
    return [m for m in fake.messages_to(user) if m["type"] == "flex"][-1]


def first_bubble(msg):
    c = msg["contents"]
    return c["contents"][0] if c.get("type") == "carousel" else c


def buttons(msg):
    return {b["action"]["label"]: b["action"]["data"] for b in first_bubble(msg).get("footer", {}).get("contents", [])}


def body(msg):
    return "\n".join(x.get("text", "") for x in first_bubble(msg)["body"]["contents"])


def press(line, user, data):
    assert line.post([line.postback_event(user, data)]).status_code == 200


def signups(db, event_id):
    with db.session() as s:
        return {r.resident.line_user_id: (r.status, r.party_size) for r in
                s.scalars(select(Signup).where(Signup.event_id == event_id)).unique()}


def test_two_taps_to_sign_up_then_cancel_promotes_the_wait_list(line, fake_line, bot, db, people, clock):
    ev = make_event(db, capacity=1)
    line.say(A, "events")
    card = flex(fake_line, A)
    assert "1 place left" in body(card)
    press(line, A, buttons(card)["Sign up"])
    assert line.last_text(A).startswith("You are signed up for “Park clean-up”")
    # B finds it full and joins the wait-list
    line.say(B, "events")
    card = flex(fake_line, B)
    assert "Full (0 waiting)" in body(card)
    press(line, B, buttons(card)["Join the wait-list"])
    assert "This event is full" in line.last_text(B) and "number 1" in line.last_text(B)
    line.tap(B, "Yes")
    assert "wait-list as number 1" in line.last_text(B)
    # A cancels (with a confirmation); B is promoted and told
    line.say(A, "my events")
    press(line, A, buttons(flex(fake_line, A))["Cancel my place"])
    line.tap(A, "Yes, cancel it")
    assert line.last_text(A).startswith("Your place has been cancelled")
    run_worker(bot)
    assert "A place opened up" in line.last_text(B)
    assert signups(db, ev) == {A: ("cancelled", 1), B: ("going", 1)}


def test_party_size_and_note_are_asked_and_counted(line, fake_line, bot, db, people, clock):
    ev = make_event(db, capacity=4, ask_party_size=True, note_question="Any allergies?")
    line.say(A, "events")
    press(line, A, buttons(flex(fake_line, A))["Sign up"])
    line.tap(A, "3 people")
    assert line.last_text(A) == "Any allergies?"
    line.say(A, "Peanuts")
    assert "Sign up for 3 people?" in line.last_text(A)
    line.tap(A, "Yes")
    # two more do not fit: B is offered the wait-list
    line.say(B, "events")
    press(line, B, buttons(flex(fake_line, B))["Sign up"])
    line.tap(B, "2 people")
    line.tap(B, "Nothing")
    assert "This event is full" in line.last_text(B)
    line.tap(B, "Yes")
    assert signups(db, ev) == {A: ("going", 3), B: ("waitlist", 2)}
    with db.session() as s:
        assert events.seats_taken(s, ev) == 3


@pytest.mark.parametrize("case", ["deadline", "past", "cancelled", "twice", "other-association"])
def test_sign_up_refused_with_a_clear_answer(line, fake_line, bot, db, people, clock, case):
    kw = {}
    if case == "deadline":
        kw["signup_deadline"] = utcnow() - timedelta(hours=1)
    ev = make_event(db, **kw)
    line.say(A, "events")
    join = buttons(flex(fake_line, A))["Sign up"]
    expected = {
        "deadline": "Sign-up for this event closed on",
        "past": "already started or is over",
        "cancelled": "has been cancelled",
        "twice": "already signed up",
        "other-association": "for another area or association",
    }[case]
    with db.session() as s:
        e = s.get(Event, ev)
        if case == "past":
            e.starts_at = utcnow() - timedelta(minutes=1)
        elif case == "cancelled":
            e.status = "cancelled"
        elif case == "other-association":
            e.audience, e.association_id = "association", s.scalar(select(Association.id).limit(1))
    if case == "twice":
        press(line, A, join)
    before = signups(db, ev)
    press(line, A, join)
    assert expected in line.last_text(A)
    assert signups(db, ev) == before


def test_only_the_audience_sees_an_event(line, fake_line, bot, db, people, clock):
    make_event(db, title="For Sakuradai", audience="areas", audience_areas=["sakura"])
    line.say(A, "events")
    assert "no upcoming events" in line.last_text(A)
    with db.session() as s:
        r = s.scalar(select(Resident).where(Resident.line_user_id == A))
        from bot.core.models import Area

        r.area_id = s.scalar(select(Area.id).where(Area.code == "sakura"))
    line.say(A, "イベント")
    assert first_bubble(flex(fake_line, A))["body"]["contents"][0]["text"] == "For Sakuradai"


def test_reminders_the_day_before_at_six_and_an_hour_before_never_twice(line, fake_line, bot, db, people, clock):
    starts = utcnow() + timedelta(days=1, hours=0)  # 2026-12-02 10:00 Tokyo
    ev = make_event(db, starts_at=starts, remind_hour_before=True)
    line.say(A, "events")
    press(line, A, buttons(flex(fake_line, A))["Sign up"])
    clock.move_to("2026-12-01 17:59:00+09:00", tick=False)
    with db.session() as s:
        assert event_jobs.reminders(s, bot.config, utcnow()) == 0
    clock.move_to("2026-12-01 18:00:00+09:00", tick=False)
    for expected in (1, 0):  # the job runs twice: one reminder
        with db.session() as s:
            assert event_jobs.reminders(s, bot.config, utcnow()) == expected
    run_worker(bot)
    assert "is tomorrow" in line.last_text(A)
    clock.move_to("2026-12-02 09:05:00+09:00", tick=False)
    for expected in (1, 0):
        with db.session() as s:
            assert event_jobs.reminders(s, bot.config, utcnow()) == expected
    run_worker(bot)
    assert "starts in an hour" in line.last_text(A)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.dedupe_key.like(f"ev:{ev}:%"))) == 2


def test_changes_and_cancellation_reach_attendees_and_wait_list(line, fake_line, bot, db, runner, people, clock):
    ev = make_event(db, capacity=1)
    line.say(A, "events")
    press(line, A, buttons(flex(fake_line, A))["Sign up"])
    line.say(B, "events")
    press(line, B, buttons(flex(fake_line, B))["Join the wait-list"])
    line.tap(B, "Yes")
    result = runner.invoke(args=["events", "update", str(ev), "--place", "Community hall"])
    assert "2 people told" in result.output
    run_worker(bot)
    for user in (A, B):
        assert "has changed" in line.last_text(user) and "Community hall" in line.last_text(user)
    assert "1 people told" not in runner.invoke(args=["events", "cancel", str(ev)]).output
    run_worker(bot)
    for user in (A, B):
        assert "has been cancelled" in line.last_text(user)


def test_csv_with_bom_ics_and_figures(line, fake_line, bot, db, runner, people, clock, tmp_path):
    result = runner.invoke(args=["events", "create", "--title", "餅つき大会", "--starts", "2026-12-20T10:00",
                                 "--ends", "2026-12-20T12:00", "--place", "港町公民館", "--capacity", "30",
                                 "--party-size", "--note-question", "アレルギーは？"])
    assert result.exit_code == 0, result.output
    with db.session() as s:
        ev = s.scalar(select(Event.id).where(Event.title == "餅つき大会"))
    line.say(A, "events")
    press(line, A, buttons(flex(fake_line, A))["Sign up"])
    line.tap(A, "2 people")
    line.say(A, "卵")
    line.tap(A, "Yes")
    out = tmp_path / "a.csv"
    assert runner.invoke(args=["events", "attendees", str(ev), "--csv", str(out)]).exit_code == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert "表示名,人数,状態,回答" in text and "Aki,2,参加,卵" in text
    ics_file = tmp_path / "e.ics"
    assert runner.invoke(args=["events", "ics", str(ev), "--out", str(ics_file)]).exit_code == 0
    ics = ics_file.read_bytes().decode("utf-8")
    assert "BEGIN:VEVENT" in ics and "DTSTART:20261220T010000Z" in ics and "SUMMARY:餅つき大会" in ics
    assert all(line.endswith("\r") or not line for line in ics.split("\n"))  # CRLF line ends
    figures = runner.invoke(args=["events", "figures", "--year", "2026"]).output
    assert "all\t1/3\t33.3%" in figures
    assert "港町\t1/3\t33.3%" in figures


def test_leader_creates_an_event_in_line_and_sees_attendees(line, fake_line, bot, db, people, clock):
    with db.session() as s:
        assoc = s.scalar(select(Association).where(Association.join_code == "MINATO-2026"))
        for user, role in ((A, "leader"), (B, "member")):
            rid = s.scalar(select(Resident.id).where(Resident.line_user_id == user))
            s.add(Membership(resident_id=rid, association_id=assoc.id, role=role))
    line.say(C, "manage events")
    assert "Only association leaders" in line.last_text(C)
    line.say(A, "manage events")
    line.tap(A, "Create an event")
    line.say(A, "Bon odori practice")
    action = fake_line.last_message_to(A)["quickReply"]["items"][0]["action"]
    line.post([line.postback_event(A, action["data"], {"datetime": "2026-12-10T19:00"})])
    line.say(A, "Minato shrine")
    line.tap(A, "20 people")
    assert "Capacity: 20" in line.last_text(A)
    line.tap(A, "Create it")
    assert line.last_text(A).startswith("Created!")
    line.say(B, "events")
    press(line, B, buttons(flex(fake_line, B))["Sign up"])
    line.say(C, "events")  # not a member
    assert "no upcoming events" in line.last_text(C)
    line.say(A, "manage events")
    press(line, A, buttons(flex(fake_line, A))["Attendees"])
    assert "・Ben ×1" in line.last_text(A) and "Total going: 1 person" in line.last_text(A)


def test_capacity_holds_when_many_sign_up_at_once(app_factory, line, fake_line, bot, db, joined, clock):
    users = [f"U{i:032x}" for i in range(1, 9)]
    for i, u in enumerate(users):
        joined(u, name=f"P{i}")
    ev = make_event(db, capacity=3)
    line.say(users[0], "events")
    join = buttons(flex(fake_line, users[0]))["Sign up"]
    clients = [support.Line(app_factory().test_client(), fake_line) for _ in users]
    barrier = threading.Barrier(len(users))

    def go(c, user):
        barrier.wait()
        c.post([c.postback_event(user, join)])

    threads = [threading.Thread(target=go, args=pair) for pair in zip(clients, users)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    with db.session() as s:
        assert events.seats_taken(s, ev) == 3
        assert s.scalar(select(func.count()).select_from(Signup).where(Signup.status == "going")) == 3


def test_end_time_and_deadline_read_naturally(line, fake_line, bot, db, people, clock):
    from bot.services import event_messages as em
    starts = utcnow() + timedelta(days=3)
    ev = Event(title="t", place="p", starts_at=starts, ends_at=starts + timedelta(hours=2), created_at=utcnow())
    assert em.when(ev, "en", bot.config) == "Fri, Dec 4, 2026, 10:00 AM–12:00 PM"
    assert em.when(ev, "ja", bot.config) == "2026/12/04(金) 10:00–12:00"
    ev_id = make_event(db, ask_party_size=True, signup_deadline=utcnow() + timedelta(minutes=5))
    line.say(A, "events")
    press(line, A, buttons(flex(fake_line, A))["Sign up"])
    line.tap(A, "2 people")
    clock.shift(timedelta(minutes=10))
    line.tap(A, "Yes")
    assert line.last_text(A) == "Sign-up for this event closed on Tue, Dec 1, 2026, 10:05 AM."
    assert signups(db, ev_id) == {}


def test_a_moved_event_is_reminded_again(line, fake_line, bot, db, runner, people, clock):
    ev = make_event(db, starts_at=utcnow() + timedelta(days=1))
    line.say(A, "events")
    press(line, A, buttons(flex(fake_line, A))["Sign up"])
    clock.move_to("2026-12-01 18:30:00+09:00", tick=False)
    with db.session() as s:
        assert event_jobs.reminders(s, bot.config, utcnow()) == 1
    runner.invoke(args=["events", "update", str(ev), "--starts", "2026-12-05T10:00"])
    clock.move_to("2026-12-04 18:30:00+09:00", tick=False)
    with db.session() as s:
        assert event_jobs.reminders(s, bot.config, utcnow()) == 1


def test_leaving_frees_the_place_for_the_wait_list(line, fake_line, bot, db, people, clock):
    ev = make_event(db, capacity=1)
    line.say(A, "events")
    press(line, A, buttons(flex(fake_line, A))["Sign up"])
    line.say(B, "events")
    press(line, B, buttons(flex(fake_line, B))["Join the wait-list"])
    line.tap(B, "Yes")
    line.say(A, "delete my data")
    line.tap(A, "Yes, delete")
    run_worker(bot)
    assert "A place opened up" in line.last_text(B)
    assert signups(db, ev) == {B: ("going", 1)}


def test_organisers_translations_are_shown_else_japanese_with_a_note(runner, line, fake_line, db, joined, clock, tmp_path):
    import json as _json

    joined(A, name="Aki")  # English
    joined(C, name="千恵", locale_label="日本語")
    tr = tmp_path / "tr.json"
    tr.write_text(_json.dumps({"en": {"title": "Rice-cake making", "place": "Community hall"}}), encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text(_json.dumps({"xx": {"title": "?"}}), encoding="utf-8")
    args = ["events", "create", "--title", "餅つき大会", "--starts", "2026-12-20T10:00", "--place", "公民館"]
    assert runner.invoke(args=[*args, "--translations", str(bad)]).exit_code != 0
    assert runner.invoke(args=[*args, "--translations", str(tr)]).exit_code == 0
    assert runner.invoke(args=["events", "create", "--title", "清掃活動", "--starts", "2026-12-21T09:00",
                               "--place", "港公園"]).exit_code == 0
    line.say(A, "events")
    shown = json.dumps(fake_line.messages_to(A)[-1], ensure_ascii=False)
    assert "Rice-cake making" in shown and "Community hall" in shown and "餅つき大会" not in shown
    assert "清掃活動" in shown and "Not translated" in shown  # the other one: Japanese, with a note
    line.say(C, "イベント")
    shown = json.dumps(fake_line.messages_to(C)[-1], ensure_ascii=False)
    assert "餅つき大会" in shown and "Rice-cake" not in shown and "日本語のみ" not in shown
