"""The "Original" button under a machine translation (bot.services.translated): the text as its
writer wrote it. The button names the record (`k=` its kind, `i=` its reference), never the
text, and the tap is checked: only someone the text was shown to gets it."""
from __future__ import annotations

from typing import Callable

from bot.core.models import Announcement, Circular, Event, HelpOffer, HelpRequest, RelayMessage
from bot.core.i18n import N_
from bot.core.replies import Reply, Text, parse_postback
from bot.services import announcements, circulars, mutual_aid, translated
from handlers import buttons
from handlers.context import Ctx
from handlers.features import Feature, Word


def _as_written(ctx: Ctx, *texts: str) -> list[Reply]:
    body = "\n\n".join(x for x in texts if x)
    return [Text(ctx.t(translated.AS_WRITTEN) + "\n" + body)]


def _request(ctx: Ctx, data: dict) -> list[Reply]:
    req = buttons.record(ctx, data, "i", HelpRequest)
    if not mutual_aid.can_see(ctx.session, ctx.resident, req) and \
            mutual_aid.counterpart(ctx.session, req, ctx.resident) is None:
        raise buttons.Stale("help_request")
    return _as_written(ctx, req.description)


def _offer(ctx: Ctx, data: dict) -> list[Reply]:
    offer = buttons.record(ctx, data, "i", HelpOffer)
    if offer.request.requester_id != ctx.resident.id or not offer.message:
        raise buttons.Stale("help_offer")
    return _as_written(ctx, offer.message)


def _relay(ctx: Ctx, data: dict) -> list[Reply]:
    msg = buttons.record(ctx, data, "i", RelayMessage)
    if msg.recipient_id != ctx.resident.id or msg.hidden:
        raise buttons.Stale("relay_message")
    return _as_written(ctx, msg.text)


def _announcement(ctx: Ctx, data: dict) -> list[Reply]:
    ann = buttons.record(ctx, data, "i", Announcement)
    if not announcements.reaches(ctx.session, ann, ctx.resident):
        raise buttons.Stale("")
    return _as_written(ctx, ann.text)


def _event(ctx: Ctx, data: dict) -> list[Reply]:
    ev = buttons.record(ctx, data, "i", Event)
    return _as_written(ctx, ev.title, ev.place or "", ev.description or "")


def _circular(ctx: Ctx, data: dict) -> list[Reply]:
    circ = buttons.record(ctx, data, "i", Circular)
    circulars.recipient(ctx.session, circ.id, ctx.resident)  # members only (raises CircularError)
    return _as_written(ctx, circ.title, circ.body)


KINDS: dict[str, Callable[[Ctx, dict], list[Reply]]] = {
    translated.REQUEST: _request, translated.OFFER: _offer, translated.RELAY: _relay,
    translated.ANNOUNCEMENT: _announcement, translated.EVENT: _event, translated.CIRCULAR: _circular,
}


def do_original(ctx: Ctx, data: dict) -> list[Reply]:
    show = KINDS.get(data.get("k", ""))
    if show is None:
        raise buttons.Stale("")
    return show(ctx, data)


ORIGINAL_WORDS = N_("original|as written")


def typed_original(ctx: Ctx) -> list[Reply]:
    """「原文」 typed: the original of the latest machine translation the resident was sent, as
    its button would show it (the same checks)."""
    assert ctx.resident is not None
    data = translated.last_original(ctx.session, ctx.resident, ctx.now)
    if data is None:
        return [Text(ctx.t(N_("There is no recent machine translation to show the original of.")))]
    return do_original(ctx, parse_postback(data))


ACTIONS: dict[str, Callable[[Ctx, dict], list[Reply]]] = {"orig": do_original}

FEATURE = Feature(name="translation", postback="mt", actions=ACTIONS,
                  words=(Word(ORIGINAL_WORDS, run=typed_original),))
