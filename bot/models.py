"""The bot's tables. Schema changes go through Alembic (`migrations/`)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, utcnow

DEFAULT_QUIET_START = 21 * 60  # minutes after local midnight
DEFAULT_QUIET_END = 8 * 60


class Area(Base):
    """One of the city's areas, loaded from a data file the city can replace."""

    __tablename__ = "area"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    names: Mapped[dict[str, str]] = mapped_column(JSON)  # {"ja": "あさひ町", "en": "Asahi"}
    neighbours: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def name(self, locale: str) -> str:
        return self.names.get(locale) or self.names.get("ja") or self.code


class Association(Base):
    """A neighbourhood association (町内会・自治会)."""

    __tablename__ = "association"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id", ondelete="SET NULL"))
    join_code: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Resident(Base):
    __tablename__ = "resident"
    id: Mapped[int] = mapped_column(primary_key=True)
    # The LINE user ID (or a web-chat demo id). Never shown to another resident, never logged.
    line_user_id: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(8), default="line")  # line | web
    nickname: Mapped[str | None] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(16), default="ja")
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id", ondelete="SET NULL"))
    following: Mapped[bool] = mapped_column(Boolean, default=True)
    followed_at: Mapped[datetime | None]
    unfollowed_at: Mapped[datetime | None]
    consent_at: Mapped[datetime | None]
    quiet_start: Mapped[int | None] = mapped_column(Integer, default=DEFAULT_QUIET_START)
    quiet_end: Mapped[int | None] = mapped_column(Integer, default=DEFAULT_QUIET_END)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    area: Mapped[Area | None] = relationship(lazy="joined")
    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="resident", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def onboarded(self) -> bool:
        return self.consent_at is not None


class Membership(Base):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("resident_id", "association_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"))
    association_id: Mapped[int] = mapped_column(ForeignKey("association.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16), default="member")  # member | han_leader | leader
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)

    resident: Mapped[Resident] = relationship(back_populates="memberships")
    association: Mapped[Association] = relationship(lazy="joined")


class InboundEvent(Base):
    """The inbox: every webhook event, once. The unique id makes redeliveries no-ops on any host.

    `payload` (the event as the bot's own small dataclass) is cleared when the event is handled,
    so message text does not linger.
    """

    __tablename__ = "inbound_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_event_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|done|failed
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_inbound_event_status_received", "status", "received_at"),)


class ConversationState(Base):
    """The one active conversation of a resident. `version` guards against two events at once."""

    __tablename__ = "conversation_state"
    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("resident.id", ondelete="CASCADE"), unique=True
    )
    flow: Mapped[str] = mapped_column(String(40))
    step: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    expires_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __mapper_args__ = {"version_id_col": version}


def new_retry_key() -> str:
    return str(uuid.uuid4())


class OutboxMessage(Base):
    """A message to send. Written in the same transaction as the change that caused it."""

    __tablename__ = "outbox_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), default="line")  # line | web
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("resident.id", ondelete="SET NULL"), index=True
    )
    recipients: Mapped[list[str]] = mapped_column(JSON)
    payload: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # rendered for the channel
    reply_token: Mapped[str | None] = mapped_column(String(255))
    retry_key: Mapped[str] = mapped_column(String(36), default=new_retry_key, unique=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    # pending | sending | sent | dead | cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    accepted_request_id: Mapped[str | None] = mapped_column(String(64))
    erase_after_send: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_outbox_message_status_next", "status", "next_attempt_at"),)


class WebChatMessage(Base):
    """The transcript of the local web chat (demo residents only)."""

    __tablename__ = "webchat_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("resident.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(4))  # in | out
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
