"""bot.core.prepared: the hot path's statements run on the driver's cursor must write what
SQLAlchemy's own execution writes, and fail the way it fails (issue 22)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, create_engine, event, insert, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from bot.core.db import Database
from bot.core.models import Area, ConversationState, InboundEvent, OutboxMessage, Resident
from bot.core.prepared import Prepared, attach_row, columns

OUTBOX = OutboxMessage.__table__
COLUMNS = ("channel", "recipients", "payload", "reply_token", "retry_key", "status", "attempts", "next_attempt_at",
           "claimed_at", "erase_after_send", "created_at", "kind", "rank")
PAYLOAD = [{"type": "text", "text": "ゴミ出しの日は？ «quoted» \\ \"x\"",
            "quickReply": {"items": [{"type": "action", "action": {"type": "postback", "label": "月曜",
                                                                    "data": "a=step&o=1", "displayText": "月曜"}}]}}]


def values(retry_key: str, when: datetime) -> dict:
    return dict(channel="line", recipients=["U" + "1" * 32], payload=PAYLOAD, reply_token="tok", retry_key=retry_key,
                status="sending", attempts=0, next_attempt_at=when, claimed_at=when, erase_after_send=True,
                created_at=when, kind="push", rank=0)


@pytest.fixture
def database(db_url):
    d = Database(db_url)
    yield d
    d.engine.dispose()


def test_a_row_written_on_the_driver_reads_back_as_sqlalchemy_wrote_it(database):
    when = datetime(2026, 12, 5, 23, 30, 15, 123456, tzinfo=timezone.utc)
    prepared = Prepared(insert(OUTBOX).returning(OUTBOX.c.id), columns=COLUMNS)
    with database.core() as conn:
        fast_id = prepared.run(conn, values("k-fast", when)).fetchone()[0]
        slow_id = conn.execute(insert(OUTBOX).returning(OUTBOX.c.id), values("k-slow", when)).scalar_one()
    with database.read() as s:
        fast, slow = (s.get(OutboxMessage, i) for i in (fast_id, slow_id))
        for column in COLUMNS:
            if column != "retry_key":
                assert getattr(fast, column) == getattr(slow, column), column
        assert fast.payload == PAYLOAD and fast.next_attempt_at == when and fast.erase_after_send is True
        # the same text in the database, not only the same values once read
        raw = s.execute(text("SELECT payload, recipients, created_at FROM outbox_message ORDER BY id")).all()
        assert raw[0] == raw[1]
    # read back on the driver: each value as SQLAlchemy reads it (JSON parsed, booleans, times)
    read = Prepared(select(OUTBOX.c.payload, OUTBOX.c.recipients, OUTBOX.c.erase_after_send, OUTBOX.c.created_at,
                           OUTBOX.c.reply_token).where(OUTBOX.c.id == bindparam("rid")))
    with database.read() as s:
        expected = s.execute(select(OUTBOX.c.payload, OUTBOX.c.recipients, OUTBOX.c.erase_after_send,
                                    OUTBOX.c.created_at, OUTBOX.c.reply_token).where(OUTBOX.c.id == fast_id)).one()
        assert read.rows(s.connection(), {"rid": fast_id}) == [tuple(expected)]
        assert read.rows(s.connection(), {"rid": fast_id})[0] == (PAYLOAD, ["U" + "1" * 32], True, when, "tok")


def test_values_compiled_into_the_statement_and_the_rowcount(database):
    t = InboundEvent.__table__
    when = datetime(2026, 12, 5, 23, 0, tzinfo=timezone.utc)
    record = Prepared(insert(t).values(status="done", payload=None, attempts=1).returning(t.c.id),
                      columns=["webhook_event_id", "event_type", "received_at"])
    finish = Prepared(update(t).where(t.c.webhook_event_id == bindparam("eid"), t.c.status == "done")
                      .values(attempts=t.c.attempts + 1, processed_at=bindparam("at")))
    with database.core() as conn:
        record.run(conn, {"webhook_event_id": "E1", "event_type": "message", "received_at": when})
        assert finish.run(conn, {"eid": "E1", "at": when + timedelta(seconds=1)}).rowcount == 1
        assert finish.run(conn, {"eid": "nobody", "at": when}).rowcount == 0
    with database.read() as s:
        row = s.execute(select(t.c.status, t.c.payload, t.c.attempts, t.c.processed_at)).one()
    assert tuple(row) == ("done", None, 2, when + timedelta(seconds=1))


def test_a_constraint_error_comes_out_as_sqlalchemys_and_the_transaction_rolls_back(database):
    when = datetime(2026, 12, 5, 23, 0, tzinfo=timezone.utc)
    prepared = Prepared(insert(OUTBOX).returning(OUTBOX.c.id), columns=COLUMNS)
    with pytest.raises(IntegrityError) as raised:
        with database.core() as conn:
            prepared.run(conn, values("same-key", when))
            prepared.run(conn, values("same-key", when))
    assert "retry_key" in str(raised.value.orig).lower() or "unique" in str(raised.value.orig).lower()
    with database.read() as s:
        assert s.scalar(select(OUTBOX.c.id)) is None  # the first row went with the transaction
    with database.core() as conn:  # the connection is usable again
        assert prepared.run(conn, values("same-key", when)).fetchone()[0] >= 1


def test_listeners_see_each_statement(database):
    seen = []
    event.listen(database.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, params, context, many: seen.append(statement))
    with database.core() as conn:
        Prepared(update(OUTBOX).where(OUTBOX.c.id == bindparam("rid")).values(attempts=1)).run(conn, {"rid": 1})
    assert [s for s in seen if s.startswith("UPDATE outbox_message")]


def test_a_connection_that_went_away_is_invalidated_and_said_so(database, db_url, is_postgres):
    """A lost connection (PostgreSQL: the backend killed, as in a failover): SQLAlchemy's error
    with connection_invalidated, as from its own execution — what the send's recording retries
    on — and the pool's next connection works."""
    prepared = Prepared(update(OUTBOX).where(OUTBOX.c.id == bindparam("rid")).values(attempts=1))
    with pytest.raises(OperationalError if is_postgres else DBAPIError) as raised:
        with database.core() as conn:
            if is_postgres:
                pid = conn.connection.dbapi_connection.info.backend_pid
                killer = create_engine(db_url)
                with killer.connect() as k:
                    k.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                killer.dispose()
            else:  # a SQLite file does not go away: the driver's connection closed under it
                conn.connection.dbapi_connection.close()
            prepared.run(conn, {"rid": 1})
    assert raised.value.connection_invalidated
    with database.core() as conn:
        assert prepared.run(conn, {"rid": 1}).rowcount == 0


# -- ORM objects for rows read on the driver (the resident and their conversation, every event) --

def _resident_with_conversation(database, user: str) -> None:
    with database.session() as s:
        r = Resident(line_user_id=user, channel="line", locale="vi", following=True,
                     created_at=datetime(2026, 12, 1, tzinfo=timezone.utc))
        s.add(r)
        s.flush()
        s.add(ConversationState(resident_id=r.id, flow="onboarding", step="area", data={"locale": "vi"},
                                expires_at=datetime(2030, 1, 1, tzinfo=timezone.utc),
                                updated_at=datetime(2026, 12, 1, tzinfo=timezone.utc)))


def _read(session, user: str):
    r, c = Resident.__table__, ConversationState.__table__
    stmt = Prepared(select(*columns(Resident, ConversationState, Area))
                    .select_from(r.outerjoin(c, c.c.resident_id == r.c.id)
                                 .outerjoin(Area.__table__, Area.__table__.c.id == r.c.area_id))
                    .where(r.c.line_user_id == bindparam("uid")))
    return attach_row(session, stmt.rows(session.connection(), {"uid": user})[0], Resident, ConversationState, Area)


def test_objects_attached_from_a_row_are_as_if_the_session_had_loaded_them(database):
    user = "U" + "7" * 32
    _resident_with_conversation(database, user)
    with database.session() as s:
        resident, state, area = _read(s, user)
        assert area is None  # no area yet: the empty side of the outer join
        assert inspect(resident).persistent and inspect(state).persistent
        assert not s.dirty and not s.new
        assert (resident.locale, state.step, state.data, state.version) == ("vi", "area", {"locale": "vi"}, 1)
        assert s.get(Resident, resident.id) is resident  # in the identity map
        assert resident.memberships == []  # a relationship not read loads when used
        assert _read(s, user)[0] is resident  # read again: the session's object
        resident.nickname = "Lan"
        state.step = "code"  # flushed by the ORM with its version check
    with database.read() as s:
        assert s.scalar(select(Resident.nickname)) == "Lan"
        assert (s.scalar(select(ConversationState.step)), s.scalar(select(ConversationState.version))) == ("code", 2)


def test_an_attached_conversation_changed_underneath_is_refused(database):
    user = "U" + "8" * 32
    _resident_with_conversation(database, user)
    with pytest.raises(StaleDataError):
        with database.session() as s:
            _, state, _ = _read(s, user)
            s.connection().execute(update(ConversationState.__table__).values(version=5))  # another event's save
            state.step = "code"
    with database.read() as s:
        assert s.scalar(select(ConversationState.step)) == "area"


def test_returning_rows_are_read_back_like_a_select(database):
    when = datetime(2026, 12, 5, 23, 0, tzinfo=timezone.utc)
    prepared = Prepared(insert(OUTBOX).returning(OUTBOX.c.id, OUTBOX.c.payload, OUTBOX.c.created_at), columns=COLUMNS)
    with database.core() as conn:
        ((row_id, payload, created),) = prepared.rows(conn, values("k-returning", when))
    assert row_id >= 1 and payload == PAYLOAD and created == when
