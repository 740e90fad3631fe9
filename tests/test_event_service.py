"""Changing and cancelling an event is one service (bot.services.events) that the console and
the CLI both call: the same change tells the same people the same words and leaves the same
audit entry, whichever front end made it (issue 16's event bug)."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services import events as ev_domain
from bot.core.db import utcnow
from bot.core.models import Announcement, AuditEntry, Event, Resident
from tests.console_support import csrf, sign_in
from scheduler import clock as clock_mod
from tests.support import card, run_worker

EN = "U" + "e1" * 16
JA = "U" + "a2" * 16


@pytest.fixture
def attendees(accounts, joined, clock):
    joined(EN, name="Emma")
    joined(JA, name="花子", locale_label="日本語")
    return accounts


def _event(db, title: str) -> int:
    """An event with an English translation of its place, Emma and 花子 signed up."""
    with db.session() as s:
        ev = Event(title=title, place="公民館", starts_at=utcnow() + timedelta(days=5), created_at=utcnow(),
                   translations={"en": {"title": "Mochi party", "place": "Community hall"}})
        s.add(ev)
        s.flush()
        for user in (EN, JA):
            r = s.scalar(select(Resident).where(Resident.line_user_id == user))
            ev_domain.sign_up(s, ev.id, r, party_size=1, note=None, now=utcnow())
        return ev.id


def _by_console(app, event_id: int, place: str | None = None, cancel: bool = False):
    c = app.test_client()
    assert sign_in(c, "tanaka").status_code == 302
    page = f"/console/events/{event_id}"
    html = c.get(page).get_data(as_text=True)
    hidden = dict(re.findall(r'name="(csrf_token|version)" value="([^"]*)"', html))
    if cancel:
        return c.post(f"{page}/cancel", data={**hidden, "confirm": "yes"})
    form = dict(re.findall(r'<input id="(title|starts|ends|place|tr_en_title|tr_en_place)" name="[^"]+"[^>]*value="([^"]*)"', html))
    form.update(place=place, tr_en_place="Community hall", audience="all", csrf_token=csrf(c, page))
    return c.post(page, data={**hidden, **form})


def _told(fake_line, user: str, since: int) -> list[str]:
    return fake_line.texts_to(user)[since:]


def _audit(db, action: str, target: str) -> dict:
    with db.read() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == action, AuditEntry.target == target)).all()
        assert len(entries) == 1, [(e.actor, e.detail) for e in entries]
        return {"actor": entries[0].actor, **entries[0].detail}


def test_a_new_place_tells_the_same_words_from_the_console_and_the_cli(attendees, db, bot, fake_line, runner):
    by_cli, by_console = _event(db, "餅つき大会"), _event(db, "餅つき大会")
    seen = {u: len(fake_line.texts_to(u)) for u in (EN, JA)}
    out = runner.invoke(args=["events", "update", str(by_cli), "--place", "小学校の体育館"])
    assert out.exit_code == 0 and "2 people told" in out.output, out.output
    run_worker(bot)
    cli_words = {u: _told(fake_line, u, seen[u]) for u in (EN, JA)}
    seen = {u: len(fake_line.texts_to(u)) for u in (EN, JA)}
    assert _by_console(attendees, by_console, place="小学校の体育館").status_code == 302
    run_worker(bot)
    console_words = {u: _told(fake_line, u, seen[u]) for u in (EN, JA)}
    assert cli_words == console_words
    # English attendees are told the new place, never the old translated one
    assert len(cli_words[EN]) == 1 and "小学校の体育館" in cli_words[EN][0] and "Community hall" not in cli_words[EN][0]
    assert "小学校の体育館" in cli_words[JA][0]
    cli_audit = _audit(db, "update_event", f"event:{by_cli}")
    console_audit = _audit(db, "update_event", f"event:{by_console}")
    assert cli_audit.pop("actor") == "cli" and console_audit.pop("actor").startswith("staff:")
    assert cli_audit == console_audit == {"changed": ["place", "translations"], "told": 2, "promoted": 0}
    with db.read() as s:
        for ident in (by_cli, by_console):
            assert "place" not in s.get(Event, ident).translations.get("en", {})


def test_cancelling_tells_everyone_once_from_the_console_and_the_cli(attendees, db, bot, fake_line, runner):
    by_cli, by_console = _event(db, "防災訓練"), _event(db, "防災訓練")
    seen = {u: len(fake_line.texts_to(u)) for u in (EN, JA)}
    for _ in range(2):  # twice: nobody is told twice
        assert runner.invoke(args=["events", "cancel", str(by_cli)]).exit_code == 0
    run_worker(bot)
    cli_words = {u: _told(fake_line, u, seen[u]) for u in (EN, JA)}
    seen = {u: len(fake_line.texts_to(u)) for u in (EN, JA)}
    for _ in range(2):
        _by_console(attendees, by_console, cancel=True)
    run_worker(bot)
    console_words = {u: _told(fake_line, u, seen[u]) for u in (EN, JA)}
    assert cli_words == console_words and all(len(words) == 1 for words in cli_words.values())
    cli_audit = _audit(db, "cancel_event", f"event:{by_cli}")
    console_audit = _audit(db, "cancel_event", f"event:{by_console}")
    assert cli_audit.pop("actor") == "cli" and console_audit.pop("actor").startswith("staff:")
    assert cli_audit == console_audit == {"title": "防災訓練", "told": 2}
    out = runner.invoke(args=["events", "update", str(by_cli), "--place", "x"])
    assert out.exit_code != 0 and "cancelled" in out.output


def test_an_event_created_from_line_the_console_or_the_cli_is_audited_the_same(attendees, db, runner):
    """One service creates events: each front end leaves one create_event entry, by its actor."""
    from tests.console_support import csrf, sign_in

    out = runner.invoke(args=["events", "create", "--title", "CLIの会", "--place", "公民館", "--starts", "2026-12-20 10:00"])
    assert out.exit_code == 0, out.output
    c = attendees.test_client()
    assert sign_in(c, "tanaka").status_code == 302
    r = c.post("/console/events/new", data={"title": "窓口の会", "place": "公民館", "starts": "2026-12-21T10:00",
                                             "audience": "all", "csrf_token": csrf(c, "/console/events/new")})
    assert r.status_code == 302
    with db.read() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "create_event").order_by(AuditEntry.id)).all()
        titles = {e.detail["title"]: e.actor for e in entries}
    assert titles["CLIの会"] == "cli" and titles["窓口の会"].startswith("staff:")


def test_a_new_event_is_told_to_residents_who_follow_events_and_may_join(attendees, db, bot, fake_line, runner, clock,
                                                                         tmp_path):
    """「新しいイベントがあればお知らせします」 is kept: residents who follow 「イベント・文化」 hear of a
    new event they may join (in their language, as a center announcement: quiet hours kept);
    the others are told how to follow."""
    with db.session() as s:
        s.scalar(select(Resident).where(Resident.line_user_id == EN)).interests = ["events"]
    tr = tmp_path / "tr.json"
    tr.write_text(json.dumps({"en": {"title": "Mochi party", "place": "Community hall"}}), encoding="utf-8")
    before_en, before_ja = len(fake_line.texts_to(EN)), len(fake_line.texts_to(JA))
    out = runner.invoke(args=["events", "create", "--title", "もちつき大会", "--starts", "2026-12-20T10:00",
                              "--place", "公民館", "--to", "all", "--translations", str(tr)])
    assert out.exit_code == 0, out.output
    clock_mod.due_now(bot)
    run_worker(bot)
    told = _told(fake_line, EN, before_en)
    assert told == ["New event: Mochi party\nSun, Dec 20, 2026, 10:00 AM, Community hall\nSend “events” to see it and sign up."]
    assert _told(fake_line, JA, before_ja) == []  # 花子 does not follow events
    with db.read() as s:
        assert s.scalar(select(Announcement.created_by)).startswith("event:")  # listed in the console


def test_no_events_tells_how_to_hear_of_new_ones(attendees, line, fake_line, db):
    line.say(JA, "イベント")
    assert "「設定」の話題で「イベント・文化」を選んでください" in line.last_text(JA)
    with db.session() as s:
        s.scalar(select(Resident).where(Resident.line_user_id == EN)).interests = ["events"]
    line.say(EN, "events")
    assert line.last_text(EN) == "There are no upcoming events for you right now. We will tell you when there are."


def test_the_event_list_shows_a_resident_their_own_signup_not_sign_up_again(attendees, line, fake_line, db):
    _event(db, "もちつき大会")  # Emma and 花子 are going
    line.say(EN, "events")
    body = json.dumps(card(fake_line, EN), ensure_ascii=False)
    assert "✅ You are going (1 person)" in body
    assert '"label": "My events"' in body and "Join the wait-list" not in body and '"label": "Sign up"' not in body
