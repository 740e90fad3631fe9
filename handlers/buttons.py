"""Card buttons: postback data `a=<feature>&x=<action>&…`, dispatched to a table of actions.

A button that names a record carries its reference (`bot.core.refs`): `record()` loads it only if
it is still exactly the record the button was drawn for. A stale or forged button, or a refusal
from the domain, gets a polite answer and changes nothing; a button for a record that was
edited since shows the record as it is now (the feature's `changed` view), one for a record
that is gone says so, with the menu."""
from __future__ import annotations

from typing import Callable, TypeVar

from bot.core import refs
from handlers.context import Ctx
from bot.core.db import Base
from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.replies import Reply, Text, parse_postback
from bot.core.vocab import InboundKind
from handlers import menu

Action = Callable[[Ctx, dict], list[Reply]]
Changed = Callable[[Ctx, Base], list[Reply]]
M = TypeVar("M", bound=Base)

STALE = N_("That button is from an earlier message and no longer works.")

# What a resident is told when a button's record is gone, by table; others get STALE.
GONE: dict[str, str] = {
    "help_request": N_("This request is no longer open, so nothing was done."),
    "help_offer": N_("This offer is no longer open, so nothing was done."),
    "relay_message": N_("That message is no longer available, so nothing was done."),
    "event": N_("This event is no longer open, so nothing was done."),
    "signup": N_("That sign-up is no longer active, so nothing was done."),
    "circular": N_("This circular is no longer available, so nothing was done."),
    "household": N_("That household is no longer on the list, so nothing was done."),
    "reminder": N_("That reminder no longer exists, so nothing was done."),
}
CHANGED = N_("This was changed after that message was sent, so nothing was done. Here it is as it is now:")


class Stale(Exception):
    """A button whose record is gone (`current` None) or was edited since (`current` set)."""

    def __init__(self, table: str, current: Base | None = None):
        super().__init__(table)
        self.table = table
        self.current = current


def record(ctx: Ctx, data: dict, key: str, model: type[M]) -> M:
    """The record the button names under `key`, exactly as it was drawn; else `Stale`."""
    value = data.get(key)
    if refs.parse(value) is None:  # no reference: forged, garbled, or drawn before buttons had them
        raise Stale("")
    obj, state = refs.lookup(ctx.session, model, value)
    if state == refs.OK:
        assert obj is not None
        return obj
    raise Stale(model.__tablename__, obj if state == refs.CHANGED else None)


def is_feature(ctx: Ctx, feature: str) -> bool:
    return ctx.inbound.kind == InboundKind.POSTBACK and parse_postback(ctx.inbound.postback_data).get("a") == feature


def stale_replies(ctx: Ctx, exc: Stale, changed: Changed | None = None) -> list[Reply]:
    if exc.current is not None and changed is not None:
        now = changed(ctx, exc.current)
        if now:
            return [Text(ctx.t(CHANGED)), *now]
    return [Text(ctx.t(GONE.get(exc.table, STALE))), menu.main_menu(ctx)]


def dispatch(ctx: Ctx, actions: dict[str, Action], changed: Changed | None = None) -> list[Reply]:
    data = parse_postback(ctx.inbound.postback_data)
    action = actions.get(data.get("x", ""))
    if action is None or ctx.resident is None:
        return [Text(ctx.t(STALE)), menu.main_menu(ctx)]
    try:
        return action(ctx, data)
    except Stale as exc:
        return stale_replies(ctx, exc, changed)
    except UserError as exc:
        return [Text(exc.render(ctx.locale, ctx.config.tz_name))]
