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


def test_version_counter_refuses_a_stale_write(db, is_postgres):
    if not is_postgres:
        pytest.skip("SQLite takes the write lock at BEGIN, so two writers never overlap there")
    with db.session() as s:
        r = Resident(line_user_id=USER, channel="line")
        s.add(r)
        s.flush()
        s.add(ConversationState(resident_id=r.id, flow="settings", step="what", data={},
                                expires_at=utcnow() + timedelta(minutes=30)))
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
