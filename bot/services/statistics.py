"""The month-by-month figures of the console's pictures and of the center's monthly report.

Months are the city's (`TZ_NAME`): their bounds are computed here in Python, in UTC, and the
database sorts each timestamp into its month with a `CASE` over those bounds, so every figure is
one aggregate query grouped by month, the same on SQLite and PostgreSQL (no date functions of
either), and right across a change of clocks. Only the rows of the months asked for are read.

**Taking part in local activity** (the participation figure), for a month: a resident who has
joined (consented) and, in that month,
- was signed up (going) to an event that was not cancelled and that started in that month,
  before now (an event still to come does not count yet), or
- gave or received help: the helper and the requester of a neighbour's offer that was accepted,
  counted in the month the offer was made.
The share is those residents over the residents who had joined by the end of the month (or by
now, for this month). Each resident counts once a month, whatever they did and how often.
`bot.services.events.participation` is the year's figure for events alone (the dashboard's key
figure).

**Messages** count as in the dashboard's figure of this month (LINE's quota): pushes and
multicasts, one per recipient; a broadcast, one per resident following (those following now who
had joined by the end of that month); replies are free.
"""
from __future__ import annotations

import statistics as stats
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select, union_all
from sqlalchemy.orm import Session

from bot.core.models import (
    Area, Association, Circular, CircularRecipient, Event, HelpOffer, HelpRequest, LedgerTransfer, OutboxMessage,
    Resident, Signup,
)
from bot.core.vocab import Channel, EventStatus, OfferStatus, OutboxKind, OutboxStatus, SignupStatus


@dataclass(frozen=True)
class Months:
    """January to `last` of `year`, in the city's time zone; `now` bounds what has happened."""

    year: int
    last: int
    tz_name: str
    now: datetime

    @property
    def numbers(self) -> list[int]:
        return list(range(1, self.last + 1))

    @property
    def keys(self) -> list[str]:
        return [f"{self.year:04d}-{m:02d}" for m in self.numbers]

    def start_of(self, month: int) -> datetime:
        """The first instant of `month` (13: the next January) in UTC."""
        tz = ZoneInfo(self.tz_name)
        local = datetime(self.year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=tz)
        return local.astimezone(timezone.utc)

    @property
    def start(self) -> datetime:
        return self.start_of(1)

    @property
    def end(self) -> datetime:
        return self.start_of(self.last + 1)

    def bucket(self, column):
        """The month number (1…last) of a timestamp column; NULL outside the months."""
        return case(*[(column < self.start_of(m + 1), m) for m in self.numbers], else_=None)

    def within(self, column, upto_now: bool = False):
        end = min(self.end, self.now) if upto_now else self.end
        return (column >= self.start, column < end)


def months_of(year: int, last: int, tz_name: str, now: datetime) -> Months:
    if not 1 <= last <= 12:
        raise ValueError("month out of range")
    return Months(year, last, tz_name, now)


def this_year(tz_name: str, now: datetime) -> Months:
    local = now.astimezone(ZoneInfo(tz_name))
    return Months(local.year, local.month, tz_name, now)


_COUNT = object()


def _per_month(session: Session, m: Months, column, *where, value=_COUNT, extra=()) -> dict:
    """{month: n} (with `extra` columns: {(month, *extra): n}) of the rows whose `column` falls
    in the months: a count, or the sum of `value`. Bucketed in a subquery and grouped outside it
    (PostgreSQL does not take two CASEs with their own parameters for the same expression)."""
    cols = [m.bucket(column).label("m"), *[e.label(f"x{i}") for i, e in enumerate(extra)]]
    if value is not _COUNT:
        cols.append(value.label("v"))
    sub = select(*cols).where(*m.within(column), *where).subquery()
    keys = [sub.c.m, *[sub.c[f"x{i}"] for i in range(len(extra))]]
    agg = func.count() if value is _COUNT else func.coalesce(func.sum(sub.c.v), 0)
    out = {}
    for row in session.execute(select(*keys, agg).group_by(*keys)):
        if row[0] is not None:
            out[row[0] if not extra else tuple(row[:-1])] = int(row[-1] or 0)
    return out


def count_per_month(session: Session, m: Months, column, *where, extra=()) -> dict:
    return _per_month(session, m, column, *where, extra=extra)


def sum_per_month(session: Session, m: Months, column, value, *where) -> dict:
    return _per_month(session, m, column, *where, value=value)


def _cumulative(session: Session, m: Months, column, *where) -> list[int]:
    """How many rows had `column` before the end of each month (this month: before now)."""
    before = session.scalar(select(func.count()).where(column < m.start, *where)) or 0
    per = count_per_month(session, m, column, *where)
    out, running = [], before
    for month in m.numbers:
        running += per.get(month, 0)
        out.append(running)
    return out


# -- the figures ------------------------------------------------------------------------------

def participation(session: Session, m: Months) -> list[tuple[str, int, int]]:
    """(YYYY-MM, residents who took part, residents who had joined) for each month."""
    events = select(Signup.resident_id.label("rid"), Event.starts_at.label("at")).join(
        Event, Event.id == Signup.event_id).where(
        Signup.status == SignupStatus.GOING, Event.status == EventStatus.SCHEDULED,
        *m.within(Event.starts_at, upto_now=True))
    accepted = (HelpOffer.status == OfferStatus.ACCEPTED, *m.within(HelpOffer.created_at, upto_now=True))
    given = select(HelpOffer.helper_id.label("rid"), HelpOffer.created_at.label("at")).where(*accepted)
    received = select(HelpRequest.requester_id.label("rid"), HelpOffer.created_at.label("at")).join(
        HelpRequest, HelpRequest.id == HelpOffer.request_id).where(*accepted)
    acts = union_all(events, given, received).subquery()
    sub = select(m.bucket(acts.c.at).label("m"), acts.c.rid).join(Resident, Resident.id == acts.c.rid).where(
        Resident.consent_at.is_not(None)).subquery()
    took = {month: n for month, n in session.execute(
        select(sub.c.m, func.count(sub.c.rid.distinct())).group_by(sub.c.m)) if month is not None}
    joined = _cumulative(session, m, Resident.consent_at, Resident.consent_at.is_not(None))
    return [(key, took.get(month, 0), joined[i]) for i, (month, key) in enumerate(zip(m.numbers, m.keys))]


def joined(session: Session, m: Months) -> dict:
    """Residents who joined (consent given) each month: by language {(month, locale): n} and by
    area {(month, area name): n}, with the totals."""
    by_lang = count_per_month(session, m, Resident.consent_at, extra=(Resident.locale,))
    by_area_id = count_per_month(session, m, Resident.consent_at, extra=(Resident.area_id,))
    names = {a.id: a.names.get("ja") or a.code for a in session.scalars(select(Area))}
    by_area: dict[tuple[int, str | None], int] = {}
    for (month, area_id), n in by_area_id.items():
        key = (month, names.get(area_id) if area_id is not None else None)
        by_area[key] = by_area.get(key, 0) + n
    return {"by_lang": by_lang, "by_area": by_area}


def circular_reads(session: Session, start: datetime, end: datetime,
                   association_ids: list[int] | None = None) -> list[dict]:
    """For each association (only `association_ids` when given) with circulars sent between
    `start` and `end`: circulars, recipients (people or households), read, the read share and the
    median hours from sending to reading (reads marked on paper by a leader not timed)."""
    sent = (Circular.sent_at.is_not(None), Circular.sent_at >= start, Circular.sent_at < end)
    scope = (Circular.association_id.in_(association_ids),) if association_ids is not None else ()
    rows = session.execute(
        select(Circular.association_id, func.count(Circular.id.distinct()), func.count(CircularRecipient.id),
               func.count(CircularRecipient.read_at))
        .join(CircularRecipient, CircularRecipient.circular_id == Circular.id)
        .where(*sent, *scope).group_by(Circular.association_id)).all()
    # Only the read rows' two times: bounded by the period's circulars.
    times: dict[int, list[float]] = {}
    for assoc_id, sent_at, read_at in session.execute(
            select(Circular.association_id, Circular.sent_at, CircularRecipient.read_at)
            .join(CircularRecipient, CircularRecipient.circular_id == Circular.id)
            .where(*sent, *scope, CircularRecipient.read_at.is_not(None), CircularRecipient.marked_by_leader.is_(False))):
        times.setdefault(assoc_id, []).append(max((read_at - sent_at).total_seconds(), 0) / 3600)
    names = dict(session.execute(select(Association.id, Association.name)).all())
    out = []
    for assoc_id, circulars, recipients, read in rows:
        hours = times.get(assoc_id)
        out.append({"association_id": assoc_id, "name": names.get(assoc_id, "?"), "circulars": circulars,
                    "recipients": recipients, "read": read,
                    "share": round(100 * read / recipients, 1) if recipients else 0.0,
                    "median_hours": round(stats.median(hours), 1) if hours else None})
    return sorted(out, key=lambda r: r["name"])


def aid(session: Session, m: Months) -> list[tuple[str, int, int, float | int]]:
    """(YYYY-MM, requests made, offers accepted, hours recorded) for each month."""
    requests = count_per_month(session, m, HelpRequest.created_at)
    matches = count_per_month(session, m, HelpOffer.created_at, HelpOffer.status == OfferStatus.ACCEPTED)
    minutes = sum_per_month(session, m, LedgerTransfer.created_at, LedgerTransfer.minutes)
    return [(key, requests.get(month, 0), matches.get(month, 0), _hours(minutes.get(month, 0)))
            for month, key in zip(m.numbers, m.keys)]


def _hours(minutes: int) -> float | int:
    h = round(minutes / 60, 1)
    return int(h) if float(h).is_integer() else h


def messages(session: Session, m: Months) -> list[tuple[str, int]]:
    """(YYYY-MM, messages counted against LINE's monthly quota) for each month."""
    sent = (OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.channel == Channel.LINE)
    broadcasts = count_per_month(session, m, OutboxMessage.sent_at, *sent, OutboxMessage.kind == OutboxKind.BROADCAST)
    people = sum_per_month(session, m, OutboxMessage.sent_at, func.json_array_length(OutboxMessage.recipients), *sent,
                           OutboxMessage.kind == OutboxKind.PUSH, OutboxMessage.reply_token.is_(None))
    followers = _cumulative(session, m, Resident.consent_at, Resident.consent_at.is_not(None),
                            Resident.following.is_(True))
    return [(key, broadcasts.get(month, 0) * followers[i] + people.get(month, 0))
            for i, (month, key) in enumerate(zip(m.numbers, m.keys))]


def month_range(year: int, month: int, tz_name: str) -> tuple[datetime, datetime]:
    """The first instant of the month and of the next, in UTC."""
    m = Months(year, month, tz_name, datetime(year, 1, 1, tzinfo=timezone.utc))  # now: unused here
    return m.start_of(month), m.start_of(month + 1)
