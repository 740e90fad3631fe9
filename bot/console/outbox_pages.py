"""Failed messages (dead letters): outbox rows the worker gave up on, with how many people they
were for (never who) and what sent them; staff send one or all of them again
(`flask --app bot outbox requeue`)."""
from __future__ import annotations

import re

from flask import flash, redirect, render_template, url_for

from bot.console import audit, bot, bp, cN_, ct, require
from bot.console.events import show
from bot.core.vocab import OutboxKind, OutboxStatus, StaffRole
from bot.delivery.outbox import dead_letters as dead, requeue, status_counts

LIMIT = 200
# LINE user, group and room IDs an error text might quote: never shown in the console.
_LINE_IDS = re.compile(r"\b[UCR][0-9a-f]{32}\b")
KINDS = {OutboxKind.PUSH: cN_("Individual message"), OutboxKind.BROADCAST: cN_("To every friend"),
         OutboxKind.RICHMENU: cN_("Menu change")}
SOURCES = {"ann": cN_("Announcement"), "digest": cN_("Daily digest"), "rem": cN_("Personal reminder"),
           "garbage": cN_("Garbage day"), "richmenu": cN_("Menu change")}


def _source(source: str | None) -> str:
    """What sent the message, in words (the raw key too, for looking it up)."""
    if not source:
        return ct("A reply or a personal message")
    head = source.split(":", 1)[0]
    return f"{ct(SOURCES[head])} ({source})" if head in SOURCES else source


def _error(text: str | None) -> str:
    return _LINE_IDS.sub("…", text or "")


@bp.get("/dead-letters")
@require(StaffRole.STAFF)
def dead_letters():
    with bot().db.read() as s:
        counts = status_counts(s)
        rows = [{"id": r.id, "created": show(r.created_at), "attempts": r.attempts, "error": _error(r.last_error),
                 "recipients": len(r.recipients or []), "kind": ct(KINDS.get(r.kind, r.kind)),
                 "everyone": r.kind == OutboxKind.BROADCAST, "source": _source(r.source),
                 "channel": r.channel} for r in dead(s, LIMIT)]
    return render_template("console/outbox_dead.html", rows=rows, total=counts.get(OutboxStatus.DEAD, 0),
                           pending=counts.get(OutboxStatus.PENDING, 0), limit=LIMIT)


@bp.post("/dead-letters/<int:row_id>/requeue")
@require(StaffRole.STAFF)
def dead_letter_requeue(row_id: int):
    with bot().db.session() as s:
        n = requeue(s, [row_id])
        if n:
            audit(s, "requeue_message", f"outbox:{row_id}")
    if n:
        flash(ct("Message {id} will be sent again shortly.", id=row_id), "ok")
    else:
        flash(ct("Message {id} is no longer among the failed ones.", id=row_id), "error")
    return redirect(url_for("console.dead_letters"))


@bp.post("/dead-letters/requeue-all")
@require(StaffRole.STAFF)
def dead_letters_requeue_all():
    with bot().db.session() as s:
        n = requeue(s, None)
        if n:
            audit(s, "requeue_all_messages", "outbox", count=n)
    flash(ct("{n} messages will be sent again shortly.", n=n), "ok")
    return redirect(url_for("console.dead_letters"))
