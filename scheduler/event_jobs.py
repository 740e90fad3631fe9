"""Event reminders for the clock: the day before (at a configurable hour, 18:00 by default) and,
when the organizer asked for it, an hour before. Each reminder has a unique key in the outbox,
so a job that runs twice sends once."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import event_messages as em
from bot.services import events
from bot.delivery import outbox
from bot.core.config import Config
from bot.core.models import Event, OutboxMessage
from bot.core.replies import Text
from bot.core.vocab import EventStatus, SignupStatus


def _send(session: Session, config: Config, event: Event, kind: str) -> int:
    # The start time is in the key: an event moved to another day is reminded again.
    prefix = f"ev:{event.id}:{kind}:{event.starts_at:%Y%m%d%H%M}:"
    done = set(session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.like(prefix + "%"))))
    n = 0
    for s in events.attendees(session, event.id):
        key = prefix + str(s.resident_id)
        if s.status != SignupStatus.GOING or key in done:
            continue
        text = em.reminder(event, s.resident.locale, config, soon=kind == "hour")
        if outbox.to_resident(session, s.resident, [Text(text)], dedupe_key=key):
            n += 1
    return n


def reminders(session: Session, config: Config, now: datetime) -> int:
    tz = ZoneInfo(config.tz_name)
    local = now.astimezone(tz)
    sent = 0
    if local.hour >= config.event_reminder_hour:
        tomorrow = (local + timedelta(days=1)).date()
        start = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=tz)
        for ev in session.scalars(select(Event).where(Event.status == EventStatus.SCHEDULED, Event.starts_at >= start,
                                                      Event.starts_at < start + timedelta(days=1))):
            sent += _send(session, config, ev, "day")
    for ev in session.scalars(select(Event).where(Event.status == EventStatus.SCHEDULED, Event.remind_hour_before.is_(True),
                                                  Event.starts_at > now, Event.starts_at <= now + timedelta(hours=1))):
        sent += _send(session, config, ev, "hour")
    return sent
