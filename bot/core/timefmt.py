"""Showing times to residents: stored in UTC, shown in the city's time zone, formatted by Babel
for the resident's locale (weekday included: people plan by it; no seconds, no two-digit years).

Japanese may show the era year (令和8年12月24日(木) 10:00) when the city wants it
(`JAPANESE_ERA=1`)."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_skeleton, format_time
from babel.lists import format_list
from babel.numbers import format_decimal

_BABEL = {"ja": "ja_JP", "ja_easy": "ja_JP", "en": "en_US", "zh_Hans": "zh_Hans_CN", "ko": "ko_KR", "vi": "vi_VN",
          "tl": "fil_PH", "pt_BR": "pt_BR", "ne": "ne_NP", "id": "id_ID"}
_PATTERNS = {"ja": "y/MM/dd(E) H:mm", "ja_easy": "M月d日(E) H:mm", "en": "EEE, MMM d, y, h:mm a"}
_ERAS = ((date(2019, 5, 1), "令和"), (date(1989, 1, 8), "平成"), (date(1926, 12, 25), "昭和"))
_settings = {"japanese_era": False}


def use_japanese_era(on: bool) -> None:
    """Set once at start-up from the configuration."""
    _settings["japanese_era"] = bool(on)


def babel_locale(locale: str) -> str:
    return _BABEL.get(locale, locale)


def era_year(d: date) -> str:
    for start, name in _ERAS:
        if d >= start:
            n = d.year - start.year + 1
            return f"{name}{'元' if n == 1 else n}年"
    return f"{d.year}年"


def show(dt: datetime, locale: str, tz_name: str) -> str:
    local = dt.astimezone(ZoneInfo(tz_name))
    if locale == "ja" and _settings["japanese_era"]:
        return era_year(local.date()) + format_datetime(local, "M月d日(E) H:mm", locale="ja_JP")
    pattern = _PATTERNS.get(locale)
    if pattern:
        return format_datetime(local, pattern, locale=babel_locale(locale))
    loc = babel_locale(locale)
    return f"{format_skeleton('yMMMEd', local, locale=loc)} {format_time(local, 'short', locale=loc)}"


def number(n: float, locale: str) -> str:
    return format_decimal(n, locale=babel_locale(locale))


def show_time(dt: datetime, locale: str, tz_name: str) -> str:
    return show_clock(dt.astimezone(ZoneInfo(tz_name)).time(), locale)


def show_clock(at: time, locale: str) -> str:
    """A wall-clock time, the same way everywhere the resident sees one: 7:00 / 7:00 AM / 07:00."""
    if locale in ("ja", "ja_easy"):
        return format_time(at, "H:mm", locale="ja_JP")
    if locale == "en":
        return format_time(at, "h:mm a", locale="en_US")
    return format_time(at, "short", locale=babel_locale(locale))


def show_date(day: date, locale: str) -> str:
    """A date with its year, no weekday: 2026/12/24 / Dec 24, 2026 / 24 thg 12, 2026."""
    if locale in ("ja", "ja_easy"):
        if locale == "ja" and _settings["japanese_era"]:
            return era_year(day) + format_date(day, "M月d日", locale="ja_JP")
        return format_date(day, "y/M/d", locale="ja_JP")
    return format_skeleton("yMMMd", day, locale=babel_locale(locale))


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
    if locale in ("ja", "ja_easy"):
        return format_date(day, "M/d(E)", locale="ja_JP")
    return format_skeleton("MMMEd", day, locale=babel_locale(locale))


def show_list(items: list[str], locale: str) -> str:
    """A list as the language writes one (CLDR): 「燃やすごみ、びん」 / "Paper and Plastic" /
    "Giấy và Nhựa"."""
    if not items:
        return ""
    if locale in ("ja", "ja_easy"):
        return "、".join(items)
    return format_list(list(items), locale=babel_locale(locale))
