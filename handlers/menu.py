"""The menu and the help text: what the bot can do, as one table later features add to."""
from __future__ import annotations

from dataclasses import dataclass

from bot.context import Ctx
from bot.i18n import N_
from bot.replies import Choice, Question, Reply, Text, postback
from bot.vocab import Role


@dataclass(frozen=True)
class MenuItem:
    key: str
    label: str  # msgid
    flow: str | None = None  # the conversation it starts
    action: str | None = None  # or a handler action


MENU: tuple[MenuItem, ...] = (
    MenuItem("ask", N_("Ask for help"), action="aid:ask"),
    MenuItem("offer", N_("Help a neighbour"), action="aid:offer"),
    MenuItem("mine", N_("My requests"), action="aid:mine"),
    MenuItem("record", N_("Thanks record"), action="aid:record"),
    MenuItem("registry", N_("Helper registry"), action="aid:registry"),
    MenuItem("events", N_("Events"), action="ev:events"),
    MenuItem("my_events", N_("My events"), action="ev:mine"),
    MenuItem("circulars", N_("Circulars"), action="circ:archive"),
    MenuItem("reminders", N_("Reminders"), action="rem:list"),
    MenuItem("garbage", N_("Garbage days"), action="rem:garbage"),
    MenuItem("settings", N_("Settings"), flow="settings"),
    MenuItem("help", N_("How to use"), action="help"),
    MenuItem("delete", N_("Delete my data"), flow="delete_data"),
)

# What a resident can type, shown by help. Each keyword msgid lists words separated by "|".
HELP_LINES: tuple[str, ...] = (
    N_("“Menu”: what you can do"),
    N_("“Ask for help”: ask neighbours for a hand"),
    N_("“Offer help”: see what neighbours near you need"),
    N_("“My requests”: see, change or cancel what you asked"),
    N_("“Thanks record”: the hours of help you have given"),
    N_("“Helper registry”: tell us what you can help with"),
    N_("“Events”: local events you can join"),
    N_("“My events”: the events you signed up for"),
    N_("“Circulars”: your association's circulars; add a word to search"),
    N_("“Reminders”: your own reminders, e.g. “Reminders every Tuesday 7:00 burnable garbage”"),
    N_("“Garbage days”: a reminder the evening before your collection day"),
    N_("“Settings”: language, area, association, name, quiet hours"),
    N_("“Cancel”: stop what you are doing, at any step"),
    N_("“Delete my data”: remove everything about you"),
)


# Shown to association leaders as well.
LEADER_HELP_LINES: tuple[str, ...] = (
    N_("“Write a circular”: send a circular to your members"),
    N_("“Circular status”: who has read and answered; remind the rest"),
    N_("“Roster”: households, paper households and block leaders"),
    N_("“Manage events”: create events and see who is coming"),
    N_("“Console”: a link to the web console (circulars, roster, events)"),
)


def main_menu(ctx: Ctx, text: str | None = None) -> Question:
    choices = tuple(Choice(label=ctx.t(item.label), data=postback(a="menu", v=item.key)) for item in MENU)
    return Question(text=text or ctx.t(N_("What would you like to do?")), choices=choices)


def help_replies(ctx: Ctx) -> list[Reply]:
    shown = HELP_LINES
    if ctx.resident is not None and _leads(ctx):
        shown = HELP_LINES + LEADER_HELP_LINES
    lines = "\n".join("・" + ctx.t(line) for line in shown)
    intro = ctx.t(N_("Tsunagari connects neighbours who need a hand with neighbours who can give one. You can type these words at any time:"))
    return [Text(intro + "\n" + lines), main_menu(ctx)]


def item(key: str) -> MenuItem | None:
    return next((i for i in MENU if i.key == key), None)


def _leads(ctx: Ctx) -> bool:
    from sqlalchemy import select

    from bot.models import Membership

    return ctx.session.scalar(select(Membership.id).where(
        Membership.resident_id == ctx.resident.id, Membership.role.in_([Role.LEADER, Role.HAN_LEADER])).limit(1)) is not None
