"""Garbage collection calendars in the 5374.jp open-data format (Code for Kanazawa's "5374").

A city publishes a folder of CSV files. They are read the way the original 5374 app
(codeforkanazawa-org/5374, js/script.js) reads them: **by column position**, the first line of
each file being a header whose words do not matter (金沢市's ``target.csv`` is headed
``type,name,notice,furigana``, others ``label,…``; 金沢市's ``area_days.csv`` ``校下・地区,…``).

* ``area_days.csv`` (required): area name, its center (may be empty), then one column per
  category (the header gives the labels). A cell is a space-separated list of day specs:
  ``月`` (every Monday), ``水2`` (2nd Wednesday of the month), ``20270114`` (that date only),
  ``隔月20150112`` (every other week from that date: 隔 + the weekday + the first date; the
  weekday letter is the day of the week, not "month"), ``*1`` (note 1 of remarks.csv), and
  ``:`` followed by the months the specs before it apply to (``火2 金4:4 6 8 10 12 2``). Several
  ``days:months`` groups may follow each other (``水1:6 7 8 水2:4 5``): each group's months
  apply to its own days.
* ``center.csv``: center name, first and last day of a closure (no collection, inclusive; empty
  dates: no closure). A header of repeated ``休止日`` columns lists single closed days instead.
* ``description.csv``: label, sublabel, description, styles, bgcolor: one row per category.
* ``target.csv``: label, name, notice, furigana: the items that go out as each category.
* ``remarks.csv``: ID, text: the notes ``*ID`` in area_days.csv point at.

Where this reads more than the original app, or reads a doubtful cell differently, it is said in
`DIFFERENCES` (shown by ``flask --app bot garbage check``). Files may be UTF-8 (with or without
BOM), UTF-16 with a BOM, or Shift_JIS (cp932), with any line endings. What cannot be read is
dropped with a warning and counted in `Calendar.stats`; only a file that is not a calendar at all
raises ``CalendarError`` naming the file and line; nothing else escapes ``parse``.
"""
from __future__ import annotations

import csv
import io
import json
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

AREA_DAYS = "area_days.csv"
TARGET = "target.csv"
DESCRIPTION = "description.csv"
CENTER = "center.csv"
REMARKS = "remarks.csv"
FILE_NAMES = (AREA_DAYS, TARGET, DESCRIPTION, CENTER, REMARKS)
OPTIONAL_FILES = (TARGET, DESCRIPTION, CENTER, REMARKS)

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_AREAS = 5000
MAX_CATEGORIES = 100
MAX_WARNINGS = 200  # kept with the stored calendar; `parse` returns them all (up to MAX_ALL_WARNINGS)
MAX_ALL_WARNINGS = 100_000

WEEKDAYS = "月火水木金土日"  # index = date.weekday(): 0 = Monday
JSON_FORMAT = "5374/1"

# What this reader does where the original app does something else, for the city to know.
DIFFERENCES = (
    "every-other-week rules (隔…) go on as long as the calendar is used; the original app stops "
    "27 fortnights (about a year) after the first date",
    "several 'days:months' groups in one cell are each read; the original app reads only the "
    "first group's months",
    "day specs after a month list without their own ':' are dropped, as the original app drops them",
    "weekly specs and dates in the same cell are both read; the original app then reads only the dates",
    "an every-other-week rule whose weekday letter does not match its first date follows the date, "
    "as the original app does",
)

_DATE_TOKEN = re.compile(r"[0-9]{8}")
_NTH_TOKEN = re.compile(r"([月火水木金土日])([0-9]+)")
_EVERY2_TOKEN = re.compile(r"隔週?([月火水木金土日])([0-9]{8})")
_REMARK_TOKEN = re.compile(r"\*(\S+)")
_MONTH_TOKEN = re.compile(r"([0-9]{1,2})月?")
_CELL_TOKENS = re.compile(r"[^\s:]+|:")
_CENTER_DATE = re.compile(r"([0-9]{4})[/\-.年]([0-9]{1,2})[/\-.月]([0-9]{1,2})日?|([0-9]{4})([0-9]{2})([0-9]{2})")

# kinds of rules read, and of what was dropped (Calendar.stats)
WEEKLY, NTH, DATE, EVERY_OTHER_WEEK = "weekly", "nth weekday", "date", "every other week"


class CalendarError(ValueError):
    """The files are not a usable 5374 calendar; the message says which file, which line, what."""


@dataclass(frozen=True)
class Category:
    label: str
    sublabel: str = ""
    description: str = ""
    color: str = ""
    items: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()  # target.csv's notice per item ("" when none), same order as items

    def notice(self, index: int) -> str:
        return self.notices[index] if index < len(self.notices) else ""


@dataclass(frozen=True)
class DayRule:
    """One day spec. ``weekday`` alone: every such weekday; with ``nth``: the nth such weekday of
    the month (1-5); ``on``: that date only; ``every2_from``: that date and every 14 days after.
    ``months`` (1-12) limits the rule to those months; empty means every month."""

    weekday: int | None = None  # 0 = Monday ... 6 = Sunday
    nth: int | None = None
    on: date | None = None
    months: frozenset[int] = frozenset()
    every2_from: date | None = None

    def matches(self, day: date) -> bool:
        if self.months and day.month not in self.months:
            return False
        if self.every2_from is not None:
            return day >= self.every2_from and (day - self.every2_from).days % 14 == 0
        if self.on is not None:
            return day == self.on
        if self.weekday is None or day.weekday() != self.weekday:
            return False
        return self.nth is None or (day.day - 1) // 7 + 1 == self.nth

    @property
    def kind(self) -> str:
        if self.every2_from is not None:
            return EVERY_OTHER_WEEK
        if self.on is not None:
            return DATE
        return NTH if self.nth is not None else WEEKLY


@dataclass(frozen=True)
class AreaSchedule:
    name: str
    center: str
    rules: dict[str, tuple[DayRule, ...]]  # category label -> rules, in area_days.csv column order
    remarks: dict[str, tuple[str, ...]] = field(default_factory=dict)  # category label -> remarks.csv notes


@dataclass
class Stats:
    """What the files held and what could not be read (for the import's summary)."""

    cells: int = 0  # cells with something written in them
    cells_dropped: int = 0  # of those, cells from which nothing could be read
    cells_partly: int = 0  # cells of which some specs could not be read
    rows_dropped: int = 0  # area rows not taken (no name, a name seen before)
    rules: Counter = field(default_factory=Counter)  # kind -> day specs read
    dropped: Counter = field(default_factory=Counter)  # reason -> things dropped
    closures_dropped: int = 0

    @property
    def share_not_read(self) -> float:
        """The share of written cells not read in full (dropped or partly)."""
        return (self.cells_dropped + self.cells_partly) / self.cells if self.cells else 0.0

    def to_dict(self) -> dict:
        return {"cells": self.cells, "cells_dropped": self.cells_dropped, "cells_partly": self.cells_partly,
                "rows_dropped": self.rows_dropped, "rules": dict(self.rules), "dropped": dict(self.dropped),
                "closures_dropped": self.closures_dropped}

    @classmethod
    def from_dict(cls, d: dict) -> "Stats":
        def count(v) -> int:
            if type(v) is not int or v < 0:
                raise ValueError(f"bad count {v!r}")
            return v

        return cls(cells=count(d.get("cells", 0)), cells_dropped=count(d.get("cells_dropped", 0)),
                   cells_partly=count(d.get("cells_partly", 0)), rows_dropped=count(d.get("rows_dropped", 0)),
                   rules=Counter({_str(k): count(v) for k, v in d.get("rules", {}).items()}),
                   dropped=Counter({_str(k): count(v) for k, v in d.get("dropped", {}).items()}),
                   closures_dropped=count(d.get("closures_dropped", 0)))


@dataclass
class Calendar:
    areas: dict[str, AreaSchedule]
    categories: dict[str, Category]
    closures: dict[str, list[tuple[date, date]]]  # center name -> inclusive (start, end) periods
    warnings: list[str] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)

    @property
    def columns(self) -> list[str]:
        """The categories area_days.csv has a column for (those with collection days), in order;
        the others come from description.csv or target.csv only (「市で収集しない」)."""
        first = next(iter(self.areas.values()), None)
        return list(first.rules) if first else []

    def closed(self, area: str, day: date) -> bool:
        """Whether the area's center is closed (no collection at all) that day."""
        center = self.areas[area].center
        return any(start <= day <= end for start, end in self.closures.get(center, ()))

    def collections_on(self, area: str, day: date) -> list[str]:
        """The category labels collected in ``area`` on ``day``, in area_days.csv column order;
        none while the area's center is closed. KeyError for an unknown area."""
        schedule = self.areas[area]
        if self.closed(area, day):
            return []
        return [label for label, rules in schedule.rules.items() if any(r.matches(day) for r in rules)]

    def upcoming(self, area: str, start: date, days: int = 14) -> list[tuple[date, list[str]]]:
        """The collection days among ``start`` .. ``start + days - 1``, each with its labels;
        days without any collection are left out. KeyError for an unknown area."""
        self.areas[area]  # KeyError before anything else
        out = []
        for offset in range(max(days, 0)):
            day = start + timedelta(days=offset)
            labels = self.collections_on(area, day)
            if labels:
                out.append((day, labels))
        return out

    # --- storage -------------------------------------------------------------------------------

    def to_json(self) -> str:
        """The whole calendar as one JSON text (for one DB column); ``from_json`` gives it back
        equal, orders included (warnings: the first MAX_WARNINGS, then how many more)."""
        warnings = list(self.warnings)
        if len(warnings) > MAX_WARNINGS:
            warnings = warnings[:MAX_WARNINGS] + [f"... and {len(warnings) - MAX_WARNINGS} more warnings"]
        data = {
            "format": JSON_FORMAT,
            "categories": [
                {"label": c.label, "sublabel": c.sublabel, "description": c.description,
                 "color": c.color, "items": list(c.items), "notices": list(c.notices)}
                for c in self.categories.values()
            ],
            "areas": [
                {"name": a.name, "center": a.center,
                 "rules": [[label, [_rule_to_json(r) for r in rules]] for label, rules in a.rules.items()],
                 **({"remarks": [[label, list(texts)] for label, texts in a.remarks.items()]} if a.remarks else {})}
                for a in self.areas.values()
            ],
            "closures": [
                [center, [[s.isoformat(), e.isoformat()] for s, e in periods]]
                for center, periods in self.closures.items()
            ],
            "warnings": warnings,
            "stats": self.stats.to_dict(),
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, s: str | bytes) -> "Calendar":
        try:
            data = json.loads(s)
            if not isinstance(data, dict) or data.get("format") != JSON_FORMAT:
                raise CalendarError(f"stored calendar: not a {JSON_FORMAT} calendar")
            categories = {}
            for c in data["categories"]:
                cat = Category(label=_str(c["label"]), sublabel=_str(c["sublabel"]),
                               description=_str(c["description"]), color=_str(c["color"]),
                               items=tuple(_str(i) for i in c["items"]),
                               notices=tuple(_str(i) for i in c.get("notices", ())))
                categories[cat.label] = cat
            areas = {}
            for a in data["areas"]:
                rules = {_str(label): tuple(_rule_from_json(r) for r in rs) for label, rs in a["rules"]}
                remarks = {_str(label): tuple(_str(x) for x in texts) for label, texts in a.get("remarks", ())}
                areas[_str(a["name"])] = AreaSchedule(name=_str(a["name"]), center=_str(a["center"]), rules=rules,
                                                      remarks=remarks)
            closures = {
                _str(center): [(date.fromisoformat(_str(st)), date.fromisoformat(_str(en))) for st, en in periods]
                for center, periods in data["closures"]
            }
            warnings = [_str(w) for w in data["warnings"]]
            stats = Stats.from_dict(data.get("stats") or {})
        except CalendarError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise CalendarError(f"stored calendar: malformed JSON ({exc})") from None
        return cls(areas=areas, categories=categories, closures=closures, warnings=warnings, stats=stats)


def _str(value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _rule_to_json(rule: DayRule) -> dict:
    out: dict = {}
    if rule.weekday is not None:
        out["weekday"] = rule.weekday
    if rule.nth is not None:
        out["nth"] = rule.nth
    if rule.on is not None:
        out["on"] = rule.on.isoformat()
    if rule.every2_from is not None:
        out["every2_from"] = rule.every2_from.isoformat()
    if rule.months:
        out["months"] = sorted(rule.months)
    return out


def _rule_from_json(obj) -> DayRule:
    def small_int(value, low, high):
        if type(value) is not int or not low <= value <= high:
            raise ValueError(f"bad number {value!r} in a day rule")
        return value

    weekday = obj.get("weekday")
    nth = obj.get("nth")
    on = obj.get("on")
    every2 = obj.get("every2_from")
    return DayRule(
        weekday=None if weekday is None else small_int(weekday, 0, 6),
        nth=None if nth is None else small_int(nth, 1, 5),
        on=None if on is None else date.fromisoformat(_str(on)),
        months=frozenset(small_int(m, 1, 12) for m in obj.get("months", ())),
        every2_from=None if every2 is None else date.fromisoformat(_str(every2)),
    )


# --- parsing -------------------------------------------------------------------------------------

class _Warnings:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.dropped = 0

    def add(self, message: str) -> None:
        if len(self.items) < MAX_ALL_WARNINGS:
            self.items.append(message)
        else:
            self.dropped += 1

    def result(self) -> list[str]:
        if self.dropped:
            return self.items + [f"... and {self.dropped} more warnings"]
        return list(self.items)


def _decode(name: str, raw: bytes | bytearray | memoryview | str) -> str:
    if isinstance(raw, str):
        return raw[1:] if raw.startswith("\ufeff") else raw
    raw = bytes(raw)
    if len(raw) > MAX_FILE_BYTES:
        raise CalendarError(f"{name}: file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise CalendarError(f"{name}: starts with a UTF-16 byte order mark but is not UTF-16") from None
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CalendarError(f"{name}: text is neither UTF-8 nor Shift_JIS (cp932)")


def _rows(name: str, text: str):
    """(line number, stripped cells) for each non-blank record; the line is where it starts."""
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1
    try:
        for row in reader:
            cells = [cell.strip() for cell in row]
            if any(cells):
                yield line, cells
            line = reader.line_num + 1
    except csv.Error as exc:
        raise CalendarError(f"{name} line {reader.line_num or line}: not valid CSV ({exc})") from None


def _norm(text: str) -> str:
    """Full-width digits, colons and spaces as ASCII (NFKC), then trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def _month(token: str) -> int | None:
    m = _MONTH_TOKEN.fullmatch(token)
    return int(m.group(1)) if m and 1 <= int(m.group(1)) <= 12 else None


@dataclass
class _Cell:
    rules: tuple[DayRule, ...]
    remarks: tuple[str, ...]
    read: int  # specs read
    lost: int  # specs (or month lists) dropped


def _parse_cell(cell: str, where: str, warn: _Warnings, stats: Stats, remarks: Mapping[str, str]) -> _Cell:
    """A cell's specs, in `days[:months] days[:months] …` groups (see the module's docstring)."""
    tokens = _CELL_TOKENS.findall(_norm(cell))
    groups: list[tuple[list[str], frozenset[int]]] = []
    days: list[str] = []
    lost = 0
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token != ":":
            days.append(token)
            continue
        found: set[int] = set()
        while i < len(tokens) and _MONTH_TOKEN.fullmatch(tokens[i]):
            month = _month(tokens[i])
            if month is None:  # 「13」: the original app ignores it too
                warn.add(f"{where}: unknown month {tokens[i]!r} after ':' ignored")
                stats.dropped["unknown month"] += 1
                lost += 1
            else:
                found.add(month)
            i += 1
        if not found:
            warn.add(f"{where}: no month after ':' in {cell!r}; the specs before it are ignored")
            stats.dropped["no month after ':'"] += 1
            lost += len(days) or 1
        elif not days:
            warn.add(f"{where}: months after ':' with no day before them in {cell!r} ignored")
            stats.dropped["months without days"] += 1
            lost += 1
        else:
            groups.append((days, frozenset(found)))
        days = []
    if days:
        if groups:  # 「水1:6 7 金」: the original app drops 金 (it reads it as a month)
            warn.add(f"{where}: {' '.join(days)!r} comes after a month list without its own ':' in {cell!r}; "
                     "ignored, as the original app ignores it")
            stats.dropped["days after months"] += len(days)
            lost += len(days)
        else:
            groups.append((days, frozenset()))
    rules: list[DayRule] = []
    notes: list[str] = []
    read = 0
    for specs, months in groups:
        for token in specs:
            remark = _REMARK_TOKEN.fullmatch(token)
            if remark:
                text = remarks.get(remark.group(1))
                if text is None:
                    warn.add(f"{where}: note {token!r} has no row in {REMARKS}; ignored")
                    stats.dropped["unknown note"] += 1
                    lost += 1
                elif text not in notes:
                    notes.append(text)
                continue
            rule = _parse_token(token, months, where, warn)
            if rule is None:
                warn.add(f"{where}: unknown day spec {token!r} ignored")
                stats.dropped["unknown day spec"] += 1
                lost += 1
                continue
            read += 1
            stats.rules[rule.kind] += 1
            if rule not in rules:
                rules.append(rule)
    return _Cell(tuple(rules), tuple(notes), read, lost)


def _parse_token(token: str, months: frozenset[int], where: str, warn: _Warnings) -> DayRule | None:
    if len(token) == 1 and token in WEEKDAYS:
        return DayRule(weekday=WEEKDAYS.index(token), months=months)
    m = _NTH_TOKEN.fullmatch(token)
    if m:
        nth = int(m.group(2)) if len(m.group(2)) <= 2 else 0
        if 1 <= nth <= 5:
            return DayRule(weekday=WEEKDAYS.index(m.group(1)), nth=nth, months=months)
        return None
    if _DATE_TOKEN.fullmatch(token):
        day = _ymd(token)
        return None if day is None else DayRule(on=day, months=months)
    m = _EVERY2_TOKEN.fullmatch(token)
    if m:
        first = _ymd(m.group(2))
        if first is None:
            return None
        if first.weekday() != WEEKDAYS.index(m.group(1)):
            warn.add(f"{where}: {token!r}: {first.isoformat()} is a {WEEKDAYS[first.weekday()]}曜日, not "
                     f"{m.group(1)}曜日; every other week from {first.isoformat()} (as the original app reads it)")
        return DayRule(every2_from=first, months=months)
    return None


def _ymd(token: str) -> date | None:
    try:
        return date(int(token[:4]), int(token[4:6]), int(token[6:8]))
    except ValueError:
        return None


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index] if index is not None and index < len(cells) else ""


def _parse_area_days(text: str, warn: _Warnings, stats: Stats,
                     remarks: Mapping[str, str]) -> tuple[list[str], dict[str, AreaSchedule]]:
    rows = _rows(AREA_DAYS, text)
    first = next(rows, None)
    if first is None:
        raise CalendarError(f"{AREA_DAYS}: file is empty (a header 地名,センター,<categories> is needed)")
    line, header = first
    if len(header) < 3:
        raise CalendarError(f"{AREA_DAYS} line {line}: missing header columns: expected "
                            f"'地名,センター,<category>,...', got {','.join(header)!r}")
    labels = header[2:]
    while labels and not labels[-1]:  # trailing commas
        labels.pop()
    if not labels:
        raise CalendarError(f"{AREA_DAYS} line {line}: missing header columns: no category after 地名,センター")
    if len(labels) > MAX_CATEGORIES:
        raise CalendarError(f"{AREA_DAYS} line {line}: {len(labels)} categories; at most {MAX_CATEGORIES} are accepted")
    seen: set[str] = set()
    for label in labels:
        if not label:
            raise CalendarError(f"{AREA_DAYS} line {line}: a category column has no label")
        if label in seen:
            raise CalendarError(f"{AREA_DAYS} line {line}: category {label!r} appears twice")
        seen.add(label)

    areas: dict[str, AreaSchedule] = {}
    area_lines: dict[str, int] = {}
    for line, cells in rows:
        name, center = cells[0], _cell(cells, 1)
        written = sum(1 for i in range(len(labels)) if _cell(cells, 2 + i))
        if not name or name in areas:
            why = "has no area name (地名)" if not name else f"repeats area {name!r} of line {area_lines[name]}"
            warn.add(f"{AREA_DAYS} line {line}: {why}; the row is ignored")
            stats.rows_dropped += 1
            stats.cells += written
            stats.cells_dropped += written
            stats.dropped["row without a usable name"] += 1
            continue
        if len(areas) >= MAX_AREAS:
            raise CalendarError(f"{AREA_DAYS} line {line}: more than {MAX_AREAS} areas")
        extra = [c for c in cells[2 + len(labels):] if c]
        if extra:
            warn.add(f"{AREA_DAYS} line {line}: {len(extra)} cell(s) beyond the last category column ignored")
        rules: dict[str, tuple[DayRule, ...]] = {}
        notes: dict[str, tuple[str, ...]] = {}
        for i, label in enumerate(labels):
            raw = _cell(cells, 2 + i)
            got = _parse_cell(raw, f"{AREA_DAYS} line {line} ({name}, {label})", warn, stats, remarks)
            rules[label] = got.rules
            if got.remarks:
                notes[label] = got.remarks
            if raw:
                stats.cells += 1
                if got.lost and not got.read and not got.remarks:
                    stats.cells_dropped += 1
                elif got.lost:
                    stats.cells_partly += 1
        areas[name] = AreaSchedule(name=name, center=center, rules=rules, remarks=notes)
        area_lines[name] = line
    return labels, areas


def _skip_header(name: str, text: str, known: set[str], warn: _Warnings):
    """The rows after the first (the original app always drops the first line as a header).
    A first row whose first cell is a category label is data without a header: said, and
    skipped as the original app skips it."""
    rows = _rows(name, text)
    first = next(rows, None)
    if first is not None and first[1][0] in known:
        warn.add(f"{name} line {first[0]}: the first row looks like data ({first[1][0]!r}), not a header; "
                 "skipped, as the original app skips the first row: add a header line")
    return rows


def _parse_description(text: str, labels: list[str], warn: _Warnings) -> dict[str, Category]:
    categories = {label: Category(label=label) for label in labels}
    described: set[str] = set()
    for line, cells in _skip_header(DESCRIPTION, text, set(labels), warn):
        label = cells[0]
        if not label:
            warn.add(f"{DESCRIPTION} line {line}: row without a label ignored")
            continue
        if label in described:
            warn.add(f"{DESCRIPTION} line {line}: second description of {label!r} ignored")
            continue
        if label not in categories:
            if len(categories) >= MAX_CATEGORIES:
                raise CalendarError(f"{DESCRIPTION} line {line}: more than {MAX_CATEGORIES} categories")
            warn.add(f"{DESCRIPTION} line {line}: category {label!r} is not a column of {AREA_DAYS}")
        described.add(label)
        categories[label] = Category(label=label, sublabel=_cell(cells, 1), description=_cell(cells, 2),
                                     color=_cell(cells, 4))
    return categories


def _parse_target(text: str, categories: dict[str, Category], warn: _Warnings, stats: Stats) -> None:
    items: dict[str, list[tuple[str, str]]] = {label: [] for label in categories}
    for line, cells in _skip_header(TARGET, text, set(categories), warn):
        label, name = cells[0], _cell(cells, 1)
        if not label or not name:
            warn.add(f"{TARGET} line {line}: row without a {'category' if not label else 'name'} ignored")
            continue
        if label not in items:
            if len(items) >= MAX_CATEGORIES:
                warn.add(f"{TARGET} line {line}: more than {MAX_CATEGORIES} categories; item {name!r} ignored")
                stats.dropped["item beyond the category limit"] += 1
                continue
            items[label] = []
        items[label].append((name, _cell(cells, 2)))
    for label, rows in items.items():
        if label not in categories:  # 「市で収集しない」「有料粗大ごみ」: no collection day, still an answer
            warn.add(f"{TARGET}: {len(rows)} item(s) of {label!r}, which has no column in {AREA_DAYS}: kept for "
                     "the item search, with no collection day")
            categories[label] = Category(label=label)
        if rows:
            old = categories[label]
            categories[label] = Category(old.label, old.sublabel, old.description, old.color,
                                         tuple(n for n, _ in rows), tuple(x for _, x in rows))


def _parse_remarks(text: str, warn: _Warnings) -> dict[str, str]:
    notes: dict[str, str] = {}
    rows = _rows(REMARKS, text)
    next(rows, None)
    for line, cells in rows:
        key, note = _norm(cells[0]), _cell(cells, 1)
        if not key or not note:
            warn.add(f"{REMARKS} line {line}: a note needs an ID and a text; ignored")
        elif key in notes:
            warn.add(f"{REMARKS} line {line}: note {key!r} appears twice; the first is kept")
        else:
            notes[key] = note
    return notes


def _parse_center_date(value: str) -> date | None:
    m = _CENTER_DATE.fullmatch(_norm(value))
    if not m:
        return None
    y, mo, d = (int(g) for g in (m.groups()[:3] if m.group(1) else m.groups()[3:]))
    try:
        return date(y, mo, d)
    except ValueError:
        return None


def _parse_center(text: str, warn: _Warnings, stats: Stats) -> dict[str, list[tuple[date, date]]]:
    closures: dict[str, list[tuple[date, date]]] = {}
    rows = _rows(CENTER, text)
    first = next(rows, None)
    if first is None:
        return closures
    line, header = first
    # 「名称,休止日,休止日,…」 (鎌ケ谷市): each date is one closed day; else (start, end) pairs
    single_days = len(header) >= 2 and all("休止日" in h and "開始" not in h and "終了" not in h
                                           for h in header[1:] if h)
    pairs = len(header) >= 5 and any("開始" in h for h in header[3:])
    for line, cells in rows:
        name = cells[0]
        if not name:
            warn.add(f"{CENTER} line {line}: row without a center name ignored")
            continue
        if len(closures) >= MAX_AREAS and name not in closures:
            raise CalendarError(f"{CENTER} line {line}: more than {MAX_AREAS} centers")
        periods = closures.setdefault(name, [])
        values = cells[1:]
        if single_days:
            spans = [(v, v) for v in values if v]
        else:
            spans = [(_cell(values, i), _cell(values, i + 1)) for i in range(0, max(len(values), 2), 2)
                     if i == 0 or pairs]
            extra = [v for v in values[2:] if v] if not pairs else []
            if extra:
                warn.add(f"{CENTER} line {line}: {len(extra)} cell(s) after 休止終了日 ignored "
                         "(the original app reads one period per row: give each period its own row)")
        for start_text, end_text in spans:
            if not start_text and not end_text:
                continue  # a center without closures (笠間市: 「笠間市環境センター,,」)
            start, end = _parse_center_date(start_text), _parse_center_date(end_text)
            problem = None
            if start is None or end is None:
                bad = start_text if start is None else end_text
                problem = f"{bad!r} is not a date like 2026/12/29"
            elif end < start:
                problem = f"closure ends ({end}) before it starts ({start})"
            if problem:
                warn.add(f"{CENTER} line {line}: {problem}; this closure is ignored")
                stats.closures_dropped += 1
                continue
            periods.append((start, end))  # type: ignore[arg-type]
    return closures


def parse(files: Mapping[str, bytes]) -> Calendar:
    """A Calendar from the files' contents, keyed by file name ("area_days.csv" is required;
    the others are optional). Raises CalendarError only."""
    if AREA_DAYS not in files or files[AREA_DAYS] is None:
        raise CalendarError(f"{AREA_DAYS} is missing (it is required)")
    warn = _Warnings()
    stats = Stats()
    texts = {name: _decode(name, files[name]) for name in FILE_NAMES if files.get(name) is not None}
    remarks = _parse_remarks(texts[REMARKS], warn) if REMARKS in texts else {}
    labels, areas = _parse_area_days(texts[AREA_DAYS], warn, stats, remarks)
    categories = _parse_description(texts.get(DESCRIPTION, ""), labels, warn)
    if TARGET in texts:
        _parse_target(texts[TARGET], categories, warn, stats)
    closures = _parse_center(texts[CENTER], warn, stats) if CENTER in texts else {}
    if CENTER in texts:
        unknown = sorted({a.center for a in areas.values() if a.center and a.center not in closures})
        for center in unknown:
            warn.add(f"{AREA_DAYS}: center {center!r} has no row in {CENTER} (no closures for it)")
    return Calendar(areas=areas, categories=categories, closures=closures, warnings=warn.result(), stats=stats)


# --- what an import would bring ------------------------------------------------------------------

@dataclass
class Summary:
    areas: int
    categories: int
    items: int
    stats: Stats
    first_date: date | None  # the first and last dates the calendar names (explicit dates,
    last_date: date | None   # every-other-week starts); weekly rules have no end
    open_ended: bool  # some rule repeats without an end (weekly, nth weekday, every other week)
    closures_by_year: dict[int, int]
    areas_collecting_soon: int  # areas with a collection in the next `soon_days` days
    soon_days: int
    notes: list[str]  # what a city should look at (not failures)

    def problems(self, max_share: float) -> list[str]:
        """Why the import must not go ahead (empty: it may)."""
        out = []
        if self.stats.share_not_read > max_share:
            out.append(f"{self.stats.share_not_read:.0%} of the written cells could not be read in full "
                       f"({self.stats.cells_dropped + self.stats.cells_partly} of {self.stats.cells}; "
                       f"the limit is {max_share:.0%})")
        if self.areas_collecting_soon == 0:
            out.append(f"no area has a collection in the next {self.soon_days} days "
                       f"(the calendar's dates end {self.last_date or 'before today'})")
        return out

    def lines(self) -> list[str]:
        s = self.stats
        out = [f"areas: {self.areas}, categories: {self.categories}, items: {self.items}",
               "rules read: " + (", ".join(f"{k} {v}" for k, v in sorted(s.rules.items())) or "none"),
               f"cells: {s.cells} written, {s.cells_dropped} dropped, {s.cells_partly} read in part"
               + (f"; {s.rows_dropped} area rows dropped" if s.rows_dropped else ""),
               "dropped: " + (", ".join(f"{k} {v}" for k, v in sorted(s.dropped.items())) or "nothing")]
        span = "no dates" if self.first_date is None else f"{self.first_date} to {self.last_date}"
        out.append(f"dates named: {span}" + ("; weekly rules repeat without end" if self.open_ended else ""))
        out.append("closures by year: " + (", ".join(f"{y}: {n}" for y, n in sorted(self.closures_by_year.items()))
                                           or "none") + (f" ({s.closures_dropped} dropped)" if s.closures_dropped else ""))
        out.append(f"areas with a collection in the next {self.soon_days} days: {self.areas_collecting_soon} of {self.areas}")
        out += [f"note: {n}" for n in self.notes]
        return out


def summarize(cal: Calendar, today: date, soon_days: int = 30) -> Summary:
    dated: list[date] = []
    open_ended = False
    old_every2 = 0
    for area in cal.areas.values():
        for rules in area.rules.values():
            for r in rules:
                if r.on is not None:
                    dated.append(r.on)
                elif r.every2_from is not None:
                    dated.append(r.every2_from)
                    open_ended = True
                    old_every2 += r.every2_from < today - timedelta(days=365)
                else:
                    open_ended = True
    by_year: Counter = Counter()
    for periods in cal.closures.values():
        for start, _ in periods:
            by_year[start.year] += 1
    soon = sum(1 for name in cal.areas if cal.upcoming(name, today, soon_days))
    notes = []
    if by_year and max(by_year) < today.year:
        notes.append(f"every closure is in a past year (the latest in {max(by_year)}): this year's year-end "
                     "closures are missing from center.csv")
    if dated and not open_ended and max(dated) < today + timedelta(days=90):
        notes.append(f"the last collection date named is {max(dated)}: the city's next dates are needed soon")
    if old_every2:
        notes.append(f"{old_every2} every-other-week rules count from a date more than a year ago: "
                     "check the rhythm still holds (the original app shows nothing after a year)")
    return Summary(areas=len(cal.areas), categories=len(cal.categories),
                   items=sum(len(c.items) for c in cal.categories.values()), stats=cal.stats,
                   first_date=min(dated) if dated else None, last_date=max(dated) if dated else None,
                   open_ended=open_ended, closures_by_year=dict(by_year), areas_collecting_soon=soon,
                   soon_days=soon_days, notes=notes)


# --- what changes when a calendar replaces another -----------------------------------------------

@dataclass
class Changes:
    added: list[str]
    removed: list[str]
    renamed: dict[str, str]  # old name -> new name (same collection days, a name read the same)
    changed: list[str]  # same name, other days

    def lines(self) -> list[str]:
        out = []
        if self.renamed:
            out.append("renamed: " + ", ".join(f"{a} → {b}" for a, b in self.renamed.items()))
        if self.added:
            out.append(f"added ({len(self.added)}): " + ", ".join(self.added))
        if self.removed:
            out.append(f"removed ({len(self.removed)}): " + ", ".join(self.removed))
        if self.changed:
            out.append(f"other collection days ({len(self.changed)}): " + ", ".join(self.changed))
        return out or ["no area added, removed, renamed or changed"]


_KANJI_DIGITS = str.maketrans("〇一二三四五六七八九", "0123456789")


def _name_key(name: str) -> str:
    """「本町１丁目」, 「本町一丁目」 and 「本町 1丁目」 read the same."""
    return re.sub(r"[\s・･\-‐ー－]", "", _norm(name).translate(_KANJI_DIGITS)).lower()


def compare(old: Calendar, new: Calendar) -> Changes:
    """Areas added, removed, renamed and changed from `old` to `new`. A removed area is taken as
    renamed when exactly one added area has the same name read loosely (「１丁目」/「一丁目」),
    or else exactly one added area has the same center and the same days in every category."""
    added = [a for a in new.areas if a not in old.areas]
    removed = [a for a in old.areas if a not in new.areas]
    renamed: dict[str, str] = {}
    free = list(added)
    for name in removed:
        same_name = [a for a in free if _name_key(a) == _name_key(name)]
        candidates = same_name or [a for a in free if _same_days(old.areas[name], new.areas[a])]
        if len(candidates) == 1:
            renamed[name] = candidates[0]
            free.remove(candidates[0])
    changed = [a for a in new.areas if a in old.areas and not _same_days(old.areas[a], new.areas[a])]
    return Changes(added=[a for a in added if a not in renamed.values()],
                   removed=[a for a in removed if a not in renamed], renamed=renamed, changed=changed)


def _same_days(a: AreaSchedule, b: AreaSchedule) -> bool:
    return a.center == b.center and {k: set(v) for k, v in a.rules.items() if v} == {k: set(v) for k, v in b.rules.items() if v}


# --- loading -------------------------------------------------------------------------------------

def load_dir(path: str | Path) -> Calendar:
    """A Calendar from a folder holding area_days.csv and, optionally, the other files."""
    folder = Path(path)
    if not folder.is_dir():
        raise CalendarError(f"{folder}: not a folder")
    files: dict[str, bytes] = {}
    for name in FILE_NAMES:
        file = folder / name
        if not file.is_file():
            if name == AREA_DAYS:
                raise CalendarError(f"{AREA_DAYS} is missing from {folder} (it is required)")
            continue
        if file.stat().st_size > MAX_FILE_BYTES:
            raise CalendarError(f"{name}: file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        try:
            files[name] = file.read_bytes()
        except OSError as exc:
            raise CalendarError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    return parse(files)


def load_url(base_url: str, *, session: requests.Session | None = None, timeout: float = 10) -> Calendar:
    """A Calendar fetched from ``base_url + "/area_days.csv"`` and its siblings. A 404 (or 410)
    for an optional file means the city does not publish it; anything else that is not a 200,
    a network failure, or a file over 5 MB raises CalendarError. Each file must arrive within
    ``3 * timeout`` seconds in all (``timeout`` also bounds each wait for the server)."""
    if not isinstance(base_url, str) or not base_url.lower().startswith(("http://", "https://")):
        raise CalendarError(f"{base_url!r}: only http:// and https:// addresses can be loaded")
    base = base_url.rstrip("/")
    http = session or requests.Session()
    try:
        files: dict[str, bytes] = {}
        for name in FILE_NAMES:
            body = _fetch(http, f"{base}/{name}", name, timeout, required=name == AREA_DAYS)
            if body is not None:
                files[name] = body
    finally:
        if session is None:
            http.close()
    return parse(files)


MAX_REDIRECTS = 5


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def _may_follow(start: str, target: str) -> bool:
    """A redirect is followed only to http(s) on the host given (same host and port; http to
    https on the default ports is fine): a city's server must not send the bot elsewhere."""
    s_scheme, s_host, s_port = _origin(start)
    t_scheme, t_host, t_port = _origin(target)
    if t_scheme not in ("http", "https") or not t_host or t_host != s_host:
        return False
    default = urlsplit(start).port is None and urlsplit(target).port is None
    return t_port == s_port or default


def _get(http: requests.Session, url: str, name: str, timeout: float) -> requests.Response:
    """GET, following redirects only within the host given (see `_may_follow`)."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        response = http.get(current, stream=True, timeout=timeout, allow_redirects=False)
        if not response.is_redirect:
            return response
        target = urljoin(current, response.headers.get("Location", ""))
        response.close()
        if not _may_follow(url, target):
            raise CalendarError(f"{name}: {current} redirects to {target}, another host or scheme: "
                                "only redirects within the host given are followed (give the final address)")
        current = target
    raise CalendarError(f"{name}: {url} redirects more than {MAX_REDIRECTS} times")


def _fetch(http: requests.Session, url: str, name: str, timeout: float, *, required: bool) -> bytes | None:
    deadline = time.monotonic() + 3 * timeout
    try:
        with _get(http, url, name, timeout) as response:
            if response.status_code in (404, 410) and not required:
                return None
            if response.status_code != 200:
                raise CalendarError(f"{name}: {url} answered HTTP {response.status_code}"
                                    + (" (it is required)" if required else ""))
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > MAX_FILE_BYTES:
                raise CalendarError(f"{name}: {url} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
            chunks, size = [], 0
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    raise CalendarError(f"{name}: {url} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
                if time.monotonic() > deadline:
                    raise CalendarError(f"{name}: {url} took longer than {3 * timeout:g} s to download")
                chunks.append(chunk)
            return b"".join(chunks)
    except requests.RequestException as exc:
        raise CalendarError(f"{name}: {url} could not be fetched ({type(exc).__name__}: {exc})") from None
