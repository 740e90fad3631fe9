"""Garbage-day reminders: the resident's collection area (as the city's calendar names it), the
kinds of garbage they want to hear about, then 「明日は燃やすごみの日です」 the evening before."""
from __future__ import annotations

import unicodedata
from zoneinfo import ZoneInfo

from bot.core import areas, timefmt
from bot.services import garbage
from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.replies import Reply, Text
from conversations.engine import Answer, Flow, Invalid, Option, Step

ALL = "__all"


def _cal(ctx: Ctx):
    if "garbage_cal" not in ctx.cache:
        ctx.cache["garbage_cal"] = garbage.current(ctx.session)
    return ctx.cache["garbage_cal"]


def _suggested(ctx: Ctx) -> list[str]:
    cal = _cal(ctx)
    if cal is None or ctx.resident is None:
        return []
    return garbage.suggested_areas(cal, ctx.resident.area, ctx.config.garbage_area_map)


def ask_area(ctx: Ctx, data: dict) -> str:
    """The question, with the likely area named when the resident's own area points to it."""
    question = ctx.t(N_("Which collection area do you live in? (as on the city's garbage calendar)"))
    likely = _suggested(ctx)
    if likely and ctx.resident is not None and ctx.resident.area is not None:
        fb = ctx.config.fallback_language
        question += "\n" + ctx.t(N_("You live in {area}, so it is probably {choices} (the first buttons)."),
                                  area=ctx.resident.area.name(ctx.locale, fb),
                                  choices=timefmt.show_list([garbage.show_area(x, ctx.locale, fb) for x in likely[:3]], ctx.locale))
    return question


def area_options(ctx: Ctx, data: dict) -> list[Option]:
    """The collection areas, the likely ones first (one tap for most residents)."""
    cal = _cal(ctx)
    fb = ctx.config.fallback_language
    likely = _suggested(ctx)
    names = likely + [name for name in (cal.areas if cal else {}) if name not in likely]
    return [Option(name, garbage.show_area(name, ctx.locale, fb), literal=True, aliases=(name,)) for name in names]


def accept_area(ctx: Ctx, data: dict, answer: Answer) -> str:
    """A collection area typed however its name is written ("asahi 2", 「あさひ2丁目」:
    `areas.place_key`), or a part of its name when only one area has it."""
    cal = _cal(ctx)
    typed = unicodedata.normalize("NFKC", answer.text or "").strip()
    fb = ctx.config.fallback_language
    found = areas.match_places(typed, [(name, (name, garbage.show_area(name, ctx.locale, fb)))
                                       for name in (cal.areas if cal else {})])
    if len(found) == 1:
        return found[0]
    if found:
        raise Invalid(N_("Several areas match “{typed}”: {names}. Please write more of the name."),
                      typed=typed, names=timefmt.show_list([garbage.show_area(x, ctx.locale, fb) for x in found[:8]], ctx.locale))
    raise Invalid(N_("No collection area matches “{typed}”. Please choose from the buttons or write part of the name."),
                  typed=typed)


def category_options(ctx: Ctx, data: dict) -> list[Option]:
    cal = _cal(ctx)
    labels = cal.columns if cal else []  # the kinds with collection days
    shown = garbage.show_kinds(cal, labels, ctx.locale, ctx.config.fallback_language) if cal else []
    return [Option(ALL, N_("All kinds"))] + [Option(label, name, literal=True, aliases=(label,)) for label, name in zip(labels, shown)]


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    chosen = [] if ALL in data["kinds"] else list(data["kinds"])
    try:
        garbage.subscribe(ctx.session, ctx.resident, data["area"], chosen, ctx.now)
    except garbage.GarbageError as exc:
        return [Text(exc.render(ctx.locale, ctx.config.tz_name))]
    today = ctx.now.astimezone(ZoneInfo(ctx.config.tz_name)).date()
    return [Text(ctx.t(N_("Done. The evening before a collection day, at {hour}:00, we will tell you. Next collections:\n{days}"),
                       hour=ctx.config.garbage_reminder_hour,
                       days=garbage.upcoming_text(_cal(ctx), data["area"], chosen, today, ctx.locale,
                                                  fallback=ctx.config.fallback_language)))]


FLOW = Flow(
    name="garbage",
    first="area",
    on_finish=finish,
    steps={
        "area": Step(ask=ask_area, options=area_options, accept=accept_area, next="kinds"),
        "kinds": Step(ask=N_("Which kinds of garbage should we remind you of? Tap to choose, then “Done”."),
                      options=category_options, collect=True, next=None),
    },
)
