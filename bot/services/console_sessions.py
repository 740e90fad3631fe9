"""Console sessions kept on the server (`ConsoleSession`).

Signing in makes a record and puts its unguessable token in the (signed) session cookie; the
database keeps only the token's hash. Every console request looks the record up (`live`):
a session signed out, ended by a new password, a disabled account or a leader's role taken
away, or unused for longer than the session lifetime, signs no one in, whatever cookie is
shown. Records are forgotten a month after they end."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from bot.core.db import utcnow
from bot.core.models import ConsoleSession
from bot.core.vocab import Role

TOKEN_BYTES = 32
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
KEEP_ENDED = timedelta(days=30)
LEADER_ROLES = (Role.LEADER, Role.HAN_LEADER)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(s: Session, *, account_id: int | None = None, resident_id: int | None = None,
          now: datetime | None = None) -> str:
    """A new session for a password account or a leader (from LINE); returns its token."""
    now = now or utcnow()
    s.execute(delete(ConsoleSession).where(or_(ConsoleSession.ended_at < now - KEEP_ENDED,
                                               ConsoleSession.last_seen_at < now - KEEP_ENDED)))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    s.add(ConsoleSession(token_hash=_hash(token), staff_account_id=account_id, resident_id=resident_id,
                         created_at=now, last_seen_at=now))
    s.flush()
    return token


def live(s: Session, token: object, idle: timedelta, now: datetime | None = None) -> ConsoleSession | None:
    """The session of `token` if it has not ended and was used within `idle`."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    now = now or utcnow()
    row = s.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == _hash(token)))
    if row is None or row.ended_at is not None or row.last_seen_at < now - idle:
        return None
    return row


def needs_touch(row: ConsoleSession, now: datetime | None = None) -> bool:
    return row.last_seen_at < (now or utcnow()) - TOUCH_EVERY


def touch(s: Session, token: str, now: datetime | None = None) -> None:
    s.execute(update(ConsoleSession).where(ConsoleSession.token_hash == _hash(token), ConsoleSession.ended_at.is_(None))
              .values(last_seen_at=now or utcnow()))


def end(s: Session, token: object, now: datetime | None = None) -> None:
    """End one session (signing out)."""
    if isinstance(token, str) and token:
        s.execute(update(ConsoleSession).where(ConsoleSession.token_hash == _hash(token),
                                               ConsoleSession.ended_at.is_(None)).values(ended_at=now or utcnow()))


def end_for_account(s: Session, account_id: int, keep: str | None = None, now: datetime | None = None) -> None:
    """End every session of a password account (but the one of token `keep`)."""
    q = update(ConsoleSession).where(ConsoleSession.staff_account_id == account_id, ConsoleSession.ended_at.is_(None))
    if keep:
        q = q.where(ConsoleSession.token_hash != _hash(keep))
    s.execute(q.values(ended_at=now or utcnow()))


def end_for_resident(s: Session, resident_id: int, now: datetime | None = None) -> None:
    """End every console session a resident (a leader, from LINE) has."""
    s.execute(update(ConsoleSession).where(ConsoleSession.resident_id == resident_id, ConsoleSession.ended_at.is_(None))
              .values(ended_at=now or utcnow()))


def role_changed(s: Session, resident_id: int, was: str | None, now_role: str | None) -> None:
    """A member's role changed: a leader's or 班長's role taken away (or lessened) ends their
    console sessions; they sign in again with a new link for what they may do now."""
    if was in LEADER_ROLES and was != now_role and not (was == Role.HAN_LEADER and now_role == Role.LEADER):
        end_for_resident(s, resident_id)
