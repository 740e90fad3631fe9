"""Which record a button was drawn for, checked when it is tapped.

A button carries a reference `<id>.<tag>`: the record's id and an 8-character digest of what
makes it *that* record as the resident saw it (its table, id, creation time and, for records
that can be edited, their version). When the button is tapped, `resolve` loads the record and
recomputes the digest: a record that was deleted, replaced by another with the same id, or
edited since the button was drawn does not match, and the tap changes nothing.

Ids are never reused either (SQLite tables are AUTOINCREMENT, PostgreSQL uses sequences); the
tag is the check that does not depend on that. Nothing but ids and digests goes into a button:
no names, no text from a city's file or from a person.
"""
from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timezone
from typing import TypeVar

from sqlalchemy.orm import Session, object_session

from bot.core.db import Base

ID_MAX = 2_147_483_647  # the id columns' range (PostgreSQL INTEGER): beyond it nothing exists
TAG_LEN = 8

M = TypeVar("M", bound=Base)


def _stamp(obj: Base) -> datetime:
    for attr in ("created_at", "joined_at"):
        value = getattr(obj, attr, None)
        if value is not None:
            return value
    session = object_session(obj)
    if session is not None:  # drawn in the transaction that made it: the default is set on flush
        session.flush()
    for attr in ("created_at", "joined_at"):
        value = getattr(obj, attr, None)
        if value is not None:
            return value
    raise TypeError(f"{type(obj).__name__} has no creation time to draw a button for")


def tag(obj: Base) -> str:
    """The digest of which record `obj` is (URL-safe, 8 characters): its table, id and creation
    time. A record made later under the same id has another tag."""
    stamp = _stamp(obj)
    if stamp.tzinfo is None:  # SQLite hands back naive UTC until the column type converts it
        stamp = stamp.replace(tzinfo=timezone.utc)
    micros = int(stamp.timestamp() * 1_000_000)
    raw = f"{obj.__tablename__}:{obj.id}:{micros}".encode()
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:6]).decode()


def _version(obj: Base) -> int:
    return int(getattr(obj, "version", None) or 0)


def ref(obj: Base) -> str:
    """What a button carries to name `obj`: `<id>.<tag>`, and `.<version>` for records that
    can be edited (so a button drawn before an edit is not taken for the edited record)."""
    if obj.id is None and object_session(obj) is None:
        return "0"  # a preview of something not saved: a button that names nothing
    tagged = tag(obj)  # first: it may flush, which gives a new record its id
    version = _version(obj)
    return f"{obj.id}.{tagged}" + (f".{version}" if version else "")


def parse(value: object) -> tuple[int, str, int] | None:
    """(id, tag, version) from a button's reference, or None when it is not one (forged,
    garbled, or drawn before buttons named their records)."""
    if not isinstance(value, str) or len(value) > 32 or not value.isascii():
        return None
    parts = value.split(".")
    if len(parts) not in (2, 3):
        return None
    ident, tagged = parts[0], parts[1]
    version = parts[2] if len(parts) == 3 else "0"
    if len(tagged) != TAG_LEN or not ident.isdigit() or len(ident) > 10 or not version.isdigit() or len(version) > 9:
        return None
    n = int(ident)
    return (n, tagged, int(version)) if 1 <= n <= ID_MAX else None


GONE, CHANGED, OK = "gone", "changed", "ok"


def lookup(session: Session, model: type[M], value: object) -> tuple[M | None, str]:
    """The record a reference names and what became of it: OK (exactly as drawn), CHANGED (the
    same record, edited since: returned, to be shown as it is now, never acted on) or GONE
    (deleted, replaced by another record, or not a reference: None)."""
    parsed = parse(value)
    if parsed is None:
        return None, GONE
    obj = session.get(model, parsed[0])
    if obj is None or tag(obj) != parsed[1]:
        return None, GONE
    if _version(obj) != parsed[2]:
        return obj, CHANGED
    return obj, OK


def resolve(session: Session, model: type[M], value: object) -> M | None:
    """The record a reference names, if it is still exactly that record; else None."""
    obj, state = lookup(session, model, value)
    return obj if state == OK else None
