"""The time bank: a double-entry ledger of hours given (TimeOverflow's model).

Each transfer is two movements that sum to zero: the community's account gives, the helper's
account receives. Asking never costs the requester anything: "don't want to be a bother" is
the reason 77% never ask, so their balance is not debited."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core import timefmt
from bot.core.i18n import Nn_, nt
from bot.core.models import HelpRequest, LedgerAccount, LedgerEntry, LedgerTransfer, Resident
from bot.core.vocab import LedgerKind, RequestStatus

HOURS = Nn_("{hours} hour", "{hours} hours")

MAX_MINUTES = 12 * 60


class LedgerError(ValueError):
    pass


def account(session: Session, resident: Resident | None) -> LedgerAccount:
    if resident is None:
        acct = session.scalar(select(LedgerAccount).where(LedgerAccount.kind == LedgerKind.COMMUNITY))
        if acct is None:
            acct = LedgerAccount(kind=LedgerKind.COMMUNITY)
            session.add(acct)
            session.flush()
        return acct
    acct = session.scalar(select(LedgerAccount).where(LedgerAccount.resident_id == resident.id))
    if acct is None:
        acct = LedgerAccount(kind=LedgerKind.RESIDENT, resident_id=resident.id)
        session.add(acct)
        session.flush()
    return acct


def record_hours(session: Session, request: HelpRequest, helper: Resident, minutes: int, *,
                 recorded_by: str, now: datetime) -> LedgerTransfer:
    """Thank the helper of `request` with `minutes`. Once per request."""
    if not 0 < minutes <= MAX_MINUTES:
        raise LedgerError("minutes out of range")
    if session.scalar(select(LedgerTransfer).where(LedgerTransfer.request_id == request.id)):
        raise LedgerError("hours already recorded for this request")
    transfer = LedgerTransfer(request_id=request.id, minutes=minutes, recorded_by=recorded_by, created_at=now)
    session.add(transfer)
    session.flush()
    session.add_all([
        LedgerEntry(transfer_id=transfer.id, account_id=account(session, None).id, minutes=-minutes),
        LedgerEntry(transfer_id=transfer.id, account_id=account(session, helper).id, minutes=minutes),
    ])
    request.status = RequestStatus.DONE
    request.closed_at = now
    session.flush()
    return transfer


def balance(session: Session, resident: Resident) -> int:
    """Minutes the resident has given."""
    return session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.minutes), 0))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerAccount.resident_id == resident.id)
    ) or 0


def history(session: Session, resident: Resident, limit: int = 10) -> list[tuple[datetime, int, str | None]]:
    """(when, minutes, category) of the resident's latest thanks."""
    rows = session.execute(
        select(LedgerTransfer.created_at, LedgerEntry.minutes, HelpRequest.category)
        .join(LedgerEntry, LedgerEntry.transfer_id == LedgerTransfer.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .outerjoin(HelpRequest, HelpRequest.id == LedgerTransfer.request_id)
        .where(LedgerAccount.resident_id == resident.id)
        .order_by(LedgerTransfer.created_at.desc(), LedgerTransfer.id.desc())
        .limit(limit)
    )
    return [tuple(r) for r in rows]


def ledger_total(session: Session) -> int:
    """The sum of every movement: always 0."""
    return session.scalar(select(func.coalesce(func.sum(LedgerEntry.minutes), 0))) or 0


def format_hours(minutes: int, locale: str) -> str:
    """"1 hour", "1.5 hours", "2 hours"; 「1.5時間」; "1,5 horas" (the number as the language
    writes it, CLDR)."""
    hours = abs(minutes) / 60
    shown = timefmt.number(round(hours, 1) if hours % 1 else int(hours), locale)
    return nt(locale, HOURS, 1 if abs(minutes) == 60 else 2, hours=shown)


def format_minutes(minutes: int) -> str:
    hours, rest = divmod(abs(minutes), 60)
    value = f"{hours}" if not rest else f"{hours + rest / 60:.1f}".rstrip("0").rstrip(".")
    return value
