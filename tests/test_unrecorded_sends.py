"""A webhook reply's send is recorded with the web process's next event, not in a transaction of
its own (`outbox.Unrecorded`, `REPLY_RECORD_MS`): recorded with the next event, by a thread when
none comes, at a normal exit; a rolled-back transaction keeps the records; a process killed
before recording leaves the reply to the worker, which sends it again (twice, never lost)."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

import handlers
from bot.core.db import utcnow
from bot.core.models import OutboxMessage
from bot.delivery import worker
from tests import support
from tests.test_outbox import _drop_connection_when_recording_a_send

USER = "U" + "7" * 32
LATER = 600_000  # ms: only the next event, or the exit, records


def statuses(db) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)))


def wait_for(predicate, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def later(app_factory, fake_line, joined):
    """A bot whose replies are recorded only by the next event (or an exit)."""
    app = app_factory(reply_record_ms=LATER)
    line = support.Line(app.test_client(), fake_line)
    bot = app.extensions["tsunagari"]
    joined(USER)
    return line, bot


def test_a_reply_is_recorded_with_the_next_event(later, fake_line):
    line, bot = later
    line.say(USER, "menu")
    assert statuses(bot.db) == ["sending"]  # sent, and its record waits
    assert len(bot.sender.unrecorded) == 1
    line.say(USER, "help")
    assert statuses(bot.db) == ["sent", "sending"]  # recorded in the second event's transaction
    assert [d.kind for d in fake_line.deliveries] == ["reply", "reply"]


def test_with_no_next_event_a_thread_records_it_within_the_delay(app_factory, fake_line, joined):
    app = app_factory(reply_record_ms=100)
    line = support.Line(app.test_client(), fake_line)
    db = app.extensions["tsunagari"].db
    joined(USER)
    line.say(USER, "menu")
    assert wait_for(lambda: statuses(db) == ["sent"], 5)
    assert len(app.extensions["tsunagari"].sender.unrecorded) == 0


def test_a_transaction_that_rolls_back_keeps_the_records_for_the_next(later, fake_line, monkeypatch):
    line, bot = later
    line.say(USER, "menu")

    def broken(ctx):
        raise KeyError("a bug")

    routes = handlers.ROUTES
    monkeypatch.setattr(handlers, "ROUTES", (handlers.Route("broken", lambda ctx: True, broken),) + routes)
    line.say(USER, "help")  # its transaction rolls back (the apology goes in another)
    assert statuses(bot.db) == ["sending", "sending"]  # the first reply's record went with it
    assert len(bot.sender.unrecorded) == 2  # and waits, with the apology's
    monkeypatch.setattr(handlers, "ROUTES", routes)
    line.say(USER, "help")
    assert statuses(bot.db) == ["sent", "sent", "sending"]
    assert [d.kind for d in fake_line.deliveries] == ["reply", "reply", "reply"]  # each once


def test_a_failed_send_is_recorded_at_once(later, fake_line):
    line, bot = later
    fake_line.fail_next(500)
    line.say(USER, "menu")
    with bot.db.read() as s:
        row = s.execute(select(OutboxMessage.status, OutboxMessage.attempts)).one()
    assert tuple(row) == ("pending", 1)  # back in the queue for the worker, now
    assert len(bot.sender.unrecorded) == 0


def test_a_record_that_fails_is_written_again_and_the_reply_never_sent_twice(
        app_factory, fake_line, joined, db_url, clock):
    app = app_factory(reply_record_ms=50)
    line = support.Line(app.test_client(), fake_line)
    bot = app.extensions["tsunagari"]
    joined(USER)
    left = _drop_connection_when_recording_a_send(bot.db.engine, db_url, times=2)
    line.say(USER, "menu")
    assert wait_for(lambda: statuses(bot.db) == ["sent"], 10)
    assert left["n"] == 0  # cut twice under the thread's record, then written
    clock.shift(timedelta(minutes=5))  # long after the worker would take back a row left "sending"
    worker.run_once(bot)
    assert [d.kind for d in fake_line.deliveries] == ["reply"]


def test_gunicorn_records_its_replies_when_it_stops(later, db_url, fake_line, tmp_path):
    line, bot = later
    server = support.Gunicorn(tmp_path, db_url, fake_line, workers=1, REPLY_RECORD_MS=str(LATER)).start()
    try:
        assert server.post(line.say_body(USER, "menu"))[:2] == (200, b"OK")
        assert statuses(bot.db) == ["sending"]
    finally:
        server.stop()  # SIGTERM: the worker finishes and records what it sent
    assert statuses(bot.db) == ["sent"]
    assert [d.kind for d in fake_line.deliveries] == ["reply"]


def test_a_web_process_killed_before_recording_leaves_the_reply_to_the_worker(
        later, db_url, fake_line, tmp_path, time_machine):
    line, bot = later
    server = support.Gunicorn(tmp_path, db_url, fake_line, workers=1, REPLY_RECORD_MS=str(LATER)).start()
    try:
        assert server.post(line.say_body(USER, "menu"))[:2] == (200, b"OK")
    finally:
        server.kill()  # dies with the record not written
    assert statuses(bot.db) == ["sending"]
    time_machine.move_to(utcnow() + timedelta(minutes=5), tick=False)  # past OUTBOX_STALE_SECONDS
    worker.run_once(bot)  # takes the row back
    worker.run_once(bot)
    assert statuses(bot.db) == ["sent"]
    # The resident got the answer twice (the reply, then a push with the row's retry key): never lost.
    assert [d.kind for d in fake_line.deliveries] == ["reply", "push"]
