"""Garbage collection calendars in the 5374.jp open-data format (Code for Kanazawa's "5374").

A city publishes a folder of CSV files:

* ``area_days.csv`` (required): header ``地名,センター,<category>,<category>,...``; one row per
  area: its name, its center (may be empty) and, per category, a space-separated list of day specs:
  ``月`` (every Monday), ``水2`` (2nd Wednesday of the month), ``20270114`` (that date only),
  optionally followed by ``:`` and the months the whole cell applies to (``水:4 5 6``).
  Unknown specs are skipped and reported in ``Calendar.warnings``.
* ``center.csv``: ``名称,休止開始日,休止終了日``: no collection for the areas of that center
  between those dates, inclusive (year-end holidays).
* ``description.csv``: ``label,sublabel,description,styles,bgcolor``: one row per category.
* ``target.csv``: ``label,name,notice,furigana``: the items that go out as each category.

Files may be UTF-8 (with or without BOM), UTF-16 with a BOM, or Shift_JIS (cp932); CRLF and
cells with surrounding spaces are fine. Anything structurally wrong raises ``CalendarError``
naming the file and line; nothing else escapes ``parse``.
"""
from __future__ import annotations

import csv
import io
import json
import re
import time
import unicodedata
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
FILE_NAMES = (AREA_DAYS, TARGET, DESCRIPTION, CENTER)
OPTIONAL_FILES = (TARGET, DESCRIPTION, CENTER)

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_AREAS = 5000
MAX_CATEGORIES = 100
MAX_WARNINGS = 200

WEEKDAYS = "月火水木金土日"  # index = date.weekday(): 0 = Monday
JSON_FORMAT = "5374/1"

_DATE_TOKEN = re.compile(r"[0-9]{8}")
_NTH_TOKEN = re.compile(r"([月火水木金土日])([0-9]+)")
_MONTH_TOKEN = re.compile(r"[0-9]{1,2}")
_CENTER_DATE = re.compile(r"([0-9]{4})[/\-.年]([0-9]{1,2})[/\-.月]([0-9]{1,2})日?|([0-9]{4})([0-9]{2})([0-9]{2})")


class CalendarError(ValueError):
    """The files are not a usable 5374 calendar; the message says which file, which line, what."""


@dataclass(frozen=True)
class Category:
    label: str
    sublabel: str = ""
    description: str = ""
    color: str = ""
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class DayRule:
    """One day spec. ``weekday`` alone: every such weekday; with ``nth``: the nth such weekday of
    the month (1-5); ``on``: that date only. ``months`` (1-12) limits the rule to those months;
    empty means every month."""

    weekday: int | None = None  # 0 = Monday ... 6 = Sunday
    nth: int | None = None
    on: date | None = None
    months: frozenset[int] = frozenset()

    def matches(self, day: date) -> bool:
        if self.months and day.month not in self.months:
            return False
        if self.on is not None:
            return day == self.on
        if self.weekday is None or day.weekday() != self.weekday:
            return False
        return self.nth is None or (day.day - 1) // 7 + 1 == self.nth


@dataclass(frozen=True)
class AreaSchedule:
    name: str
    center: str
    rules: dict[str, tuple[DayRule, ...]]  # category label -> rules, in area_days.csv column order


@dataclass
class Calendar:
    areas: dict[str, AreaSchedule]
    categories: dict[str, Category]
    closures: dict[str, list[tuple[date, date]]]  # center name -> inclusive (start, end) periods
    warnings: list[str] = field(default_factory=list)

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
        equal, orders included."""
        data = {
            "format": JSON_FORMAT,
            "categories": [
                {"label": c.label, "sublabel": c.sublabel, "description": c.description,
                 "color": c.color, "items": list(c.items)}
                for c in self.categories.values()
            ],
            "areas": [
                {"name": a.name, "center": a.center,
                 "rules": [[label, [_rule_to_json(r) for r in rules]] for label, rules in a.rules.items()]}
                for a in self.areas.values()
            ],
            "closures": [
                [center, [[s.isoformat(), e.isoformat()] for s, e in periods]]
                for center, periods in self.closures.items()
            ],
            "warnings": list(self.warnings),
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
                               items=tuple(_str(i) for i in c["items"]))
                categories[cat.label] = cat
            areas = {}
            for a in data["areas"]:
                rules = {_str(label): tuple(_rule_from_json(r) for r in rs) for label, rs in a["rules"]}
                areas[_str(a["name"])] = AreaSchedule(name=_str(a["name"]), center=_str(a["center"]), rules=rules)
            closures = {
                _str(center): [(date.fromisoformat(_str(st)), date.fromisoformat(_str(en))) for st, en in periods]
                for center, periods in data["closures"]
            }
            warnings = [_str(w) for w in data["warnings"]]
        except CalendarError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise CalendarError(f"stored calendar: malformed JSON ({exc})") from None
        return cls(areas=areas, categories=categories, closures=closures, warnings=warnings)


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
    return DayRule(
        weekday=None if weekday is None else small_int(weekday, 0, 6),
        nth=None if nth is None else small_int(nth, 1, 5),
        on=None if on is None else date.fromisoformat(_str(on)),
        months=frozenset(small_int(m, 1, 12) for m in obj.get("months", ())),
    )


# --- parsing -------------------------------------------------------------------------------------

class _Warnings:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.dropped = 0

    def add(self, message: str) -> None:
        if len(self.items) < MAX_WARNINGS:
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


def _parse_cell(cell: str, where: str, warn: _Warnings) -> tuple[DayRule, ...]:
    text = _norm(cell)
    if not text:
        return ()
    months: frozenset[int] = frozenset()
    if ":" in text:
        spec, _, month_text = text.partition(":")
        if ":" in month_text:
            warn.add(f"{where}: more than one ':' in {cell!r}; cell ignored")
            return ()
        found = set()
        for token in month_text.split():
            if _MONTH_TOKEN.fullmatch(token) and 1 <= int(token) <= 12:
                found.add(int(token))
            else:
                warn.add(f"{where}: unknown month {token!r} after ':' ignored")
        if not found:
            warn.add(f"{where}: no valid month after ':' in {cell!r}; cell ignored")
            return ()
        months = frozenset(found)
        text = spec
    rules: list[DayRule] = []
    for token in text.split():
        rule = _parse_token(token, months)
        if rule is None:
            warn.add(f"{where}: unknown day spec {token!r} ignored")
        elif rule not in rules:
            rules.append(rule)
    return tuple(rules)


def _parse_token(token: str, months: frozenset[int]) -> DayRule | None:
    if len(token) == 1 and token in WEEKDAYS:
        return DayRule(weekday=WEEKDAYS.index(token), months=months)
    m = _NTH_TOKEN.fullmatch(token)
    if m:
        nth = int(m.group(2)) if len(m.group(2)) <= 2 else 0
        if 1 <= nth <= 5:
            return DayRule(weekday=WEEKDAYS.index(m.group(1)), nth=nth, months=months)
        return None
    if _DATE_TOKEN.fullmatch(token):
        try:
            return DayRule(on=date(int(token[:4]), int(token[4:6]), int(token[6:])), months=months)
        except ValueError:
            return None
    return None


def _header_index(name: str, line: int, header: list[str], required: tuple[str, ...],
                  optional: tuple[str, ...]) -> dict[str, int]:
    lowered = [h.lower() for h in header]
    missing = [col for col in required if col not in lowered]
    if missing:
        raise CalendarError(f"{name} line {line}: missing header column(s): {', '.join(missing)} "
                            f"(header is {','.join(header)!r})")
    return {col: lowered.index(col) for col in required + optional if col in lowered}


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index] if index is not None and index < len(cells) else ""


def _parse_area_days(text: str, warn: _Warnings) -> tuple[list[str], dict[str, AreaSchedule]]:
    rows = _rows(AREA_DAYS, text)
    first = next(rows, None)
    if first is None:
        raise CalendarError(f"{AREA_DAYS}: file is empty (a header 地名,センター,<categories> is needed)")
    line, header = first
    if len(header) < 3 or "地名" not in header[0] or "センター" not in header[1]:
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
        if not name:
            raise CalendarError(f"{AREA_DAYS} line {line}: the area name (地名) is empty")
        if name in areas:
            raise CalendarError(f"{AREA_DAYS} line {line}: area {name!r} already appears on line {area_lines[name]}")
        if len(areas) >= MAX_AREAS:
            raise CalendarError(f"{AREA_DAYS} line {line}: more than {MAX_AREAS} areas")
        extra = [c for c in cells[2 + len(labels):] if c]
        if extra:
            warn.add(f"{AREA_DAYS} line {line}: {len(extra)} cell(s) beyond the last category column ignored")
        rules = {
            label: _parse_cell(_cell(cells, 2 + i), f"{AREA_DAYS} line {line} ({name}, {label})", warn)
            for i, label in enumerate(labels)
        }
        areas[name] = AreaSchedule(name=name, center=center, rules=rules)
        area_lines[name] = line
    return labels, areas


def _parse_description(text: str, labels: list[str], warn: _Warnings) -> dict[str, Category]:
    categories = {label: Category(label=label) for label in labels}
    described: set[str] = set()
    rows = _rows(DESCRIPTION, text)
    first = next(rows, None)
    if first is None:
        return categories
    line, header = first
    col = _header_index(DESCRIPTION, line, header, ("label",), ("sublabel", "description", "styles", "bgcolor"))
    for line, cells in rows:
        label = _cell(cells, col["label"])
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
        categories[label] = Category(
            label=label,
            sublabel=_cell(cells, col.get("sublabel")),
            description=_cell(cells, col.get("description")),
            color=_cell(cells, col.get("bgcolor")),
        )
    return categories


def _parse_target(text: str, categories: dict[str, Category], warn: _Warnings) -> None:
    rows = _rows(TARGET, text)
    first = next(rows, None)
    if first is None:
        return
    line, header = first
    col = _header_index(TARGET, line, header, ("label", "name"), ("notice", "furigana"))
    items: dict[str, list[str]] = {label: [] for label in categories}
    for line, cells in rows:
        label, name = _cell(cells, col["label"]), _cell(cells, col["name"])
        if label not in items:
            warn.add(f"{TARGET} line {line}: unknown category {label!r}; item {name!r} ignored")
        elif not name:
            warn.add(f"{TARGET} line {line}: row without a name ignored")
        else:
            items[label].append(name)
    for label, names in items.items():
        if names:
            old = categories[label]
            categories[label] = Category(old.label, old.sublabel, old.description, old.color, tuple(names))


def _parse_center_date(value: str, where: str) -> date:
    m = _CENTER_DATE.fullmatch(_norm(value))
    if not m:
        raise CalendarError(f"{where}: {value!r} is not a date like 2026/12/29")
    y, mo, d = (int(g) for g in (m.groups()[:3] if m.group(1) else m.groups()[3:]))
    try:
        return date(y, mo, d)
    except ValueError:
        raise CalendarError(f"{where}: {value!r} is not a real date") from None


def _parse_center(text: str, warn: _Warnings) -> dict[str, list[tuple[date, date]]]:
    closures: dict[str, list[tuple[date, date]]] = {}
    rows = _rows(CENTER, text)
    first = next(rows, None)
    if first is None:
        return closures
    line, header = first
    if len(header) < 3:
        raise CalendarError(f"{CENTER} line {line}: missing header columns: expected '名称,休止開始日,休止終了日', "
                            f"got {','.join(header)!r}")
    for line, cells in rows:
        name = cells[0]
        if not name:
            warn.add(f"{CENTER} line {line}: row without a center name ignored")
            continue
        start = _parse_center_date(_cell(cells, 1), f"{CENTER} line {line} (休止開始日)")
        end = _parse_center_date(_cell(cells, 2), f"{CENTER} line {line} (休止終了日)")
        if end < start:
            raise CalendarError(f"{CENTER} line {line}: closure ends ({end}) before it starts ({start})")
        if len(closures) >= MAX_AREAS and name not in closures:
            raise CalendarError(f"{CENTER} line {line}: more than {MAX_AREAS} centers")
        closures.setdefault(name, []).append((start, end))
    return closures


def parse(files: Mapping[str, bytes]) -> Calendar:
    """A Calendar from the files' contents, keyed by file name ("area_days.csv" is required;
    "target.csv", "description.csv", "center.csv" are optional). Raises CalendarError only."""
    if AREA_DAYS not in files or files[AREA_DAYS] is None:
        raise CalendarError(f"{AREA_DAYS} is missing (it is required)")
    warn = _Warnings()
    texts = {name: _decode(name, files[name]) for name in FILE_NAMES if files.get(name) is not None}
    labels, areas = _parse_area_days(texts[AREA_DAYS], warn)
    categories = _parse_description(texts.get(DESCRIPTION, ""), labels, warn)
    if TARGET in texts:
        _parse_target(texts[TARGET], categories, warn)
    closures = _parse_center(texts[CENTER], warn) if CENTER in texts else {}
    if CENTER in texts:
        unknown = sorted({a.center for a in areas.values() if a.center and a.center not in closures})
        for center in unknown:
            warn.add(f"{AREA_DAYS}: center {center!r} has no row in {CENTER} (no closures for it)")
    return Calendar(areas=areas, categories=categories, closures=closures, warnings=warn.result())


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
