"""Mutual aid outside conversations: the words that start it, browsing requests nearby, and
the buttons on its cards (offer, accept, decline, message, report, block, cancel, thanks)."""
from __future__ import annotations

from datetime import timezone
from typing import Callable

from sqlalchemy import select

import conversations
from bot.services import aid_messages, mutual_aid, timebank, translated
from bot.services import aid
from bot.core import refs, timefmt
from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.models import HelperProfile, HelpOffer, HelpRequest, RelayMessage
from bot.core.replies import Carousel, Choice, Question, Reply, Text, postback
from bot.core.vocab import ReportTarget, RequestStatus
from conversations import engine
from handlers import buttons
from handlers.features import Feature, HelpLine, MenuItem, RichTile, Word

ASK = N_("ask for help|ask")
OFFER = N_("offer help|i can help")
MINE = N_("my requests")
RECORD = N_("thanks record|my hours")
REGISTRY = N_("helper registry|register as a helper")
PAGE = 10


# -- starting points -------------------------------------------------------------------------

def start_ask(ctx: Ctx) -> list[Reply]:
    assert ctx.resident is not None
    if ctx.resident.area is None:
        return [Text(ctx.t(N_("Please set your area first (“Settings” → “Area”), so we can find neighbours near you.")))]
    if mutual_aid.open_count(ctx.session, ctx.resident) >= mutual_aid.MAX_OPEN_REQUESTS:
        return [Text(ctx.t(N_("You already have {n} open requests. Please close one before asking again."),
                           n=mutual_aid.MAX_OPEN_REQUESTS)), *my_requests(ctx)]
    return engine.start(ctx, conversations.get("ask_help"))


def browse(ctx: Ctx, category: str | None = None, page: int = 0) -> list[Reply]:
    assert ctx.resident is not None
    engine.end(ctx)
    reqs, more = mutual_aid.nearby_open(ctx.session, ctx.resident, category=category, offset=page * PAGE, limit=PAGE)
    filter_choice = Choice(ctx.t(N_("Choose a category")), postback(a="aid", x="filter"))
    if not reqs:
        text = ctx.t(N_("No open requests near you right now. Thank you for being ready to help! Register as a helper and we will tell you when one comes in."))
        return [Question(text, (Choice(ctx.t(N_("Helper registry")), postback(a="aid", x="registry")), filter_choice))]
    offered = set(ctx.session.scalars(
        select(HelpOffer.request_id).where(HelpOffer.helper_id == ctx.resident.id, HelpOffer.request_id.in_([r.id for r in reqs]))
    ))
    # one request to the translation provider for the whole carousel, when machine translation is on
    translated.prefetch(ctx.session, ctx.config, [(r.description, r.requester.locale) for r in reqs], ctx.locale)
    cards = tuple(aid_messages.request_card(r, ctx.locale, ctx.config, can_offer=r.id not in offered) for r in reqs)
    choices = [filter_choice]
    if more:
        choices.insert(0, Choice(ctx.t(N_("More requests")), postback(a="aid", x="page", p=str(page + 1), c=category or "")))
    intro = ctx.t(N_("Requests from neighbours near you, soonest first. Tap “I can help” on one you can do."))
    return [Text(intro), Carousel(alt=intro, cards=cards, choices=tuple(choices))]


def my_requests(ctx: Ctx) -> list[Reply]:
    assert ctx.resident is not None
    reqs = mutual_aid.my_requests(ctx.session, ctx.resident)
    if not reqs:
        return [Question(ctx.t(N_("You have no open requests.")),
                         (Choice(ctx.t(N_("Ask for help")), postback(a="aid", x="ask")),))]
    cards = tuple(
        aid_messages.my_request_card(r, ctx.locale, ctx.config, mutual_aid.counterpart(ctx.session, r, ctx.resident))
        for r in reqs
    )
    return [Carousel(alt=ctx.t(N_("My requests")), cards=cards)]


def thanks_record(ctx: Ctx) -> list[Reply]:
    assert ctx.resident is not None
    total = timebank.balance(ctx.session, ctx.resident)
    lines = [ctx.t(N_("Your thanks record: {hours} of help given."), hours=timebank.format_hours(total, ctx.locale))]
    for when, minutes, category in timebank.history(ctx.session, ctx.resident):
        lines.append("・" + ctx.t(N_("{date}: {category}, {hours}"), date=timefmt.show(when, ctx.locale, ctx.config.tz_name),
                                   category=aid_messages.category_label(ctx.locale, category or "other"),
                                   hours=timebank.format_hours(minutes, ctx.locale)))
    if total == 0:
        lines.append(ctx.t(N_("When you help a neighbour, their thanks will appear here.")))
    return [Text("\n".join(lines))]


def start_registry(ctx: Ctx) -> list[Reply]:
    return engine.start(ctx, conversations.get("helper_registry"))




# -- card buttons ----------------------------------------------------------------------------
# Each button names its record (bot.core.refs); `buttons.record` loads it only if it is still the
# record the button was drawn for, else the tap changes nothing (see handlers.buttons).

def _request(ctx: Ctx, data: dict, key: str = "r") -> HelpRequest:
    return buttons.record(ctx, data, key, HelpRequest)


def _offer(ctx: Ctx, data: dict) -> HelpOffer:
    return buttons.record(ctx, data, "o", HelpOffer)


def do_offer(ctx: Ctx, data: dict) -> list[Reply]:
    req = _request(ctx, data)
    if req.status != RequestStatus.OPEN or not mutual_aid.can_see(ctx.session, ctx.resident, req):
        raise mutual_aid.AidError(N_("Sorry, this request is no longer open."))
    if req.requester_id == ctx.resident.id:
        raise mutual_aid.AidError(N_("This is your own request."))
    if ctx.session.scalar(select(HelpOffer).where(HelpOffer.request_id == req.id, HelpOffer.helper_id == ctx.resident.id)):
        raise mutual_aid.AidError(N_("You have already offered to help with this request. Thank you!"))
    if not req.requester.following:
        raise mutual_aid.AidError(N_("Sorry, this request is no longer open."))
    return engine.start(ctx, conversations.get("offer"), {"request_id": req.id, "request_ref": refs.ref(req)})


def do_accept(ctx: Ctx, data: dict) -> list[Reply]:
    match, outcome = aid.accept(ctx.session, ctx.resident, _offer(ctx, data).id, ctx.config, ctx.now)
    ctx.apply(outcome)
    return [aid_messages.match_card(match.request, ctx.resident, match.offer.helper, ctx.config)]


def do_decline(ctx: Ctx, data: dict) -> list[Reply]:
    ctx.apply(aid.decline(ctx.session, ctx.resident, _offer(ctx, data).id))
    return [Text(ctx.t(N_("All right. We told them kindly. Your request stays open for others.")))]


def do_message(ctx: Ctx, data: dict) -> list[Reply]:
    req = _request(ctx, data)
    other = mutual_aid.counterpart(ctx.session, req, ctx.resident)
    if other is None:
        raise mutual_aid.AidError(N_("This conversation has ended, so the message was not sent."))
    return engine.start(ctx, conversations.get("relay"), {"request_id": req.id, "to_name": other.nickname or "-"})


def do_report(ctx: Ctx, data: dict) -> list[Reply]:
    kind = data.get("k", "")
    model = {ReportTarget.REQUEST: HelpRequest, ReportTarget.RELAY: RelayMessage}.get(kind)
    if model is None:
        raise buttons.Stale("")
    target = buttons.record(ctx, data, "i", model)
    mutual_aid.report(ctx.session, ctx.resident, kind, target.id, ctx.now, ctx.config.report_threshold)
    return [Text(ctx.t(N_("Thank you for telling us. The center's staff will look at it.")))]


def do_block(ctx: Ctx, data: dict) -> list[Reply]:
    other_id = None
    if "o" in data:
        offer = _offer(ctx, data)
        if offer.request.requester_id == ctx.resident.id:
            other_id = offer.helper_id
    elif "m" in data:
        msg = buttons.record(ctx, data, "m", RelayMessage)
        if msg.recipient_id == ctx.resident.id:
            other_id = msg.sender_id
    if other_id is None:
        raise buttons.Stale("")
    mutual_aid.block(ctx.session, ctx.resident, other_id, ctx.now)
    return [Text(ctx.t(N_("Blocked. They will not see your requests, and their messages and offers will not reach you.")))]


def _own(ctx: Ctx, data: dict) -> HelpRequest:
    req = _request(ctx, data)
    if req.requester_id != ctx.resident.id:
        raise buttons.Stale("")
    return req


def do_cancel(ctx: Ctx, data: dict) -> list[Reply]:
    req = _own(ctx, data)
    if data.get("sure") != "1":
        return [Question(ctx.t(N_("Cancel this request?\n{description}"), description=req.description), (
            Choice(ctx.t(N_("Yes, cancel it")), postback(a="aid", x="cancel", r=refs.ref(req), sure="1")),
            Choice(ctx.t(N_("No, keep it")), postback(a="aid", x="mine")),
        ))]
    ctx.apply(aid.cancel(ctx.session, ctx.resident, req.id, ctx.now))
    return [Text(ctx.t(N_("Your request has been cancelled.")))]


def do_edit(ctx: Ctx, data: dict) -> list[Reply]:
    req = _own(ctx, data)
    if req.status != RequestStatus.OPEN:
        raise mutual_aid.AidError(N_("Only a request still waiting for an offer can be changed."))
    return engine.start(ctx, conversations.get("edit_request"), {"request_id": req.id})


def start_thanks(ctx: Ctx, req) -> list[Reply]:
    """The thanks flow; first a question when the help was planned for later than now (hours are
    not recorded for help that has not happened without the requester saying it has)."""
    when = req.when_at if req.when_at is None or req.when_at.tzinfo else req.when_at.replace(tzinfo=timezone.utc)
    if when is not None and when > ctx.now:
        return engine.start(ctx, conversations.get("thanks"),
                            {"request_id": req.id, "when": timefmt.show(when, ctx.locale, ctx.config.tz_name)}, step="early")
    return engine.start(ctx, conversations.get("thanks"), {"request_id": req.id}, step="hours")


def do_done(ctx: Ctx, data: dict) -> list[Reply]:
    req = _own(ctx, data)
    if req.status != RequestStatus.MATCHED:
        raise mutual_aid.AidError(N_("This request is already closed."))
    return start_thanks(ctx, req)


def do_happened(ctx: Ctx, data: dict) -> list[Reply]:
    req = _request(ctx, data)
    if mutual_aid.counterpart(ctx.session, req, ctx.resident) is None:
        raise mutual_aid.AidError(N_("This request is already closed."))
    requester = req.requester_id == ctx.resident.id
    if data.get("v") == "yes":
        if requester:
            return start_thanks(ctx, req)
        return [Text(ctx.t(N_("Thank you for helping! The person you helped will record the hours.")))]
    if requester:
        ctx.apply(aid.cancel(ctx.session, ctx.resident, req.id, ctx.now, why=aid.DID_NOT_HAPPEN))
        return [Question(ctx.t(N_("We are sorry it did not work out. Would you like to ask again?")),
                         (Choice(ctx.t(N_("Ask for help")), postback(a="aid", x="ask")),))]
    return [Text(ctx.t(N_("Thank you for letting us know.")))]


def do_stop(ctx: Ctx, data: dict) -> list[Reply]:
    profile = ctx.session.scalar(select(HelperProfile).where(HelperProfile.resident_id == ctx.resident.id))
    if profile is not None:
        profile.notices = False
    return [Text(ctx.t(N_("We will not send you these notices any more. To start again, send “Helper registry”.")))]


def do_filter(ctx: Ctx, data: dict) -> list[Reply]:
    choices = [Choice(ctx.t(N_("All")), postback(a="aid", x="page", p="0", c=""))]
    choices += [Choice(aid_messages.category_label(ctx.locale, c), postback(a="aid", x="page", p="0", c=c))
                for c in ctx.config.help_categories if c in mutual_aid.CATEGORIES]
    return [Question(ctx.t(N_("Which kind of help?")), tuple(choices[:13]))]


def do_page(ctx: Ctx, data: dict) -> list[Reply]:
    category = data.get("c") or None
    if category is not None and category not in mutual_aid.CATEGORIES:
        category = None
    page = data.get("p", "0")
    page = int(page) if page.isascii() and page.isdigit() and len(page) <= 3 else 0  # a page, not an id
    return browse(ctx, category, max(0, min(page, 100)))


ACTIONS: dict[str, Callable[[Ctx, dict], list[Reply]]] = {
    "offer": do_offer, "accept": do_accept, "decline": do_decline, "msg": do_message, "report": do_report,
    "block": do_block, "cancel": do_cancel, "edit": do_edit, "done": do_done, "happened": do_happened,
    "stop": do_stop, "filter": do_filter, "page": do_page,
    "ask": lambda ctx, data: start_ask(ctx), "mine": lambda ctx, data: my_requests(ctx),
    "registry": lambda ctx, data: start_registry(ctx),
}


def changed(ctx: Ctx, obj) -> list[Reply]:
    """A button drawn before the request was edited: the request as it is now, to the requester
    or to a neighbour who may still offer."""
    if not isinstance(obj, HelpRequest):
        return []
    if obj.requester_id == ctx.resident.id and obj.status in mutual_aid.ACTIVE:
        return [aid_messages.my_request_card(obj, ctx.locale, ctx.config, mutual_aid.counterpart(ctx.session, obj, ctx.resident))]
    if mutual_aid.can_see(ctx.session, ctx.resident, obj):
        offered = ctx.session.scalar(select(HelpOffer.id).where(HelpOffer.request_id == obj.id, HelpOffer.helper_id == ctx.resident.id))
        return [aid_messages.request_card(obj, ctx.locale, ctx.config, can_offer=offered is None)]
    return []


FEATURE = Feature(
    name="aid", postback="aid", actions=ACTIONS, changed=changed,
    words=(Word(ASK, run=start_ask), Word(OFFER, run=browse), Word(MINE, run=my_requests),
           Word(RECORD, run=thanks_record), Word(REGISTRY, run=start_registry)),
    menu=(MenuItem("ask", N_("Ask for help"), 10, run=start_ask),
          MenuItem("offer", N_("Help a neighbour"), 20, run=browse),
          MenuItem("mine", N_("My requests"), 30, run=my_requests),
          MenuItem("record", N_("Thanks record"), 40, run=thanks_record),
          MenuItem("registry", N_("Helper registry"), 50, run=start_registry)),
    help=(HelpLine(N_("“Ask for help”: ask neighbours for a hand"), 20),
          HelpLine(N_("“Offer help”: see what neighbours near you need"), 30),
          HelpLine(N_("“My requests”: see, change or cancel what you asked"), 40),
          HelpLine(N_("“Thanks record”: the hours of help you have given"), 50),
          HelpLine(N_("“Helper registry”: tell us what you can help with"), 60)),
    flows=("ask_help", "offer", "relay", "thanks", "edit_request", "helper_registry"),
    rich_menu=(RichTile("ask", N_("Ask for help"), ASK, "#0B6E4F", 10),
               RichTile("offer", N_("Help a neighbour"), OFFER, "#1D4E89", 20)),
)
