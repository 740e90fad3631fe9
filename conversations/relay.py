"""Writing to the other side of a match: the bot passes the text on, as plain text."""
from __future__ import annotations

from bot.services import mutual_aid

from bot.services import aid
from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.replies import Reply, Text
from conversations import common
from conversations.engine import Flow, Option, Step, YES


accept_text = common.free_text(mutual_aid.RELAY_MAX, N_("Please write your message."))


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    try:
        msg, other, outcome = aid.relay(ctx.session, ctx.resident, int(data["request_id"]), data["text"], ctx.now, ctx.config)
    except mutual_aid.AidError as exc:
        return [Text(exc.render(ctx.locale, ctx.config.tz_name))]
    if msg is None:
        return [Text(ctx.t(N_("{name} cannot receive messages right now, so it was not sent."), name=other.nickname or "-"))]
    ctx.apply(outcome)
    return [Text(ctx.t(N_("Sent to {name}."), name=other.nickname or "-"))]


def after_text(data: dict) -> str | None:
    """Written after tapping Reply: sent. Typed without it (started at "confirm" with `typed`),
    or corrected there: asked first."""
    return "confirm" if data.get(TYPED) else None


after_text.targets = ("confirm", None)  # type: ignore[attr-defined]
TYPED = "typed"  # started from text typed straight after their message (handlers/understood.py)


FLOW = Flow(
    name="relay",
    first="text",
    on_finish=finish,
    steps={
        "text": Step(ask=N_("Write your message to {name}. The bot passes it on."),
                     ask_named=lambda ctx, data: {"name": data.get("to_name", "-")}, accept=accept_text,
                     next=after_text),
        # Typed straight after a message from them (handlers/understood.py): asked before it goes.
        "confirm": Step(ask=N_("Send this to {name}?\n\n“{text}”"),
                        ask_named=lambda ctx, data: {"name": data.get("to_name", "-"), "text": data.get("text", "")},
                        options=[Option("send", N_("Send"), says=YES)], next=None),
    },
)
