"""Writing to the other side of a match: the bot passes the text on, as plain text."""
from __future__ import annotations

from bot import aid_messages, mutual_aid, outbox
from bot.context import Ctx
from bot.i18n import N_
from bot.replies import Reply, Text
from conversations import common
from conversations.engine import Flow, Step


accept_text = common.free_text(mutual_aid.RELAY_MAX, N_("Please write your message."))


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    try:
        msg, other = mutual_aid.relay(ctx.session, ctx.resident, int(data["request_id"]), data["text"], ctx.now)
    except mutual_aid.AidError as exc:
        return [Text(exc.render(ctx.locale, ctx.config.tz_name))]
    if not other.following:
        ctx.session.delete(msg)
        return [Text(ctx.t(N_("{name} cannot receive messages right now, so it was not sent."), name=other.nickname or "-"))]
    card = aid_messages.relay_card(mutual_aid.get_request(ctx.session, msg.request_id), msg, ctx.resident, msg.text, other.locale)
    outbox.to_resident(ctx.session, other, [card], about=ctx.resident)
    return [Text(ctx.t(N_("Sent to {name}."), name=other.nickname or "-"))]


FLOW = Flow(
    name="relay",
    first="text",
    on_finish=finish,
    steps={
        "text": Step(ask=N_("Write your message to {name}. The bot passes it on."),
                     ask_named=lambda ctx, data: {"name": data.get("to_name", "-")}, accept=accept_text, next=None),
    },
)
