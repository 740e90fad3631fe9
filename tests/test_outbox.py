"""The outbox and the worker: retry keys, 409, back-off, dead letters, crash recovery, and
never pushing to someone who left."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.delivery import outbox, worker
from bot.core.db import utcnow
from bot.delivery.inbound import Inbound
from bot.delivery.line_client import LineClient
from bot.core.models import OutboxMessage, Resident
from bot.core.replies import Text

USER = "U" + "d" * 32


@pytest.fixture
def resident_id(db):
    with db.session() as s:
        r = Resident(line_user_id=USER, channel="line", following=True, locale="en", consent_at=utcnow())
        s.add(r)
        s.flush()
        return r.id


def push(db, text="hello", resident_id=None, recipients=(USER,)) -> int:
    with db.session() as s:
        rows = outbox.enqueue(s, channel="line", recipients=list(recipients), replies=[Text(text)],
                              resident_id=resident_id)
        return rows[0].id


def row(db, row_id) -> OutboxMessage:
    with db.session() as s:
        return s.get(OutboxMessage, row_id)


@pytest.fixture
def clock(time_machine):
    time_machine.move_to("2026-12-01 09:00:00+09:00", tick=False)
    return time_machine


def pushes(fake_line):
    return [c for c in fake_line.calls if c.path == "/v2/bot/message/push"]


def test_worker_sends_a_push_with_a_retry_key(bot, db, fake_line, resident_id, clock):
    rid = push(db, resident_id=resident_id)
    assert worker.run_once(bot) == 1
    r = row(db, rid)
    assert r.status == "sent" and r.sent_at is not None and r.accepted_request_id
    assert fake_line.texts_to(USER) == ["hello"]
    assert pushes(fake_line)[0].headers["x-line-retry-key"] == r.retry_key


def test_a_push_goes_out_as_the_sdks_own_call_sends_it(bot, fake_line):
    """The message calls use the SDK's connection pool directly (no sanitising walk, no response
    model): the request LINE gets is the one the SDK's `call_api` sends for the same body."""
    body = {"to": USER, "messages": [{"type": "text", "text": "ごみの日です 🗑", "quickReply": {"items": [
        {"type": "action", "action": {"type": "postback", "label": "はい", "data": "f=x&k=1", "displayText": "はい"}}]}}]}
    assert bot.line.push(USER, body["messages"], "11111111-2222-4333-8444-555555555555").ok
    bot.line._api().api_client.call_api(
        "/v2/bot/message/push", "POST", {}, [], {"Accept": "application/json", "Content-Type": "application/json",
                                                 "X-Line-Retry-Key": "11111111-2222-4333-8444-666666666666"},
        body=body, post_params=[], files={}, response_types_map={}, auth_settings=["Bearer"],
        _return_http_data_only=False, _preload_content=True, collection_formats={})
    ours, sdks = pushes(fake_line)
    assert ours.body == sdks.body == body
    skip = {"x-line-retry-key", "host"}
    assert {k: v for k, v in ours.headers.items() if k not in skip} == {k: v for k, v in sdks.headers.items() if k not in skip}
    assert ours.headers["authorization"] == f"Bearer {fake_line.token}"
    assert ours.headers["user-agent"].startswith("line-bot-sdk-python/")


def test_a_base_url_with_a_path_keeps_it_as_the_sdk_does(fake_line):
    client = LineClient(fake_line.token, fake_line.url + "/gateway/")
    result = client.push(USER, [{"type": "text", "text": "hello"}], "11111111-2222-4333-8444-777777777777")
    assert fake_line.calls[-1].path == "/gateway/v2/bot/message/push"  # (the fake knows no such path)
    assert (result.outcome, result.status) == ("failed", 404)


def test_5xx_is_retried_later_with_the_same_retry_key(bot, db, fake_line, resident_id, clock):
    rid = push(db, resident_id=resident_id)
    fake_line.fail_next(500)
    worker.run_once(bot)
    r = row(db, rid)
    assert r.status == "pending" and r.attempts == 1 and "500" in r.last_error
    assert r.next_attempt_at > utcnow()
    worker.run_once(bot)  # not due yet: nothing is sent
    assert len(pushes(fake_line)) == 1
    clock.shift(timedelta(seconds=10))
    worker.run_once(bot)
    assert row(db, rid).status == "sent"
    keys = [c.headers["x-line-retry-key"] for c in pushes(fake_line)]
    assert len(keys) == 2 and keys[0] == keys[1] == r.retry_key
    assert fake_line.texts_to(USER) == ["hello"]


def test_409_for_an_accepted_retry_key_counts_as_sent(bot, db, fake_line, resident_id, clock):
    rid = push(db, resident_id=resident_id)
    # LINE accepted this key before (the answer was lost on the way back)
    fake_line.accepted_keys[row(db, rid).retry_key] = "earlier-request"
    worker.run_once(bot)
    r = row(db, rid)
    assert r.status == "sent" and r.accepted_request_id == "earlier-request"
    assert fake_line.deliveries == []  # not delivered twice


def test_lost_answer_then_retry_delivers_once(bot, db, fake_line, resident_id, clock):
    rid = push(db, resident_id=resident_id)
    worker.run_once(bot)
    # pretend the worker never heard back: the row goes back to pending and is retried
    with db.session() as s:
        r = s.get(OutboxMessage, rid)
        r.status, r.attempts = "pending", 1
    worker.run_once(bot)
    assert row(db, rid).status == "sent"
    assert len(fake_line.deliveries) == 1
    assert [c.status for c in pushes(fake_line)] == [200, 409]


def test_429_backs_off_at_least_retry_after(bot, db, fake_line, resident_id, clock):
    rid = push(db, resident_id=resident_id)
    fake_line.fail_next(429, retry_after=120)
    worker.run_once(bot)
    r = row(db, rid)
    assert r.status == "pending"
    assert r.next_attempt_at >= utcnow() + timedelta(seconds=120)
    clock.shift(timedelta(seconds=119))
    worker.run_once(bot)
    assert row(db, rid).status == "pending"
    clock.shift(timedelta(seconds=2))
    worker.run_once(bot)
    assert row(db, rid).status == "sent"


def test_backoff_grows_with_attempts_and_has_jitter():
    first = [outbox.backoff(1) for _ in range(50)]
    fifth = [outbox.backoff(5) for _ in range(50)]
    assert max(first) <= 3.0 < min(fifth)
    assert len(set(first)) > 1
    assert max(outbox.backoff(30) for _ in range(50)) <= outbox.BACKOFF_CAP * 1.5


def test_dead_letter_after_bounded_attempts(app_factory, fake_line, clock):
    app = app_factory(outbox_max_attempts=3)
    bot = app.extensions["tsunagari"]
    with bot.db.session() as s:
        s.add(Resident(line_user_id=USER, channel="line", following=True, locale="en"))
    rid = push(bot.db)
    fake_line.fail_next(503, count=10)
    for _ in range(5):
        worker.run_once(bot)
        clock.shift(timedelta(minutes=20))
    r = row(bot.db, rid)
    assert r.status == "dead" and r.attempts == 3 and "503" in r.last_error
    assert len(pushes(fake_line)) == 3


def test_non_retryable_4xx_is_dead_at_once(bot, db, fake_line, resident_id, clock):
    rid = push(db, resident_id=resident_id)
    fake_line.fail_next(403)
    worker.run_once(bot)
    r = row(db, rid)
    assert r.status == "dead" and r.attempts == 1 and r.last_error.startswith("403")


def test_dead_letter_when_retry_key_is_about_to_expire(bot, db, fake_line, resident_id, clock):
    rid = push(db, resident_id=resident_id)
    fake_line.fail_next(500)
    clock.shift(timedelta(hours=23, minutes=1))
    worker.run_once(bot)
    assert row(db, rid).status == "dead"


def test_timeouts_are_retried(app_factory, fake_line, clock):
    # A LINE API that does not answer: the unreachable port counts like a timeout.
    app = app_factory(line_api_base_url="http://127.0.0.1:9")
    bot = app.extensions["tsunagari"]
    with bot.db.session() as s:
        s.add(Resident(line_user_id=USER, channel="line", following=True, locale="en"))
    rid = push(bot.db)
    worker.run_once(bot)
    r = row(bot.db, rid)
    assert r.status == "pending" and r.attempts == 1


def test_rows_left_sending_by_a_dead_worker_are_recovered(bot, db, fake_line, resident_id, clock):
    rid = push(db, resident_id=resident_id)
    with db.session() as s:
        claimed = outbox.claim(s, 10)  # a worker claims the row, then dies
        assert [r.id for r in claimed] == [rid]
    worker.run_once(bot)
    assert row(db, rid).status == "sending" and fake_line.deliveries == []
    clock.shift(timedelta(seconds=bot.config.outbox_stale_seconds + 1))
    worker.run_once(bot)
    assert row(db, rid).status == "sent"
    assert len(fake_line.deliveries) == 1


def test_request_that_dies_before_sending_its_reply_is_recovered_by_a_push(line, bot, db, fake_line, clock):
    # The webhook committed the event and its reply, then the process died before sending.
    ev = Inbound.from_dict({
        "event_id": "01DIE", "kind": "follow", "user_id": USER, "reply_token": line.token(USER),
        "timestamp_ms": 0,
    })
    assert bot.record([ev]) == [ev]
    rows = bot.process(ev)
    assert rows and rows[0].status == "sending"
    clock.shift(timedelta(seconds=bot.config.outbox_stale_seconds + 1))
    worker.run_once(bot)
    assert [d.kind for d in fake_line.deliveries] == ["push"]
    assert "つながりへようこそ" in fake_line.texts_to(USER)[0]


def test_event_recorded_but_never_handled_is_handled_by_the_worker(line, bot, db, fake_line, clock):
    ev = Inbound.from_dict({"event_id": "01REC", "kind": "follow", "user_id": USER,
                            "reply_token": line.token(USER), "timestamp_ms": 0})
    bot.record([ev])  # and then the process died
    worker.run_once(bot)
    assert fake_line.deliveries == []  # too fresh: the request may still be working on it
    clock.shift(timedelta(seconds=bot.config.inbox_stale_seconds + 1))
    worker.run_once(bot)
    worker.run_once(bot)
    assert len(fake_line.deliveries) == 1
    assert bot.record([ev]) == []  # and a redelivery now is a no-op


def test_spent_reply_token_falls_back_to_a_push(line, fake_line, db):
    ev = line.follow_event(USER)
    fake_line.expire_reply_token(ev["replyToken"])
    assert line.post([ev]).status_code == 200
    assert [d.kind for d in fake_line.deliveries] == ["push"]
    with db.session() as s:
        r = s.scalar(select(OutboxMessage))
    assert r.status == "sent"


def test_reply_failing_with_5xx_is_pushed_by_the_worker(line, bot, fake_line, db, clock):
    fake_line.fail_next(500)
    line.follow(USER)
    assert fake_line.deliveries == []
    clock.shift(timedelta(minutes=2))
    worker.run_once(bot)
    assert [d.kind for d in fake_line.deliveries] == ["push"]


def _drop_connection_when_recording_a_send(engine, db_url: str, times: int = 1):
    """Cut the database connection under the statement that records a send, `times` times: a
    real disconnect on PostgreSQL (the server ends the session), the error SQLAlchemy raises for
    one on SQLite (which has no connection to lose)."""
    from sqlalchemy import create_engine, event, text
    from sqlalchemy.exc import OperationalError

    left = {"n": times}

    def before(conn, cursor, statement, parameters, context, executemany):
        if not (statement.startswith("UPDATE outbox_message SET status") and "sent_at" in statement) or left["n"] <= 0:
            return
        left["n"] -= 1
        if conn.dialect.name == "postgresql":
            pid = conn.connection.dbapi_connection.info.backend_pid
            killer = create_engine(db_url)
            with killer.connect() as k:
                k.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            killer.dispose()
        else:
            import sqlite3

            raise OperationalError(statement, parameters, sqlite3.OperationalError("disk I/O error"))

    event.listen(engine, "before_cursor_execute", before)
    return left


def test_a_reply_whose_recording_fails_once_is_recorded_and_never_sent_again(line, bot, db, db_url, fake_line, clock):
    left = _drop_connection_when_recording_a_send(db.engine, db_url)
    line.follow(USER)
    assert left["n"] == 0  # the connection was cut under the recording
    assert [d.kind for d in fake_line.deliveries] == ["reply"]
    with db.read() as s:
        assert set(s.scalars(select(OutboxMessage.status))) == {"sent"}
    clock.shift(timedelta(minutes=5))  # long after the worker would take back a row left "sending"
    worker.run_once(bot)
    assert [d.kind for d in fake_line.deliveries] == ["reply"]


def test_a_reply_that_cannot_be_recorded_at_all_is_sent_again_not_lost(line, bot, db, db_url, fake_line, clock):
    """If the database stays away, the outcome is unknown: the worker sends it again (at least
    once; a resident may see it twice, but never misses it)."""
    from bot.delivery import outbox as outbox_mod
    left = _drop_connection_when_recording_a_send(db.engine, db_url, times=len(outbox_mod.RECORD_RETRY_DELAYS) + 1)
    line.follow(USER)
    assert left["n"] == 0
    with db.read() as s:
        assert set(s.scalars(select(OutboxMessage.status))) == {"sending"}
    clock.shift(timedelta(minutes=5))
    worker.run_once(bot)  # takes the row back
    worker.run_once(bot)
    assert [d.kind for d in fake_line.deliveries] == ["reply", "push"]


def test_no_push_after_unfollow(line, bot, db, fake_line, joined, clock):
    joined(USER)
    with db.session() as s:
        rid_ = s.scalar(select(Resident.id).where(Resident.line_user_id == USER))
    waiting = push(db, "news", resident_id=rid_)
    line.unfollow(USER)
    assert row(db, waiting).status == "cancelled"
    later = push(db, "more news", resident_id=rid_)  # e.g. a job that did not know yet
    worker.run_once(bot)
    assert row(db, later).status == "cancelled"
    assert "news" not in fake_line.texts_to(USER) and "more news" not in fake_line.texts_to(USER)


def test_no_push_to_someone_who_deleted_their_data(line, bot, db, fake_line, joined, clock):
    joined(USER)
    line.say(USER, "delete my data")
    line.tap(USER, "Yes, delete")
    stray = push(db, "hello again")  # a message composed for them elsewhere, by user id
    worker.run_once(bot)
    assert row(db, stray).status == "cancelled"
    assert "hello again" not in fake_line.texts_to(USER)


def test_multicast_skips_only_unreachable_recipients(bot, db, fake_line, resident_id, clock):
    gone = "U" + "e" * 32
    with db.session() as s:
        s.add(Resident(line_user_id=gone, channel="line", following=False, locale="ja"))
    rid = push(db, "to both", recipients=(USER, gone))
    worker.run_once(bot)
    assert row(db, rid).status == "sent"
    assert fake_line.deliveries[0].to == [USER]


def test_one_resident_gets_their_messages_in_the_order_they_were_queued(bot, db, fake_line, resident_id, clock):
    """The worker sends in parallel threads, but never two rows to the same resident at once."""
    others = ["U" + f"{i:x}" * 32 for i in range(1, 6)]
    with db.session() as s:
        for u in others:
            s.add(Resident(line_user_id=u, channel="line", following=True, locale="ja"))
    for i in range(24):
        push(db, f"m{i}", resident_id=resident_id)
        push(db, f"o{i}", recipients=(others[i % len(others)],))
    fake_line.delay = 0.003  # each call takes a little while, so threads overlap
    assert bot.config.worker_threads > 1
    worker.run_once(bot, batch=100)
    assert fake_line.texts_to(USER) == [f"m{i}" for i in range(24)]
    for k, u in enumerate(others):
        assert fake_line.texts_to(u) == [f"o{i}" for i in range(24) if i % len(others) == k]


def test_two_workers_never_send_a_row_twice(bot, db, fake_line, resident_id, clock):
    ids = [push(db, f"m{i}", resident_id=resident_id) for i in range(60)]
    errors = []

    def run():
        try:
            for _ in range(5):
                worker.run_once(bot, batch=7)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    texts = fake_line.texts_to(USER)
    assert sorted(texts) == sorted(f"m{i}" for i in range(60))
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")) == len(ids)


def test_dead_letters_are_listed_and_requeued_from_the_command_line(bot, db, runner, fake_line, resident_id, clock):
    rid = push(db, "important", resident_id=resident_id)
    fake_line.fail_next(403)
    worker.run_once(bot)
    out = runner.invoke(args=["outbox", "dead"]).output
    assert str(rid) in out and "403" in out and "important" not in out and USER not in out
    assert "dead" in runner.invoke(args=["outbox", "status"]).output
    key = row(db, rid).retry_key
    assert runner.invoke(args=["outbox", "requeue"]).exit_code != 0  # ids or --all needed
    result = runner.invoke(args=["outbox", "requeue", str(rid)])
    assert "requeued 1" in result.output
    assert row(db, rid).status == "pending" and row(db, rid).retry_key == key
    worker.run_once(bot)
    assert row(db, rid).status == "sent"
    assert fake_line.texts_to(USER) == ["important"]


def test_requeue_after_a_day_mints_a_new_retry_key(bot, db, fake_line, resident_id, clock):
    rid = push(db, resident_id=resident_id)
    fake_line.fail_next(403)
    worker.run_once(bot)
    old = row(db, rid).retry_key
    clock.shift(timedelta(days=2))
    with db.session() as s:
        assert outbox.requeue(s) == 1
    worker.run_once(bot)
    r = row(db, rid)
    assert r.status == "sent" and r.retry_key != old


def test_a_row_that_keeps_killing_its_sender_ends_as_a_dead_letter(bot, db, time_machine):
    """A worker that dies while sending leaves the row "sending"; taking it back counts as an
    attempt, so a message that crashes every worker does not go round for ever."""
    from datetime import timedelta

    from bot.delivery import outbox
    from bot.core.db import utcnow
    from bot.core.models import OutboxMessage

    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)
    with db.session() as s:
        row = OutboxMessage(channel="web", recipients=["web-demo-x"], payload=[{"kind": "text", "text": "x"}],
                            status="pending", next_attempt_at=utcnow())
        s.add(row)
        s.flush()
        row_id = row.id
    for i in range(bot.config.outbox_max_attempts):
        with db.session() as s:
            assert [r.id for r in outbox.claim(s, 10)] == [row_id]
        time_machine.shift(timedelta(seconds=bot.config.outbox_stale_seconds + 1))  # the claimer "died"
        with db.session() as s:
            outbox.recover_stale(s, bot.config.outbox_stale_seconds, utcnow(), bot.config.outbox_max_attempts)
    with db.session() as s:
        row = s.get(OutboxMessage, row_id)
        assert row.status == "dead" and row.attempts == bot.config.outbox_max_attempts
