"""Named vocabularies: the values a status, kind or role can take.

Each is a `StrEnum`: a member equals its string value and is stored as it, so the columns stay
plain strings (no database enum, no migration) and a value read back from the database compares
equal to the member. Write `HelpRequest.status == RequestStatus.OPEN`, never `== "open"`
(tests/test_vocab.py fails on a bare string compared with a status, role, kind, channel, question
or audience). Where SQL has no column to take the type from (a `case()` result, a `literal()`),
write `.value`: SQLAlchemy types a bare member as NULL, not as a string.
"""
from __future__ import annotations

from enum import StrEnum, unique

# -- residents and delivery ------------------------------------------------------------------


@unique
class Channel(StrEnum):
    """Where a resident talks to the bot (Resident.channel, OutboxMessage.channel)."""

    LINE = "line"
    WEB = "web"  # the local web chat (demo residents)


@unique
class Role(StrEnum):
    """A resident's role in a neighbourhood association (Membership.role)."""

    MEMBER = "member"
    HAN_LEADER = "han_leader"  # 班長
    LEADER = "leader"  # 会長


@unique
class ReadPer(StrEnum):
    """Whether a circular counts as read per household or per member (Association.read_per)."""

    HOUSEHOLD = "household"
    MEMBER = "member"


@unique
class InboundKind(StrEnum):
    """What a webhook event is (Inbound.kind, InboundEvent.event_type); others are "other:<type>"."""

    MESSAGE = "message"
    POSTBACK = "postback"
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    JOIN = "join"
    LEAVE = "leave"
    MEMBER_JOINED = "member_joined"
    MEMBER_LEFT = "member_left"


@unique
class InboxStatus(StrEnum):
    """Where a webhook event is in the inbox (InboundEvent.status)."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@unique
class OutboxStatus(StrEnum):
    """Where a message is in the outbox (OutboxMessage.status)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    CANCELLED = "cancelled"


@unique
class OutboxKind(StrEnum):
    """What an outbox row sends (OutboxMessage.kind)."""

    PUSH = "push"  # to the residents in `recipients` (push, multicast or reply)
    BROADCAST = "broadcast"  # to every friend of the account
    RICHMENU = "richmenu"  # links a resident to the rich menu of their language


@unique
class MenuKind(StrEnum):
    """Which rich menu (RichMenu.kind): the everyday one, or disaster mode's (a drill's is marked)."""

    NORMAL = "normal"
    DISASTER = "disaster"
    DRILL = "drill"


@unique
class MenuState(StrEnum):
    """Where a safety check's switch of the residents' rich menu is (SafetyCheck.menu_state)."""

    SWITCHING = "switching"  # the links to the disaster menus are queued
    SWITCHED = "switched"  # all sent (or given up)
    RESTORING = "restoring"  # the check ended: the links back are queued
    RESTORED = "restored"


@unique
class JmaReportKind(StrEnum):
    """What a JMA document reports (bot.core.jma.Report.kind, and the "kind" of a check's event JSON)."""

    QUAKE = "quake"
    WARNING = "warning"
    OTHER = "other"


@unique
class SendMethod(StrEnum):
    """How LINE was asked to deliver (AnnouncementRun.method, the sender's rate limits)."""

    BROADCAST = "broadcast"
    MULTICAST = "multicast"
    PUSH = "push"


@unique
class ChatDirection(StrEnum):
    """Which way a line of the web chat's transcript went (WebChatMessage.direction)."""

    IN = "in"
    OUT = "out"


# -- mutual aid ------------------------------------------------------------------------------


@unique
class RequestStatus(StrEnum):
    """Where a request for help is (HelpRequest.status)."""

    OPEN = "open"
    MATCHED = "matched"
    DONE = "done"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    HIDDEN = "hidden"  # after reports


@unique
class OfferStatus(StrEnum):
    """Where a neighbour's offer of help is (HelpOffer.status)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CLOSED = "closed"


@unique
class ReportTarget(StrEnum):
    """What a resident reported (Report.target_kind)."""

    REQUEST = "request"
    RELAY = "relay"


@unique
class HelperDays(StrEnum):
    """The days a registered helper is willing to help on (HelperProfile.days)."""

    ANY = "any"
    WEEKDAYS = "weekdays"
    WEEKENDS = "weekends"


@unique
class HelperTimes(StrEnum):
    """The time of day a registered helper is willing to help at (HelperProfile.times)."""

    ANY = "any"
    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"


@unique
class LedgerKind(StrEnum):
    """Whose time-bank account it is (LedgerAccount.kind)."""

    RESIDENT = "resident"
    COMMUNITY = "community"


@unique
class RecordedBy(StrEnum):
    """Who recorded the hours of a time-bank transfer (LedgerTransfer.recorded_by)."""

    REQUESTER = "requester"
    STAFF = "staff"


# -- events ----------------------------------------------------------------------------------


@unique
class EventStatus(StrEnum):
    """Whether an event still takes place (Event.status)."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


@unique
class Audience(StrEnum):
    """Who may see and join an event (Event.audience)."""

    ALL = "all"
    AREAS = "areas"  # residents of Event.audience_areas
    ASSOCIATION = "association"  # members of Event.association_id


@unique
class SignupStatus(StrEnum):
    """Where a resident's signup for an event is (Signup.status)."""

    GOING = "going"
    WAITLIST = "waitlist"
    CANCELLED = "cancelled"


# -- circulars, announcements and reminders -------------------------------------------------


@unique
class CircularQuestion(StrEnum):
    """What a circular asks its readers (Circular.question)."""

    NONE = "none"
    ATTENDANCE = "attendance"
    CHOICES = "choices"  # the leader's own, in Circular.choices


@unique
class SafetyStatus(StrEnum):
    """A resident's answer to a safety check (安否確認); no row answer yet: None."""

    SAFE = "safe"
    HELP = "help"
    EVACUATED = "evacuated"


@unique
class SupportKind(StrEnum):
    """What a resident who may need help in a disaster registered (SupportNeed.needs)."""

    ALONE = "alone"  # lives alone
    MOBILITY = "mobility"  # cannot walk far or use stairs
    MEDICAL = "medical"  # needs medical equipment or daily medicine
    HEARING = "hearing"  # cannot hear announcements (sirens, loudspeakers)
    LANGUAGE = "language"  # needs information in another language


@unique
class AnnouncementStatus(StrEnum):
    """Whether an announcement will still fire (Announcement.status)."""

    SCHEDULED = "scheduled"
    DONE = "done"
    CANCELLED = "cancelled"


@unique
class RunStatus(StrEnum):
    """Where one firing of an announcement is (AnnouncementRun.status)."""

    QUEUEING = "queueing"  # being queued in parts (AnnouncementRun.cursor)
    QUEUED = "queued"
    MISSED = "missed"  # the clock was not running


@unique
class RuleKind(StrEnum):
    """How a reminder or an announcement repeats (bot.recurrence.Rule.kind, in the rule's JSON)."""

    ONCE = "once"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    NTH_WEEKDAY = "nth_weekday"  # e.g. the second Tuesday


# -- the console -----------------------------------------------------------------------------


@unique
class StaffRole(StrEnum):
    """What someone signed in to the console may do (StaffAccount.role, the console's roles)."""

    STAFF = "staff"  # center staff
    LEADER = "leader"  # an association's 会長
    HAN_LEADER = "han_leader"  # a 班長


@unique
class PrincipalKind(StrEnum):
    """How someone signed in to the console: a password account, or a leader from LINE."""

    STAFF = "staff"  # a StaffAccount
    RESIDENT = "resident"  # a resident, with the one-time link the bot sent
