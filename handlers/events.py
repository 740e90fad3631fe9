"""Events outside conversations: the words that list them, and the buttons on their cards
(details, sign up, wait-list, cancel, and the organizer's attendee list)."""
from __future__ import annotations

from typing import Callable

import conversations
from bot.services import event_messages as em
from bot.services import events
from bot.core import refs
from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.models import Event, Signup
from bot.core.replies import Card, Carousel, Choice, Question, Reply, Text, postback
from bot.core.vocab import EventStatus, SignupStatus
from conversations import engine
from handlers import buttons
from handlers.features import Feature, HelpLine, MenuItem, RichTile, Word

EVENTS = N_("events")
MINE = N_("my events")
MANAGE = N_("manage events")


def card(ctx: Ctx, event, detail: bool = False):
    mine = events.existing(ctx.session, event.id, ctx.resident) if ctx.resident is not None else None
    waiting = [w.id for w in events.waitlist(ctx.session, event.id)]
    position = waiting.index(mine.id) + 1 if mine is not None and mine.id in waiting else 0
    return em.event_card(event, ctx.locale, ctx.config, events.seats_left(ctx.session, event), len(waiting),
                         detail=detail, mine=mine, position=position)


def browse(ctx: Ctx) -> list[Reply]:
    assert ctx.resident is not None
    engine.end(ctx)
    upcoming = events.upcoming_for(ctx.session, ctx.resident, ctx.now)
    if not upcoming:
        if "events" in (ctx.resident.interests or []):
            return [Text(ctx.t(N_("There are no upcoming events for you right now. We will tell you when there are.")))]
        return [Question(ctx.t(N_("There are no upcoming events for you right now. To hear of new ones, follow “Events & culture” in Settings, under topics.")),
                         (Choice(ctx.t(N_("Settings")), postback(a="menu", v="settings")),))]
    return [Carousel(alt=ctx.t(N_("Upcoming events")), cards=tuple(card(ctx, ev) for ev in upcoming))]


def my_events(ctx: Ctx) -> list[Reply]:
    assert ctx.resident is not None
    mine = events.my_signups(ctx.session, ctx.resident, ctx.now)
    if not mine:
        return [Question(ctx.t(N_("You have not signed up for any upcoming event.")),
                         (Choice(ctx.t(N_("See events")), postback(a="ev", x="list")),))]
    cards = []
    for s in mine:
        position = [w.id for w in events.waitlist(ctx.session, s.event_id)].index(s.id) + 1 if s.status == SignupStatus.WAITLIST else 0
        cards.append(em.my_signup_card(s, ctx.locale, ctx.config, position))
    return [Carousel(alt=ctx.t(N_("My events")), cards=tuple(cards))]


def manage(ctx: Ctx) -> list[Reply]:
    assert ctx.resident is not None
    if not events.leader_associations(ctx.session, ctx.resident):
        return [Text(ctx.t(N_("Only association leaders can manage events here. The center's staff can help you.")))]
    own = events.organised_by(ctx.session, ctx.resident, ctx.now)
    create = Choice(ctx.t(N_("Create an event")), postback(a="ev", x="create"))
    if not own:
        return [Question(ctx.t(N_("Your association has no upcoming events.")), (create,))]
    cards = []
    for ev in own:
        going = events.seats_taken(ctx.session, ev.id)
        body = ctx.t(N_("{when}\nGoing: {going} (capacity {capacity}), waiting: {waiting}"),
                     when=em.when(ev, ctx.locale, ctx.config), going=em.people(going, ctx.locale),
                     capacity=ev.capacity if ev.capacity is not None else "-", waiting=len(events.waitlist(ctx.session, ev.id)))
        cards.append(Card(title=ev.title, body=body,
                             buttons=(Choice(ctx.t(N_("Attendees")), postback(a="ev", x="att", e=refs.ref(ev))),)))
    return [Carousel(alt=ctx.t(N_("Your events")), cards=tuple(cards), choices=(create,))]




# -- buttons ---------------------------------------------------------------------------------

def _event(ctx: Ctx, data: dict) -> Event:
    return buttons.record(ctx, data, "e", Event)


def do_detail(ctx: Ctx, data: dict) -> list[Reply]:
    ev = _event(ctx, data)
    if not events.may_join(ctx.session, ev, ctx.resident):
        raise events.EventError(N_("That event was not found."))
    return [card(ctx, ev, detail=True)]


def do_join(ctx: Ctx, data: dict) -> list[Reply]:
    ev = events.check_open(ctx.session, _event(ctx, data), ctx.resident, ctx.now)
    mine = events.existing(ctx.session, ev.id, ctx.resident)
    if mine is not None and mine.status in (SignupStatus.GOING, SignupStatus.WAITLIST):
        raise events.EventError(N_("You are already signed up for this event."))
    flow = conversations.get("event_signup")
    base = {"event_id": ev.id, "event_ref": refs.ref(ev), "ask_note": "1" if ev.note_question else "0"}
    if ev.ask_party_size:
        return engine.start(ctx, flow, base, step="party")
    if ev.note_question:
        return engine.start(ctx, flow, {**base, "party": "1"}, step="note")
    left = events.seats_left(ctx.session, ev)
    if left is not None and left < 1:  # full: say so, and offer the wait-list
        return engine.start(ctx, flow, {**base, "party": "1", "note": ""}, step="confirm")
    result = events.sign_up(ctx.session, ev.id, ctx.resident, party_size=1, note=None, now=ctx.now)
    return [Text(em.confirmation(result.signup.event, ctx.locale, ctx.config, 1))]


def do_cancel(ctx: Ctx, data: dict) -> list[Reply]:
    signup = buttons.record(ctx, data, "s", Signup)
    if signup.resident_id != ctx.resident.id or signup.status == SignupStatus.CANCELLED:
        raise events.EventError(N_("That sign-up is no longer active."))
    if data.get("sure") != "1":
        return [Question(ctx.t(N_("Cancel your place at “{title}”?"), title=em.text_in(signup.event, ctx.locale, "title", ctx.config)), (
            Choice(ctx.t(N_("Yes, cancel it")), postback(a="ev", x="cancel", s=refs.ref(signup), sure="1")),
            Choice(ctx.t(N_("No, keep it")), postback(a="ev", x="mine")),
        ))]
    ctx.apply(events.give_up_place(ctx.session, signup.id, ctx.resident, ctx.config, ctx.now))
    return [Text(ctx.t(N_("Your place has been cancelled. Thank you for letting us know.")))]


def do_attendees(ctx: Ctx, data: dict) -> list[Reply]:
    ev = _event(ctx, data)
    if not events.can_manage(ctx.session, ctx.resident, ev):
        raise events.EventError(N_("That event was not found."))
    rows = events.attendees(ctx.session, ev.id)
    lines = [ctx.t(N_("Attendees of “{title}”:"), title=ev.title)]
    for s in rows:
        mark = "" if s.status == SignupStatus.GOING else ctx.t(N_(" (waiting)"))
        note = f" — {s.note}" if s.note else ""
        lines.append(f"・{s.resident.nickname or '-'} ×{s.party_size}{mark}{note}")
    going = sum(s.party_size for s in rows if s.status == SignupStatus.GOING)
    lines.append(ctx.t(N_("Total going: {people}"), people=em.people(going, ctx.locale)))
    return [Text("\n".join(lines))]


ACTIONS: dict[str, Callable[[Ctx, dict], list[Reply]]] = {
    "detail": do_detail, "join": do_join, "cancel": do_cancel, "att": do_attendees,
    "list": lambda ctx, data: browse(ctx), "mine": lambda ctx, data: my_events(ctx),
    "create": lambda ctx, data: manage(ctx) if not events.leader_associations(ctx.session, ctx.resident)
    else engine.start(ctx, conversations.get("create_event")),
}


def changed(ctx: Ctx, obj) -> list[Reply]:
    """A button drawn before the event changed (time, place, title): the event as it is now."""
    if isinstance(obj, Event) and obj.status == EventStatus.SCHEDULED and events.may_join(ctx.session, obj, ctx.resident):
        return [card(ctx, obj)]
    return []


FEATURE = Feature(
    name="events", postback="ev", actions=ACTIONS, changed=changed,
    words=(Word(EVENTS, run=browse), Word(MINE, run=my_events), Word(MANAGE, run=manage)),
    menu=(MenuItem("events", N_("Events"), 60, run=browse), MenuItem("my_events", N_("My events"), 70, run=my_events)),
    help=(HelpLine(N_("“Events”: local events you can join"), 70),
          HelpLine(N_("“My events”: the events you signed up for"), 80),
          HelpLine(N_("“Manage events”: create events and see who is coming"), 40, leaders=True)),
    flows=("event_signup", "create_event"),
    rich_menu=(RichTile("events", N_("Events"), EVENTS, "#7A3E9D", 30),),
)
