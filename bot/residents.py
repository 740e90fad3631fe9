"""Residents: finding them, following/unfollowing, memberships, and deleting their data."""
from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.models import (
    ConversationState,
    Membership,
    OutboxMessage,
    Resident,
    WebChatMessage,
)

NICKNAME_MAX = 20


def find(session: Session, user_id: str, *, lock: bool = False) -> Resident | None:
    stmt = select(Resident).where(Resident.line_user_id == user_id)
    if lock:
        stmt = stmt.with_for_update(of=Resident)
    return session.scalar(stmt)


def get_or_create(session: Session, user_id: str, channel: str, now: datetime, locale: str) -> Resident:
    resident = find(session, user_id, lock=True)
    if resident is None:
        resident = Resident(
            line_user_id=user_id, channel=channel, following=True, followed_at=now, locale=locale,
            created_at=now,
        )
        session.add(resident)
        session.flush()
    return resident


def mark_unfollowed(session: Session, resident: Resident, now: datetime) -> None:
    resident.following = False
    resident.unfollowed_at = now
    # Whatever was waiting for them will not be pushed.
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.resident_id == resident.id, OutboxMessage.status == "pending")
        .values(status="cancelled", last_error="recipient unfollowed")
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(ConversationState).where(ConversationState.resident_id == resident.id))


def mark_followed(resident: Resident, now: datetime) -> None:
    resident.following = True
    resident.followed_at = now
    resident.unfollowed_at = None


def clean_nickname(text: str) -> str | None:
    """A nickname as neighbours will see it, or None if it cannot be one."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))
    text = " ".join(text.split())
    if not text or len(text) > NICKNAME_MAX:
        return None
    if "://" in text or "www." in text.lower():
        return None
    return text


def join_association(session: Session, resident: Resident, association_id: int, now: datetime) -> bool:
    exists = session.scalar(
        select(Membership).where(
            Membership.resident_id == resident.id, Membership.association_id == association_id
        )
    )
    if exists:
        return False
    session.add(Membership(resident_id=resident.id, association_id=association_id, role="member", joined_at=now))
    session.flush()
    return True


def leave_associations(session: Session, resident: Resident) -> None:
    session.execute(delete(Membership).where(Membership.resident_id == resident.id))


def delete_resident(session: Session, resident: Resident) -> None:
    """Remove everything that identifies the resident.

    Rows that belong to them go (memberships, conversation, web-chat transcript, messages not
    yet sent); the resident row itself goes. Sent outbox rows keep no link to them.
    """
    rid = resident.id
    session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.resident_id == rid, OutboxMessage.status.in_(["pending", "dead", "cancelled"])
        )
    )
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.resident_id == rid)
        .values(resident_id=None, recipients=[], payload=[])
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(WebChatMessage).where(WebChatMessage.resident_id == rid))
    session.execute(delete(ConversationState).where(ConversationState.resident_id == rid))
    session.execute(delete(Membership).where(Membership.resident_id == rid))
    session.delete(resident)
    session.flush()
