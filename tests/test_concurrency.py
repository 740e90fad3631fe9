"""Two events for one resident at once cannot corrupt their conversation."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from bot.core.db import utcnow
from bot.core.models import ConversationState, Resident
from tests import support

USER = "U" + "7" * 32


def test_simultaneous_answers_apply_once(app_factory, line, fake_line, db, joined):
    joined(USER)
    line.say(USER, "settings")
    line.tap(USER, "Name")
    clients = [support.Line(app_factory().test_client(), fake_line) for _ in range(4)]
    events = [c.text_event(USER, f"Name{i}") for i, c in enumerate(clients)]
    statuses = []
    barrier = threading.Barrier(len(clients))

    def send(c, ev):
        barrier.wait()
        statuses.append(c.post([ev]).status_code)

    threads = [threading.Thread(target=send, args=pair) for pair in zip(clients, events)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 4
    texts = fake_line.texts_to(USER)[-8:]
    assert sum(1 for t in texts if t.startswith("Saved.")) == 1
    assert sum(1 for t in texts if t == "Sorry, I did not understand that.") == 3
    with db.session() as s:
        r = s.scalar(select(Resident).where(Resident.line_user_id == USER))
        assert r.nickname in {f"Name{i}" for i in range(4)}
        assert s.scalar(select(ConversationState)) is None


def seed_conversation(db) -> None:
    """A resident at the first step of the settings flow (version 1)."""
    with db.session() as s:
        r = Resident(line_user_id=USER, channel="line")
        s.add(r)
        s.flush()
        s.add(ConversationState(resident_id=r.id, flow="settings", step="what", data={},
                                expires_at=utcnow() + timedelta(minutes=30)))


def test_version_counter_refuses_a_stale_write(db, is_postgres):
    if not is_postgres:
        pytest.skip("SQLite takes the write lock at BEGIN, so two writers never overlap there")
    seed_conversation(db)
    first, second = db.Session(), db.Session()
    try:
        a = first.scalar(select(ConversationState))
        b = second.scalar(select(ConversationState))
        a.step = "nickname"
        first.commit()
        b.step = "quiet"
        with pytest.raises(StaleDataError):
            second.commit()
    finally:
        first.close()
        second.close()
    with db.session() as s:
        st = s.scalar(select(ConversationState))
        assert st.step == "nickname" and st.version == 2


def test_a_step_saved_over_a_conversation_changed_since_it_was_read_is_refused(app, db):
    """The engine writes an answered step with one UPDATE checked against the version read with
    the conversation (the hot path), as the ORM's version counter would: if another event of the
    resident's saved first, the write is refused and the event starts again on fresh state."""
    from sqlalchemy import update  # only this test writes behind the engine's back

    from bot.core.config import Config
    from conversations import engine
    from handlers.context import Ctx

    seed_conversation(db)
    with pytest.raises(StaleDataError):
        with db.session() as s:
            state = s.scalar(select(ConversationState))
            s.execute(update(ConversationState.__table__).values(step="quiet", version=state.version + 1))
            ctx = Ctx(session=s, config=Config(), inbound=None, now=utcnow())
            engine._save(ctx, state, "nickname", {"x": 1})
    with db.session() as s:  # nothing of either write stayed (the transaction rolled back)
        state = s.scalar(select(ConversationState))
        assert (state.step, state.version, state.data) == ("what", 1, {})
        ctx = Ctx(session=s, config=Config(), inbound=None, now=utcnow())
        engine._save(ctx, state, "nickname", {"x": 1})  # on the version it read: saved
    with db.session() as s:
        state = s.scalar(select(ConversationState))
        assert (state.step, state.version, state.data) == ("nickname", 2, {"x": 1})


def test_a_conversation_ended_or_restarted_over_a_newer_version_is_refused(app, db):
    """Ending a conversation (one DELETE) and starting another flow over it (one UPDATE) are
    checked against the version read, as the ORM's would be: a newer save by another event of
    the resident's wins, and nothing of this event stays."""
    from sqlalchemy import update  # only this test writes behind the engine's back

    import conversations
    from bot.core.config import Config
    from conversations import engine
    from handlers.context import Ctx

    seed_conversation(db)
    for act in (engine.end, lambda ctx: engine.start(ctx, conversations.get("settings"), step="what")):
        with pytest.raises(StaleDataError):
            with db.session() as s:
                resident, state = s.scalar(select(Resident)), s.scalar(select(ConversationState))
                s.execute(update(ConversationState.__table__).values(step="quiet", version=state.version + 1))
                act(Ctx(session=s, config=Config(), inbound=None, now=utcnow(), resident=resident, conversation=state))
        with db.session() as s:
            assert s.scalar(select(ConversationState.step)) == "what"  # rolled back: still there, as it was
    with db.session() as s:  # on the version it read: ended
        ctx = Ctx(session=s, config=Config(), inbound=None, now=utcnow(), resident=s.scalar(select(Resident)),
                  conversation=s.scalar(select(ConversationState)))
        engine.end(ctx)
        assert ctx.conversation is None
    with db.session() as s:
        assert s.scalar(select(ConversationState)) is None
