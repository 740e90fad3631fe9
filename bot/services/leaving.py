"""What a resident leaves behind when they delete their data: nobody is left waiting on them.

Their open requests are cancelled (helpers told), a match where they were the helper reopens
the request (the asker told), and their event places go to the wait-list (promoted people
told). Everyone is told in their own language. Then `residents.delete_resident` removes the
data."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import Outcome, event_messages, events, mutual_aid
from bot.core.config import Config
from bot.core.i18n import N_, t
from bot.core.models import Event, HelpOffer, Resident, Signup
from bot.core.replies import Text
from bot.core.vocab import EventStatus, OfferStatus, RequestStatus, SignupStatus


def leave_everything(session: Session, config: Config, resident: Resident, now: datetime) -> Outcome:
    """What the resident's leaving changes for others, and who is told."""
    out = Outcome()
    # requests they asked for
    for req in mutual_aid.my_requests(session, resident, limit=100):
        for offer in mutual_aid.cancel_request(session, resident, req.id, now):
            h = offer.helper
            if h.id != resident.id:
                out.tell(h, Text(t(h.locale, N_(
                    "A request you offered to help with was cancelled by the person who asked. Thank you all the same!"))))
    # matches where they were the helper: the request opens again
    for offer in session.scalars(select(HelpOffer).where(HelpOffer.helper_id == resident.id,
                                                         HelpOffer.status.in_([OfferStatus.PENDING, OfferStatus.ACCEPTED]))).unique():
        req = offer.request
        if offer.status == OfferStatus.ACCEPTED and req.status == RequestStatus.MATCHED:
            req.matched_offer_id = None
            req.status = RequestStatus.OPEN if req.closes_at > now else RequestStatus.CANCELLED
            r = req.requester
            out.tell(r, Text(t(r.locale, N_(
                "The neighbour who was going to help with “{description}” can no longer do it. Your request is open again for others."),
                description=req.description)))
        offer.status = OfferStatus.CLOSED
    # event places: freed for the wait-list
    for s in session.scalars(select(Signup).join(Event, Event.id == Signup.event_id).where(
            Signup.resident_id == resident.id, Signup.status.in_([SignupStatus.GOING, SignupStatus.WAITLIST]),
            Event.status == EventStatus.SCHEDULED, Event.starts_at > now)).unique():
        for p in events.cancel(session, s.id, resident, now):
            out.tell(p.resident, Text(event_messages.promoted(p.event, p.resident.locale, config)))
    session.flush()
    return out
