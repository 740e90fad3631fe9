"""The menu and the help text: what the bot can do, built from the features' own records
(`handlers.features.Feature`: menu entries and help lines)."""
from __future__ import annotations

from sqlalchemy import select

from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.models import Membership
from bot.core.replies import Choice, Question, Reply, Text, postback
from handlers import features
from handlers.features import MenuItem
from bot.core.vocab import Role


def _features():
    # late: handlers/__init__.py imports every feature module (they import this one) before FEATURES exists
    from handlers import FEATURES

    return FEATURES


def items() -> tuple[MenuItem, ...]:
    """The menu, built from the features' entries (handlers.FEATURES)."""
    return features.menu_items(_features())


def main_menu(ctx: Ctx, text: str | None = None) -> Question:
    choices = tuple(Choice(label=ctx.t(item.label), data=postback(a="menu", v=item.key)) for item in items())
    return Question(text=text or ctx.t(N_("What would you like to do?")), choices=choices)


def help_replies(ctx: Ctx) -> list[Reply]:
    shown = features.help_lines(_features(), leaders=ctx.resident is not None and _leads(ctx))
    lines = "\n".join("・" + ctx.t(line) for line in shown)
    intro = ctx.t(N_("Tsunagari connects neighbours who need a hand with neighbours who can give one. You can type these words at any time:"))
    return [Text(intro + "\n" + lines), main_menu(ctx)]


def item(key: str) -> MenuItem | None:
    return next((i for i in items() if i.key == key), None)


def _leads(ctx: Ctx) -> bool:
    return ctx.session.scalar(select(Membership.id).where(
        Membership.resident_id == ctx.resident.id, Membership.role.in_([Role.LEADER, Role.HAN_LEADER])).limit(1)) is not None
