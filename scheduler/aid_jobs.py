"""Mutual-aid jobs for the clock: close requests whose time has passed, and ask both sides of
a match whether the help happened. They only write rows (the outbox); safe to run twice."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.services import aid_messages, mutual_aid

from bot.delivery import outbox

from bot.core import quiet
from bot.core.config import Config
from bot.core.i18n import N_, t
from bot.core.replies import Choice, Question, Text, postback

FOLLOWUP_AFTER = timedelta(hours=2)


def _when(resident, now: datetime, config: Config) -> datetime | None:
    """These pushes are not urgent: held through the resident's quiet hours."""
    at = quiet.next_allowed(resident, now, config.tz_name)
    return at if at > now else None


def close_due(session: Session, config: Config, now: datetime) -> int:
    closed = mutual_aid.due_to_close(session, now)
    for req in closed:
        for offer in mutual_aid.close_offers(session, req.id):
            h = offer.helper
            outbox.to_resident(session, h, [Text(t(h.locale, N_(
                "A request you offered to help with has closed without a match. Thank you all the same!")))],
                not_before=_when(h, now, config))
        r = req.requester
        outbox.to_resident(session, r, [Question(
            t(r.locale, N_("Your request has closed without a helper this time: {description}\nWould you like to ask again?"),
              description=req.description),
            (Choice(t(r.locale, N_("Ask for help")), postback(a="aid", x="ask")),),
        )], not_before=_when(r, now, config))
    return len(closed)


def follow_up(session: Session, config: Config, now: datetime) -> int:
    due = mutual_aid.due_for_followup(session, now, FOLLOWUP_AFTER)
    for req in due:
        helper = mutual_aid.counterpart(session, req, req.requester)
        for reader in (req.requester, helper):
            if reader is not None:
                outbox.to_resident(session, reader, [aid_messages.followup_card(req, reader, config)],
                                   not_before=_when(reader, now, config), about=req.requester)
    return len(due)
