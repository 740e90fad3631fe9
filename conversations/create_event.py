"""An association leader creates an event in LINE: title → when → place → capacity → confirm.
It is open to the members of their association."""
from __future__ import annotations

from datetime import datetime

from bot.services import events
from bot.core import answers, timefmt
from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.models import Association
from bot.core.replies import Reply, Text
from bot.core.vocab import Audience
from conversations import common
from conversations.engine import Answer, Flow, Invalid, Option, Step

NO_LIMIT = "none"


def capacity_options(ctx: Ctx, data: dict) -> list[Option]:
    return [Option(NO_LIMIT, N_("No limit"))] + [Option(str(n), N_("{n} people"), named={"n": str(n)}) for n in (10, 20, 30, 50)]


def accept_capacity(ctx: Ctx, data: dict, answer: Answer) -> str:
    n = answers.number(answer.text or "", ctx.locale)
    if n is not None and 1 <= n <= 10000:
        return str(n)
    raise Invalid(N_("Please choose from the buttons, or type a number of people."))


def preview(ctx: Ctx, data: dict) -> str:
    when = timefmt.show(datetime.fromisoformat(data["when"]), ctx.locale, ctx.config.tz_name)
    cap = ctx.t(N_("No limit")) if data["capacity"] == NO_LIMIT else data["capacity"]
    return ctx.t(N_("Create this event for your association's members?\n“{title}”\n{when}\n{place}\nCapacity: {capacity}"),
                 title=data["title"], when=when, place=data["place"], capacity=cap)


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    ids = events.leader_associations(ctx.session, ctx.resident)
    if not ids:
        return [Text(ctx.t(N_("Only association leaders can manage events here. The center's staff can help you.")))]
    assoc = ctx.session.get(Association, ids[0])
    starts = datetime.fromisoformat(data["when"])
    _, outcome = events.create_event(ctx.session, {
        "title": data["title"], "place": data["place"], "starts_at": starts, "ends_at": None,  # no end invented
        "capacity": None if data["capacity"] == NO_LIMIT else int(data["capacity"]), "audience": Audience.ASSOCIATION,
        "association_id": assoc.id, "organizer": assoc.name}, ctx.now, created_by_id=ctx.resident.id, config=ctx.config)
    ctx.apply(outcome)
    return [Text(ctx.t(N_("Created! Members can now find it with “Events”; those who follow events are told of it.")))]


accept_start = common.accept_future(
    N_("Please choose the date and time with the button, or type it like “12/24 10:00”."),
    events.START_MAX, N_("Please choose a start within the next year."))


FLOW = Flow(
    name="create_event",
    first="title",
    on_finish=finish,
    steps={
        "title": Step(ask=N_("What is the event called?"), accept=common.free_text(100, N_("Please write a title.")), next="when"),
        "when": Step(ask=N_("When does it start?"), date_mode="datetime", date_label=N_("Choose date and time"),
                     accept=accept_start, next="place"),
        "place": Step(ask=N_("Where is it?"), accept=common.free_text(200, N_("Please write the place.")), next="capacity"),
        "capacity": Step(ask=N_("How many people can come?"), options=capacity_options, accept=accept_capacity, next="confirm"),
        "confirm": Step(ask=preview, options=[Option("yes", N_("Create it"))], next=None),
    },
)
