"""Mutual aid for the center's staff: requests and relayed messages residents reported, the
latest requests with their state, closing a request, and recording the hours of a match for a
resident who cannot do it in LINE (the time bank, as `flask --app bot aid record-hours`)."""
from __future__ import annotations

import math

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import aliased

from bot.console import apply, bot, bp, cN_, console_locale, ct, require
from bot.console.events import show
from bot.core.db import utcnow
from bot.core.i18n import t
from bot.core.models import HelpOffer, HelpRequest, LedgerTransfer, RelayMessage, Resident
from bot.core.vocab import RequestStatus, StaffRole
from bot.services import aid as aid_service
from bot.services import mutual_aid, timebank
from bot.services.mutual_aid import CATEGORIES
from bot.services.timebank import format_minutes

STATUSES = {RequestStatus.OPEN: cN_("Open: looking for a helper"), RequestStatus.MATCHED: cN_("Matched with a helper"),
            RequestStatus.DONE: cN_("Done: helped"), RequestStatus.CLOSED: cN_("Closed"),
            RequestStatus.CANCELLED: cN_("Cancelled by the resident"), RequestStatus.HIDDEN: cN_("Hidden after reports")}
CLOSABLE = aid_service.CLOSABLE


def _category(code: str) -> str:
    return t(console_locale(), CATEGORIES[code]) if code in CATEGORIES else code


def _requests(s, stmt) -> list[dict]:
    helper = aliased(Resident)
    rows = s.execute(
        stmt.add_columns(helper.nickname, LedgerTransfer.minutes)
        .outerjoin(HelpOffer, HelpOffer.id == HelpRequest.matched_offer_id)
        .outerjoin(helper, helper.id == HelpOffer.helper_id)
        .outerjoin(LedgerTransfer, LedgerTransfer.request_id == HelpRequest.id)
    ).unique()
    out = []
    for req, helper_name, minutes in rows:
        out.append({
            "id": req.id, "created": show(req.created_at), "when": show(req.when_at) if req.when_at else ct("Any time"),
            "category": _category(req.category), "description": req.description,
            "area": req.area.name(console_locale()) if req.area else "—",
            "requester": req.requester.nickname or "-", "anonymous": req.anonymous,
            "status": req.status, "status_label": ct(STATUSES.get(req.status, req.status)),
            "helper": helper_name if req.status in (RequestStatus.MATCHED, RequestStatus.DONE) else None,
            "hours": format_minutes(minutes) if minutes else None, "reports": req.report_count,
            "closable": req.status in CLOSABLE, "hours_due": req.status == RequestStatus.MATCHED and not minutes,
        })
    return out


@bp.get("/aid")
@require(StaffRole.STAFF)
def aid():
    with bot().db.read() as s:
        reported = _requests(s, select(HelpRequest).where(HelpRequest.report_count > 0)
                             .order_by(HelpRequest.report_count.desc(), HelpRequest.created_at.desc()).limit(100))
        recent = _requests(s, select(HelpRequest).order_by(HelpRequest.created_at.desc(), HelpRequest.id.desc()).limit(50))
        sender, recipient = aliased(Resident), aliased(Resident)
        messages = [{"id": m.id, "request_id": m.request_id, "text": m.text, "sender": sn or "-", "recipient": rn or "-",
                     "reports": m.report_count, "hidden": m.hidden, "created": show(m.created_at)}
                    for m, sn, rn in s.execute(
                        select(RelayMessage, sender.nickname, recipient.nickname)
                        .join(sender, sender.id == RelayMessage.sender_id)
                        .join(recipient, recipient.id == RelayMessage.recipient_id)
                        .where(RelayMessage.report_count > 0)
                        .order_by(RelayMessage.report_count.desc(), RelayMessage.created_at.desc()).limit(100))]
    return render_template("console/aid.html", reported=reported, messages=messages, recent=recent,
                           hide_after=bot().config.report_threshold)


@bp.post("/aid/requests/<int:request_id>/close")
@require(StaffRole.STAFF)
def aid_close(request_id: int):
    with bot().db.session() as s:
        req = mutual_aid.get_request(s, request_id, lock=True)
        if req is None:
            flash(ct("That request was not found."), "error")
            return redirect(url_for("console.aid"))
        if req.status not in CLOSABLE:
            flash(ct("Request {id} is already finished.", id=request_id), "error")
            return redirect(url_for("console.aid"))
        apply(s, aid_service.close_by_staff(s, req, utcnow()))  # helpers not yet told are not told
    flash(ct("Request {id} has been closed.", id=request_id), "ok")
    return redirect(url_for("console.aid"))


@bp.post("/aid/requests/<int:request_id>/hours")
@require(StaffRole.STAFF)
def aid_hours(request_id: int):
    try:
        hours = float((request.form.get("hours") or "").replace(",", "."))
    except ValueError:
        hours = 0.0
    minutes = round(hours * 60) if math.isfinite(hours) else 0
    if not 0 < minutes <= timebank.MAX_MINUTES:
        flash(ct("Hours: a number from 0.5 to {n}.", n=timebank.MAX_MINUTES // 60), "error")
        return redirect(url_for("console.aid"))
    with bot().db.session() as s:
        req = mutual_aid.get_request(s, request_id, lock=True)
        if req is not None and s.scalar(select(LedgerTransfer.id).where(LedgerTransfer.request_id == req.id)):
            flash(ct("Hours were already recorded for request {id}.", id=request_id), "error")
            return redirect(url_for("console.aid"))
        if req is None or mutual_aid.counterpart(s, req, req.requester) is None:
            flash(ct("Request {id} is not matched with a helper.", id=request_id), "error")
            return redirect(url_for("console.aid"))
        try:
            apply(s, aid_service.record_hours_by_staff(s, req, minutes, utcnow()))
        except timebank.LedgerError:
            flash(ct("Hours were already recorded for request {id}.", id=request_id), "error")
            return redirect(url_for("console.aid"))
    flash(ct("Recorded {hours} hours for request {id}. Thank you!", hours=timebank.format_minutes(minutes),
             id=request_id), "ok")
    return redirect(url_for("console.aid"))
