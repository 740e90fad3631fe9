"""Asking for help: category → a few words → when → by name or anonymous → confirm.

Where is always the resident's own area: never an address."""
from __future__ import annotations

from datetime import datetime, timedelta

from bot.services import aid_messages, aid_notify, mutual_aid

from bot.core import timefmt
from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.replies import Reply, Text
from conversations import common
from conversations.engine import Flow, Option, Step, YES
from handlers.menu import main_menu

ANY = "any"
GUESS = "_guess"  # the kind of help guessed from the resident's sentence
MAX_AHEAD = timedelta(days=90)


def category_options(ctx: Ctx, data: dict) -> list[Option]:
    codes = [code for code in ctx.config.help_categories if code in mutual_aid.CATEGORIES]
    guess = data.get(GUESS)
    if guess in codes:  # what their sentence was about comes first
        codes.remove(guess)
        codes.insert(0, guess)
    return [Option(code, mutual_aid.CATEGORIES[code]) for code in codes]


def ask_category(ctx: Ctx, data: dict) -> str:
    if data.get("description"):  # started from a sentence (handlers/understood.py): theirs, kept
        return ctx.t(N_("You wrote: “{description}”\nWhat kind of help is it? (You can check everything before it is posted.)"),
                     description=data["description"])
    return ctx.t(N_("Asking is fine: neighbours are glad to help. What do you need a hand with?"))


def after_category(data: dict) -> str:
    return "when" if data.get("description") else "description"


after_category.targets = ("description", "when")  # type: ignore[attr-defined]


accept_description = common.free_text(mutual_aid.DESCRIPTION_MAX, N_("Please write a few words about what you need."))


accept_when = common.accept_future(N_("Please choose a date and time with the button, or tap “Any time”."),
                                   MAX_AHEAD, N_("Please choose a time within the next 90 days."))


def name_options(ctx: Ctx, data: dict) -> list[Option]:
    name = ctx.resident.nickname if ctx.resident else ""
    return [Option("name", N_("Show “{name}”"), named={"name": name or "-"}),
            Option("anonymous", N_("Anonymous"))]


def preview(ctx: Ctx, data: dict) -> str:
    when = ctx.t(N_("Any time")) if data["when"] == ANY else timefmt.show(datetime.fromisoformat(data["when"]), ctx.locale, ctx.config.tz_name)
    area = ctx.resident.area.name(ctx.locale, ctx.config.fallback_language) if ctx.resident and ctx.resident.area else "-"
    who = ctx.t(N_("Anonymous")) if data["shown_as"] == "anonymous" else (ctx.resident.nickname or "-")
    return ctx.t(
        N_("Please check your request:\n{category}\n{description}\nWhen: {when}\nWhere: {area}\nShown as: {who}\n\nPost it to your neighbours?"),
        category=aid_messages.category_label(ctx.locale, data["category"]), description=data["description"],
        when=when, area=area, who=who,
    )


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    when = None if data["when"] == ANY else datetime.fromisoformat(data["when"])
    try:
        req = mutual_aid.create_request(
            ctx.session, ctx.resident, category=data["category"], description=data["description"], when_at=when,
            anonymous=data["shown_as"] == "anonymous", now=ctx.now,
        )
    except mutual_aid.AidError as exc:
        return [Text(exc.render(ctx.locale, ctx.config.tz_name)), main_menu(ctx)]
    ctx.apply(aid_notify.notify_helpers(ctx.session, ctx.config, req, ctx.now))
    return [Text(ctx.t(N_("Posted! We will let you know as soon as a neighbour offers to help. You can see it any time with “My requests”.")))]


FLOW = Flow(
    name="ask_help",
    first="category",
    on_finish=finish,
    steps={
        "category": Step(ask=ask_category, options=category_options, next=after_category),
        "description": Step(ask=N_("Tell us a little more in a few words (for example: “Rubbish to the collection point on Tuesday morning”). Please do not write your address."),
                            accept=accept_description, next="when"),
        "when": Step(ask=N_("When would you like the help?"), date_mode="datetime", date_label=N_("Choose date and time"),
                     options=[Option(ANY, N_("Any time"))], accept=accept_when, next="shown_as"),
        "shown_as": Step(ask=N_("Show your name to neighbours, or ask anonymously? (Your name is shown only to the person you accept.)"),
                         options=name_options, next="confirm"),
        "confirm": Step(ask=preview, options=[Option("post", N_("Post it"), says=YES)], next=None),
    },
)
