"""The bot's tables. Schema changes go through Alembic (`migrations/`)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.core import names as name_chain
from bot.core.db import Base, utcnow
from bot.core.vocab import (
    AnnouncementStatus, Audience, Channel, CircularQuestion, EventStatus, HelperDays, HelperTimes, InboxStatus,
    LedgerKind, OfferStatus, OutboxKind, OutboxStatus, ReadPer, RecordedBy, RequestStatus, Role, SignupStatus,
)

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
    # Where the area is (its centre, WGS84), when the city gave it: the open shelters nearest it
    # come first (bot.services.shelters).
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)

    def name(self, locale: str, fallback: str = "en") -> str:
        """In the resident's language, else the city's second language, else in Latin letters
        (bot.core.names)."""
        return name_chain.display(self.names, locale, fallback, self.code)


class Association(Base):
    """A neighbourhood association (町内会・自治会)."""

    __tablename__ = "association"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))  # as the association writes it (Japanese)
    # Its name in other languages, where the city gave one: {"en": "Asahi Neighbourhood Association"}
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}", nullable=False)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id", ondelete="SET NULL"))
    join_code: Mapped[str] = mapped_column(String(32), unique=True)
    # A circular counts as read per household (any member confirms) or per member.
    read_per: Mapped[str] = mapped_column(String(12), default=ReadPer.HOUSEHOLD, server_default="household")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def shown(self, locale: str, fallback: str = "en") -> str:
        """Its name as a resident of `locale` reads it (bot.core.names)."""
        return name_chain.display({**(self.names or {}), "ja": self.name}, locale, fallback, self.name)


def shown_label(label: str, names: dict[str, str] | None, locale: str, fallback: str = "en") -> str:
    """A household's label as a reader of `locale` reads it (bot.core.names' chain)."""
    return name_chain.display({**(names or {}), "ja": label}, locale, fallback, label)


class Household(Base):
    """A household of an association, optionally in a 班 (block). Paper households have no one
    in LINE: the leader marks their sign-off by hand, so both count in one tally."""

    __tablename__ = "household"
    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("association.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(60))
    han: Mapped[str | None] = mapped_column(String(30))
    paper: Mapped[bool] = mapped_column(Boolean, default=False)
    # The label in other languages ({"en": "No. 4 Suzuki (paper)"}); without one a reader of
    # another language gets it in Latin letters (bot.core.names).
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}", nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def shown(self, locale: str, fallback: str = "en") -> str:
        return shown_label(self.label, self.names, locale, fallback)


class Resident(Base):
    __tablename__ = "resident"
    id: Mapped[int] = mapped_column(primary_key=True)
    # The LINE user ID (or a web-chat demo id). Never shown to another resident, never logged.
    line_user_id: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(8), default=Channel.LINE)  # line | web
    nickname: Mapped[str | None] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(16), default="ja")
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id", ondelete="SET NULL"))
    following: Mapped[bool] = mapped_column(Boolean, default=True)
    followed_at: Mapped[datetime | None]
    unfollowed_at: Mapped[datetime | None]
    consent_at: Mapped[datetime | None]
    quiet_start: Mapped[int | None] = mapped_column(Integer, default=DEFAULT_QUIET_START)
    quiet_end: Mapped[int | None] = mapped_column(Integer, default=DEFAULT_QUIET_END)
    # Announcements: gathered into one message a day instead of one each (urgent ones never are).
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    # Topics of announcements the resident wants (codes of bot.services.announcements.TOPICS).
    interests: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Abuse limit: events in the current minute (shared by every web process: it is a row).
    rate_window: Mapped[int | None] = mapped_column(Integer)
    rate_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
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
    role: Mapped[str] = mapped_column(String(16), default=Role.MEMBER)  # member | han_leader | leader
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id", ondelete="SET NULL"))
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
    status: Mapped[str] = mapped_column(String(12), default=InboxStatus.PENDING)  # pending|done|failed
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
    channel: Mapped[str] = mapped_column(String(8), default=Channel.LINE)  # line | web
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("resident.id", ondelete="SET NULL"), index=True
    )
    recipients: Mapped[list[str]] = mapped_column(JSON)
    payload: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # rendered for the channel
    reply_token: Mapped[str | None] = mapped_column(String(255))
    retry_key: Mapped[str] = mapped_column(String(36), default=new_retry_key, unique=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=OutboxStatus.PENDING)
    # pending | sending | sent | dead | cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    accepted_request_id: Mapped[str | None] = mapped_column(String(64))
    erase_after_send: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # What sent it, for delivery counts (e.g. "ann:12:1765000000" = one run of an announcement).
    source: Mapped[str | None] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(10), default=OutboxKind.PUSH)  # push | broadcast | richmenu
    # The worker sends rank 0 first: urgent notices, and messages to one resident about what
    # they are doing; then rank 1: announcements, reminders and circulars to many.
    rank: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Another resident whose words or name the message carries (a relayed message, an offer, a
    # thanks, a match, a request shown to a helper): when they delete their data, the message
    # is cancelled if not yet sent and its text blanked (residents.delete_resident).
    subject_resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("resident.id", ondelete="SET NULL"), index=True
    )

    __table_args__ = (Index("ix_outbox_message_status_rank_next", "status", "rank", "next_attempt_at"),)


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


# -- mutual aid (issue 3) --------------------------------------------------------------------

class HelpRequest(Base):
    """A resident asking neighbours for a hand. Never holds an address: only the area."""

    __tablename__ = "help_request"
    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(400))
    when_at: Mapped[datetime | None]  # None: any time
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id", ondelete="SET NULL"))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default=RequestStatus.OPEN)
    # open | matched | done | closed | cancelled | hidden
    matched_offer_id: Mapped[int | None] = mapped_column(Integer)
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closes_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    followup_sent_at: Mapped[datetime | None]
    # Raised when what a neighbour reads changes (the words, the time): buttons drawn before no
    # longer act on it (bot.core.refs).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    requester: Mapped[Resident] = relationship(lazy="joined")
    area: Mapped[Area | None] = relationship(lazy="joined")

    __table_args__ = (Index("ix_help_request_status_closes", "status", "closes_at"),)


class HelpOffer(Base):
    __tablename__ = "help_offer"
    __table_args__ = (UniqueConstraint("request_id", "helper_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("help_request.id", ondelete="CASCADE"), index=True)
    helper_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    message: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default=OfferStatus.PENDING)  # pending|accepted|declined|closed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    helper: Mapped[Resident] = relationship(lazy="joined")
    request: Mapped[HelpRequest] = relationship(lazy="joined")


class RelayMessage(Base):
    """A message forwarded by the bot between the two sides of a match (kept for reports)."""

    __tablename__ = "relay_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("help_request.id", ondelete="CASCADE"), index=True)
    sender_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(1000))
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Report(Base):
    __tablename__ = "report"
    __table_args__ = (UniqueConstraint("reporter_id", "target_kind", "target_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"))
    target_kind: Mapped[str] = mapped_column(String(12))  # request | relay
    target_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Block(Base):
    __tablename__ = "block"
    __table_args__ = (UniqueConstraint("blocker_id", "blocked_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    blocker_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    blocked_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HelperProfile(Base):
    """The helper registry (経験マスター): what a resident is willing to help with."""

    __tablename__ = "helper_profile"
    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), unique=True)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    skills: Mapped[str | None] = mapped_column(String(200))
    nearby: Mapped[bool] = mapped_column(Boolean, default=True)  # also neighbouring areas
    days: Mapped[str] = mapped_column(String(12), default=HelperDays.ANY)  # any | weekdays | weekends
    times: Mapped[str] = mapped_column(String(12), default=HelperTimes.ANY)  # any | morning | afternoon | evening
    notices: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class HelperNotice(Base):
    """One notice of a new request sent to a registered helper (for the daily cap)."""

    __tablename__ = "helper_notice"
    __table_args__ = (UniqueConstraint("helper_id", "request_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    helper_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("help_request.id", ondelete="CASCADE"))
    local_day: Mapped[str] = mapped_column(String(10))  # the helper's calendar day, YYYY-MM-DD
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerAccount(Base):
    """Time-bank accounts: one per resident, and the community's own (kind "community")."""

    __tablename__ = "ledger_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), default=LedgerKind.RESIDENT)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), unique=True)


class LedgerTransfer(Base):
    __tablename__ = "ledger_transfer"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("help_request.id", ondelete="SET NULL"), unique=True)
    minutes: Mapped[int] = mapped_column(Integer)
    recorded_by: Mapped[str] = mapped_column(String(12), default=RecordedBy.REQUESTER)  # requester | staff
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerEntry(Base):
    """One movement of a transfer. The entries of a transfer, and of the whole ledger, sum to 0."""

    __tablename__ = "ledger_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("ledger_transfer.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_account.id", ondelete="CASCADE"), index=True)
    minutes: Mapped[int] = mapped_column(Integer)


# -- community events (issue 4) --------------------------------------------------------------

class Event(Base):
    __tablename__ = "event"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    # The organiser's translations: {"en": {"title": …, "place": …, "description": …}}
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict, server_default="{}")
    description: Mapped[str] = mapped_column(String(1000), default="")
    place: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    capacity: Mapped[int | None] = mapped_column(Integer)  # seats, party sizes counted; None: no limit
    signup_deadline: Mapped[datetime | None]
    audience: Mapped[str] = mapped_column(String(12), default=Audience.ALL)  # all | areas | association
    audience_areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    association_id: Mapped[int | None] = mapped_column(ForeignKey("association.id", ondelete="SET NULL"))
    organizer: Mapped[str] = mapped_column(String(100), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"))
    ask_party_size: Mapped[bool] = mapped_column(Boolean, default=False)
    note_question: Mapped[str | None] = mapped_column(String(100))  # e.g. "アレルギーはありますか？"
    remind_hour_before: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default=EventStatus.SCHEDULED)  # scheduled | cancelled
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Raised when the title, time or place changes (bot.core.refs): older buttons show it anew.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __table_args__ = (Index("ix_event_status_starts", "status", "starts_at"),)


class Signup(Base):
    __tablename__ = "signup"
    __table_args__ = (UniqueConstraint("event_id", "resident_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    note: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default=SignupStatus.GOING)  # going | waitlist | cancelled
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    resident: Mapped[Resident] = relationship(lazy="joined")
    event: Mapped[Event] = relationship(lazy="joined")



# -- electronic circulars (issue 5) ----------------------------------------------------------

class Media(Base):
    """A photo someone attached (to a circular): re-encoded as JPEG without its metadata, with a
    small preview. Served at /m/<token>.jpg (an unguessable name, as LINE needs public URLs)."""

    __tablename__ = "media"
    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(43), unique=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    preview: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Circular(Base):
    """An electronic 回覧板 of an association (or of one 班)."""

    __tablename__ = "circular"
    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("association.id", ondelete="CASCADE"), index=True)
    han: Mapped[str | None] = mapped_column(String(30))  # None: the whole association
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    link_url: Mapped[str | None] = mapped_column(String(500))
    image_id: Mapped[int | None] = mapped_column(ForeignKey("media.id", ondelete="SET NULL"))
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)  # {"en": {"title", "body"}}
    question: Mapped[str] = mapped_column(String(12), default=CircularQuestion.NONE)  # none | attendance | choices
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    public_answers: Mapped[bool] = mapped_column(Boolean, default=False)
    deadline: Mapped[datetime | None]
    remind_days_before: Mapped[int] = mapped_column(Integer, default=1)
    last_reminded_on: Mapped[str | None] = mapped_column(String(10))  # local date of the last reminder
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class CircularRecipient(Base):
    """One member in LINE (resident_id) or one paper household (resident_id NULL) a circular
    went to; `token` opens its web page (/c/<token>)."""

    __tablename__ = "circular_recipient"
    __table_args__ = (
        UniqueConstraint("circular_id", "resident_id"),
        Index("ix_circular_recipient_circular_household", "circular_id", "household_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    circular_id: Mapped[int] = mapped_column(ForeignKey("circular.id", ondelete="CASCADE"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id", ondelete="SET NULL"))
    token: Mapped[str] = mapped_column(String(43), unique=True)
    read_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(String(100))
    answered_at: Mapped[datetime | None]
    marked_by_leader: Mapped[bool] = mapped_column(Boolean, default=False)


class Announcement(Base):
    """A notice from the center: now, at a time, or repeating; to everyone or a segment."""

    __tablename__ = "announcement"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)  # Japanese, the default
    translations: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # {"en": "…"}
    link_url: Mapped[str | None] = mapped_column(String(500))
    image_id: Mapped[int | None] = mapped_column(ForeignKey("media.id", ondelete="SET NULL"))
    # {"all": true} or any of {"areas": [codes], "associations": [join codes], "languages": [..], "topics": [..]}
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    rule: Mapped[str | None] = mapped_column(Text)  # bot.core.recurrence.Rule JSON when it repeats
    status: Mapped[str] = mapped_column(String(12), default=AnnouncementStatus.SCHEDULED)  # scheduled | done | cancelled
    next_fire_at: Mapped[datetime | None] = mapped_column(index=True)
    created_by: Mapped[str | None] = mapped_column(String(60))  # the staff member (console) or "cli"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnnouncementRun(Base):
    """One firing of an announcement. Unique per (announcement, fire time): a job that runs twice
    finds the row and sends nothing more."""

    __tablename__ = "announcement_run"
    __table_args__ = (UniqueConstraint("announcement_id", "fire_time"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcement.id", ondelete="CASCADE"), index=True)
    fire_time: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10))  # queueing | queued | missed
    method: Mapped[str | None] = mapped_column(String(10))  # broadcast | multicast | push
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    digested: Mapped[int] = mapped_column(Integer, default=0)  # residents who get it in their digest
    calls: Mapped[int] = mapped_column(Integer, default=0)  # LINE API calls queued
    # While status is "queueing": the last resident id queued, and the groups not yet full.
    cursor: Mapped[int | None] = mapped_column(Integer)
    carry: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DigestItem(Base):
    """A non-urgent notice waiting for a resident's daily digest."""

    __tablename__ = "digest_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)  # already in the resident's language
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reminder(Base):
    """A resident's own reminder: once or repeating (bot.core.recurrence)."""

    __tablename__ = "reminder"
    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    rule: Mapped[str] = mapped_column(Text)
    next_fire_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GarbageCalendar(Base):
    """The city's garbage collection calendar (5374 format), imported as a whole."""

    __tablename__ = "garbage_calendar"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(500))
    data: Mapped[str] = mapped_column(Text)  # bot.core.garbage5374.Calendar JSON
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class GarbageSubscription(Base):
    """A resident's collection area and the categories they want to hear about."""

    __tablename__ = "garbage_subscription"
    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), unique=True)
    area: Mapped[str] = mapped_column(Text)  # the calendar's own name: real cities' can be long
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_day: Mapped[str | None] = mapped_column(String(10))  # the collection day last announced
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the resident was told that their area (or every kind they chose) left the city's
    # calendar and they should choose again: told once, in the evening.
    gone_notified_at: Mapped[datetime | None]


class RichMenu(Base):
    """The rich menu deployed on LINE for each language (`flask --app bot richmenu deploy`)."""

    __tablename__ = "rich_menu"
    # "normal"; "disaster" (while a safety check runs); "drill" (the same, marked as a drill)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True, default="normal")
    locale: Mapped[str] = mapped_column(String(16), primary_key=True)
    rich_menu_id: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffAccount(Base):
    """Someone who signs in to the console with a password: center staff, or an association's
    leader (会長) or 班長 who prefers a password to the one-time link from LINE."""

    __tablename__ = "staff_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(12))  # staff | leader | han_leader
    association_id: Mapped[int | None] = mapped_column(ForeignKey("association.id", ondelete="CASCADE"))
    han: Mapped[str | None] = mapped_column(String(30))
    locale: Mapped[str] = mapped_column(String(8), default="ja")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Kept in each session at sign-in and checked on every request; raised when the password
    # changes or the account is disabled, which ends the sessions signed in before.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ConsoleLink(Base):
    """A one-time sign-in link the bot sent a leader in LINE (only its hash is kept)."""

    __tablename__ = "console_link"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A console session, kept on the server: the cookie carries only an unguessable token (its
    hash is kept here), checked on every request. Signing out, a new password, disabling the
    account or a leader's role taken away ends it, so a copied cookie is of no use after."""

    __tablename__ = "console_session"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # a password account's session, or a leader's signed in with the one-time link from LINE
    staff_account_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id", ondelete="CASCADE"),
                                                         index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class LoginFailure(Base):
    """A failed console sign-in, by a hash of the address it came from (throttling)."""

    __tablename__ = "login_failure"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who did what in the console, and when."""

    __tablename__ = "audit_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))  # "staff:tanaka" / "leader:12"
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str | None] = mapped_column(String(120))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MachineTranslation(Base):
    """A machine translation kept so that the same text is sent to the provider once per
    language (bot.core.translate). Keyed by a digest of (provider, languages, text); the source
    text itself is not kept, only its digest (`source_hash`), by which leaving deletes the rows
    of a resident's own words. Housekeeping deletes rows after bot.core.translate.CACHE_DAYS."""

    __tablename__ = "mt_cache"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    source_hash: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class SafetyCheck(Base):
    """A safety check (安否確認): every resident in scope asked 「無事ですか」 at once, through quiet
    hours. A drill (訓練) runs the same way, marked, its answers kept apart (bot.services.safety)."""

    __tablename__ = "safety_check"
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"all": true} | {"areas": [...]} | {"association": id}
    drill: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(200))  # the center's line, e.g. 「震度5弱の地震がありました」
    started_by: Mapped[str] = mapped_column(String(64))
    reask_minutes: Mapped[int] = mapped_column(Integer, default=30)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reasked_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    # The residents' rich menu (disaster mode, bot.services.disaster_menu): None (not switched),
    # "switching" → "switched" while it runs, "restoring" → "restored" after it ended.
    menu_state: Mapped[str | None] = mapped_column(String(16))
    # What happened, when the check came from the JMA's feeds ({"kind": "quake", "max_int": "5-",
    # "places": [...]}): shown to each resident in their language (bot.services.jma.describe).
    event: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SafetyAnswer(Base):
    """One resident asked by a check (or a paper household marked by a leader): the answer, or
    None while they have not answered."""

    __tablename__ = "safety_answer"
    __table_args__ = (UniqueConstraint("check_id", "resident_id"), Index("ix_safety_answer_check_status", "check_id", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("safety_check.id", ondelete="CASCADE"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"))
    association_id: Mapped[int | None] = mapped_column(ForeignKey("association.id", ondelete="SET NULL"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id", ondelete="SET NULL"))
    status: Mapped[str | None] = mapped_column(String(12))  # SafetyStatus
    note: Mapped[str | None] = mapped_column(String(200))  # what they need, in their words
    household_too: Mapped[bool] = mapped_column(Boolean, default=False)  # the answer covers the household
    marked_by: Mapped[str | None] = mapped_column(String(64))  # a leader who marked it (phone, visit)
    # The registered helper who said 「向かいます」 to a 「助けが必要」 (the first one).
    responder_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"))
    # 「避難しています」: the shelter they said they are at (None: not said, or not listed).
    shelter_id: Mapped[int | None] = mapped_column(ForeignKey("shelter.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column()


class Shelter(Base):
    """A designated emergency evacuation site (指定緊急避難場所), imported from the national open
    data of the Geospatial Information Authority (bot.services.shelters); staff mark which are
    open. Re-importing updates a site by its common id (共通ID) and keeps whether it is open."""

    __tablename__ = "shelter"
    id: Mapped[int] = mapped_column(primary_key=True)
    common_id: Mapped[str] = mapped_column(String(40), unique=True)  # 共通ID, e.g. E1310100002201
    name: Mapped[str] = mapped_column(String(200))  # 施設・場所名, in Japanese
    address: Mapped[str] = mapped_column(String(200), default="")
    # The hazards it is designated for: a bit per bot.services.shelters.HAZARDS (the CSV's order).
    hazards: Mapped[int] = mapped_column(Integer, default=0)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    # Its name in other languages ({"en": "Bancho Elementary School"}); without one a reader of
    # another language gets it in Latin letters (bot.core.names).
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}", nullable=False)
    position: Mapped[int] = mapped_column(Integer, default=0)  # its place in the city's list
    is_open: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def shown(self, locale: str, fallback: str = "en") -> str:
        names = {**(self.names or {}), "ja": self.name}
        if "en" not in names and locale not in names:  # its kind of place in English, as its sign says it
            english = name_chain.facility_english(self.name)
            if english:
                names["en"] = english
        return name_chain.display(names, locale, fallback, self.name)


class SupportNeed(Base):
    """A resident who may need help in a disaster (避難行動要支援者), registered by themselves with
    their consent: what applies, a note, and who may see it. Listed first in a safety check."""

    __tablename__ = "support_need"
    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), unique=True)
    needs: Mapped[list[str]] = mapped_column(JSON, default=list)  # SupportKind values
    note: Mapped[str | None] = mapped_column(String(200))
    leaders_may_see: Mapped[bool] = mapped_column(Boolean, default=True)  # False: the center's staff only
    consent_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PreparedCheck(Base):
    """A safety check prepared by the clock from the JMA's feeds (bot.services.jma): staff
    start it with one tap (or it starts by itself when JMA_AUTO_START=1). One per event."""

    __tablename__ = "prepared_check"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_key: Mapped[str] = mapped_column(String(160), unique=True)  # "eq:<EventID>", "warn:<code>:<area>:<time>"
    event: Mapped[dict[str, Any]] = mapped_column(JSON)
    scope: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    check_id: Mapped[int | None] = mapped_column(ForeignKey("safety_check.id", ondelete="SET NULL"))
    dismissed_at: Mapped[datetime | None] = mapped_column()
    dismissed_by: Mapped[str | None] = mapped_column(String(64))


class JmaFeed(Base):
    """What the clock last got from one of the JMA's Atom feeds (conditional GET)."""

    __tablename__ = "jma_feed"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(300), unique=True)
    etag: Mapped[str | None] = mapped_column(String(200))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    checked_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(String(200))


class JmaEntry(Base):
    """A feed entry already read (its Atom id), so each is fetched once; forgotten after 14 days."""

    __tablename__ = "jma_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(300), unique=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# Ids are never reused: a button, a link, a token, an outbox row, a CSV or the console that
# names an id must never reach a newer record made after a delete. PostgreSQL's sequences never
# go back; SQLite reuses the highest rowid unless the table is AUTOINCREMENT. Every table here
# is (tests/test_record_identity.py checks the models and a migrated database).
for _table in Base.metadata.tables.values():
    _table.dialect_kwargs["sqlite_autoincrement"] = True

