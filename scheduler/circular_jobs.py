"""Circular reminders for the clock: N days before the deadline (from 9:00 local), the members
whose household has not read it get one reminder; never more than once a day per circular."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import apply, circulars
from bot.core.config import Config
from bot.core.models import Circular

REMIND_FROM_HOUR = 9


def auto_remind(session: Session, config: Config, now: datetime) -> int:
    tz = ZoneInfo(config.tz_name)
    local = now.astimezone(tz)
    if local.hour < REMIND_FROM_HOUR:
        return 0
    today = local.date()
    n = 0
    for circ in session.scalars(select(Circular).where(Circular.sent_at.is_not(None), Circular.deadline > now)):
        due = circ.deadline.astimezone(tz).date() - timedelta(days=circ.remind_days_before)
        # once from the due day on, unless someone already reminded since then
        if due <= today and (circ.last_reminded_on is None or circ.last_reminded_on < due.isoformat()):
            n += apply(session, circulars.remind_unread(session, circ, config, now), "clock").facts["reminded"]
    return n
