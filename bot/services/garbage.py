"""Garbage days: the city's collection calendar (5374 open-data format, bot.core.garbage5374) in
the database, residents' choice of collection area and categories, and the evening reminder
「明日は燃やすごみの日です」.

The reminder is sent once per resident and collection day: each subscription remembers the last
day it was told about, updated in the same transaction that queues the messages. Residents
with the same area, categories and language get the same words, so they go as multicasts."""
from __future__ import annotations

import csv
import logging
import tomllib
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from bot.services import Outcome
from bot.core import garbage5374, names, timefmt, understand
from bot.core.config import ROOT, Config
from bot.core.errors import UserError
from bot.core.garbage5374 import Calendar
from bot.core.i18n import N_, t
from bot.core.models import Area, GarbageCalendar, GarbageSubscription, Resident
from bot.core.replies import Choice, Question, Text, postback

log = logging.getLogger(__name__)

_CACHE: dict[tuple[int, str, str], Calendar] = {}  # the stored calendar, parsed once per import


class GarbageError(UserError):
    pass


def store(session: Session, cal: Calendar, source: str, now: datetime,
          renamed: dict[str, str] | None = None) -> tuple[GarbageCalendar, list[str], int]:
    """Replace the city's calendar. `renamed` (old area name → new, from garbage5374.compare):
    those residents' subscriptions follow the new name. Returns the stored row, the subscribed
    areas that the new calendar no longer has (those residents are asked to choose again at the
    next evening reminder, see `fire_due`) and how many subscriptions were moved."""
    session.execute(delete(GarbageCalendar))
    row = GarbageCalendar(source=source[:500], data=cal.to_json(), imported_at=now)
    session.add(row)
    moved = 0
    for old, new in (renamed or {}).items():
        if new in cal.areas and old not in cal.areas:
            moved += session.execute(update(GarbageSubscription).where(GarbageSubscription.area == old)
                                     .values(area=new).execution_options(synchronize_session=False)).rowcount or 0
    session.flush()
    gone = sorted(set(session.scalars(select(GarbageSubscription.area))) - set(cal.areas))
    return row, gone, moved


def subscribers_by_area(session: Session) -> dict[str, int]:
    """How many residents chose each collection area."""
    rows = session.execute(select(GarbageSubscription.area, func.count()).group_by(GarbageSubscription.area))
    return {area: n for area, n in rows}


def current(session: Session) -> Calendar | None:
    row = session.execute(select(GarbageCalendar.id, GarbageCalendar.imported_at, GarbageCalendar.source)).first()
    if row is None:
        return None
    key = (row.id, row.imported_at.isoformat(), row.source)
    cal = _CACHE.get(key)
    if cal is None:
        data = session.scalar(select(GarbageCalendar.data).where(GarbageCalendar.id == row.id))
        cal = Calendar.from_json(data)
        _CACHE.clear()
        _CACHE[key] = cal
    return cal


_ATTENTION: dict[tuple[int, date], dict] = {}


def attention(session: Session, today: date) -> dict | None:
    """What staff must hear about the calendar in use (None: no calendar): collection areas with
    no collection in the next 30 days (their residents hear nothing: a calendar of dates that
    ran out), and, from November, no year-end closure for this year when the city gives
    closures at all. Worked out once a day per import."""
    row = session.execute(select(GarbageCalendar.id)).first()
    cal = current(session)
    if row is None or cal is None:
        return None
    key = (row.id, today)
    if key not in _ATTENTION:
        summary = garbage5374.summarize(cal, today)
        years = summary.closures_by_year
        _ATTENTION.clear()
        _ATTENTION[key] = {
            "silent": summary.areas - summary.areas_collecting_soon, "areas": summary.areas,
            "last_date": summary.last_date if not summary.open_ended else None,
            "no_year_end": bool(years) and today.month >= 11 and today.year not in years,
            "year": today.year,
        }
    return _ATTENTION[key]


def needs_choice(cal: Calendar, area: str, categories: list[str]) -> bool:
    """Whether a subscription points at what the city's calendar no longer has: its area, or
    every kind of garbage it chose (after a re-import). The resident is asked to choose again."""
    if area not in cal.areas:
        return True
    return bool(categories) and not any(c in cal.columns for c in categories)


# -- which collection area is the resident's --------------------------------------------------

_MAPS: dict[tuple[str, float], dict[str, list[str]]] = {}


def area_map(path: str | None) -> dict[str, list[str]]:
    """A city's mapping of its areas to the calendar's collection areas (GARBAGE_AREA_MAP): a CSV
    with the header `area,garbage_area`, `area` being an area's code or its Japanese name, one
    row per pair (an area split between several collection areas has several rows). Read again
    when the file changes."""
    if not path:
        return {}
    try:
        key = (path, Path(path).stat().st_mtime)
    except OSError:
        log.warning("GARBAGE_AREA_MAP %s cannot be read", path)
        return {}
    if key not in _MAPS:
        out: dict[str, list[str]] = {}
        with open(path, encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                area, garbage_area = (row.get("area") or "").strip(), (row.get("garbage_area") or "").strip()
                if area and garbage_area:
                    out.setdefault(area, []).append(garbage_area)
        _MAPS.clear()
        _MAPS[key] = out
    return _MAPS[key]


def suggested_areas(cal: Calendar, area: Area | None, map_path: str | None = None) -> list[str]:
    """The calendar's collection areas that are likely those of a resident who joined with
    `area`: the city's mapping when it names the area, else the same name (compared folded and
    by reading: さくら台 = サクラ台), else the collection areas that contain the area's name
    (本町 → 本町一丁目, 本町二丁目) or are contained in it."""
    if area is None:
        return []
    mapping = area_map(map_path)
    mapped = mapping.get(area.code) or mapping.get((area.names or {}).get("ja", ""))
    if mapped:
        return [a for a in mapped if a in cal.areas]
    ja = understand.fold((area.names or {}).get("ja", "")).replace(" ", "")
    if not ja:
        return []
    said = understand.reading(ja)
    folded = {name: understand.fold(name).replace(" ", "") for name in cal.areas}
    same = [name for name, f in folded.items() if f == ja or understand.reading(f) == said]
    if same:
        return same
    return [name for name, f in folded.items() if len(ja) >= 2 and (ja in f or (len(f) >= 2 and f in ja))]


def subscribe(session: Session, resident: Resident, area: str, categories: list[str], now: datetime) -> GarbageSubscription:
    cal = current(session)
    if cal is None or area not in cal.areas:
        raise GarbageError(N_("That collection area is not in the city's calendar."))
    sub = session.scalar(select(GarbageSubscription).where(GarbageSubscription.resident_id == resident.id))
    if sub is None:
        sub = GarbageSubscription(resident_id=resident.id, area=area, categories=categories, created_at=now)
        session.add(sub)
    else:
        sub.area, sub.categories, sub.last_day, sub.gone_notified_at = area, categories, None, None
    session.flush()
    return sub


def unsubscribe(session: Session, resident: Resident) -> bool:
    return bool(session.execute(delete(GarbageSubscription).where(GarbageSubscription.resident_id == resident.id)).rowcount)


# -- the city's names, in the resident's language ---------------------------------------------
# A city's calendar names its kinds of garbage and its collection areas in Japanese only. A
# kind is shown by the reviewed name of what it is (「燃やすごみ」 → "Burnable garbage", in all
# ten languages); a kind the vocabulary does not know, and an area, go through the name chain
# (bot.core.names: the city's own English sublabel, else Latin letters). Where two of a city's
# kinds are the same kind (「びん」 and 「かん」), each also says its own name.

KIND_NAMES = {
    "burnable": N_("Burnable garbage"),
    "nonburnable": N_("Non-burnable garbage"),
    "plastic": N_("Plastic packaging"),
    "cans_bottles": N_("Cans and bottles"),
    "paper": N_("Paper and cardboard"),
    "oversized": N_("Oversized garbage"),
    "recyclables": N_("Recyclables"),
    "hazardous": N_("Hazardous waste"),
}


def show_kinds(cal: Calendar, labels: list[str] | tuple[str, ...], locale: str, fallback: str = "en") -> list[str]:
    """The city's kinds of garbage as a resident of `locale` reads them."""
    if locale == "ja":
        return list(labels)
    if locale == "ja_easy":
        return [names.with_reading(x) for x in labels]
    kinds = {label: understand.kind_named(label) for label in cal.categories}
    shared = {k for k in kinds.values() if k and list(kinds.values()).count(k) > 1}
    out = []
    for label in labels:
        own = names.display(_category_names(cal, label), locale, fallback)
        kind = kinds.get(label) or understand.kind_named(label)
        if kind is None:
            out.append(own)
        elif kind in shared:
            out.append(t(locale, N_("{kind} ({name})"), kind=t(locale, KIND_NAMES[kind]), name=own))
        else:
            out.append(t(locale, KIND_NAMES[kind]))
    return out


def _category_names(cal: Calendar, label: str) -> dict[str, str]:
    """A kind's names: the Japanese label, and the city's sublabel when it is in Latin letters
    (5374 data often gives an English one there)."""
    found = {"ja": label}
    cat = cal.categories.get(label)
    sub = (cat.sublabel if cat else "").strip()
    if sub and sub.isascii() and any(ch.isalpha() for ch in sub):
        found["en"] = sub
    return found


def show_area(area: str, locale: str, fallback: str = "en") -> str:
    """A collection area's name as a resident of `locale` reads it."""
    return names.display({"ja": area}, locale, fallback)


def upcoming_text(cal: Calendar, area: str, categories: list[str], start: date, locale: str, days: int = 8,
                  fallback: str = "en") -> str:
    lines = []
    for day, labels in cal.upcoming(area, start, days):
        chosen = [x for x in labels if not categories or x in categories]
        if chosen:
            lines.append(f"{timefmt.show_day(day, locale)} {timefmt.show_list(show_kinds(cal, chosen, locale, fallback), locale)}")
    return "\n".join(lines) or t(locale, N_("No collection in the next days."))


# -- what residents ask -----------------------------------------------------------------------

ITEM_WORDS = ROOT / "locales" / "garbage_items.toml"


@cache
def _item_words(locale: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(a word residents of `locale` type, folded; the Japanese words to search the city's list
    with), longest words first: locales/garbage_items.toml."""
    with ITEM_WORDS.open("rb") as f:
        data = tomllib.load(f)
    out = []
    for entry in data.get("item", []):
        for word in entry.get(locale, []):
            out.append((understand.fold(word), tuple(entry["ja"])))
    return tuple(sorted(out, key=lambda x: -len(x[0])))


def item_words(typed: str, locale: str) -> list[tuple[str, tuple[str, ...]]]:
    """What a resident typed in their language as the Japanese words of the city's list
    ("old frying pan" → [("frying pan", ("フライパン",))]): the words of locales/garbage_items.toml
    found whole in it (or it in them), else one letter or so off; best first."""
    want = understand.fold(typed)
    if not want:
        return []
    padded = f" {want} "
    hits: list[tuple[float, str, tuple[str, ...]]] = []
    for word, japanese in _item_words(locale):
        spaced = " " in word or word.isascii()
        if word == want:
            score = 100.0
        elif spaced and f" {word} " in padded or not spaced and word in want:
            score = 90.0 + len(word) / 100
        elif len(want) >= 5 and fuzz.ratio(word, want) >= 85:
            score = fuzz.ratio(word, want) - 10
        else:
            continue
        if not any(j == japanese for _, _, j in hits):
            hits.append((score, word, japanese))
    hits.sort(key=lambda x: -x[0])
    return [(word, japanese) for _, word, japanese in hits]


def kind_of(cal: Calendar, item: str, locale: str = "ja") -> list[tuple[str, str, str, str]]:
    """「フライパン」 → [("フライパン", "燃やさないごみ", "", "")]: the city's items (target.csv) that
    match what was typed, best first, as (item, category label, notice, the resident's word that
    found it). Compared folded (width, kana, case), by reading for Japanese, and with small typos
    forgiven. In another language its words for common items (`item_words`) are searched too:
    "frying pan", 「平底锅」 and "chảo" find 「フライパン」 (the word: "frying pan", …)."""
    found = [(name, label, notice, "") for name, label, notice in _kind_of(cal, item)]
    if locale in ("ja", "ja_easy"):
        return found
    exact = [x for x in found if understand.fold(x[0]) == understand.fold(item)]  # typed as the list writes it
    out, seen = list(exact), {(x[0], x[1]) for x in exact}
    for word, japanese in item_words(item, locale):
        for search in japanese:
            for name, label, notice in _kind_of(cal, search):
                if (name, label) not in seen:
                    out.append((name, label, notice, word))
                    seen.add((name, label))
    return out + [x for x in found if (x[0], x[1]) not in seen]


def _kind_of(cal: Calendar, item: str) -> list[tuple[str, str, str]]:
    want = understand.fold(item).replace(" ", "")
    if not want:
        return []
    said = understand.reading(want) if understand.is_japanese(want) else want
    scored = []
    for label, cat in cal.categories.items():
        for index, name in enumerate(cat.items):
            have = understand.fold(name).replace(" ", "")
            if not have:
                continue
            if have == want or (understand.is_japanese(have) and understand.reading(have) == said):
                score = 100.0
            elif len(want) >= 2 and (want in have or have in want):
                score = 90.0 - abs(len(have) - len(want))
            else:
                score = fuzz.ratio(want, have)
                if score < 85:
                    continue
            scored.append((score, name, label, cat.notice(index)))
    scored.sort(key=lambda x: (-x[0], len(x[1])))
    return [(name, label, notice) for _, name, label, notice in scored]


def area_of(session: Session, resident: Resident | None) -> str | None:
    """The collection area the resident chose (None: none, or one the calendar no longer has)."""
    if resident is None:
        return None
    area = session.scalar(select(GarbageSubscription.area).where(GarbageSubscription.resident_id == resident.id))
    cal = current(session)
    return area if cal is not None and area in cal.areas else None


def next_collection(cal: Calendar, area: str, label: str, start: date, days: int = 62) -> date | None:
    """The first day from `start` on which `label` is collected in `area` (within `days`)."""
    for day, labels in cal.upcoming(area, start, days):
        if label in labels:
            return day
    return None


def labels_of_kind(cal: Calendar, kind: str) -> list[str]:
    """The city's category labels for a kind of garbage ("burnable" → 「燃やすごみ」): the labels
    that contain one of the Japanese words for it."""
    words = understand.lexicon("ja").kinds.get(kind)
    if words is None:
        return []
    return [label for label in cal.columns if words.find(understand.message(label))]


# -- the clock --------------------------------------------------------------------------------

def evening_window(now: datetime, config: Config) -> date | None:
    """The collection day to announce now, if it is the evening hour (within the grace window),
    else None."""
    local = now.astimezone(ZoneInfo(config.tz_name))
    start = local.replace(hour=config.garbage_reminder_hour, minute=0, second=0, microsecond=0)
    if start <= local <= start + timedelta(seconds=config.misfire_grace_seconds):
        return local.date() + timedelta(days=1)
    return None


def fire_due(session: Session, config: Config, now: datetime, limit: int = 10000) -> Outcome:
    """「明日は…の日です」 for tomorrow's collections (`facts["sent"]`: residents told). Safe to
    run every minute: each subscription is told once per collection day."""
    day = evening_window(now, config)
    cal = current(session) if day is not None else None
    if day is None or cal is None:
        return Outcome(facts={"sent": 0})
    rows = session.execute(
        select(GarbageSubscription.id, GarbageSubscription.area, GarbageSubscription.categories,
               Resident.line_user_id, Resident.channel, Resident.locale, Resident.following,
               GarbageSubscription.gone_notified_at)
        .join(Resident, Resident.id == GarbageSubscription.resident_id)
        .where(or_(GarbageSubscription.last_day.is_(None), GarbageSubscription.last_day != day.isoformat()))
        .order_by(GarbageSubscription.id).limit(limit)
        .with_for_update(skip_locked=True, of=GarbageSubscription)
    ).all()
    if not rows:
        return Outcome(facts={"sent": 0})
    groups: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
    gone: dict[tuple[str, str, str], list[str]] = {}
    gone_ids: list[int] = []
    for sub_id, area, categories, user_id, channel, locale, following, gone_notified_at in rows:
        if not following:
            continue
        if needs_choice(cal, area, categories):
            if gone_notified_at is None:  # told once; asked again when they next open it
                gone.setdefault((channel, locale, area), []).append(user_id)
                gone_ids.append(sub_id)
            continue
        labels = tuple(x for x in cal.collections_on(area, day) if not categories or x in categories)
        if labels:
            groups.setdefault((channel, locale, labels), []).append(user_id)
    session.execute(update(GarbageSubscription).where(GarbageSubscription.id.in_([r[0] for r in rows]))
                    .values(last_day=day.isoformat()).execution_options(synchronize_session=False))

    def reply_for(locale: str, labels: tuple[str, ...]) -> Text:
        shown = show_kinds(cal, labels, locale, config.fallback_language)
        return Text(t(locale, N_("Tomorrow, {day}, is collection day for: {what}."),
                      day=timefmt.show_day(day, locale), what=timefmt.show_list(shown, locale)))

    def gone_for(locale: str, area: str) -> Question:
        return Question(t(locale, N_("The city's garbage calendar has changed, and your collection area “{area}” (or the kinds you chose) is no longer in it. Please choose again, so we can keep reminding you."),
                          area=show_area(area, locale, config.fallback_language)),
                        (Choice(t(locale, N_("Choose again")), postback(a="gb", x="set")),))

    if gone_ids:
        session.execute(update(GarbageSubscription).where(GarbageSubscription.id.in_(gone_ids))
                        .values(gone_notified_at=now).execution_options(synchronize_session=False))
    out = Outcome()
    told = out.tell_many(gone, lambda locale, area: [gone_for(locale, area)], source="garbage", at=now)
    told += out.tell_many(groups, lambda locale, labels: [reply_for(locale, labels)], source="garbage", at=now)
    out.facts["sent"] = told
    return out
