"""Feature services: the rules of one feature each, called by every front end (LINE handlers,
conversation steps, console views, CLI commands, clock jobs).

A service takes a session, the inputs and the time, applies the rules, and returns an
`Outcome`: what changed, the notices for residents and the audit entries. It never sends, never
commits and knows nothing of Flask; the edge that called it hands the outcome to `apply` in its
own transaction, which is the one place notices become outbox rows and audit entries rows.

Two kinds of notice: a `Notice` for one resident (a reply to their request, a reminder of their
event), and a `Bulk` for many at once (a circular, an announcement, the evening's garbage
reminders), which `apply` renders once per message and queues as multicasts of up to 500.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Hashable, Mapping, Sequence

from sqlalchemy.orm import Session

from bot.core.models import AuditEntry, Resident
from bot.core.replies import Reply
from bot.core.vocab import OutboxKind
from bot.delivery import outbox, renderers


@dataclass(frozen=True)
class Notice:
    """Messages for one resident, already in their language. `about`: another resident whose
    words or name they carry (scrubbed from them if that resident deletes their data)."""

    resident: Resident
    replies: tuple[Reply, ...]
    about: Resident | None = None
    not_before: datetime | None = None  # held until then (the resident's quiet hours)
    dedupe_key: str | None = None  # queued once whatever runs twice (a clock job)


@dataclass(frozen=True)
class Bulk:
    """The same messages for many recipients of one channel (LINE user ids or web chat ids,
    already in one language). `apply` renders them once and queues one row per 500 LINE users
    (one per web chat user). `kind=OutboxKind.BROADCAST` with no recipients: every friend of the
    account. `dedupe_key`: a prefix, each row gets `<prefix>:<n>` (queued once whatever runs
    twice). `rank`: 0 goes before 1; by default a message to one recipient goes first."""

    channel: str
    recipients: tuple[str, ...]
    replies: tuple[Reply, ...]
    source: str | None = None
    at: datetime | None = None  # not sent before (quiet hours, the fire time); default now
    dedupe_key: str | None = None
    rank: int | None = None
    kind: str = OutboxKind.PUSH
    resident_id: int | None = None  # the one resident it is for (a digest), if any
    payload: tuple[dict[str, Any], ...] | None = None  # instead of replies: the row's body (a rich-menu link)


@dataclass(frozen=True)
class Audit:
    action: str
    target: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    notices: list[Notice] = field(default_factory=list)
    bulks: list[Bulk] = field(default_factory=list)
    audit: list[Audit] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # what the caller may report (counts, fields)
    queued: int = 0  # set by `apply`: notices that became outbox rows (not those already queued)
    recipients: int = 0  # set by `apply`: the recipients of its bulk messages

    def tell(self, resident: Resident, *replies: Reply, about: Resident | None = None,
             not_before: datetime | None = None, dedupe_key: str | None = None) -> None:
        self.notices.append(Notice(resident, tuple(replies), about, not_before, dedupe_key))

    def tell_many(self, groups: Mapping[tuple[str, str, Hashable], Sequence[str]],
                  replies_for: Callable[[str, Any], Sequence[Reply]], *, source: str,
                  at: datetime | None = None) -> int:
        """The same message for each group: `groups` maps (channel, locale, key) to recipient ids,
        `replies_for(locale, key)` makes the group's message (once). Returns the recipients."""
        n = 0
        for (channel, locale, key), ids in groups.items():
            if ids:
                self.bulks.append(Bulk(channel, tuple(ids), tuple(replies_for(locale, key)), source=source, at=at))
                n += len(ids)
        return n

    def merge(self, other: Outcome) -> Outcome:
        self.notices += other.notices
        self.bulks += other.bulks
        self.audit += other.audit
        return self


def apply(session: Session, outcome: Outcome, actor: str) -> Outcome:
    """Queue the outcome's notices in the outbox and record its audit entries, in the caller's
    transaction (`actor`: "staff:tanaka", "leader:12", "cli", "resident:5")."""
    for notice in outcome.notices:
        rows = outbox.to_resident(session, notice.resident, list(notice.replies), about=notice.about,
                                  not_before=notice.not_before, dedupe_key=notice.dedupe_key)
        outcome.queued += bool(rows)
    outcome.recipients += queue_bulks(session, outcome.bulks)
    for entry in outcome.audit:
        session.add(AuditEntry(actor=actor, action=entry.action, target=entry.target, detail=entry.detail))
    return outcome


INSERT_ROWS = 200  # rows per INSERT: a city's reminders stay small in memory


def queue_bulks(session: Session, bulks: Sequence[Bulk]) -> int:
    """Render each distinct message once and insert the rows in batches. Returns the recipients."""
    rendered: dict[tuple[str, int], list] = {}
    rows: list[dict[str, Any]] = []
    told = 0
    for b in bulks:
        key = (b.channel, id(b.replies))  # the bulks keep their replies alive: ids stay unique
        parts = [list(b.payload)] if b.payload is not None else rendered.get(key)
        if parts is None:
            parts = rendered[key] = renderers.render(b.channel, b.replies)
        step = renderers.RECIPIENTS_PER_ROW[b.channel]
        batches = [list(b.recipients[i:i + step]) for i in range(0, len(b.recipients), step)] or [[]]
        n = 0
        for ids in batches:
            rank = b.rank if b.rank is not None else (0 if len(ids) == 1 else 1)
            for part in parts:
                rows.append({"channel": b.channel, "recipients": ids, "payload": part, "source": b.source,
                             "next_attempt_at": b.at, "kind": b.kind, "rank": rank, "resident_id": b.resident_id,
                             "dedupe_key": f"{b.dedupe_key}:{n}" if b.dedupe_key else None})
                n += 1
        told += len(b.recipients)
        if len(rows) >= INSERT_ROWS:
            outbox.bulk(session, rows)
            rows = []
    outbox.bulk(session, rows)
    return told
