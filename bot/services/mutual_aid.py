"""Mutual aid: requests for help, offers, the match, closing. Domain functions: they take a
Session, never commit, and raise `AidError(msgid)` with a reason a resident can read."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import Area, Block, HelpOffer, HelpRequest, OutboxMessage, RelayMessage, Report, Resident
from bot.core.vocab import OfferStatus, OutboxStatus, ReportTarget, RequestStatus

# The configurable list: a city may switch categories off with HELP_CATEGORIES.
CATEGORIES: dict[str, str] = {
    "garbage": N_("Taking out rubbish"),
    "dog": N_("Walking a dog"),
    "garden": N_("Garden work"),
    "shopping": N_("Shopping"),
    "phone": N_("Using a smartphone"),
    "tidying": N_("Tidying the house"),
    "ride": N_("A lift somewhere"),
    "childwatch": N_("Watching children"),
    "lending": N_("Lending things"),
    "other": N_("Something else"),
}
OPEN_ENDED_DAYS = 14
MAX_OPEN_REQUESTS = 5
DESCRIPTION_MAX = 200
OFFER_MESSAGE_MAX = 100
RELAY_MAX = 500
HIDE_AFTER_REPORTS = 2
ACTIVE = (RequestStatus.OPEN, RequestStatus.MATCHED)


class AidError(UserError):
    pass


@dataclass(frozen=True)
class Match:
    request: HelpRequest
    offer: HelpOffer
    others: list[HelpOffer]


def open_count(session: Session, resident: Resident) -> int:
    return session.scalar(
        select(func.count()).select_from(HelpRequest)
        .where(HelpRequest.requester_id == resident.id, HelpRequest.status.in_(ACTIVE))
    ) or 0


def create_request(
    session: Session, resident: Resident, *, category: str, description: str, when_at: datetime | None,
    anonymous: bool, now: datetime,
) -> HelpRequest:
    if open_count(session, resident) >= MAX_OPEN_REQUESTS:
        raise AidError(N_("You already have {n} open requests. Please close one before asking again."), n=MAX_OPEN_REQUESTS)
    if when_at is not None and when_at <= now:
        raise AidError(N_("That time has already passed. Please choose a time in the future."))
    req = HelpRequest(
        requester_id=resident.id, category=category, description=description, when_at=when_at,
        area_id=resident.area_id, anonymous=anonymous, status=RequestStatus.OPEN, created_at=now,
        closes_at=when_at if when_at is not None else now + timedelta(days=OPEN_ENDED_DAYS),
    )
    session.add(req)
    session.flush()
    return req


def cancel_pending_notices(session: Session, request_id: int) -> None:
    """Notices of a request to registered helpers that are still held (quiet hours) are
    dropped once the request is no longer open."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.dedupe_key.like(f"aid:notice:{request_id}:%"))
        .values(status=OutboxStatus.CANCELLED, payload=[], recipients=[], last_error="request no longer open")
        .execution_options(synchronize_session=False)
    )


def _blocked_between(a_id, b_id):
    return exists().where(
        or_(and_(Block.blocker_id == a_id, Block.blocked_id == b_id),
            and_(Block.blocker_id == b_id, Block.blocked_id == a_id))
    )


def is_blocked(session: Session, a: int, b: int) -> bool:
    return bool(session.scalar(select(_blocked_between(a, b))))


def nearby_area_ids(session: Session, resident: Resident) -> list[int]:
    if resident.area is None:
        return []
    codes = [resident.area.code, *resident.area.neighbours]
    return list(session.scalars(select(Area.id).where(Area.code.in_(codes))))


def can_see(session: Session, resident: Resident, req: HelpRequest) -> bool:
    """Whether the resident could have been shown this request: an open one near them, or one
    they take part in (asked, offered, helping). Forged buttons for others are refused."""
    if req.requester_id == resident.id:
        return True
    if session.scalar(select(HelpOffer.id).where(HelpOffer.request_id == req.id, HelpOffer.helper_id == resident.id)):
        return True
    return req.status == RequestStatus.OPEN and (req.area_id is None or req.area_id in nearby_area_ids(session, resident))


def nearby_open(
    session: Session, resident: Resident, *, category: str | None = None, offset: int = 0, limit: int = 10
) -> tuple[list[HelpRequest], bool]:
    """Open requests in the resident's area and the neighbouring ones, soonest first (those for
    "any time" after the dated ones, oldest first). Returns a page and whether more follow."""
    area_ids = nearby_area_ids(session, resident)
    if not area_ids:
        return [], False
    stmt = (
        select(HelpRequest)
        .where(
            HelpRequest.status == RequestStatus.OPEN,
            HelpRequest.area_id.in_(area_ids),
            HelpRequest.requester_id != resident.id,
            ~_blocked_between(HelpRequest.requester_id, resident.id),
        )
        .order_by(HelpRequest.when_at.is_(None), HelpRequest.when_at, HelpRequest.created_at, HelpRequest.id)
        .offset(offset)
        .limit(limit + 1)
    )
    if category:
        stmt = stmt.where(HelpRequest.category == category)
    rows = list(session.scalars(stmt).unique())
    return rows[:limit], len(rows) > limit


def get_request(session: Session, request_id: int, *, lock: bool = False) -> HelpRequest | None:
    stmt = select(HelpRequest).where(HelpRequest.id == request_id)
    if lock:
        stmt = stmt.with_for_update(of=HelpRequest)
    return session.scalars(stmt).unique().one_or_none()


def make_offer(session: Session, helper: Resident, request_id: int, message: str | None, now: datetime) -> HelpOffer:
    req = get_request(session, request_id)
    if req is None or req.status not in (RequestStatus.OPEN,):
        raise AidError(N_("Sorry, this request is no longer open."))
    if req.requester_id == helper.id:
        raise AidError(N_("This is your own request."))
    if is_blocked(session, req.requester_id, helper.id):
        raise AidError(N_("Sorry, this request is no longer open."))
    already = session.scalar(
        select(HelpOffer).where(HelpOffer.request_id == req.id, HelpOffer.helper_id == helper.id)
    )
    if already is not None:
        raise AidError(N_("You have already offered to help with this request. Thank you!"))
    offer = HelpOffer(request_id=req.id, helper_id=helper.id, message=message, status=OfferStatus.PENDING, created_at=now)
    session.add(offer)
    session.flush()
    return offer


def get_offer(session: Session, offer_id: int) -> HelpOffer | None:
    return session.scalars(select(HelpOffer).where(HelpOffer.id == offer_id)).unique().one_or_none()


def accept_offer(session: Session, requester: Resident, offer_id: int, now: datetime) -> Match:
    """Exactly one offer wins a request, however many taps arrive at once: the request moves
    from open to matched in one conditional UPDATE."""
    offer = get_offer(session, offer_id)
    if offer is None or offer.request.requester_id != requester.id:
        raise AidError(N_("That button is from an earlier message and no longer works."))
    _check_pending(offer)
    won = session.execute(
        update(HelpRequest)
        .where(HelpRequest.id == offer.request_id, HelpRequest.status == RequestStatus.OPEN)
        .values(status=RequestStatus.MATCHED, matched_offer_id=offer.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        raise AidError(N_("This request is already matched or closed."))
    session.refresh(offer.request)
    cancel_pending_notices(session, offer.request_id)
    offer.status = OfferStatus.ACCEPTED
    others = list(
        session.scalars(
            select(HelpOffer).where(
                HelpOffer.request_id == offer.request_id, HelpOffer.id != offer.id, HelpOffer.status == OfferStatus.PENDING
            )
        ).unique()
    )
    for o in others:
        o.status = OfferStatus.CLOSED
    session.flush()
    return Match(offer.request, offer, others)


def _check_pending(offer: HelpOffer) -> None:
    if offer.status == OfferStatus.CLOSED or offer.request.status not in (RequestStatus.OPEN,):
        raise AidError(N_("This request is already matched or closed."))
    if offer.status != OfferStatus.PENDING:
        raise AidError(N_("You have already answered this offer."))


def decline_offer(session: Session, requester: Resident, offer_id: int) -> HelpOffer:
    offer = get_offer(session, offer_id)
    if offer is None or offer.request.requester_id != requester.id:
        raise AidError(N_("That button is from an earlier message and no longer works."))
    _check_pending(offer)
    done = session.execute(
        update(HelpOffer).where(HelpOffer.id == offer.id, HelpOffer.status == OfferStatus.PENDING)
        .values(status=OfferStatus.DECLINED).execution_options(synchronize_session=False)
    ).rowcount
    if not done:  # accepted or closed at the same moment
        raise AidError(N_("You have already answered this offer."))
    session.refresh(offer)
    return offer


def own_request(session: Session, resident: Resident, request_id: int) -> HelpRequest:
    req = get_request(session, request_id)
    if req is None or req.requester_id != resident.id:
        raise AidError(N_("That button is from an earlier message and no longer works."))
    return req


def cancel_request(session: Session, resident: Resident, request_id: int, now: datetime) -> list[HelpOffer]:
    """Cancel an open or matched request; returns the offers whose helpers should be told."""
    req = own_request(session, resident, request_id)
    done = session.execute(
        update(HelpRequest).where(HelpRequest.id == req.id, HelpRequest.status.in_(ACTIVE))
        .values(status=RequestStatus.CANCELLED, closed_at=now).execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        raise AidError(N_("This request is already closed."))
    session.refresh(req)
    cancel_pending_notices(session, req.id)
    offers = list(
        session.scalars(
            select(HelpOffer).where(HelpOffer.request_id == req.id, HelpOffer.status.in_([OfferStatus.PENDING, OfferStatus.ACCEPTED]))
        ).unique()
    )
    for o in offers:
        o.status = OfferStatus.CLOSED
    session.flush()
    return offers


def my_requests(session: Session, resident: Resident, limit: int = 10) -> list[HelpRequest]:
    return list(
        session.scalars(
            select(HelpRequest)
            .where(HelpRequest.requester_id == resident.id, HelpRequest.status.in_(ACTIVE))
            .order_by(HelpRequest.created_at.desc())
            .limit(limit)
        ).unique()
    )


def counterpart(session: Session, req: HelpRequest, resident: Resident) -> Resident | None:
    """The other side of a matched request, if `resident` is one side of it."""
    if req.status != RequestStatus.MATCHED or req.matched_offer_id is None:
        return None
    offer = get_offer(session, req.matched_offer_id)
    if offer is None:
        return None
    if resident.id == req.requester_id:
        return offer.helper
    if resident.id == offer.helper_id:
        return req.requester
    return None


def relay(session: Session, sender: Resident, request_id: int, text: str, now: datetime) -> tuple[RelayMessage, Resident]:
    req = get_request(session, request_id)
    other = counterpart(session, req, sender) if req is not None else None
    if other is None:
        raise AidError(N_("This conversation has ended, so the message was not sent."))
    if is_blocked(session, sender.id, other.id):
        raise AidError(N_("This conversation has ended, so the message was not sent."))
    msg = RelayMessage(request_id=req.id, sender_id=sender.id, recipient_id=other.id, text=text, created_at=now)
    session.add(msg)
    session.flush()
    return msg, other


REPLY_WINDOW = timedelta(hours=24)


def answering(session: Session, resident: Resident, now: datetime) -> tuple[HelpRequest, Resident] | None:
    """The match whose other side wrote to `resident` last, within a day, when they have not
    written back since: text they type now is most likely their answer (offered for relay)."""
    last = session.scalar(
        select(RelayMessage).where(RelayMessage.recipient_id == resident.id, RelayMessage.created_at >= now - REPLY_WINDOW,
                                   RelayMessage.hidden.is_(False))
        .order_by(RelayMessage.created_at.desc(), RelayMessage.id.desc()).limit(1))
    if last is None:
        return None
    answered = session.scalar(select(RelayMessage.id).where(
        RelayMessage.request_id == last.request_id, RelayMessage.sender_id == resident.id,
        RelayMessage.id > last.id).limit(1))
    if answered is not None:
        return None
    req = get_request(session, last.request_id)
    other = counterpart(session, req, resident) if req is not None else None
    if other is None or other.id != last.sender_id or is_blocked(session, resident.id, other.id):
        return None
    return req, other


def report(session: Session, reporter: Resident, kind: str, target_id: int, now: datetime,
           threshold: int = HIDE_AFTER_REPORTS) -> bool:
    """Record a report (once per resident and item). Returns True when the item is now hidden."""
    if kind == ReportTarget.REQUEST:
        target = get_request(session, target_id)
        if target is None or target.requester_id == reporter.id or not can_see(session, reporter, target):
            raise AidError(N_("That button is from an earlier message and no longer works."))
    elif kind == ReportTarget.RELAY:
        target = session.get(RelayMessage, target_id)
        if target is None or target.recipient_id != reporter.id:
            raise AidError(N_("That button is from an earlier message and no longer works."))
    else:
        raise AidError(N_("That button is from an earlier message and no longer works."))
    if session.scalar(select(Report).where(Report.reporter_id == reporter.id, Report.target_kind == kind,
                                           Report.target_id == target_id)):
        return False
    session.add(Report(reporter_id=reporter.id, target_kind=kind, target_id=target_id, created_at=now))
    target.report_count += 1
    hidden = target.report_count >= threshold
    if hidden:
        if kind == ReportTarget.REQUEST:
            # only an open request is hidden; a match made at the same moment stands
            session.execute(
                update(HelpRequest).where(HelpRequest.id == target.id, HelpRequest.status == RequestStatus.OPEN)
                .values(status=RequestStatus.HIDDEN).execution_options(synchronize_session=False)
            )
            cancel_pending_notices(session, target.id)
        elif kind == ReportTarget.RELAY:
            target.hidden = True
    session.flush()
    return hidden


def block(session: Session, blocker: Resident, blocked_id: int, now: datetime) -> None:
    if blocked_id == blocker.id:
        return
    if not session.scalar(select(Block).where(Block.blocker_id == blocker.id, Block.blocked_id == blocked_id)):
        session.add(Block(blocker_id=blocker.id, blocked_id=blocked_id, created_at=now))
        session.flush()


def due_to_close(session: Session, now: datetime, limit: int = 500) -> list[HelpRequest]:
    """Open requests past their date (or 14 days old when open-ended): closed, to be told."""
    rows = list(
        session.scalars(
            select(HelpRequest).where(HelpRequest.status == RequestStatus.OPEN, HelpRequest.closes_at <= now)
            .order_by(HelpRequest.id).limit(limit).with_for_update(skip_locked=True, of=HelpRequest)
        ).unique()
    )
    for r in rows:
        r.status = RequestStatus.CLOSED
        r.closed_at = now
        cancel_pending_notices(session, r.id)
    session.flush()
    return rows


def close_offers(session: Session, request_id: int) -> list[HelpOffer]:
    """Pending offers of a request that ended: closed, so their helpers can be told."""
    offers = list(session.scalars(
        select(HelpOffer).where(HelpOffer.request_id == request_id, HelpOffer.status == OfferStatus.PENDING)).unique())
    for o in offers:
        o.status = OfferStatus.CLOSED
    session.flush()
    return offers


def due_for_followup(session: Session, now: datetime, after: timedelta, limit: int = 500) -> list[HelpRequest]:
    """Matched requests whose time has passed (or, open-ended, matched a while ago): both sides
    are asked whether it happened. Marked so they are asked once."""
    rows = list(
        session.scalars(
            select(HelpRequest).where(
                HelpRequest.status == RequestStatus.MATCHED,
                HelpRequest.followup_sent_at.is_(None),
                HelpRequest.closes_at <= now - after,
            ).order_by(HelpRequest.id).limit(limit).with_for_update(skip_locked=True, of=HelpRequest)
        ).unique()
    )
    for r in rows:
        r.followup_sent_at = now
    session.flush()
    return rows
