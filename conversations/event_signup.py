"""Signing up for an event that asks something: how many people, a note (e.g. allergies),
then confirm. When the event is full the confirmation offers the wait-list instead."""
from __future__ import annotations

from bot.services import event_messages as em
from bot.services import events
from bot.core import answers, refs
from bot.core.models import Event
from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.replies import Reply, Text
from bot.core.vocab import EventStatus
from conversations import common
from conversations.engine import Answer, Flow, Invalid, Option, Step, branch

NONE = "none"


def party_options(ctx: Ctx, data: dict) -> list[Option]:
    return [Option(str(n), N_("{n} people") if n > 1 else N_("Just me"), named={"n": str(n)}) for n in range(1, 6)]


def accept_party(ctx: Ctx, data: dict, answer: Answer) -> str:
    n = answers.number(answer.text or "", ctx.locale)  # 3, 「三人」, "two of us", "dalawa"
    if n is not None and 1 <= n <= events.MAX_PARTY:
        return str(n)
    raise Invalid(N_("Please choose from 1 to {max} people."), max=events.MAX_PARTY)


def ask_note(ctx: Ctx, data: dict) -> str:
    ev = events.get_event(ctx.session, int(data["event_id"]))
    return (em.question_for(ev, ctx.locale) if ev and ev.note_question
            else ctx.t(N_("Anything the organizer should know?")))


def ask_confirm(ctx: Ctx, data: dict) -> str:
    ev = events.get_event(ctx.session, int(data["event_id"]))
    if ev is None:
        return ctx.t(N_("That event was not found."))
    party = int(data.get("party", "1"))
    left = events.seats_left(ctx.session, ev)
    head = ctx.t(N_("“{title}”\n{when}\n{place}"), title=em.text_in(ev, ctx.locale, "title", ctx.config),
                 when=em.when(ev, ctx.locale, ctx.config), place=em.text_in(ev, ctx.locale, "place", ctx.config))
    if left is not None and left < party:
        n = len(events.waitlist(ctx.session, ev.id)) + 1
        return head + "\n\n" + ctx.t(N_("This event is full. Join the wait-list? You would be number {n}, and we will tell you at once if a place opens up."), n=n)
    return head + "\n\n" + ctx.t(N_("Sign up for {people}?"), people=em.people(party, ctx.locale))


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    note = data.get("note") or None
    if "event_ref" in data and refs.resolve(ctx.session, Event, data["event_ref"]) is None:
        # changed (or gone) while the resident answered: they sign up only for what they read
        ev = events.get_event(ctx.session, int(data["event_id"]))
        if ev is not None and ev.status == EventStatus.SCHEDULED and events.may_join(ctx.session, ev, ctx.resident):
            return [Text(ctx.t(N_("This event was changed while you were signing up, so you are not signed up yet. Here it is as it is now:"))),
                    em.event_card(ev, ctx.locale, ctx.config, events.seats_left(ctx.session, ev),
                                  len(events.waitlist(ctx.session, ev.id)))]
        return [Text(ctx.t(N_("This event is no longer open, so nothing was done.")))]
    try:
        result = events.sign_up(ctx.session, int(data["event_id"]), ctx.resident, party_size=int(data.get("party", "1")),
                                note=None if note == NONE else note, now=ctx.now, waitlist_ok=True)
    except events.EventError as exc:
        return [Text(exc.render(ctx.locale, ctx.config.tz_name))]
    if result.waitlisted:
        return [Text(ctx.t(N_("You are on the wait-list as number {n}. We will tell you at once if a place opens up."), n=result.position))]
    return [Text(em.confirmation(result.signup.event, ctx.locale, ctx.config, result.signup.party_size))]


FLOW = Flow(
    name="event_signup",
    first="party",
    on_finish=finish,
    steps={
        "party": Step(ask=N_("How many people, you included?"), options=party_options, accept=accept_party,
                      next=branch({"1": "note", "0": "confirm"}, "ask_note")),
        "note": Step(ask=ask_note, options=[Option(NONE, N_("Nothing"))],
                     accept=common.free_text(200, N_("Please write up to 200 characters, or tap “Nothing”.")), next="confirm"),
        "confirm": Step(ask=ask_confirm, options=[Option("yes", N_("Yes"))], next=None),
    },
)
