"""The web chat's date picker: what LINE's datetime picker offers, as lists to choose from, each
written the way the resident's language writes dates and times (Babel, through bot.core.timefmt)
— not the browser's own date field, which writes them as the browser's locale does (mm/dd/yyyy).

The values are what LINE sends back in the postback's params: "2026-12-24", "07:30",
"2026-12-24T07:30"."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core import timefmt

DAYS = 366  # without a max: from today, a year ahead (LINE's picker goes further; nobody here needs it)
STEP_MINUTES = 30
DEFAULT_TIME = "10:00"


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "")[:10])
    except ValueError:
        return None


def _time(value: str | None) -> str | None:
    part = (value or "").rpartition("T")[2] if "T" in (value or "") else (value or "")
    try:
        return time.fromisoformat(part).strftime("%H:%M")
    except ValueError:
        return None


def date_label(day: date, today: date, locale: str) -> str:
    """12/2(水) / Wed, Dec 2 this year; with the year (2027/1/5) beyond it."""
    return timefmt.show_day(day, locale) if day.year == today.year else timefmt.show_date(day, locale)


def picker(question: dict, locale: str, tz_name: str, now: datetime) -> dict:
    """{"dates": [[value, label], …], "times": [[value, label], …], "date": chosen, "time": chosen}
    for a date question (its mode, min, max and initial value, as LINE's picker takes them)."""
    mode = question.get("mode") or "datetime"
    today = now.astimezone(ZoneInfo(tz_name)).date()
    first = _day(question.get("min")) or today
    last = _day(question.get("max")) or first + timedelta(days=DAYS - 1)
    out: dict = {}
    if mode in ("date", "datetime"):
        days = [first + timedelta(days=n) for n in range(min((last - first).days + 1, DAYS))]
        out["dates"] = [[d.isoformat(), date_label(d, today, locale)] for d in days]
        initial = _day(question.get("initial"))
        out["date"] = initial.isoformat() if initial and first <= initial <= last else (days[0].isoformat() if days else "")
    if mode in ("time", "datetime"):
        clock = [time(m // 60, m % 60) for m in range(0, 24 * 60, STEP_MINUTES)]
        out["times"] = [[c.strftime("%H:%M"), timefmt.show_clock(c, locale)] for c in clock]
        out["time"] = _time(question.get("initial")) or DEFAULT_TIME
    return out
