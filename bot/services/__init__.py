"""Feature services: the rules of one feature each, called by every front end (LINE handlers,
conversation steps, console views, CLI commands, clock jobs).

A service takes a session, the inputs and the time, applies the rules, and returns an
`Outcome`: what changed, the notices for residents and the audit entries. It never sends, never
commits and knows nothing of Flask; the edge that called it hands the outcome to `apply` in its
own transaction, which is the one place notices become outbox rows and audit entries rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.core.models import AuditEntry, Resident
from bot.core.replies import Reply
from bot.delivery import outbox


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
class Audit:
    action: str
    target: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    notices: list[Notice] = field(default_factory=list)
    audit: list[Audit] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # what the caller may report (counts, fields)
    queued: int = 0  # set by `apply`: notices that became outbox rows (not those already queued)

    def tell(self, resident: Resident, *replies: Reply, about: Resident | None = None,
             not_before: datetime | None = None, dedupe_key: str | None = None) -> None:
        self.notices.append(Notice(resident, tuple(replies), about, not_before, dedupe_key))


def apply(session: Session, outcome: Outcome, actor: str) -> Outcome:
    """Queue the outcome's notices in the outbox and record its audit entries, in the caller's
    transaction (`actor`: "staff:tanaka", "leader:12", "cli", "resident:5")."""
    for notice in outcome.notices:
        rows = outbox.to_resident(session, notice.resident, list(notice.replies), about=notice.about,
                                  not_before=notice.not_before, dedupe_key=notice.dedupe_key)
        outcome.queued += bool(rows)
    for entry in outcome.audit:
        session.add(AuditEntry(actor=actor, action=entry.action, target=entry.target, detail=entry.detail))
    return outcome
