"""Quiet hours: when a non-urgent push to a resident may go out."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.models import Resident


def in_quiet_hours(resident: Resident, when: datetime, tz_name: str) -> bool:
    start, end = resident.quiet_start, resident.quiet_end
    if start is None or end is None or start == end:
        return False
    local = when.astimezone(ZoneInfo(tz_name))
    minute = local.hour * 60 + local.minute
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end  # across midnight (21:00–8:00)


def next_allowed(resident: Resident, when: datetime, tz_name: str) -> datetime:
    """`when`, or the end of the resident's quiet hours if `when` falls inside them."""
    if not in_quiet_hours(resident, when, tz_name):
        return when
    tz = ZoneInfo(tz_name)
    local = when.astimezone(tz)
    end = resident.quiet_end or 0
    morning = local.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    if morning <= local:
        morning = (local + timedelta(days=1)).replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    return morning.astimezone(when.tzinfo)


def local_day(when: datetime, tz_name: str) -> str:
    return when.astimezone(ZoneInfo(tz_name)).date().isoformat()
