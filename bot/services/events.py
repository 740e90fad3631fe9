"""Community events: who may join, signing up within capacity (party sizes counted), the
wait-list, cancelling with automatic promotion, and the figures. Domain functions take a
Session and never commit; they raise `EventError(msgid)` with a reason a resident can read."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.services import event_messages as em
from bot.core.config import Config
from bot.core.errors import UserError
from bot.core.i18n import LANGUAGES, N_, t
from bot.core.models import Area, Association, Event, Membership, OutboxMessage, Resident, Signup
from bot.core.replies import Text
from bot.services import Audit, Outcome, announcements
from bot.core.vocab import Audience, EventStatus, Role, SignupStatus

MAX_PARTY = 10
START_MAX = timedelta(days=366)  # an event can be announced up to a year ahead


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


def give_up_place(session: Session, signup_id: int, resident: Resident, config: Config, now: datetime) -> Outcome:
    """A resident cancels their sign-up: whoever moves up from the wait-list is told."""
    out = Outcome()
    for p in cancel(session, signup_id, resident, now):
        out.tell(p.resident, Text(em.promoted(p.event, p.resident.locale, config)))
    return out


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


# -- creating, changing and cancelling an event -----------------------------------------------

def create_event(session: Session, values: Mapping[str, Any], now: datetime, *,
                 translations: Mapping[str, Mapping[str, str]] | None = None,
                 created_by_id: int | None = None, config: Config | None = None) -> tuple[Event, Outcome]:
    """A new event from any front end (LINE's create_event flow, the console, the CLI): the same
    columns, the same audit entry. `values`: Event columns (title, place, starts_at, …). With
    `config`, the residents who follow 「イベント・文化」 and may join are told of it
    (`announce_new`)."""
    ev = Event(**dict(values), translations={loc: dict(tr) for loc, tr in (translations or {}).items() if tr},
               created_by_id=created_by_id, created_at=now)
    session.add(ev)
    session.flush()
    out = Outcome(audit=[Audit("create_event", f"event:{ev.id}", {"title": ev.title, "audience": ev.audience})])
    if config is not None:
        announce_new(session, ev, config, now)
    return ev, out


NEW_EVENT = N_("New event: {title}\n{when}, {place}\nSend “{word}” to see it and sign up.")
EVENTS_WORD = "events"  # the keyword msgid of handlers/events.py (its first word in each language)


def announce_new(session: Session, event: Event, config: Config, now: datetime) -> int:
    """Tell the residents who follow events (the topic 「イベント・文化」) and may join it that a
    new event is open, in their language, as an announcement from the center: the clock sends it
    with everything announcements keep (quiet hours, digests, LINE's limits), and it is listed in
    the console. Returns the announcement's id."""
    audience: dict[str, Any] = {"topics": ["events"]}
    if event.audience == Audience.AREAS:
        audience["areas"] = list(event.audience_areas or [])
    elif event.audience == Audience.ASSOCIATION:
        assoc = session.get(Association, event.association_id)
        audience["associations"] = [assoc.join_code] if assoc is not None else []

    def text(loc: str) -> str:
        return t(loc, NEW_EVENT, title=em.text_in(event, loc, "title"), when=em.when(event, loc, config),
                 place=em.text_in(event, loc, "place"), word=t(loc, EVENTS_WORD).split("|")[0])

    ann, _ = announcements.create(session, text=text("ja"), translations={loc: text(loc) for loc in LANGUAGES if loc != "ja"},
                                  audience=audience, now=now, created_by=f"event:{event.id}", tz_name=config.tz_name)
    return ann.id


# -- changing and cancelling an event (the console and the CLI call these) -----------------------
# The same rules whichever front end: only what differs is changed; a new time or place is told
# to everyone going and on the wait-list, each in their language, and a translated place not
# updated with the place is dropped; more seats move the wait-list up; cancelling twice tells
# nobody twice; each change raises the event's version (bot.core.refs) and is audited.

FIELDS = ("title", "place", "description", "starts_at", "ends_at", "signup_deadline", "capacity", "organizer",
          "note_question", "ask_party_size", "remind_hour_before")
MOVED = ("starts_at", "ends_at", "place")


def _translations(event: Event, given: Mapping[str, Mapping[str, str]] | None, old_place: str) -> dict[str, dict[str, str]]:
    """The event's translations after a change: the languages `given` replaced as given (empty:
    removed); every translated place dropped when the place changed and it was not updated."""
    old = {loc: dict(v) for loc, v in (event.translations or {}).items()}
    out = {loc: dict(v) for loc, v in old.items() if not given or loc not in given}
    for loc, tr in (given or {}).items():
        if tr:
            out[loc] = {k: v for k, v in tr.items() if v}
    if event.place != old_place:
        for loc, tr in out.items():
            if tr.get("place") and tr.get("place") == (old.get(loc) or {}).get("place"):
                tr.pop("place")
    return {loc: tr for loc, tr in out.items() if tr}


def update_event(session: Session, event: Event, values: Mapping[str, Any], config: Config, now: datetime, *,
           translations: Mapping[str, Mapping[str, str]] | None = None) -> Outcome:
    """Change `event` to `values` (any of FIELDS; others are ignored) and, for the languages in
    `translations`, its translations. Returns who is told and the audit entry."""
    if event.status == EventStatus.CANCELLED:
        raise EventError(N_("This event has been cancelled and cannot be changed."))
    changed = sorted(k for k in FIELDS if k in values and values[k] != getattr(event, k))
    moved = any(k in changed for k in MOVED)
    old_capacity, old_place = event.capacity, event.place
    for key in changed:
        setattr(event, key, values[key])
    new_tr = _translations(event, translations, old_place)
    if new_tr != (event.translations or {}):
        event.translations = new_tr
        changed.append("translations")
    out = Outcome(facts={"changed": changed, "moved": moved, "told": 0, "promoted": 0})
    if not changed:
        return out
    event.version += 1
    session.flush()
    if moved:
        for s in to_notify(session, event.id):
            out.tell(s.resident, Text(em.changed(event, s.resident.locale, config)))
            out.facts["told"] += 1
    if "capacity" in changed and (event.capacity is None or (old_capacity is not None and event.capacity > old_capacity)):
        for s in promote(session, event, now):
            out.tell(s.resident, Text(em.promoted(s.event, s.resident.locale, config)))
            out.facts["promoted"] += 1
    out.audit.append(Audit("update_event", f"event:{event.id}",
                           {"changed": changed, "told": out.facts["told"], "promoted": out.facts["promoted"]}))
    return out


def cancel_event(session: Session, event: Event, config: Config, now: datetime) -> Outcome:
    """Cancel `event`: everyone going and on the wait-list is told, once."""
    out = Outcome(facts={"told": 0, "already": event.status == EventStatus.CANCELLED})
    if out.facts["already"]:
        return out
    event.status = EventStatus.CANCELLED
    event.version += 1
    session.flush()
    for s in to_notify(session, event.id):
        out.tell(s.resident, Text(em.cancelled(event, s.resident.locale, config)))
        out.facts["told"] += 1
    out.audit.append(Audit("cancel_event", f"event:{event.id}", {"title": event.title, "told": out.facts["told"]}))
    return out


# -- reminders (the clock) -----------------------------------------------------------------------

def _reminders_of(session: Session, config: Config, event: Event, kind: str, out: Outcome) -> None:
    # The start time is in the key: an event moved to another day is reminded again.
    prefix = f"ev:{event.id}:{kind}:{event.starts_at:%Y%m%d%H%M}:"
    done = set(session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.like(prefix + "%"))))
    for s in attendees(session, event.id):
        key = prefix + str(s.resident_id)
        if s.status != SignupStatus.GOING or key in done:
            continue
        out.tell(s.resident, Text(em.reminder(event, s.resident.locale, config, soon=kind == "hour")), dedupe_key=key)


def reminders_due(session: Session, config: Config, now: datetime) -> Outcome:
    """The day before (from EVENT_REMINDER_HOUR) and, when the organizer asked, an hour before:
    one reminder per attendee and event, whatever runs twice (the outbox's unique key)."""
    tz = ZoneInfo(config.tz_name)
    local = now.astimezone(tz)
    out = Outcome()
    if local.hour >= config.event_reminder_hour:
        tomorrow = (local + timedelta(days=1)).date()
        start = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=tz)
        for ev in session.scalars(select(Event).where(Event.status == EventStatus.SCHEDULED, Event.starts_at >= start,
                                                      Event.starts_at < start + timedelta(days=1))):
            _reminders_of(session, config, ev, "day", out)
    for ev in session.scalars(select(Event).where(Event.status == EventStatus.SCHEDULED, Event.remind_hour_before.is_(True),
                                                  Event.starts_at > now, Event.starts_at <= now + timedelta(hours=1))):
        _reminders_of(session, config, ev, "hour", out)
    return out
