"""Residents: finding them, following/unfollowing, memberships, and deleting their data."""
from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime, timedelta
from functools import cache

from sqlalchemy import Text, bindparam, case, cast, delete, or_, select, text, update
from sqlalchemy.orm import Session

from bot.core import translate
from bot.core.db import checkpoint_after_commit
from bot.core.models import (
    CircularRecipient,
    ConversationState,
    DigestItem,
    GarbageSubscription,
    HelperProfile,
    HelpOffer,
    HelpRequest,
    LedgerAccount,
    LedgerEntry,
    Membership,
    OutboxMessage,
    RelayMessage,
    Reminder,
    Resident,
    Signup,
    WebChatMessage, SafetyAnswer, SupportNeed)
from bot.core.vocab import OutboxStatus, Role
from bot.services import console_sessions as sessions

NICKNAME_MAX = 20


@cache
def _find_stmt(lock: bool):
    # Built once and reused: every event looks its resident up (the hot path).
    stmt = select(Resident).where(Resident.line_user_id == bindparam("uid"))
    return stmt.with_for_update(of=Resident) if lock else stmt


def find(session: Session, user_id: str, *, lock: bool = False) -> Resident | None:
    return session.scalar(_find_stmt(lock), {"uid": user_id})


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
        .where(OutboxMessage.resident_id == resident.id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.CANCELLED, last_error="recipient unfollowed")
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
    session.add(Membership(resident_id=resident.id, association_id=association_id, role=Role.MEMBER, joined_at=now))
    session.flush()
    return True


def leave_associations(session: Session, resident: Resident) -> None:
    session.execute(delete(Membership).where(Membership.resident_id == resident.id))
    sessions.end_for_resident(session, resident.id)  # a leader who leaves is signed out of the console


def delete_resident(session: Session, resident: Resident) -> None:
    """Remove everything that identifies the resident.

    Rows that belong to them go (memberships, conversation, web-chat transcript, messages not
    yet sent); the resident row itself goes. Sent outbox rows keep no link to them, and other
    residents' messages keep none of their name or words (`_scrub_from_others`). On SQLite the
    deleted bytes are overwritten (secure_delete) and the WAL is emptied after commit.
    """
    rid = resident.id
    # Machine translations of their own words (requests, offers' messages, relayed messages).
    translate.forget(session, [
        *session.scalars(select(HelpRequest.description).where(HelpRequest.requester_id == rid)),
        *session.scalars(select(HelpOffer.message).where(HelpOffer.helper_id == rid)),
        *session.scalars(select(RelayMessage.text).where(RelayMessage.sender_id == rid)),
    ])
    _scrub_from_others(session, resident)
    session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.resident_id == rid, OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.DEAD, OutboxStatus.CANCELLED])
        )
    )
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.resident_id == rid)
        .values(resident_id=None, recipients=[], payload=[])
        .execution_options(synchronize_session=False)
    )
    _scrub_from_multicasts(session, resident.line_user_id)
    session.execute(delete(WebChatMessage).where(WebChatMessage.resident_id == rid))
    session.execute(delete(ConversationState).where(ConversationState.resident_id == rid))
    session.execute(delete(Membership).where(Membership.resident_id == rid))
    session.delete(resident)
    session.flush()
    checkpoint_after_commit(session)


def _scrub_from_multicasts(session: Session, user_id: str) -> None:
    """Take the resident's LINE user ID out of messages to many (multicasts): queued ones then
    go to the others only, sent ones keep no trace of them."""
    if session.get_bind().dialect.name == "postgresql":
        has = text("CAST(outbox_message.recipients AS jsonb) ? :uid").bindparams(uid=user_id)
    else:
        has = text("EXISTS (SELECT 1 FROM json_each(outbox_message.recipients) WHERE value = :uid)").bindparams(uid=user_id)
    for row in session.scalars(select(OutboxMessage).where(OutboxMessage.resident_id.is_(None), has)):
        left = [u for u in row.recipients if u != user_id]
        row.recipients = left
        if not left:
            row.payload = []  # a personal reminder to them alone carries their own words
            if row.status in (OutboxStatus.PENDING, OutboxStatus.DEAD):
                row.status = OutboxStatus.CANCELLED


# Texts shorter than this are not searched for in other residents' messages (a one-letter
# nickname would match nearly everything); more than this many of their texts are not either.
_SCRUB_MIN_CHARS = 2
_SCRUB_MAX_TEXTS = 200


def _scrub_from_others(session: Session, resident: Resident) -> None:
    """Other residents' messages that carry this resident's name or words.

    Messages marked with them as subject (a relayed message, an offer, a thanks, a match, their
    request shown to a helper): not yet sent, they are cancelled; sent or not, their text goes.
    Then every other message (not a mass send: announcements, reminders, garbage days) that was
    sent, cancelled or failed and still quotes their nickname or something they wrote (a
    request, an offer's message, a relayed message) — the replies other residents got while
    browsing requests, say — has its text blanked (a failed one is cancelled). Messages still
    to be sent are changed only through the mark: a search could also hit an unrelated message
    that happens to contain the same word. Other residents' conversations addressed to them
    (writing a message to them) end."""


    rid = resident.id
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.subject_resident_id == rid, OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.DEAD]))
        .values(status=OutboxStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.subject_resident_id == rid)
        .values(subject_resident_id=None, payload=[], recipients=[], reply_token=None)
        .execution_options(synchronize_session=False)
    )
    texts: list[str] = [resident.nickname or ""]
    for stmt in (select(HelpRequest.description).where(HelpRequest.requester_id == rid),
                 select(HelpOffer.message).where(HelpOffer.helper_id == rid, HelpOffer.message.is_not(None)),
                 select(RelayMessage.text).where(RelayMessage.sender_id == rid)):
        texts += list(session.scalars(stmt.limit(_SCRUB_MAX_TEXTS)))
    # Matched as stored: the JSON column holds text as json.dumps writes it (\u escapes).
    needles = {json.dumps(x.strip())[1:-1] for x in texts if x and len(x.strip()) >= _SCRUB_MIN_CHARS}
    needles = sorted(needles, key=len)[:_SCRUB_MAX_TEXTS]
    if needles:
        stored = cast(OutboxMessage.payload, Text)
        quoting = (OutboxMessage.status.in_([OutboxStatus.SENT, OutboxStatus.CANCELLED, OutboxStatus.DEAD]), OutboxMessage.source.is_(None),
                   OutboxMessage.resident_id.is_distinct_from(rid),
                   or_(*(stored.contains(n, autoescape=True) for n in needles)))
        session.execute(
            update(OutboxMessage).where(*quoting).values(
                payload=[], status=case((OutboxMessage.status == OutboxStatus.DEAD, OutboxStatus.CANCELLED.value), else_=OutboxMessage.status))
            .execution_options(synchronize_session=False)
        )
    if resident.nickname:
        for state in session.scalars(select(ConversationState).where(ConversationState.flow == "relay",
                                                                     ConversationState.resident_id != rid)):
            if (state.data or {}).get("to_name") == resident.nickname:
                session.delete(state)


def expire_unfollowed(session: Session, now: datetime, days: int) -> int:
    """Delete the data of residents who unfollowed more than `days` ago (APPI: keep no longer
    than needed). Returns how many."""
    if days <= 0:
        return 0
    old = list(session.scalars(select(Resident).where(
        Resident.following.is_(False), Resident.unfollowed_at.is_not(None),
        Resident.unfollowed_at < now - timedelta(days=days)).limit(500)))
    for r in old:
        delete_resident(session, r)
    return len(old)


def export(session: Session, resident: Resident, tz_name: str) -> dict:
    """Everything the bot keeps about one resident, for a request to see their data (APPI)."""
    def rows(model, *where):
        out = []
        for obj in session.scalars(select(model).where(*where)):
            out.append({c.name: _plain(getattr(obj, c.key)) for c in obj.__table__.columns})
        return out

    data = {"resident": {c.name: _plain(getattr(resident, c.key)) for c in Resident.__table__.columns},
            "memberships": rows(Membership, Membership.resident_id == resident.id),
            "help_requests": rows(HelpRequest, HelpRequest.requester_id == resident.id),
            "help_offers": rows(HelpOffer, HelpOffer.helper_id == resident.id),
            "helper_profile": rows(HelperProfile, HelperProfile.resident_id == resident.id),
            "event_signups": rows(Signup, Signup.resident_id == resident.id),
            "circulars_read": rows(CircularRecipient, CircularRecipient.resident_id == resident.id),
            "reminders": rows(Reminder, Reminder.resident_id == resident.id),
            "garbage_days": rows(GarbageSubscription, GarbageSubscription.resident_id == resident.id),
            "digest_waiting": rows(DigestItem, DigestItem.resident_id == resident.id),
            "safety_answers": rows(SafetyAnswer, SafetyAnswer.resident_id == resident.id),
            "support_register": rows(SupportNeed, SupportNeed.resident_id == resident.id)}
    account = session.scalar(select(LedgerAccount.id).where(LedgerAccount.resident_id == resident.id))
    data["thanks_hours"] = rows(LedgerEntry, LedgerEntry.account_id == account) if account else []
    for item in data["circulars_read"]:
        item.pop("token", None)  # a key to a page, not information about them
    return data


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    return value
