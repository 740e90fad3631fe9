"""The audit log for the center's staff: who did what in the console and when, newest first,
filtered by person or action, 50 to a page."""
from __future__ import annotations

import json

from flask import render_template, request
from sqlalchemy import func, select

from bot.console import bot, bp, ct, require
from bot.console.events import show
from bot.core.models import AuditEntry, Resident, StaffAccount
from bot.core.vocab import PrincipalKind, StaffRole

PER_PAGE = 50


def _names(s, actors: list[str]) -> dict[str, str]:
    """Readable names for "staff:3" / "resident:12" (a leader signed in from LINE)."""
    staff_ids, resident_ids = set(), set()
    for a in actors:
        kind, _, ident = a.partition(":")
        if ident.isdigit():
            (staff_ids if kind == PrincipalKind.STAFF else resident_ids if kind == PrincipalKind.RESIDENT else set()).add(int(ident))
    names = {}
    if staff_ids:
        for i, username, display in s.execute(select(StaffAccount.id, StaffAccount.username, StaffAccount.display_name)
                                              .where(StaffAccount.id.in_(staff_ids))):
            names[f"staff:{i}"] = f"{display} ({username})"
    if resident_ids:
        for i, nickname in s.execute(select(Resident.id, Resident.nickname).where(Resident.id.in_(resident_ids))):
            names[f"resident:{i}"] = ct("{name} (from LINE)", name=nickname or "?")
    for a in actors:
        names.setdefault(a, ct("Not signed in") if a == "anonymous" else a)
    return names


def _detail(detail: dict | None) -> str:
    return ", ".join(f"{k}={v if isinstance(v, (str, int)) else json.dumps(v, ensure_ascii=False)}"
                     for k, v in sorted((detail or {}).items()))


@bp.get("/audit")
@require(StaffRole.STAFF)
def audit_log():
    actor = (request.args.get("actor") or "").strip()[:80]
    action = (request.args.get("action") or "").strip()[:60]
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    with bot().db.read() as s:
        actors = list(s.scalars(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor)))
        actions = list(s.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
        where = []
        if actor:
            where.append(AuditEntry.actor == actor)
        if action:
            where.append(AuditEntry.action == action)
        total = s.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
        pages = max(1, -(-total // PER_PAGE))
        page = min(page, pages)
        entries = list(s.execute(select(AuditEntry.at, AuditEntry.actor, AuditEntry.action, AuditEntry.target,
                                        AuditEntry.detail).where(*where)
                                 .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                                 .offset((page - 1) * PER_PAGE).limit(PER_PAGE)))
        names = _names(s, actors)
    rows = [{"at": show(at), "actor": names.get(who, who), "action": what, "target": target or "",
             "detail": _detail(detail)} for at, who, what, target, detail in entries]
    return render_template("console/audit_log.html", rows=rows, actors=[(a, names[a]) for a in actors],
                           actions=actions, actor=actor, action=action, page=page, pages=pages, total=total)
