"""Mutual aid, step by step: what each step changes and whom it tells.

Built on the rules and queries of `bot.services.mutual_aid` and the cards of
`bot.services.aid_messages`. Each function returns an `Outcome` (the other side's notices, in
their own language); the LINE handler or conversation step that called it hands the outcome to
`bot.services.apply` in the event's transaction. Nothing here sends or commits."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.core import quiet
from bot.core.config import Config
from bot.core.i18n import N_, t
from bot.core.models import HelpOffer, HelpRequest, RelayMessage, Resident
from bot.core.replies import Choice, Question, Text, postback
from bot.core.vocab import RecordedBy, RequestStatus
from bot.services import Audit, Outcome, aid_messages, mutual_aid, timebank

DID_NOT_HAPPEN = "did_not_happen"


def offer(session: Session, helper: Resident, request_id: int, message: str | None, config: Config,
          now: datetime) -> tuple[HelpOffer | None, Outcome]:
    """A neighbour offers: the requester gets the offer card. None when the requester has left
    LINE meanwhile (an offer nobody can see is no offer). Raises AidError when it may not be."""
    made = mutual_aid.make_offer(session, helper, request_id, message, now)
    requester = made.request.requester
    out = Outcome()
    if not requester.following:
        session.delete(made)
        session.flush()
        return None, out
    out.tell(requester, aid_messages.offer_card(made, requester.locale, config), about=helper)
    return made, out


def accept(session: Session, requester: Resident, offer_id: int, config: Config,
           now: datetime) -> tuple[mutual_aid.Match, Outcome]:
    """The requester accepts one offer: its helper gets the match card, the other helpers a
    kind word."""
    match = mutual_aid.accept_offer(session, requester, offer_id, now)
    helper = match.offer.helper
    out = Outcome()
    out.tell(helper, aid_messages.match_card(match.request, helper, requester, config), about=requester)
    for other in match.others:
        out.tell(other.helper, Text(t(other.helper.locale, N_(
            "Thank you for offering to help! This request has been matched with another neighbour this time."))))
    return match, out


def decline(session: Session, requester: Resident, offer_id: int) -> Outcome:
    declined = mutual_aid.decline_offer(session, requester, offer_id)
    out = Outcome()
    out.tell(declined.helper, Text(t(declined.helper.locale, N_("Thank you for offering to help! They did not need it this time."))))
    return out


def cancel(session: Session, requester: Resident, request_id: int, now: datetime, *, why: str = "cancelled") -> Outcome:
    """The requester cancels (or says it did not happen): every helper who offered is told."""
    msgid = (N_("The person you offered to help says it did not work out this time. Thank you all the same!")
             if why == DID_NOT_HAPPEN else
             N_("A request you offered to help with was cancelled by the person who asked. Thank you all the same!"))
    out = Outcome()
    for closed in mutual_aid.cancel_request(session, requester, request_id, now):
        out.tell(closed.helper, Text(t(closed.helper.locale, msgid)))
    return out


def relay(session: Session, sender: Resident, request_id: int, text: str,
          now: datetime, config: Config | None = None) -> tuple[RelayMessage | None, Resident, Outcome]:
    """A message to the other side of a match, passed on as a card. The message is None (and
    not kept) when they cannot receive it now. Raises AidError when the match has ended."""
    msg, other = mutual_aid.relay(session, sender, request_id, text, now)
    out = Outcome()
    if not other.following:
        session.delete(msg)
        session.flush()
        return None, other, out
    req = mutual_aid.get_request(session, msg.request_id)
    out.tell(other, aid_messages.relay_card(req, msg, sender, msg.text, other.locale, config), about=sender)
    return msg, other, out


def thanks(session: Session, requester: Resident, request_id: int, minutes: int, note: str | None,
           now: datetime) -> tuple[Resident, int, Outcome]:
    """The requester records the hours and says thanks: the helper is told, with their total.
    Raises AidError (closed) or timebank.LedgerError (already recorded)."""
    req = mutual_aid.own_request(session, requester, request_id)
    helper = mutual_aid.counterpart(session, req, requester)
    if helper is None:
        raise mutual_aid.AidError(N_("This request is already closed."))
    timebank.record_hours(session, req, helper, minutes, recorded_by=RecordedBy.REQUESTER, now=now)
    total = timebank.balance(session, helper)
    said = "" if not note else "\n\n“" + note + "”"
    out = Outcome()
    out.tell(helper, Text(
        t(helper.locale, N_("{name} says thank you! {hours} added to your thanks record (total: {total})."),
          name=requester.nickname or "-", hours=timebank.format_hours(minutes, helper.locale),
          total=timebank.format_hours(total, helper.locale)) + said
    ), about=requester)
    return helper, minutes, out


# -- the clock's steps ---------------------------------------------------------------------------

FOLLOWUP_AFTER = timedelta(hours=2)


CLOSABLE = (RequestStatus.OPEN, RequestStatus.MATCHED, RequestStatus.HIDDEN)


def close_by_staff(session: Session, req: HelpRequest, now: datetime) -> Outcome:
    """The center closes a request (one reported as inappropriate, say), from the console or the
    CLI: helpers not yet told of it are not told, pending offers close. Raises AidError when it
    is already finished."""
    if req.status not in CLOSABLE:
        raise mutual_aid.AidError(N_("This request is already closed."))
    before = req.status
    req.status, req.closed_at = RequestStatus.CLOSED, now
    mutual_aid.cancel_pending_notices(session, req.id)
    closed = len(mutual_aid.close_offers(session, req.id))
    return Outcome(facts={"offers_closed": closed}, audit=[Audit(
        "close_request", f"request:{req.id}", {"was": before, "offers_closed": closed})])


def record_hours_by_staff(session: Session, req: HelpRequest, minutes: int, now: datetime) -> Outcome:
    """The center records the hours of a matched request for a resident who cannot in LINE.
    Raises AidError (no helper) or timebank.LedgerError (out of range, already recorded)."""
    helper = mutual_aid.counterpart(session, req, req.requester)
    if helper is None:
        raise mutual_aid.AidError(N_("This request is already closed."))
    timebank.record_hours(session, req, helper, minutes, recorded_by=RecordedBy.STAFF, now=now)
    return Outcome(audit=[Audit("record_hours", f"request:{req.id}", {"minutes": minutes})])


def _held(resident: Resident, now: datetime, config: Config) -> datetime | None:
    """These pushes are not urgent: held through the resident's quiet hours."""
    at = quiet.next_allowed(resident, now, config.tz_name)
    return at if at > now else None


def close_due(session: Session, config: Config, now: datetime) -> Outcome:
    """Requests whose time has passed close; their helpers and askers are told
    (facts["closed"]: how many)."""
    closed = mutual_aid.due_to_close(session, now)
    out = Outcome(facts={"closed": len(closed)})
    for req in closed:
        for offered in mutual_aid.close_offers(session, req.id):
            h = offered.helper
            out.tell(h, Text(t(h.locale, N_(
                "A request you offered to help with has closed without a match. Thank you all the same!"))),
                not_before=_held(h, now, config))
        r = req.requester
        out.tell(r, Question(
            t(r.locale, N_("Your request has closed without a helper this time: {description}\nWould you like to ask again?"),
              description=req.description),
            (Choice(t(r.locale, N_("Ask for help")), postback(a="aid", x="ask")),),
        ), not_before=_held(r, now, config))
    return out


def follow_up(session: Session, config: Config, now: datetime) -> Outcome:
    """Both sides of a match are asked whether the help happened (facts["asked"]: requests)."""
    due = mutual_aid.due_for_followup(session, now, FOLLOWUP_AFTER)
    out = Outcome(facts={"asked": len(due)})
    for req in due:
        helper = mutual_aid.counterpart(session, req, req.requester)
        for reader in (req.requester, helper):
            if reader is not None:
                out.tell(reader, aid_messages.followup_card(req, reader, config), not_before=_held(reader, now, config),
                         about=req.requester)
    return out
