"""The clock process: its scheduler, job store and housekeeping."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.db import utcnow
from bot.models import ConversationState, InboundEvent, OutboxMessage, Resident
from scheduler import clock
from scheduler.housekeeping import tidy


def test_scheduler_keeps_its_jobs_in_the_bots_database(bot):
    sched = clock.build_scheduler(bot, blocking=False)
    sched.start(paused=True)
    try:
        job = sched.get_job("housekeeping")
        assert job is not None and str(sched.timezone) == "Asia/Tokyo"
        # built again (a restart), the job is replaced, not duplicated
        again = clock.build_scheduler(bot, blocking=False)
        again.start(paused=True)
        assert sorted(j.id for j in again.get_jobs()) == ["circular_reminders", "event_reminders", "housekeeping", "mutual_aid"]
        again.shutdown(wait=False)
    finally:
        sched.shutdown(wait=False)
    with bot.db.engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM apscheduler_jobs").scalar() == 4


def test_housekeeping_forgets_old_events_and_message_text(bot, db, time_machine):
    time_machine.move_to("2026-12-01 09:00:00+09:00", tick=False)
    now = utcnow()
    with db.session() as s:
        r = Resident(line_user_id="U" + "4" * 32, channel="line")
        s.add(r)
        s.flush()
        s.add_all([
            InboundEvent(webhook_event_id="old", event_type="message", status="done", received_at=now - timedelta(days=8)),
            InboundEvent(webhook_event_id="new", event_type="message", status="done", received_at=now),
            InboundEvent(webhook_event_id="stuck", event_type="message", status="pending", received_at=now - timedelta(days=8)),
            OutboxMessage(recipients=["U1"], payload=[{"type": "text", "text": "old"}], status="sent",
                          created_at=now - timedelta(days=31)),
            OutboxMessage(recipients=["U1"], payload=[{"type": "text", "text": "recent"}], status="sent", created_at=now),
            ConversationState(resident_id=r.id, flow="settings", step="what", data={}, expires_at=now - timedelta(minutes=1)),
        ])
    with db.session() as s:
        counts = tidy(s, utcnow())
    assert counts == {"inbox": 1, "conversations": 1, "outbox": 1, "photos": 0}
    with db.session() as s:
        assert sorted(s.scalars(select(InboundEvent.webhook_event_id))) == ["new", "stuck"]
        payloads = sorted(map(str, s.scalars(select(OutboxMessage.payload))))
        assert payloads == ["[]", "[{'type': 'text', 'text': 'recent'}]"]
        assert s.scalar(select(func.count()).select_from(ConversationState)) == 0
