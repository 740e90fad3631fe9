"""Community events: who may join, signing up within capacity (party sizes counted), the
wait-list, cancelling with automatic promotion, and the figures. Domain functions take a
Session and never commit; they raise `EventError(msgid)` with a reason a resident can read."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.i18n import N_
from bot.models import Area, Association, Event, Membership, Resident, Signup
from bot.vocab import Audience, EventStatus, Role, SignupStatus

MAX_PARTY = 10


class EventError(UserError):
    pass


@dataclass(frozen=True)
class SignupResult:
    signup: Signup
    waitlisted: bool
    position: int  # on the wait-list, 1-based; 0 when going


def member_association_ids(session: Session, resident: Resident) -> list[int]:
    return list(session.scalars(select(Membership.association_id).where(Membership.resident_id == resident.id)))


def may_join(session: Session, event: Event, resident: Resident) -> bool:
    if event.audience == Audience.ALL:
        return True
    if event.audience == Audience.AREAS:
        return resident.area is not None and resident.area.code in (event.audience_areas or [])
    if event.audience == Audience.ASSOCIATION:
        return event.association_id in member_association_ids(session, resident)
    return False


def upcoming_for(session: Session, resident: Resident, now: datetime, limit: int = 10) -> list[Event]:
    """Events the resident may join, soonest first (not cancelled, not yet started)."""
    assoc_ids = member_association_ids(session, resident)
    area_code = resident.area.code if resident.area else None
    rows = session.scalars(
        select(Event).where(Event.status == EventStatus.SCHEDULED, Event.starts_at > now).order_by(Event.starts_at, Event.id)
        .limit(200)
    )
    out = []
    for ev in rows:
        if ev.audience == Audience.ALL or (ev.audience == Audience.AREAS and area_code in (ev.audience_areas or [])) or (
                ev.audience == Audience.ASSOCIATION and ev.association_id in assoc_ids):
            out.append(ev)
        if len(out) >= limit:
            break
    return out


def seats_taken(session: Session, event_id: int) -> int:
    return session.scalar(
        select(func.coalesce(func.sum(Signup.party_size), 0)).where(Signup.event_id == event_id, Signup.status == SignupStatus.GOING)
    ) or 0


def waitlist(session: Session, event_id: int) -> list[Signup]:
    return list(session.scalars(
        select(Signup).where(Signup.event_id == event_id, Signup.status == SignupStatus.WAITLIST).order_by(Signup.created_at, Signup.id)
    ).unique())


def seats_left(session: Session, event: Event) -> int | None:
    if event.capacity is None:
        return None
    return max(0, event.capacity - seats_taken(session, event.id))


def get_event(session: Session, event_id: int, *, lock: bool = False) -> Event | None:
    stmt = select(Event).where(Event.id == event_id)
    if lock:  # PostgreSQL: one sign-up at a time per event; SQLite's immediate transaction already is
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def check_open(session: Session, event: Event | None, resident: Resident, now: datetime) -> Event:
    if event is None:
        raise EventError(N_("That event was not found."))
    if event.status == EventStatus.CANCELLED:
        raise EventError(N_("Sorry, this event has been cancelled."))
    if event.starts_at <= now:
        raise EventError(N_("This event has already started or is over."))
    if event.signup_deadline is not None and event.signup_deadline < now:
        raise EventError(N_("Sign-up for this event closed on {date}."), date=event.signup_deadline)
    if not may_join(session, event, resident):
        raise EventError(N_("Sorry, this event is for another area or association."))
    return event


def existing(session: Session, event_id: int, resident: Resident) -> Signup | None:
    return session.scalar(select(Signup).where(Signup.event_id == event_id, Signup.resident_id == resident.id))


def sign_up(session: Session, event_id: int, resident: Resident, *, party_size: int, note: str | None,
            now: datetime, waitlist_ok: bool = False) -> SignupResult:
    """Sign up, within capacity. When the seats are gone, raise `EventError` (full) unless
    `waitlist_ok`, then join the wait-list. The event row is locked (PostgreSQL) or the
    transaction holds SQLite's write lock, so seats are never given twice."""
    event = check_open(session, get_event(session, event_id, lock=True), resident, now)
    if not 1 <= party_size <= MAX_PARTY:
        raise EventError(N_("Please choose from 1 to {max} people."), max=MAX_PARTY)
    mine = existing(session, event.id, resident)
    if mine is not None and mine.status in (SignupStatus.GOING, SignupStatus.WAITLIST):
        raise EventError(N_("You are already signed up for this event."))
    left = seats_left(session, event)
    full = left is not None and left < party_size
    if full and not waitlist_ok:
        raise EventError(N_("Sorry, this event is full."))
    if mine is None:
        mine = Signup(event_id=event.id, resident_id=resident.id, created_at=now)
        session.add(mine)
    mine.party_size, mine.note, mine.updated_at = party_size, note, now
    mine.status = SignupStatus.WAITLIST if full else SignupStatus.GOING
    if full:
        mine.created_at = now  # back of the queue
    session.flush()
    position = [s.id for s in waitlist(session, event.id)].index(mine.id) + 1 if full else 0
    return SignupResult(mine, full, position)


def cancel(session: Session, signup_id: int, resident: Resident, now: datetime) -> list[Signup]:
    """Cancel a sign-up. Returns the wait-listed sign-ups promoted into the freed seats."""
    signup = session.get(Signup, signup_id)
    if signup is None or signup.resident_id != resident.id or signup.status == SignupStatus.CANCELLED:
        raise EventError(N_("That sign-up is no longer active."))
    get_event(session, signup.event_id, lock=True)
    was_going = signup.status == SignupStatus.GOING
    signup.status, signup.updated_at = SignupStatus.CANCELLED, now
    session.flush()
    return promote(session, signup.event, now) if was_going else []


def promote(session: Session, event: Event, now: datetime) -> list[Signup]:
    """Move wait-listed parties into free seats, in order; a party too big for what is free
    keeps its place and the next smaller one may go."""
    if event.status != EventStatus.SCHEDULED or event.starts_at <= now:
        return []
    promoted = []
    left = seats_left(session, event)
    for s in waitlist(session, event.id):
        if left is not None and s.party_size > left:
            continue
        s.status, s.updated_at = SignupStatus.GOING, now
        promoted.append(s)
        if left is not None:
            left -= s.party_size
    session.flush()
    return promoted


def my_signups(session: Session, resident: Resident, now: datetime) -> list[Signup]:
    return list(session.scalars(
        select(Signup).join(Event, Event.id == Signup.event_id)
        .where(Signup.resident_id == resident.id, Signup.status.in_([SignupStatus.GOING, SignupStatus.WAITLIST]), Event.starts_at > now,
               Event.status == EventStatus.SCHEDULED)
        .order_by(Event.starts_at)
    ).unique())


def attendees(session: Session, event_id: int) -> list[Signup]:
    return list(session.scalars(
        select(Signup).where(Signup.event_id == event_id, Signup.status.in_([SignupStatus.GOING, SignupStatus.WAITLIST]))
        .order_by(Signup.status, Signup.created_at, Signup.id)
    ).unique())


def to_notify(session: Session, event_id: int) -> list[Signup]:
    """Everyone to tell about a change: attendees and the wait-list."""
    return attendees(session, event_id)


def participation(session: Session, year: int, tz_name: str) -> dict[str, list[tuple[str, int, int]]]:
    """The share of residents who took part in at least one event this year: overall, by area
    and by association, as (name, took part, residents)."""
    tz = ZoneInfo(tz_name)
    start = datetime(year, 1, 1, tzinfo=tz)
    end = datetime(year + 1, 1, 1, tzinfo=tz)
    took_part = select(Signup.resident_id).join(Event, Event.id == Signup.event_id).where(
        Signup.status == SignupStatus.GOING, Event.status == EventStatus.SCHEDULED, Event.starts_at >= start, Event.starts_at < end,
    ).distinct().scalar_subquery()

    def share(filter_=None, join=None):
        base = select(func.count(func.distinct(Resident.id))).where(Resident.consent_at.is_not(None))
        if join is not None:
            base = base.join(*join)
        if filter_ is not None:
            base = base.where(filter_)
        total = session.scalar(base) or 0
        part = session.scalar(base.where(Resident.id.in_(took_part))) or 0
        return part, total

    out: dict[str, list[tuple[str, int, int]]] = {"all": [("all", *share())], "area": [], "association": []}
    for area in session.scalars(select(Area).order_by(Area.position)):
        out["area"].append((area.names.get("ja", area.code), *share(Resident.area_id == area.id)))
    for assoc in session.scalars(select(Association).order_by(Association.id)):
        out["association"].append(
            (assoc.name, *share(Membership.association_id == assoc.id, (Membership, Membership.resident_id == Resident.id)))
        )
    return out


def leader_associations(session: Session, resident: Resident) -> list[int]:
    return list(session.scalars(
        select(Membership.association_id).where(Membership.resident_id == resident.id, Membership.role == Role.LEADER)
        .order_by(Membership.association_id)
    ))


def can_manage(session: Session, resident: Resident, event: Event) -> bool:
    """Only a current leader of the event's association (a creator who stepped down no longer)."""
    return event.association_id is not None and event.association_id in leader_associations(session, resident)


def organised_by(session: Session, resident: Resident, now: datetime) -> list[Event]:
    """Upcoming events of the associations the resident leads."""
    ids = leader_associations(session, resident)
    if not ids:
        return []
    return list(session.scalars(
        select(Event).where(Event.association_id.in_(ids), Event.status == EventStatus.SCHEDULED,
                            Event.starts_at > now).order_by(Event.starts_at)
    ))
