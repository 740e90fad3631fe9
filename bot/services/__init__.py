"""Feature services: the rules of one feature each, called by every front end (LINE handlers,
conversation steps, console views, CLI commands, clock jobs).

A service takes a session, the inputs and the time, applies the rules, and returns an
`Outcome`: what changed, the notices for residents and the audit entries. It never sends, never
commits and knows nothing of Flask; the edge that called it hands the outcome to `apply` in its
own transaction, which is the one place notices become outbox rows and audit entries rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from bot.models import AuditEntry, Resident
from bot.replies import Reply


@dataclass(frozen=True)
class Notice:
    """Messages for one resident, already in their language."""

    resident: Resident
    replies: tuple[Reply, ...]


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

    def tell(self, resident: Resident, *replies: Reply) -> None:
        self.notices.append(Notice(resident, tuple(replies)))


def apply(session: Session, outcome: Outcome, actor: str) -> Outcome:
    """Queue the outcome's notices in the outbox and record its audit entries, in the caller's
    transaction (`actor`: "staff:tanaka", "leader:12", "cli", "resident:5")."""
    from bot import outbox

    for notice in outcome.notices:
        outbox.to_resident(session, notice.resident, list(notice.replies))
    for entry in outcome.audit:
        session.add(AuditEntry(actor=actor, action=entry.action, target=entry.target, detail=entry.detail))
    return outcome
