"""Event reminders for the clock: the day before (at a configurable hour, 18:00 by default) and,
when the organizer asked for it, an hour before. The service (`bot.services.events.reminders_due`)
gives each reminder a unique key in the outbox, so a job that runs twice sends once."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot import services
from bot.core.config import Config
from bot.services import events


def reminders(session: Session, config: Config, now: datetime) -> int:
    return services.apply(session, events.reminders_due(session, config, now), "clock").queued
