"""The audit log for the center's staff: who did what in the console and when, newest first,
filtered by person or action, 50 to a page."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import render_template, request
from sqlalchemy import func, select

from bot.console import bot, bp, cN_, console_locale, ct, require
from bot.console.events import show
from bot.core.models import AuditEntry, Resident, StaffAccount
from bot.core.recurrence import Rule, describe
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


# What each action means, in the console's words (the code stays in the filter's value).
ACTION_NAMES = {
    "sign_in": cN_("Signed in"), "sign_out": cN_("Signed out"),
    "create_account": cN_("Created an account"), "enable_account": cN_("Enabled an account"),
    "disable_account": cN_("Disabled an account"), "reset_password": cN_("Reset a password"),
    "create_announcement": cN_("Created an announcement"), "cancel_announcement": cN_("Cancelled an announcement"),
    "send_circular": cN_("Sent a circular"), "remind_circular": cN_("Reminded about a circular"),
    "mark_paper": cN_("Marked a paper household's answer"), "unmark_paper": cN_("Undid a paper household's answer"),
    "export_circular_csv": cN_("Downloaded a circular's answers (CSV)"),
    "add_household": cN_("Added a household"), "assign_household": cN_("Put a member in a household"),
    "set_han_leader": cN_("Made a member 班長"), "unset_han_leader": cN_("Removed a 班長"),
    "create_event": cN_("Created an event"), "update_event": cN_("Changed an event"), "cancel_event": cN_("Cancelled an event"),
    "record_hours": cN_("Recorded hours of help"),
    "requeue_message": cN_("Sent a failed message again"), "requeue_all_messages": cN_("Sent all failed messages again"),
    "start_safety_check": cN_("Started a safety check"), "reask_safety_check": cN_("Asked again in a safety check"),
    "end_safety_check": cN_("Ended a safety check"), "mark_safety_household": cN_("Marked a household in a safety check"),
    "safety_helper_going": cN_("A helper is on the way (safety check)"),
}
TARGET_NAMES = {
    "announcement": cN_("Announcement {id}"), "circular": cN_("Circular {id}"), "event": cN_("Event {id}"),
    "household": cN_("Household {id}"), "membership": cN_("Membership {id}"), "request": cN_("Help request {id}"),
    "safety_check": cN_("Safety check {id}"), "safety_answer": cN_("Safety answer {id}"),
    "account": cN_("Account {id}"), "outbox": cN_("Message {id}"), "staff": cN_("Staff {id}"),
    "resident": cN_("Resident {id}"),
}
DETAIL_NAMES = {
    "audience": cN_("Audience"), "urgent": cN_("Urgent"), "rule": cN_("Repeats"), "first": cN_("First send"),
    "association": cN_("Association"), "han": cN_("班"), "members": cN_("Members"), "paper": cN_("Paper households"),
    "photo": cN_("Photo"), "translations": cN_("Translations"), "household": cN_("Household"), "answer": cN_("Answer"),
    "minutes": cN_("Minutes"), "title": cN_("Title"), "told": cN_("Residents told"), "residents": cN_("Residents"),
    "messages": cN_("Messages"), "check": cN_("Safety check"), "status": cN_("Status"), "rows": cN_("Rows"),
    "role": cN_("Role"), "count": cN_("Count"), "via": cN_("Via"), "sessions_ended": cN_("Sessions ended"),
}
AUDIENCE_KINDS = {"areas": cN_("Areas"), "associations": cN_("Associations"), "languages": cN_("Languages"),
                  "topics": cN_("Topics")}


def _target(target: str | None) -> str:
    kind, _, ident = (target or "").partition(":")
    return ct(TARGET_NAMES[kind], id=ident) if kind in TARGET_NAMES and ident else (target or "")


def _value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return ct("yes") if value else ct("no")
    if key == "audience" and isinstance(value, dict):
        if not value or value.get("all"):
            return ct("Everyone")
        return "; ".join(f"{ct(AUDIENCE_KINDS.get(k, k))}: {', '.join(map(str, v))}" for k, v in value.items()
                         if k in AUDIENCE_KINDS and v)
    if key == "rule" and isinstance(value, str):
        try:
            return describe(Rule.from_json(value), console_locale())
        except ValueError:
            return value
    if key == "first" and isinstance(value, str):
        try:
            return show(datetime.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _detail(detail: dict | None) -> str:
    """「宛先: 全員 · 至急: いいえ」, not `audience={"all": true}, rule=null`: empty values left out."""
    parts = []
    for key, value in (detail or {}).items():
        if value is None or value == "" or value == []:
            continue
        parts.append(f"{ct(DETAIL_NAMES[key]) if key in DETAIL_NAMES else key}: {_value(key, value)}")
    return " · ".join(parts)


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
    rows = [{"at": show(at), "actor": names.get(who, who), "action": what,
             "action_name": ct(ACTION_NAMES[what]) if what in ACTION_NAMES else what,
             "target": _target(target), "detail": _detail(detail)} for at, who, what, target, detail in entries]
    return render_template("console/audit_log.html", rows=rows, actors=[(a, names[a]) for a in actors],
                           actions=[(a, ct(ACTION_NAMES[a]) if a in ACTION_NAMES else a) for a in actions],
                           actor=actor, action=action, page=page, pages=pages, total=total)
