"""Changing and cancelling an event: the same rules whether staff use the console, a leader
the CLI, or anything else.

- Only what differs from the event is changed; a cancelled event is not changed any more.
- A new time or place is told to everyone going and on the wait-list, each in their language;
  a translated place that was not updated with the place is dropped, so nobody is told the old
  place in their language.
- More seats move wait-listed parties up, and they are told.
- Cancelling twice tells nobody twice.
- Each change raises the event's version (buttons drawn before show it anew, `bot.refs`) and
  is audited.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from sqlalchemy.orm import Session

from bot import event_messages as em
from bot import events
from bot.config import Config
from bot.errors import UserError
from bot.i18n import N_
from bot.models import Event
from bot.replies import Text
from bot.services import Audit, Outcome
from bot.vocab import EventStatus

FIELDS = ("title", "place", "description", "starts_at", "ends_at", "signup_deadline", "capacity", "organizer",
          "note_question", "ask_party_size", "remind_hour_before")
MOVED = ("starts_at", "ends_at", "place")


class EventChangeError(UserError):
    pass


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


def update(session: Session, event: Event, values: Mapping[str, Any], config: Config, now: datetime, *,
           translations: Mapping[str, Mapping[str, str]] | None = None) -> Outcome:
    """Change `event` to `values` (any of FIELDS; others are ignored) and, for the languages in
    `translations`, its translations. Returns who is told and the audit entry."""
    if event.status == EventStatus.CANCELLED:
        raise EventChangeError(N_("This event has been cancelled and cannot be changed."))
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
        for s in events.to_notify(session, event.id):
            out.tell(s.resident, Text(em.changed(event, s.resident.locale, config)))
            out.facts["told"] += 1
    if "capacity" in changed and (event.capacity is None or (old_capacity is not None and event.capacity > old_capacity)):
        for s in events.promote(session, event, now):
            out.tell(s.resident, Text(em.promoted(s.event, s.resident.locale, config)))
            out.facts["promoted"] += 1
    out.audit.append(Audit("update_event", f"event:{event.id}",
                           {"changed": changed, "told": out.facts["told"], "promoted": out.facts["promoted"]}))
    return out


def cancel(session: Session, event: Event, config: Config, now: datetime) -> Outcome:
    """Cancel `event`: everyone going and on the wait-list is told, once."""
    out = Outcome(facts={"told": 0, "already": event.status == EventStatus.CANCELLED})
    if out.facts["already"]:
        return out
    event.status = EventStatus.CANCELLED
    event.version += 1
    session.flush()
    for s in events.to_notify(session, event.id):
        out.tell(s.resident, Text(em.cancelled(event, s.resident.locale, config)))
        out.facts["told"] += 1
    out.audit.append(Audit("cancel_event", f"event:{event.id}", {"title": event.title, "told": out.facts["told"]}))
    return out
