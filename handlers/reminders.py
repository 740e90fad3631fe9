"""Personal reminders (「リマインダー」) and garbage days (「ごみの日」) in LINE: list, create,
delete; choose a collection area or stop."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select

import conversations
from bot.core import refs, timefmt
from bot.core.i18n import N_, keywords, normalize_text
from bot.core.models import GarbageSubscription, Reminder
from bot.core.replies import Card, Carousel, Choice, Question, Reply, Text, postback
from bot.core.vocab import InboundKind
from bot.services import garbage, reminders
from conversations import engine
from handlers import buttons
from handlers.context import Ctx
from handlers.features import Feature, HelpLine, MenuItem, RichTile, Word

REMINDERS = N_("reminders|reminder")
GARBAGE = N_("garbage days|garbage")


def _new_choice(ctx: Ctx) -> Choice:
    return Choice(ctx.t(N_("New reminder")), postback(a="rem", x="new"))


def show(ctx: Ctx) -> list[Reply]:
    assert ctx.resident is not None
    mine = reminders.of(ctx.session, ctx.resident)
    if not mine:
        return [Question(ctx.t(N_("You have no reminders. Write one like “Reminders every Tuesday 7:00 burnable garbage”, or tap “New reminder”.")),
                         (_new_choice(ctx),))]
    cards = tuple(
        Card(title=rem.title, body=reminders.describe_one(rem, ctx.locale).rsplit("「", 1)[0],
             buttons=(Choice(ctx.t(N_("Delete")), postback(a="rem", x="del", r=refs.ref(rem))),))
        for rem in mine[:10]
    )
    return [Carousel(alt=ctx.t(N_("Your reminders")), cards=cards, choices=(_new_choice(ctx),))]


def new(ctx: Ctx, data: dict | None = None) -> list[Reply]:
    return engine.start(ctx, conversations.get("reminder_new"))


def do_delete(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    rem = buttons.record(ctx, data, "r", Reminder)
    rem = reminders.remove(ctx.session, ctx.resident, rem.id)
    return [Text(ctx.t(N_("Deleted the reminder “{title}”."), title=rem.title))]


ACTIONS = {"list": lambda ctx, data: show(ctx), "new": new, "del": do_delete}


def _rest_after_keyword(ctx: Ctx) -> str | None:
    """「リマインダー 毎週火曜 7:00 燃えるごみ」 → 「毎週火曜 7:00 燃えるごみ」 (None if not that word)."""
    if ctx.inbound.kind != InboundKind.MESSAGE or ctx.inbound.message_type != "text":
        return None
    text = (ctx.inbound.text or "").strip()
    for word in sorted(keywords(REMINDERS), key=len, reverse=True):
        head = normalize_text(text[:len(word)])
        if head == word and (len(text) == len(word) or text[len(word)] in " 　:："):
            return text[len(word):].strip(" 　:：")
    return None


def is_reminder_word(ctx: Ctx) -> bool:
    return _rest_after_keyword(ctx) is not None


def reminder_word(ctx: Ctx) -> list[Reply]:
    rest = _rest_after_keyword(ctx)
    if not rest:
        return show(ctx)
    # Written in one go: straight to the check of how it was understood.
    try:
        rule, title = reminders.read(rest, ctx.now, ctx.config.tz_name, ctx.locale)
    except reminders.ReminderError as exc:
        return [Text(exc.render(ctx.locale, ctx.config.tz_name)), *new(ctx)]
    return engine.start(ctx, conversations.get("reminder_new"), data={"what": {"rule": rule.to_json(), "title": title}},
                        step="confirm")


# -- garbage days ----------------------------------------------------------------------------

def garbage_start(ctx: Ctx, kind: str | None = None) -> list[Reply]:
    """The resident's next collection days (or the questions to choose their area). `kind`
    ("oversized", "plastic", …, from what they typed): only that kind's days."""
    assert ctx.resident is not None
    cal = garbage.current(ctx.session)
    if cal is None:
        return [Text(ctx.t(N_("The city's garbage calendar is not loaded yet. Please ask the center.")))]
    sub = ctx.session.scalar(select(GarbageSubscription).where(GarbageSubscription.resident_id == ctx.resident.id))
    if sub is None:
        return engine.start(ctx, conversations.get("garbage"))
    fb = ctx.config.fallback_language
    if garbage.needs_choice(cal, sub.area, sub.categories):
        # the city re-imported its calendar without the area (or the kinds) they chose
        return [Text(ctx.t(N_("The city's garbage calendar has changed, and your collection area “{area}” (or the kinds you chose) is no longer in it. Please choose again."),
                           area=garbage.show_area(sub.area, ctx.locale, fb))), *engine.start(ctx, conversations.get("garbage"))]

    today = ctx.now.astimezone(ZoneInfo(ctx.config.tz_name)).date()
    chosen, span = list(sub.categories or []), 8
    if kind is not None and (labels := garbage.labels_of_kind(cal, kind)):
        chosen, span = labels, 35
        if not any(set(day) & set(labels) for _, day in cal.upcoming(sub.area, today, span)):
            how = " ".join(cal.categories[x].description for x in labels if cal.categories[x].description)
            kinds = timefmt.show_list(garbage.show_kinds(cal, labels, ctx.locale, fb), ctx.locale)
            return [Text(ctx.t(N_("“{kind}” is not collected on fixed days in your area."), kind=kinds)
                         + ("\n" + how if how else ""))]
    return [Question(
        ctx.t(N_("Your collection area: {area}\nNext collections:\n{days}"), area=garbage.show_area(sub.area, ctx.locale, fb),
              days=garbage.upcoming_text(cal, sub.area, chosen, today, ctx.locale, days=span, fallback=fb)),
        (Choice(ctx.t(N_("Change")), postback(a="gb", x="set")), Choice(ctx.t(N_("Stop reminders")), postback(a="gb", x="stop"))),
    )]


def gb_set(ctx: Ctx, data: dict) -> list[Reply]:
    return engine.start(ctx, conversations.get("garbage"))


def gb_stop(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    garbage.unsubscribe(ctx.session, ctx.resident)
    return [Text(ctx.t(N_("Garbage-day reminders stopped. Say “Garbage days” to start again.")))]


GB_ACTIONS = {"set": gb_set, "stop": gb_stop}

# 「リマインダー …」 with a schedule is its own route (`is_reminder_word`, in handlers.ROUTES),
# as it takes the rest of the line; the bare word is among the words below.
FEATURE = Feature(
    name="reminders", postback="rem", actions=ACTIONS,
    menu=(MenuItem("reminders", N_("Reminders"), 90, run=show),),
    help=(HelpLine(N_("“Reminders”: your own reminders, e.g. “Reminders every Tuesday 7:00 burnable garbage”"), 100),),
    flows=("reminder_new",),
    rich_menu=(RichTile("reminders", N_("Reminders"), REMINDERS, "#8A5A00", 50),),
    own_words=(REMINDERS,),  # route reminder_word: the word and a reminder written in one go
)
GARBAGE_FEATURE = Feature(
    name="garbage", postback="gb", actions=GB_ACTIONS,
    words=(Word(GARBAGE, run=garbage_start),),
    menu=(MenuItem("garbage", N_("Garbage days"), 100, run=garbage_start),),
    help=(HelpLine(N_("“Garbage days”: a reminder the evening before your collection day"), 110),),
    flows=("garbage",),
)
