"""A delivery of one event (a resident's message: nearly every delivery) is recorded in the
transaction that handles it (issue 22): `Bot.record_and_process`. What must still hold: the event
is recorded before anything is acted on, handled once, and nothing is lost when the database
goes away or the process dies at any point."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

import handlers
from bot.core.models import InboundEvent, OutboxMessage
from bot.delivery import worker
from tests import support
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parent.parent
USER = "U" + "5" * 32


def inbox(db) -> list[tuple[str, object, int]]:
    with db.read() as s:
        return [tuple(r) for r in s.execute(select(InboundEvent.status, InboundEvent.payload, InboundEvent.attempts))]


def outbox_statuses(db) -> dict[str, int]:
    with db.read() as s:
        return dict(s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


def test_one_event_is_recorded_handled_and_answered_in_one_go(line, fake_line, db, joined):
    joined(USER)
    line.say(USER, "menu")
    assert inbox(db) == [("done", None, 1)]  # recorded as handled: the message's words are not kept
    assert outbox_statuses(db) == {"sent": 1}
    assert [d.kind for d in fake_line.deliveries] == ["reply"]


def test_the_database_going_away_while_handling_leaves_the_event_for_the_worker(
        line, fake_line, bot, db, joined, monkeypatch, clock):
    joined(USER)
    routes = handlers.ROUTES

    def gone(ctx):
        raise OperationalError("UPDATE …", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(handlers, "ROUTES", (handlers.Route("gone", lambda ctx: True, gone),) + routes)
    assert line.say(USER, "menu").status_code == 200
    [(status, payload, attempts)] = inbox(db)
    assert status == "pending" and payload["text"] == "menu" and attempts == 0  # kept, words and all
    assert outbox_statuses(db) == {} and fake_line.deliveries == []
    monkeypatch.setattr(handlers, "ROUTES", routes)  # the database is back
    clock.shift(timedelta(seconds=bot.config.inbox_stale_seconds + 1))
    worker.run_once(bot)
    assert [s for s, _, _ in inbox(db)] == ["done"]
    assert outbox_statuses(db) == {"sent": 1}
    assert len(fake_line.deliveries) == 1 and fake_line.texts_to(USER)


def test_repeated_conflicts_leave_the_event_recorded_for_the_worker(line, fake_line, db, joined, monkeypatch):
    from sqlalchemy.orm.exc import StaleDataError  # the error the version counter raises

    joined(USER)
    tries = []

    def conflict(ctx):
        tries.append(1)
        raise StaleDataError("another event of this resident got there first")

    monkeypatch.setattr(handlers, "ROUTES", (handlers.Route("conflict", lambda ctx: True, conflict),) + handlers.ROUTES)
    assert line.say(USER, "menu").status_code == 200
    assert len(tries) == 3
    assert [s for s, _, _ in inbox(db)] == ["pending"]
    assert fake_line.deliveries == []


CHILD = """
import json, os, signal, sys
import handlers
from bot import create_app
from bot.core.config import Config

app = create_app(Config(**json.loads(sys.argv[1])))

def killed(ctx):  # the process dies here, inside the event's transaction (SIGKILL: no clean-up)
    os.kill(os.getpid(), signal.SIGKILL)

handlers.ROUTES = (handlers.Route("killed", lambda ctx: True, killed),) + handlers.ROUTES
app.test_client().post("/callback", data=sys.stdin.buffer.read(),
                       headers={"X-Line-Signature": sys.argv[2], "Content-Type": "application/json"})
print("not killed")
"""


def test_a_process_killed_inside_the_transaction_leaves_nothing_and_the_redelivery_is_answered_once(
        line, fake_line, db, db_url, joined):
    joined(USER)
    ev = line.text_event(USER, "menu")
    body = json.dumps({"destination": "Ubot", "events": [ev]}).encode()
    made = make_config(db_url, fake_line)
    config = {k: getattr(made, k) for k in ("line_channel_secret", "line_channel_access_token", "line_api_base_url",
                                             "database_url", "secret_key", "resident_events_per_minute")}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(config), support.sign(body)], input=body, cwd=ROOT,
        capture_output=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    # Nothing was committed: no inbox row, no outbox row, nothing sent. LINE had no 200.
    assert inbox(db) == [] and outbox_statuses(db) == {} and fake_line.deliveries == []
    # LINE redelivers the event (same webhookEventId and reply token, isRedelivery).
    again = {**ev, "deliveryContext": {"isRedelivery": True}}
    assert line.post([again]).status_code == 200
    assert line.post([again]).status_code == 200  # and once more: a no-op
    assert inbox(db) == [("done", None, 1)]
    assert outbox_statuses(db) == {"sent": 1}
    assert [d.kind for d in fake_line.deliveries] == ["reply"]
