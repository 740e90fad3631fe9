"""Changing an open request: the words or the time."""
from __future__ import annotations

from datetime import datetime, timedelta

from bot.services import mutual_aid
from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.replies import Reply, Text
from bot.core.vocab import RequestStatus
from conversations.ask_help import ANY, accept_description, accept_when
from conversations.engine import Flow, Option, Step, branch


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    try:
        req = mutual_aid.own_request(ctx.session, ctx.resident, int(data["request_id"]))
    except mutual_aid.AidError as exc:
        return [Text(exc.render(ctx.locale, ctx.config.tz_name))]
    if req.status != RequestStatus.OPEN:
        return [Text(ctx.t(N_("Only a request still waiting for an offer can be changed.")))]
    if data["what"] == "description":
        req.description = data["description"]
    else:
        req.when_at = None if data["when"] == ANY else datetime.fromisoformat(data["when"])
        req.closes_at = req.when_at or req.created_at + timedelta(days=mutual_aid.OPEN_ENDED_DAYS)
    req.version += 1  # buttons drawn before the change no longer act on it
    ctx.session.flush()
    return [Text(ctx.t(N_("Your request has been updated.")))]


FLOW = Flow(
    name="edit_request",
    first="what",
    on_finish=finish,
    steps={
        "what": Step(ask=N_("What would you like to change?"),
                     options=[Option("description", N_("The description")), Option("when", N_("The time"))],
                     next=branch({"description": "description", "when": "when"}, "what")),
        "description": Step(ask=N_("Write the new description."), accept=accept_description, next=None),
        "when": Step(ask=N_("When would you like the help?"), date_mode="datetime", date_label=N_("Choose date and time"),
                     options=[Option(ANY, N_("Any time"))], accept=accept_when, next=None),
    },
)
