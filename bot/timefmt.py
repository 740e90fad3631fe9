"""Showing times to residents: stored in UTC, shown in the city's time zone, formatted by Babel
for the resident's locale."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

_BABEL = {"ja": "ja_JP", "en": "en_US"}
# With the weekday, which people plan by; no two-digit years, no seconds.
_PATTERNS = {"ja": "y/MM/dd(E) H:mm", "en": "EEE, MMM d, y, h:mm a"}


def show(dt: datetime, locale: str, tz_name: str) -> str:
    local = dt.astimezone(ZoneInfo(tz_name))
    return format_datetime(local, _PATTERNS.get(locale, "medium"), locale=_BABEL.get(locale, locale))


def show_time(dt: datetime, locale: str, tz_name: str) -> str:
    from babel.dates import format_time

    local = dt.astimezone(ZoneInfo(tz_name))
    return format_time(local, "H:mm" if locale == "ja" else "h:mm a", locale=_BABEL.get(locale, locale))


def same_day(a: datetime, b: datetime, tz_name: str) -> bool:
    tz = ZoneInfo(tz_name)
    return a.astimezone(tz).date() == b.astimezone(tz).date()


def parse_local(value: str, tz_name: str) -> datetime:
    """A LINE datetime picker value ("2026-12-24T07:30", no zone) as aware UTC."""
    naive = datetime.fromisoformat(value.strip())
    if naive.tzinfo is None:
        naive = naive.replace(tzinfo=ZoneInfo(tz_name))
    return naive.astimezone(timezone.utc)


def show_day(day, locale: str) -> str:
    """A date with its weekday, short: 12/2(水) / Wed, Dec 2."""
    from babel.dates import format_date

    return format_date(day, "M/d(E)" if locale == "ja" else "EEE, MMM d", locale=_BABEL.get(locale, locale))
