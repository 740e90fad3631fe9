"""The clock process: its scheduler, job store and housekeeping."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.core.db import utcnow
from bot.core.models import ConversationState, InboundEvent, OutboxMessage, Resident
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
        assert sorted(j.id for j in again.get_jobs()) == [
            "circular_reminders", "daily_notices", "disaster_menus", "due", "event_reminders", "housekeeping", "jma_feeds",
            "mutual_aid", "safety_reasks"]
        assert again.get_job("due").next_run_time is not None
        again.shutdown(wait=False)
    finally:
        sched.shutdown(wait=False)
    with bot.db.engine.connect() as c:
        # the once-a-second look for due work stays in memory; the rest are in the database
        assert c.exec_driver_sql("SELECT count(*) FROM apscheduler_jobs").scalar() == 8


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
    assert counts == {"inbox": 1, "conversations": 1, "outbox": 1, "photos": 0, "safety_notes": 0, "translations": 0,
                      "unfollowed": 0}
    with db.session() as s:
        assert sorted(s.scalars(select(InboundEvent.webhook_event_id))) == ["new", "stuck"]
        payloads = sorted(map(str, s.scalars(select(OutboxMessage.payload))))
        assert payloads == ["[]", "[{'type': 'text', 'text': 'recent'}]"]
        assert s.scalar(select(func.count()).select_from(ConversationState)) == 0


def test_only_one_clock_runs_a_second_one_says_so_and_exits(bot, runner):
    first = clock.ClockLock(bot)
    assert first.acquire()
    try:
        assert not clock.ClockLock(bot).acquire()  # advisory lock (PostgreSQL) or file lock (SQLite)
        result = runner.invoke(args=["clock"])
        assert result.exit_code == 1
        assert "another clock is already running" in result.output
    finally:
        first.release()
    again = clock.ClockLock(bot)
    assert again.acquire()  # free once the first is gone
    again.release()


def test_a_second_clock_process_exits_while_the_first_holds_the_lock(bot, db_url, tmp_path):
    """Two real processes, as two Procfile `clock` entries would be."""
    import os
    import subprocess
    import sys

    from bot.core.config import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "DATABASE_URL"))}
    env.update(DATABASE_URL=db_url, PYTHONUNBUFFERED="1")
    holder = clock.ClockLock(bot)
    assert holder.acquire()
    try:
        proc = subprocess.run([sys.executable, "-m", "flask", "--app", "bot", "clock"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
    finally:
        holder.release()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "another clock is already running" in proc.stderr
