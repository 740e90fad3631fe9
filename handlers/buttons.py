"""Card buttons: postback data `a=<feature>&x=<action>&…`, dispatched to a table of actions.
A stale or forged button, or a refusal from the domain, gets a polite answer."""
from __future__ import annotations

from typing import Callable

from bot.context import Ctx
from bot.errors import UserError
from bot.i18n import N_
from bot.replies import Reply, Text, parse_postback

Action = Callable[[Ctx, dict], list[Reply]]


ID_MAX = 2_147_483_647  # the id columns' range (PostgreSQL INTEGER): beyond it nothing exists


def id_of(data: dict, key: str) -> int | None:
    """A database id from button data, or None when it is not one (forged, garbled, too big)."""
    value = data.get(key, "")
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10):
        return None
    n = int(value)
    return n if 1 <= n <= ID_MAX else None


def is_feature(ctx: Ctx, feature: str) -> bool:
    return ctx.inbound.kind == "postback" and parse_postback(ctx.inbound.postback_data).get("a") == feature


def dispatch(ctx: Ctx, actions: dict[str, Action]) -> list[Reply]:
    data = parse_postback(ctx.inbound.postback_data)
    action = actions.get(data.get("x", ""))
    if action is None or ctx.resident is None:
        return [Text(ctx.t(N_("That button is from an earlier message and no longer works.")))]
    try:
        return action(ctx, data)
    except UserError as exc:
        return [Text(exc.render(ctx.locale, ctx.config.tz_name))]
