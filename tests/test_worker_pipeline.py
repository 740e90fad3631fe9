"""The running worker's overlapped loop (bot.delivery.worker.Pipeline), the rate limiter's
reservations and the clock's queueing of a minute's reminders in parts (issue 22): every message
still sent once, in each resident's order, and nothing lost when a process dies between two steps."""
from __future__ import annotations

import gc
import threading
import time
from datetime import time as clock_time, timedelta

import pytest
from sqlalchemy import func, insert, select

from bot.core.config import Config
from bot.core.db import utcnow
from bot.core.models import OutboxMessage, Reminder, Resident
from bot.core.recurrence import Rule
from bot.core.replies import Text
from bot.core.vocab import SendMethod
from bot.delivery import outbox, worker
from bot.services import apply, reminders
from scheduler import clock as clock_mod

USER = "U" + "d" * 32


@pytest.fixture
def clock(time_machine):
    time_machine.move_to("2026-12-01 09:00:00+09:00", tick=False)
    return time_machine


@pytest.fixture
def resident_id(db):
    with db.session() as s:
        r = Resident(line_user_id=USER, channel="line", following=True, locale="en", consent_at=utcnow())
        s.add(r)
        s.flush()
        return r.id


def push(db, text: str, resident_id=None, recipients=(USER,)) -> int:
    with db.session() as s:
        return outbox.enqueue(s, channel="line", recipients=list(recipients), replies=[Text(text)],
                              resident_id=resident_id)[0].id


def statuses(db) -> dict[str, int]:
    with db.read() as s:
        return dict(s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


def test_the_pipeline_sends_each_row_once_in_each_residents_order(bot, db, fake_line, resident_id, clock,
                                                                  monkeypatch):
    """Claims of about 8 rows (a few ms at the push rate): the next claim is taken while one is
    sent, and sent only after it, so one resident's messages keep their order."""
    for name in ("CLAIM_SECONDS_MIN", "CLAIM_SECONDS_MAX"):
        monkeypatch.setattr(worker, name, 8 / bot.config.line_push_per_second)
    others = ["U" + f"{i:x}" * 32 for i in range(1, 4)]
    with db.session() as s:
        for u in others:
            s.add(Resident(line_user_id=u, channel="line", following=True, locale="ja", consent_at=utcnow()))
    for i in range(30):
        push(db, f"m{i}", resident_id=resident_id)
        push(db, f"o{i}", recipients=(others[i % 3],))
    fake_line.delay = 0.002
    pipe = worker.Pipeline(bot)
    pipe.limit = 8
    steps = []
    while n := pipe.step():
        steps.append(n)
        if len(steps) == 1:
            assert pipe.limit == 8
    pipe.finish()
    assert sum(steps) == 60 and len(steps) > 5, steps
    assert fake_line.texts_to(USER) == [f"m{i}" for i in range(30)]
    for k, u in enumerate(others):
        assert fake_line.texts_to(u) == [f"o{i}" for i in range(30) if i % 3 == k]
    assert statuses(db) == {"sent": 60}
    assert len(fake_line.deliveries) == 60


def test_a_worker_that_dies_between_two_steps_loses_nothing_and_sends_nothing_twice(
        bot, db, fake_line, resident_id, clock, monkeypatch):
    """Killed after a step: the claim it sent is not recorded yet, and the next one is claimed
    but not sent. Both stay "sending"; once stale, a worker sends them again, with the same retry
    keys: LINE answers 409 for those it already accepted, so each message arrives once."""
    for name in ("CLAIM_SECONDS_MIN", "CLAIM_SECONDS_MAX"):
        monkeypatch.setattr(worker, name, 5 / bot.config.line_push_per_second)
    for i in range(24):
        push(db, f"m{i}", resident_id=resident_id)
    pipe = worker.Pipeline(bot)
    pipe.limit = 5
    assert pipe.step() == 5  # five sent, five more claimed ahead
    assert len(pipe._next) == 5 and len(pipe._done) == 5
    del pipe  # SIGKILL: nothing recorded, nothing more sent
    before = statuses(db)
    assert before.get("sending") == 10, before
    clock.shift(timedelta(seconds=bot.config.outbox_stale_seconds + 1))
    while worker.run_once(bot):
        pass
    assert statuses(db) == {"sent": 24}
    assert sorted(fake_line.texts_to(USER), key=lambda t: int(t[1:])) == [f"m{i}" for i in range(24)]
    assert len(fake_line.deliveries) == 24
    answered = [c.status for c in fake_line.calls if c.path == "/v2/bot/message/push"]
    assert answered.count(409) == 5  # the five sent but not recorded, sent again with their keys


def test_outcomes_are_recorded_alone_when_the_transaction_with_the_next_claim_fails(
        bot, db, fake_line, resident_id, clock, monkeypatch):
    for i in range(6):
        push(db, f"m{i}", resident_id=resident_id)
    pipe = worker.Pipeline(bot)
    pipe.limit = 3
    assert pipe.step() == 3 and len(pipe._next) == 3
    real_claim = outbox.claim

    def broken(*a, **kw):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(outbox, "claim", broken)
    assert pipe.step() == 3  # the three claimed ahead are sent; recording the first three with a claim fails …
    with db.read() as s:  # … so they are recorded on their own
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")) == 3
    monkeypatch.setattr(outbox, "claim", real_claim)
    while pipe.step():
        pass
    pipe.finish()
    assert statuses(db) == {"sent": 6}
    assert fake_line.texts_to(USER) == [f"m{i}" for i in range(6)]


def test_stopping_sends_what_was_claimed_ahead(bot, db, fake_line, resident_id, clock):
    for i in range(8):
        push(db, f"m{i}", resident_id=resident_id)
    pipe = worker.Pipeline(bot)
    pipe.limit = 4
    assert pipe.step() == 4 and len(pipe._next) == 4
    pipe.finish()
    assert statuses(db) == {"sent": 8}
    assert fake_line.texts_to(USER) == [f"m{i}" for i in range(8)]


def test_the_first_claim_after_idle_is_small_then_claims_hold_a_tenth_to_three_tenths_of_a_second(
        bot, db, fake_line, clock):
    with db.session() as s:
        s.execute(insert(Resident.__table__), [
            {"line_user_id": "U" + f"{i:032x}", "channel": "line", "locale": "ja", "following": True,
             "consent_at": utcnow(), "created_at": utcnow(), "digest": False, "interests": []} for i in range(1000)])
    ids = ["U" + f"{i:032x}" for i in range(1000)]
    pipe = worker.Pipeline(bot)
    assert pipe.step() == 0 and pipe.limit == worker.CLAIM_FIRST  # idle
    for k in range(0, 1000, 20):
        push(db, "to many", recipients=ids[k:k + 20])  # 50 multicasts
    assert pipe.step() == worker.CLAIM_FIRST  # sending starts with a small claim …
    rate = bot.config.line_multicast_per_second / bot.config.line_worker_processes
    assert worker.CLAIM_SECONDS_MIN <= pipe.seconds <= worker.CLAIM_SECONDS_MAX
    # … and the claim taken meanwhile was sized to the seconds then in force
    assert len(pipe._next) == min(50 - worker.CLAIM_FIRST, round(worker.CLAIM_SECONDS_MIN * rate))
    while pipe.step():
        pass
    pipe.finish()
    assert pipe.limit == worker.CLAIM_FIRST and statuses(db) == {"sent": 50}


def test_the_rate_limiter_starts_full_then_hands_out_turns_at_the_rate():
    config = Config(line_push_per_second=200.0, line_worker_processes=2)  # 100/s for this process, 10 at once
    limits = outbox.RateLimits(config)
    start = time.monotonic()
    for _ in range(10):
        limits.take(SendMethod.PUSH)
    assert time.monotonic() - start < 0.05  # the bucket starts full
    taken = []

    def take():
        for _ in range(10):
            limits.take(SendMethod.PUSH)
            taken.append(time.monotonic())

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = max(taken) - start
    assert 0.38 <= elapsed < 2.0, elapsed  # 40 more at 100/s: 0.4 s, never faster (slower on a busy machine)
    assert limits.take(SendMethod.BROADCAST, block=False) == 0.0
    assert limits.take(SendMethod.BROADCAST, block=False) > 60  # not blocking: only says how long


def seed_reminders(db, n: int) -> list[str]:
    now = utcnow()
    users = ["U" + f"{i:032x}" for i in range(n)]
    with db.session() as s:
        s.execute(insert(Resident.__table__), [
            {"line_user_id": u, "channel": "line", "locale": "en" if i % 2 else "ja", "following": True,
             "consent_at": now, "created_at": now, "digest": False, "interests": []} for i, u in enumerate(users)])
        ids = list(s.scalars(select(Resident.id).order_by(Resident.id)))
        rule = Rule(kind="daily", at=clock_time(8, 59)).to_json()
        s.execute(insert(Reminder.__table__), [
            {"resident_id": rid, "title": f"r{i:04d}", "rule": rule, "next_fire_at": now - timedelta(seconds=5),
             "created_at": now} for i, rid in enumerate(ids)])
    return users


def test_a_minutes_reminders_are_queued_in_parts_the_first_one_small(bot, db, fake_line, clock, monkeypatch):
    seed_reminders(db, 1250)
    sizes = []
    real = reminders.fire_due

    def spy(session, config, now, limit=1000):
        out = real(session, config, now, limit=limit)
        sizes.append(out.facts["handled"])
        return out

    monkeypatch.setattr(reminders, "fire_due", spy)
    assert clock_mod.due_now(bot) == {"announcements": 0, "reminders": 1250}
    assert sizes == [clock_mod.REMINDERS_FIRST, 500, 500, 150, 0]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 1250


def test_a_clock_that_dies_after_the_first_part_of_the_reminders_queues_the_rest_once(bot, db, fake_line, clock):
    users = seed_reminders(db, 700)
    with db.session() as s:  # the first part is committed, then the clock dies
        facts = apply(s, reminders.fire_due(s, bot.config, utcnow(), limit=clock_mod.REMINDERS_FIRST), "clock").facts
    assert facts["sent"] == clock_mod.REMINDERS_FIRST
    assert clock_mod.due_now(bot) == {"announcements": 0, "reminders": 700 - clock_mod.REMINDERS_FIRST}
    assert clock_mod.due_now(bot) == {"announcements": 0, "reminders": 0}
    while worker.run_once(bot):
        pass
    got = sorted(u for d in fake_line.deliveries for u in d.to)
    assert got == sorted(users)  # everyone once
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Reminder).where(Reminder.next_fire_at <= utcnow())) == 0


def test_the_warm_ups_at_start_change_nothing(bot, db, fake_line, resident_id, clock):
    rid = push(db, "waiting", resident_id=resident_id)
    seed_reminders(db, 3)
    gc.unfreeze()
    worker.warm_up(bot)
    assert gc.get_freeze_count() > 0  # what start-up made is out of the full collections' walks
    gc.unfreeze()
    clock_mod.warm_up(bot)
    assert gc.get_freeze_count() > 0
    with db.read() as s:
        assert s.get(OutboxMessage, rid).status == "pending"
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 1  # no reminder queued
    assert fake_line.calls == []
    assert clock_mod.due_now(bot)["reminders"] == 4  # the three and the resident above
