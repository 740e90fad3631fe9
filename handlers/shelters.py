"""Shelters in LINE: 「避難所」 / "shelters" (and the button under a safety check's question)
answers with the open shelters nearest the resident's area, with a map link; a location the
resident sends answers with the open shelters nearest that place. The rules are in
`bot.services.shelters`; staff open and close shelters in the console or the command line."""
from __future__ import annotations

from bot.core.i18n import N_
from bot.core.replies import Reply, Text
from bot.core.vocab import InboundKind
from bot.services import shelters
from handlers.context import Ctx
from handlers.features import Feature, HelpLine, Word

SHELTER_WORDS = N_("shelters|shelter|evacuation shelters")


def nearest(ctx: Ctx) -> list[Reply]:
    found = shelters.for_resident(ctx.session, ctx.resident)
    return [Text(shelters.listing(found, ctx.locale, ctx.config.fallback_language))]


def do_list(ctx: Ctx, data: dict) -> list[Reply]:
    """The button under a safety check's question (it names no record: the list is as it is now)."""
    return nearest(ctx)


def is_location(ctx: Ctx) -> bool:
    ib = ctx.inbound
    return ib.kind == InboundKind.MESSAGE and ib.message_type == "location" and ib.latitude is not None \
        and ib.longitude is not None


def near_location(ctx: Ctx) -> list[Reply]:
    assert ctx.inbound.latitude is not None and ctx.inbound.longitude is not None
    found = shelters.near_point(ctx.session, ctx.inbound.latitude, ctx.inbound.longitude)
    return [Text(shelters.listing(found, ctx.locale, ctx.config.fallback_language))]


FEATURE = Feature(
    name="shelters", postback="sh", actions={"list": do_list},
    words=(Word(SHELTER_WORDS, run=nearest),),
    help=(HelpLine(N_("“Shelters”: the open shelters nearest you, with a map (or send your location)"), 78),),
)
