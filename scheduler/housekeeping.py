"""Housekeeping jobs: keep the inbox and outbox small and free of old personal data."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.core import translate
from bot.core.models import (Announcement, Circular, ConversationState, InboundEvent, Media, OutboxMessage, SafetyAnswer,
                             SafetyCheck)
from bot.core.vocab import InboxStatus, OutboxStatus

INBOX_KEEP = timedelta(days=7)  # longer than LINE redelivers an event
# ...and at least a day longer than the webhook accepts an event (WEBHOOK_MAX_EVENT_AGE_SECONDS):
# while an event can still be accepted, its inbox row must be there to make it a no-op.
INBOX_MARGIN = timedelta(days=1)
SENT_KEEP = timedelta(days=30)
SAFETY_NOTE_KEEP = timedelta(days=30)
PHOTO_UNUSED_KEEP = timedelta(days=1)  # a photo sent during a conversation that was left


def inbox_keep(max_event_age_seconds: int = 3600) -> timedelta:
    return max(INBOX_KEEP, timedelta(seconds=max_event_age_seconds) + INBOX_MARGIN)


def tidy(session: Session, now: datetime, retention_days: int = 180, max_event_age_seconds: int = 3600) -> dict[str, int]:
    counts = {}
    counts["inbox"] = session.execute(
        delete(InboundEvent).where(InboundEvent.status != InboxStatus.PENDING,
                                   InboundEvent.received_at < now - inbox_keep(max_event_age_seconds))
    ).rowcount or 0
    counts["conversations"] = session.execute(
        delete(ConversationState).where(ConversationState.expires_at < now)
    ).rowcount or 0
    # Sent messages keep their status for the figures, not their text or recipients.
    counts["outbox"] = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status.in_([OutboxStatus.SENT, OutboxStatus.CANCELLED]), OutboxMessage.created_at < now - SENT_KEEP)
        .values(payload=[], recipients=[], reply_token=None)
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    # Photos nothing uses (a leader who sent one, then cancelled the circular) are deleted.
    counts["photos"] = session.execute(
        delete(Media).where(Media.created_at < now - PHOTO_UNUSED_KEEP,
                            ~Media.id.in_(select(Circular.image_id).where(Circular.image_id.is_not(None))),
                            ~Media.id.in_(select(Announcement.image_id).where(Announcement.image_id.is_not(None))))
    ).rowcount or 0
    # What residents wrote in a safety check ("I cannot walk") is for the emergency: kept
    # SAFETY_NOTE_KEEP after the check ended, then only the answers stay (for the figures).
    counts["safety_notes"] = session.execute(
        update(SafetyAnswer).where(SafetyAnswer.note.is_not(None), SafetyAnswer.check_id.in_(
            select(SafetyCheck.id).where(SafetyCheck.ended_at < now - SAFETY_NOTE_KEEP)))
        .values(note=None).execution_options(synchronize_session=False)
    ).rowcount or 0
    # Machine translations are kept for a while only (bot.core.translate.CACHE_DAYS).
    counts["translations"] = translate.expire(session, now)
    # Residents who unfollowed long ago: their data goes (UNFOLLOWED_RETENTION_DAYS).
    from bot.services.residents import expire_unfollowed

    counts["unfollowed"] = expire_unfollowed(session, now, retention_days)
    return counts
