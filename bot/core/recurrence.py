"""Schedules for personal reminders and scheduled announcements.

A `Rule` is evaluated in the city's local time; fire times are aware UTC datetimes. `parse()`
reads what a resident types ("毎週火曜 7:00 燃えるごみ", "every tue and fri 7am …") and
`describe()` says a rule back in the resident's language, every word through the catalog.
"""
from __future__ import annotations

import calendar
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.core import timefmt
from bot.core.i18n import N_, t
from bot.core.vocab import RuleKind

DEFAULT_TZ = "Asia/Tokyo"
KINDS = tuple(RuleKind)
# The optional fields each kind uses; every other optional field must be left empty.
_KIND_FIELDS = {
    RuleKind.ONCE: {"on"},
    RuleKind.DAILY: set(),
    RuleKind.WEEKLY: {"weekdays"},
    RuleKind.MONTHLY: {"day"},
    RuleKind.NTH_WEEKDAY: {"nth", "weekday"},
}
_JSON_KEYS = {"kind", "at", "on", "weekdays", "day", "nth", "weekday"}
_HHMM = re.compile(r"(\d{2}):(\d{2})")


# --- the rule ----------------------------------------------------------------------------------

def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Rule:
    """When something fires, in local wall-clock terms (see the module docstring)."""

    kind: str
    at: time
    on: date | None = None
    weekdays: tuple[int, ...] = ()
    day: int | None = None
    nth: int | None = None
    weekday: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.weekdays, (tuple, list)):
            raise ValueError("'weekdays' must be a tuple")
        object.__setattr__(self, "weekdays", tuple(self.weekdays))
        _validate(self)

    def to_json(self) -> str:
        """Compact JSON with sorted keys, holding only the fields this kind uses."""
        data: dict[str, object] = {"kind": self.kind, "at": f"{self.at.hour:02d}:{self.at.minute:02d}"}
        if self.kind == RuleKind.ONCE:
            data["on"] = self.on.isoformat()
        elif self.kind == RuleKind.WEEKLY:
            data["weekdays"] = list(self.weekdays)
        elif self.kind == RuleKind.MONTHLY:
            data["day"] = self.day
        elif self.kind == RuleKind.NTH_WEEKDAY:
            data["nth"], data["weekday"] = self.nth, self.weekday
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> "Rule":
        """The rule `to_json` wrote; ValueError for anything else."""
        data = json.loads(s)
        if not isinstance(data, dict) or not {"kind", "at"} <= set(data) <= _JSON_KEYS:
            raise ValueError("not a recurrence rule")
        hhmm = _HHMM.fullmatch(data["at"]) if isinstance(data["at"], str) else None
        if hhmm is None:
            raise ValueError("'at' must be HH:MM")
        on = data.get("on")
        if on is not None and not isinstance(on, str):
            raise ValueError("'on' must be an ISO date")
        weekdays = data.get("weekdays", [])
        if not isinstance(weekdays, list):
            raise ValueError("'weekdays' must be a list")
        return cls(
            kind=data["kind"],
            at=time(int(hhmm[1]), int(hhmm[2])),
            on=date.fromisoformat(on) if on is not None else None,
            weekdays=tuple(weekdays),
            day=data.get("day"),
            nth=data.get("nth"),
            weekday=data.get("weekday"),
        )


def _validate(rule: Rule) -> None:
    if rule.kind not in KINDS:
        raise ValueError(f"unknown kind {rule.kind!r}")
    at = rule.at
    if not isinstance(at, time) or at.tzinfo is not None or at.second or at.microsecond:
        raise ValueError("'at' must be a naive time of whole minutes")
    used = {
        name for name, present in (
            ("on", rule.on is not None), ("weekdays", bool(rule.weekdays)), ("day", rule.day is not None),
            ("nth", rule.nth is not None), ("weekday", rule.weekday is not None),
        ) if present
    }
    wanted = _KIND_FIELDS[rule.kind]
    if used != wanted:
        raise ValueError(f"a {rule.kind} rule needs {sorted(wanted)}, got {sorted(used)}")
    if rule.kind == RuleKind.ONCE and (not isinstance(rule.on, date) or isinstance(rule.on, datetime)):
        raise ValueError("'on' must be a date")
    if rule.kind == RuleKind.WEEKLY:
        days = rule.weekdays
        if not all(_is_int(d) and 0 <= d <= 6 for d in days) or list(days) != sorted(set(days)):
            raise ValueError("'weekdays' must be sorted, unique, 0..6")
    if rule.kind == RuleKind.MONTHLY and not (_is_int(rule.day) and (1 <= rule.day <= 31 or rule.day == -1)):
        raise ValueError("'day' must be 1..31 or -1")
    if rule.kind == RuleKind.NTH_WEEKDAY:
        if not (_is_int(rule.nth) and (1 <= rule.nth <= 5 or rule.nth == -1)):
            raise ValueError("'nth' must be 1..5 or -1")
        if not (_is_int(rule.weekday) and 0 <= rule.weekday <= 6):
            raise ValueError("'weekday' must be 0..6")


# --- fire times --------------------------------------------------------------------------------

def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _day_in_month(rule: Rule, year: int, month: int) -> date | None:
    """The day a monthly or nth_weekday rule falls on in that month, if any."""
    first_weekday, length = calendar.monthrange(year, month)
    if rule.kind == RuleKind.MONTHLY:
        return date(year, month, length if rule.day == -1 else min(rule.day, length))
    if rule.nth == -1:
        last_weekday = (first_weekday + length - 1) % 7
        return date(year, month, length - (last_weekday - rule.weekday) % 7)
    dom = 1 + (rule.weekday - first_weekday) % 7 + 7 * (rule.nth - 1)
    return date(year, month, dom) if dom <= length else None


def _local_dates(rule: Rule, start: date):
    """Yield, in order, every local date on or after `start` on which the rule fires."""
    if rule.kind == RuleKind.ONCE:
        if rule.on >= start:
            yield rule.on
        return
    if rule.kind in (RuleKind.DAILY, RuleKind.WEEKLY):
        d = start
        while True:
            if rule.kind == RuleKind.DAILY or d.weekday() in rule.weekdays:
                yield d
            if d == date.max:
                return
            d += timedelta(days=1)
    year, month = start.year, start.month
    while year <= date.max.year:
        d = _day_in_month(rule, year, month)
        if d is not None and d >= start:
            yield d
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _fire(rule: Rule, d: date, tz: ZoneInfo) -> datetime:
    # In a DST gap the wall time does not exist: fold=0 gives the instant it would have been.
    return datetime.combine(d, rule.at, tzinfo=tz).astimezone(timezone.utc)


def _fires_from(rule: Rule, moment: datetime, tz: ZoneInfo):
    """Yield fire times in order, from the local day before `moment` on (a safe lower bound)."""
    local_day = moment.astimezone(tz).date()
    start = local_day - timedelta(days=1) if local_day > date.min else local_day
    try:
        for d in _local_dates(rule, start):
            yield _fire(rule, d, tz)
    except OverflowError:  # the end of the calendar
        return


def next_after(rule: Rule, after: datetime, tz_name: str = DEFAULT_TZ) -> datetime | None:
    """The first fire time strictly after `after` (aware), as aware UTC; None when there is none."""
    _require_aware(after, "after")
    for fire in _fires_from(rule, after, ZoneInfo(tz_name)):
        if fire > after:
            return fire
    return None


def occurrences(rule: Rule, start: datetime, end: datetime, tz_name: str = DEFAULT_TZ) -> list[datetime]:
    """Every fire time in (start, end], as aware UTC, in order."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    found: list[datetime] = []
    if end <= start:
        return found
    for fire in _fires_from(rule, start, ZoneInfo(tz_name)):
        if fire > end:
            break
        if fire > start:
            found.append(fire)
    return found


# --- describing a rule -------------------------------------------------------------------------

_SHORT_WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
_WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"),
             N_("Sunday"))
_ORDINALS = (N_("1st"), N_("2nd"), N_("3rd"), N_("4th"), N_("5th"))
# A whole date per month, so each language orders day, month and year its own way.
def describe(rule: Rule, locale: str) -> str:
    """The rule in words, e.g. "Every Tue, Fri at 7:00 AM" / "毎週 火・金 7:00"; times and dates as
    bot.core.timefmt shows them everywhere else."""
    clock = timefmt.show_clock(rule.at, locale)
    if rule.kind == RuleKind.DAILY:
        return t(locale, N_("Every day at {time}"), time=clock)
    if rule.kind == RuleKind.WEEKLY:
        names = [t(locale, _SHORT_WEEKDAYS[d]) for d in rule.weekdays]
        listed = names[0]
        for name in names[1:]:
            listed = t(locale, N_("{weekday_list}, {weekday}"), weekday_list=listed, weekday=name)
        return t(locale, N_("Every {weekdays} at {time}"), weekdays=listed, time=clock)
    if rule.kind == RuleKind.MONTHLY:
        if rule.day == -1:
            return t(locale, N_("Monthly on the last day at {time}"), time=clock)
        return t(locale, N_("Monthly on day {day} at {time}"), day=rule.day, time=clock)
    if rule.kind == RuleKind.NTH_WEEKDAY:
        weekday = t(locale, _WEEKDAYS[rule.weekday])
        if rule.nth == -1:
            return t(locale, N_("Monthly on the last {weekday} at {time}"), weekday=weekday, time=clock)
        return t(locale, N_("Monthly on the {ordinal} {weekday} at {time}"),
                 ordinal=t(locale, _ORDINALS[rule.nth - 1]), weekday=weekday, time=clock)
    return t(locale, N_("{date} at {time}"), date=timefmt.show_date(rule.on, locale), time=clock)


# --- parsing what a resident types -------------------------------------------------------------

class ParseError(ValueError):
    """Text that is not a schedule; `reason` is a msgid saying what to fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_NO_WHEN = N_("Please say when, like “every Tuesday”, “every day” or “12/24”.")
_NO_TIME = N_("Please add a time, like 7:00.")
_NO_TITLE = N_("Please add what it is about, like “burnable garbage”.")
_BAD_TIME = N_("There is no such time. Please use a time from 0:00 to 23:59.")
_BAD_DATE = N_("There is no such date. Please check the month and day.")
_BAD_DAY = N_("A day of the month must be from 1 to 31.")
_BAD_NTH = N_("Please use the 1st to 5th, or the last, weekday of the month.")
_PASSED = N_("That time has already passed.")

_I = re.IGNORECASE | re.VERBOSE
_JA_WD = "月火水木金土日"
_EN_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MAX_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# Japanese weekdays: "火曜日", "火曜", or (where it cannot be read otherwise) a bare "火".
_JA_DAY = rf"[{_JA_WD}]曜日?"
_JA_DAY_LOOSE = rf"[{_JA_WD}](?:曜日?|(?=\s|$|[・、,/&~〜ー\-と\d{_JA_WD}]|から|午|朝|夜))"
_JA_SEP = r"\s*(?:[・、,/&~〜ー\-]|と|から|および|及び)?\s*"
_EN_DAY = r"""(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?
               |sat(?:urday)?|sun(?:day)?)s?\.?(?![a-z])"""
_EN_DAYS_PLURAL = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)days(?![a-z])"
_EN_SEP = r"(?:\s*[,&/]\s*(?:and\s+)?|\s*[-–]\s*|\s+(?:and|to|through|thru)\s+|\s+)"
_MONTH = r"""(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?
             |sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?(?![a-z])"""
_EVERY_MONTH = r"(?:every\s+month|monthly)"

_WEEKLY = re.compile(rf"""
    毎週の?\s*(?P<ja>{_JA_DAY_LOOSE}(?:{_JA_SEP}{_JA_DAY_LOOSE})*)
  | 毎?\s*(?P<ja2>{_JA_DAY}(?:{_JA_SEP}{_JA_DAY})*)
  | (?P<weekdays>平日|(?:every\s+)?weekdays?(?![a-z]))
  | (?P<weekend>毎?週末|(?:every\s+)?weekends?(?![a-z]))
  | (?:on\s+)?every\s+(?P<en>{_EN_DAY}(?:{_EN_SEP}{_EN_DAY})*)
  | (?:on\s+)?(?P<en2>{_EN_DAYS_PLURAL}(?:{_EN_SEP}{_EN_DAYS_PLURAL})*)
""", _I)
_NTH = re.compile(rf"""
    (?:毎月の?\s*)?(?:第\s*(?P<n>\d{{1,2}})|(?P<last>最終|最後の))\s*(?P<ja>{_JA_DAY_LOOSE})
  | (?:{_EVERY_MONTH}(?:\s+on)?\s+)?(?:on\s+)?(?:the\s+)?
    (?:(?P<en_n>\d{{1,2}})(?:st|nd|rd|th)|(?P<word>first|second|third|fourth|fifth|last))\s+(?P<en>{_EN_DAY})
    (?:\s+(?:of|in)\s+(?:every|each|the)\s+month(?![a-z]))?
""", _I)
_MONTHLY = re.compile(rf"""
    毎月の?\s*(?:(?P<ja>\d{{1,3}})\s*日(?!曜)|(?P<ja_last>末日?|最終日|月末))
  | (?P<ja_last2>月末)
  | {_EVERY_MONTH}(?:\s+on)?(?:\s+the)?\s+
    (?:(?P<en>\d{{1,3}})(?:st|nd|rd|th)|day\s+(?P<en2>\d{{1,3}})|(?P<en_last>last\s+day|end))(?![a-z\d])
  | (?:on\s+)?(?:the\s+)?(?:(?P<en3>\d{{1,3}})(?:st|nd|rd|th)|(?P<en_last2>last\s+day|end))
    \s+of\s+(?:every|each|the)\s+month(?![a-z])
""", _I)
_DAILY = re.compile(r"""
    (?:毎日|毎朝|日々|every\s*day|daily|every\s+morning)(?![a-z])
  | (?P<evening>毎晩|毎夜|毎夕|every\s+(?:evening|night)|nightly)(?![a-z])
""", _I)
_RELATIVE = re.compile(r"""
    (?:on\s+)?(?P<word>今日|きょう|本日|今夜|今晩|明後日|あさって|明日|あした|あす
      |today|tonight|tomorrow|tmrw|(?:the\s+)?day\s+after\s+tomorrow)
    (?=$|[^a-zぁ-ゖ]|[のはに])
""", _I)
_OFFSETS = {"今日": 0, "きょう": 0, "本日": 0, "今夜": 0, "今晩": 0, "today": 0, "tonight": 0,
            "明日": 1, "あした": 1, "あす": 1, "tomorrow": 1, "tmrw": 1,
            "明後日": 2, "あさって": 2, "day after tomorrow": 2}
_EVENING_WORDS = {"今夜", "今晩", "tonight"}
_ORDINAL_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
_MERIDIEM = {"a": "am", "p": "pm", "午前": "am", "朝": "am", "午後": "pm", "夜": "pm", "晩": "pm", "夕方": "pm"}
_WD_NOTE = rf"(?:\s*\(\s*(?:{_JA_DAY}|[{_JA_WD}]|{_EN_DAY})\s*\))?"
_DATES_RE = tuple(re.compile(p + _WD_NOTE, _I) for p in (
    r"(?:on\s+)?(?P<y>\d{4})\s*(?P<sep>[/\-.])\s*(?P<m>\d{1,2})\s*(?P=sep)\s*(?P<d>\d{1,2})(?![\d/])",
    r"(?:(?P<y>\d{4})\s*年\s*)?(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日",
    r"(?:on\s+)?(?P<m>\d{1,2})\s*/\s*(?P<d>\d{1,2})(?:\s*/\s*(?P<y>\d{4}))?(?![\d/])",
    rf"""(?:on\s+)?(?P<mon>{_MONTH})\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?
         (?:\s*,?\s*(?P<y>\d{{4}}))?(?![\d:a-z])""",
    rf"""(?:on\s+)?(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>{_MONTH})
         (?:\s*,?\s*(?P<y>\d{{4}}))?(?![\d:])""",
))
_TIME = re.compile(r"""
    (?:at\s+)?(?:
        (?P<noon>noon|正午)(?![a-z]) | (?P<midnight>midnight)(?![a-z])
      | (?:(?P<ja>午前|午後|朝|夜|晩|夕方)\s*)?(?P<h>\d{1,2})
        (?: \s*:\s*(?P<m>\d{2})(?!\d)
          | \s*時\s*(?:(?P<jm>\d{1,2})\s*分|(?P<half>半))?
          | (?=\s*[ap]\.?m\.?(?![a-z])) )
        (?:\s*(?P<en>[ap])\.?m\.?(?![a-z]))?
    )
""", _I)
_GAP = re.compile(r"[\s、,]*")
_PARTICLE = re.compile(r"(?:から|に|の|は)?")  # only right after a token: "7時に", "毎月1日の"
_TITLE_LEAD = ":;-–—、,。・"
_TITLE_TAIL = ":;-–—、,"


def _weekday_list(text: str, japanese: bool) -> tuple[int, ...]:
    """Weekday numbers from "火・金", "月〜金", "tue and fri", "mon-fri" … (ranges wrap the week)."""
    items: list[int | None] = []  # None marks a range between its neighbours
    if japanese:
        for ch in text.replace("曜日", "").replace("曜", "").replace("から", "~"):
            if ch in _JA_WD:
                items.append(_JA_WD.index(ch))
            elif ch in "~〜ー-":
                items.append(None)
    else:
        for m in re.finditer(rf"(?P<d>{_EN_DAY})|(?P<r>-|–|\bto\b|\bthrough\b|\bthru\b)", text, _I):
            items.append(_EN_NAMES.index(m["d"][:3].lower()) if m["d"] else None)
    days: set[int] = set()
    previous, ranged = None, False
    for item in items:
        if item is None:
            ranged = True
            continue
        if ranged and previous is not None:
            d = previous
            while d != item:
                d = (d + 1) % 7
                days.add(d)
        days.add(item)
        previous, ranged = item, False
    return tuple(sorted(days))


def _weekly(m: re.Match) -> dict:
    if m["weekdays"]:
        return {"kind": RuleKind.WEEKLY, "weekdays": (0, 1, 2, 3, 4)}
    if m["weekend"]:
        return {"kind": RuleKind.WEEKLY, "weekdays": (5, 6)}
    japanese = bool(m["ja"] or m["ja2"])
    return {"kind": RuleKind.WEEKLY, "weekdays": _weekday_list(m["ja"] or m["ja2"] or m["en"] or m["en2"], japanese)}


def _nth(m: re.Match) -> dict:
    if m["ja"]:
        weekday = _JA_WD.index(m["ja"][0])
        n = -1 if m["last"] else int(m["n"])
    else:
        weekday = _EN_NAMES.index(m["en"][:3].lower())
        n = _ORDINAL_WORDS[m["word"].lower()] if m["word"] else int(m["en_n"])
    if not (1 <= n <= 5 or n == -1):
        raise ParseError(_BAD_NTH)
    return {"kind": RuleKind.NTH_WEEKDAY, "nth": n, "weekday": weekday}


def _monthly(m: re.Match) -> dict:
    if m["ja_last"] or m["ja_last2"] or m["en_last"] or m["en_last2"]:
        return {"kind": RuleKind.MONTHLY, "day": -1}
    day = int(m["ja"] or m["en"] or m["en2"] or m["en3"])
    if not 1 <= day <= 31:
        raise ParseError(_BAD_DAY)
    return {"kind": RuleKind.MONTHLY, "day": day}


def calendar_date(year: int | None, month: int, day: int, today: date) -> date:
    """The date meant; without a year, the next one that is not in the past."""
    if not (1 <= month <= 12 and 1 <= day <= _MAX_DAYS[month]):
        raise ParseError(_BAD_DATE)
    years = [year] if year is not None else range(today.year, today.year + 9)  # 9 years: Feb 29
    for y in years:
        try:
            found = date(y, month, day)
        except ValueError:
            continue
        if year is not None or found >= today:
            return found
    raise ParseError(_BAD_DATE)


def _once(s: str, pos: int, today: date) -> tuple[dict, bool, int] | None:
    m = _RELATIVE.match(s, pos)
    if m:
        word = " ".join(m["word"].lower().split()).removeprefix("the ")
        return {"kind": RuleKind.ONCE, "on": today + timedelta(days=_OFFSETS[word])}, word in _EVENING_WORDS, m.end()
    for pattern in _DATES_RE:
        m = pattern.match(s, pos)
        if m:
            named = m.groupdict()
            month = _MONTH_NAMES.index(named["mon"][:3].lower()) + 1 if "mon" in named else int(named["m"])
            year = int(named["y"]) if named["y"] else None
            return {"kind": RuleKind.ONCE, "on": calendar_date(year, month, int(m["d"]), today)}, False, m.end()
    return None


def _match_when(s: str, pos: int, today: date) -> tuple[dict, bool, int] | None:
    """(rule fields, evening?, end) for a schedule starting at `pos`, or None."""
    for pattern, build in ((_WEEKLY, _weekly), (_NTH, _nth), (_MONTHLY, _monthly)):
        m = pattern.match(s, pos)
        if m:
            return build(m), False, m.end()
    m = _DAILY.match(s, pos)
    if m:
        return {"kind": RuleKind.DAILY}, bool(m["evening"]), m.end()
    return _once(s, pos, today)


def _match_clock(s: str, pos: int) -> tuple[tuple[int, int, bool], int] | None:
    """((hour, minute, said am/pm?), end) for a time starting at `pos`, or None."""
    m = _TIME.match(s, pos)
    if not m:
        return None
    if m["noon"] or m["midnight"]:
        return (12 if m["noon"] else 0, 0, True), m.end()
    hour = int(m["h"])
    minute = 30 if m["half"] else int(m["m"] or m["jm"] or 0)
    meridiem = _MERIDIEM.get((m["en"] or "").lower() or m["ja"])
    if m["en"] and not 1 <= hour <= 12 or meridiem == "am" and hour > 12:
        raise ParseError(_BAD_TIME)  # "13pm", "0am", "午前13時"
    if meridiem and hour <= 12:
        hour = hour % 12 + (12 if meridiem == "pm" else 0)  # "午後15時" stays 15:00
    if hour > 23 or minute > 59:
        raise ParseError(_BAD_TIME)
    return (hour, minute, meridiem is not None), m.end()


def _read(s: str, pos: int, today: date, want_when: bool, want_clock: bool):
    """Read schedule and time tokens (either order) from `pos`: (when, clock, pos after them)."""
    when = clock = None
    while True:
        pos = _GAP.match(s, pos).end()
        hit = _match_when(s, pos, today) if want_when and when is None else None
        if hit:
            when, end = hit[:2], hit[2]
        else:
            hit = _match_clock(s, pos) if want_clock and clock is None else None
            if not hit:
                return when, clock, pos
            clock, end = hit
        pos = _PARTICLE.match(s, end).end()


def _word_starts(s: str, pos: int):
    for i in range(pos + 1, len(s)):
        if s[i - 1].isspace() and not s[i].isspace():
            yield i


def parse(text: str, now: datetime, tz_name: str = DEFAULT_TZ) -> tuple[Rule, str]:
    """(rule, title) from what a resident typed; ParseError says what is missing or wrong.

    The schedule and time come first (either order) and the title after them, or the title
    first and the schedule and time at the end.
    """
    _require_aware(now, "now")
    tz = ZoneInfo(tz_name)
    today = now.astimezone(tz).date()
    s = unicodedata.normalize("NFKC", text).strip()
    when, clock, title_start = _read(s, 0, today, True, True)
    title_end = len(s)
    if when is None or clock is None:
        error = None
        for i in _word_starts(s, title_start):
            try:
                more_when, more_clock, end = _read(s, i, today, when is None, clock is None)
            except ParseError as exc:
                error = error or exc
                continue
            if end == len(s) and (more_when or more_clock):
                when, clock, title_end = when or more_when, clock or more_clock, i
                break
        else:
            if error is not None:
                raise error
    if when is None:
        raise ParseError(_NO_WHEN)
    if clock is None:
        raise ParseError(_NO_TIME)
    title = s[title_start:title_end].strip().lstrip(_TITLE_LEAD).rstrip(_TITLE_TAIL).strip()
    if not title:
        raise ParseError(_NO_TITLE)
    (fields, evening), (hour, minute, said_meridiem) = when, clock
    if evening and not said_meridiem and 1 <= hour <= 11:
        hour += 12
    rule = Rule(at=time(hour, minute), **fields)
    if rule.kind == RuleKind.ONCE and next_after(rule, now, tz_name) is None:
        raise ParseError(_PASSED)
    return rule, title
