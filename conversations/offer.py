"""Offering help: one optional short message, then the offer goes to the requester."""
from __future__ import annotations

from bot.services import mutual_aid

from bot.services import aid

from bot.core import refs
from bot.core.models import HelpRequest
from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.replies import Reply, Text
from conversations import common
from conversations.engine import Flow, Option, Step

NONE = "none"


accept_message = common.free_text(
    mutual_aid.OFFER_MESSAGE_MAX, N_("Please write a short message, or tap “Send, no message”."), single_line=True
)


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    message = None if data.get("message") == NONE else data.get("message")
    if "request_ref" in data and refs.resolve(ctx.session, HelpRequest, data["request_ref"]) is None:
        # edited (or gone) while the helper was writing: they offer only on what they read
        return [Text(ctx.t(N_("This request was changed or closed while you were writing, so your offer was not sent. Please look at it again.")))]
    try:
        made, outcome = aid.offer(ctx.session, ctx.resident, int(data["request_id"]), message, ctx.config, ctx.now)
    except mutual_aid.AidError as exc:
        return [Text(exc.render(ctx.locale, ctx.config.tz_name))]
    if made is None:  # they left LINE meanwhile: an offer nobody can see is no offer
        return [Text(ctx.t(N_("Sorry, this request is no longer open.")))]
    ctx.apply(outcome)
    return [Text(ctx.t(N_("Thank you! Your offer has been sent. We will tell you when they answer.")))]


FLOW = Flow(
    name="offer",
    first="message",
    on_finish=finish,
    steps={
        "message": Step(
            ask=N_("Add a short message for them? (For example, when you could come.) Please do not share your address or phone number yet."),
            options=[Option(NONE, N_("Send, no message"))], accept=accept_message, next=None,
        ),
    },
)
