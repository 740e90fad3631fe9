"""Steps and validators shared by several flows (language, area, join code, nickname,
quiet hours)."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, time, timedelta
from functools import lru_cache

from bot.core import answers, areas, names as name_chain, timefmt, understand

from bot.services import residents
from handlers.context import Ctx
from bot.core.i18n import LANGUAGES, N_, normalize_locale
from conversations import engine
from conversations.engine import Answer, Invalid, Option

YES, NO = engine.YES, engine.NO
SKIP, LEAVE = "skip", "leave"


def free_text(max_len: int, empty_msgid: str, *, single_line: bool = False):
    """An `accept` for free text: cleaned of control characters (and of line breaks when
    `single_line`), not empty, at most `max_len` characters."""

    def accept(ctx: Ctx, data: dict, answer: Answer) -> str:
        text = unicodedata.normalize("NFC", answer.text or "")
        if single_line:
            text = " ".join(text.split())
        text = "".join(ch for ch in text.strip() if ch == "\n" or not unicodedata.category(ch).startswith("C"))
        if not text:
            raise Invalid(empty_msgid)
        if len(text) > max_len:
            raise Invalid(N_("Please keep it under {max} characters (it is {n} now)."), max=max_len, n=len(text))
        return text

    return accept


def language_options(ctx: Ctx, data: dict) -> list[Option]:
    preferred = data.get("preferred_locale")
    codes = sorted(LANGUAGES, key=lambda c: (c != preferred, list(LANGUAGES).index(c)))
    return [Option(code, LANGUAGES[code], literal=True) for code in codes]


def accept_language(ctx: Ctx, data: dict, answer: Answer) -> str:
    text = (answer.text or "").strip()
    loc = normalize_locale(text) or understand.language_named(text)
    if loc:
        return loc
    written = understand.language_of(text)
    if written in LANGUAGES and "preferred_locale" in data:
        # 「Xin chào」 at the language question: asked again in the language they wrote in,
        # that language first (the other nine one tap away)
        data["locale"] = data["preferred_locale"] = written
    raise Invalid(N_("Please choose a language from the buttons."))


def area_options(ctx: Ctx, data: dict) -> list[Option]:
    locale, fallback = data.get("locale") or ctx.locale, ctx.config.fallback_language
    if "areas" not in ctx.cache:
        ctx.cache["areas"] = areas.active_area_names(ctx.session)
    return list(_area_options(ctx.cache["areas"], locale, fallback))


@lru_cache(maxsize=64)
def _area_options(rows: tuple[tuple[str, tuple[tuple[str, str], ...]], ...], locale: str, fallback: str) -> tuple[Option, ...]:
    """The area step's options, worked out once per set of areas (the city's file) and language:
    every event at that step needs them (names in Latin letters are not free)."""
    out = []
    for code, pairs in rows:
        names = dict(pairs)
        out.append(Option(code, name_chain.display(names, locale, fallback, code), literal=True,
                          aliases=tuple(names.values()) + (name_chain.display(names, "en", "en", code),)))
    return tuple(out)


def accept_area(ctx: Ctx, data: dict, answer: Answer) -> str:
    """Typed, an area is found however its name is written ("asahi 2", 「あさひ2丁目」, "Kawabe
    cho", in any language it has a name in: `areas.place_key`), or by a part of its name when
    only one area has that part."""
    key = areas.place_key(answer.text or "")
    if len(key) > 1 or not key.isascii():  # one Latin letter or digit says nothing
        found = areas.match_places(answer.text or "", [(o, (o.label, *o.aliases)) for o in area_options(ctx, data)])
        if len(found) == 1:
            return found[0].value
        if found:
            raise Invalid(N_("Several areas match “{typed}”: {names}. Please write more of the name."),
                          typed=(answer.text or "").strip(), names=timefmt.show_list([o.label for o in found[:8]], data.get("locale") or ctx.locale))
    raise Invalid(N_("We could not find that area. Please choose from the buttons, or tap “More…” to see more areas."))


def accept_join_code(ctx: Ctx, data: dict, answer: Answer) -> int:
    assoc = areas.find_association_by_code(ctx.session, answer.text or "")
    if assoc is None:
        raise Invalid(N_("That join code was not found. Please check it with your association, or tap “Skip”."))
    return assoc.id


def accept_nickname(ctx: Ctx, data: dict, answer: Answer) -> str:
    name = residents.clean_nickname(answer.text or "")
    if name is None:
        raise Invalid(N_("A name needs 1 to {max} characters, without links. Please try again."), max=residents.NICKNAME_MAX)
    return name


_RANGE = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*[-~〜～から]+\s*(\d{1,2})(?::(\d{2}))?(?:まで)?$")

QUIET_PRESETS = {
    "21-8": (21 * 60, 8 * 60),
    "22-7": (22 * 60, 7 * 60),
    "20-9": (20 * 60, 9 * 60),
    "off": (None, None),
}


def quiet_options(ctx: Ctx, data: dict) -> list[Option]:
    return [
        Option("21-8", N_("21:00–8:00 (usual)")),
        Option("22-7", N_("22:00 to 7:00")),
        Option("20-9", N_("20:00 to 9:00")),
        Option("off", N_("No quiet hours")),
    ]


def accept_quiet(ctx: Ctx, data: dict, answer: Answer) -> str:
    text = unicodedata.normalize("NFKC", answer.text or "").replace(" ", "")
    m = _RANGE.match(text)
    if m:
        h1, m1, h2, m2 = int(m[1]), int(m[2] or 0), int(m[3]), int(m[4] or 0)
        if h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60 and (h1, m1) != (h2, m2):
            return f"{h1 * 60 + m1}:{h2 * 60 + m2}"
    raise Invalid(N_("Please choose from the buttons, or type a range like “22:00-7:00”."))


def quiet_minutes(value: str) -> tuple[int | None, int | None]:
    if value in QUIET_PRESETS:
        return QUIET_PRESETS[value]
    start, end = value.split(":")
    return int(start), int(end)



# -- a date and time, from the picker or typed -------------------------------------------------

_TYPED_WHEN = re.compile(r"^(?:(\d{4})[-/])?(\d{1,2})[-/](\d{1,2})(?:[ T]+(\d{1,2}):(\d{2}))?$")


def parse_when(ctx: Ctx, answer: Answer) -> datetime:
    """The time a resident picked (the picker's params) or typed in their words (「火曜の朝7時」,
    "next Tuesday 7am", 「12/24 10:00」, 「2027/1/5」; bot.core.answers), in the city's time zone;
    10:00 when only a day was given. A date without a year that has passed this year is next year's.
    Raises ValueError when it is not a date and time."""
    raw = answer.params.get("datetime") or answer.params.get("date")
    try:
        if raw:
            return timefmt.parse_local(raw if "T" in raw else raw + "T10:00", ctx.config.tz_name)
        said = answers.when(answer.text or "", ctx.now.astimezone(ctx.tz), ctx.locale)
        if said is not None:  # 「火曜の朝7時」, "next Tuesday 7am", "27/12 às 10h"
            day, clock = said
            naive = datetime.combine(day, clock or time(10, 0))
            return timefmt.parse_local(naive.isoformat(), ctx.config.tz_name)
        m = _TYPED_WHEN.match(unicodedata.normalize("NFKC", answer.text or "").strip())
        if not m:
            raise ValueError("not a date")
        year = int(m[1]) if m[1] else ctx.now.astimezone(ctx.tz).year
        naive = datetime(year, int(m[2]), int(m[3]), int(m[4] or 10), int(m[5] or 0))
        when = timefmt.parse_local(naive.isoformat(), ctx.config.tz_name)
        if not m[1] and when < ctx.now:  # "1/5" typed in December means next January
            when = timefmt.parse_local(naive.replace(year=year + 1).isoformat(), ctx.config.tz_name)
        return when
    except OverflowError:  # a year the calendar cannot hold
        raise ValueError("no such date") from None


def accept_future(hint: str, max_ahead: timedelta, too_far: str):
    """An `accept` for a step that asks for a time in the future, within `max_ahead`. Each step
    says its own `hint` (which buttons it has) and `too_far` (its own limit)."""

    def accept(ctx: Ctx, data: dict, answer: Answer) -> str:
        try:
            when = parse_when(ctx, answer)
        except ValueError:
            raise Invalid(hint) from None
        if when <= ctx.now:
            raise Invalid(N_("That time has already passed. Please choose a time in the future."))
        if when > ctx.now + max_ahead:
            raise Invalid(too_far)
        return when.isoformat()

    return accept
