"""Circulars (回覧板) in the console: the list, each circular's read status per household (with
paper households marked by hand — and a mark made by mistake undone —, a reminder to the unread,
the CSV and the print sheet), and the association's roster. Writing and sending a new one is in
`bot.console.circular_compose`.

Who sees what: center staff every association; an association leader (会長) their
association(s); a 班長 only their 班 — in the list, the status, the marks, the CSV and the print
sheet. Only staff and 会長 write circulars, remind, and keep the roster (as in LINE).

The business rules live in `bot.services.circulars` (tally, remind_unread, mark_paper, unmark_paper, …)
and in the LINE roster flow (`conversations.roster`), whose checks are reused here.
The status CSV and the print sheet are `bot.services.circulars.status_csv` and `bot.web.circular_page.print_sheet`, as
`flask circulars status --csv` and `flask circulars print` make them."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import Session

from bot.console import apply, audit, bot, bp, console_locale, ct, current, require
from bot.core import timefmt
from bot.core.db import utcnow
from bot.core.i18n import LANGUAGES, N_, t
from bot.core.models import Association, Circular, Household, Membership, Resident
from bot.core.vocab import StaffRole
from bot.services import circulars, roster
from bot.web import circular_page
from conversations import common
from conversations.engine import Answer, Invalid

PER_PAGE = 30


# -- who may see and do what -----------------------------------------------------------------------

def led_associations(s: Session) -> list[tuple[int, str]]:
    """(id, name) of the associations the signed-in person may write circulars for and keep the
    roster of: every one for staff, their own for a 会長, none for a 班長."""
    p = current()
    stmt = select(Association.id, Association.name).order_by(Association.id)
    if not p.is_staff:
        ids = [a for a, han in p.scope.items() if han is None]
        if not ids:
            return []
        stmt = stmt.where(Association.id.in_(ids))
    return [(a, n) for a, n in s.execute(stmt)]


def visible_filter():
    """The circulars the signed-in person may see (a 班長: their 班's and the whole association's)."""
    p = current()
    if p.is_staff:
        return None
    parts = []
    for assoc_id, han in p.scope.items():
        if han is None:
            parts.append(Circular.association_id == assoc_id)
        else:
            parts.append(and_(Circular.association_id == assoc_id, or_(Circular.han.is_(None), Circular.han == han)))
    return or_(*parts) if parts else false()


def _visible(circ: Circular | None) -> str | None:
    """403/404 unless the person may see the circular; returns their 班 limit (None: all)."""
    if circ is None:
        abort(404)
    p = current()
    if not p.sees_association(circ.association_id):
        abort(403)
    han = p.han_for(circ.association_id)
    if han is not None and circ.han not in (None, han):
        abort(403)
    return han


def _may_lead(assoc_id: int) -> bool:
    p = current()
    return p.is_staff or (assoc_id in p.scope and p.scope[assoc_id] is None)


def _when(dt: datetime | None) -> str:
    return timefmt.show(dt, console_locale(), bot().config.tz_name) if dt else ""


def _error_text(exc) -> str:
    return exc.render(console_locale(), bot().config.tz_name)


# -- 1. the list ---------------------------------------------------------------------------------------

@bp.get("/circulars", endpoint="circulars")
@require()
def circular_list():
    """The endpoint is "console.circulars" (the menu); the function's name keeps `circulars`
    the domain module."""
    p = current()
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    try:
        only = int(request.args.get("association", "") or 0) or None
    except ValueError:
        only = None
    with bot().db.read() as s:
        names = dict(s.execute(select(Association.id, Association.name)).all())
        stmt = select(Circular).where(Circular.sent_at.is_not(None))
        cond = visible_filter()
        if cond is not None:
            stmt = stmt.where(cond)
        if only:
            stmt = stmt.where(Circular.association_id == only)
        found = list(s.scalars(stmt.order_by(Circular.sent_at.desc(), Circular.id.desc())
                               .offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)))
        rows = []
        for circ in found[:PER_PAGE]:
            tl = circulars.tally(s, circ, p.han_for(circ.association_id))
            rows.append({"id": circ.id, "title": circ.title, "association": names.get(circ.association_id, "?"),
                         "han": circ.han, "sent": _when(circ.sent_at), "deadline": _when(circ.deadline),
                         "read": tl.read, "total": tl.households, "answers": sum(tl.answers.values())})
        filters = sorted(names.items()) if p.is_staff else [(a, names.get(a, "?")) for a in p.scope]
        may_write = bool(led_associations(s))
    return render_template("console/circulars.html", rows=rows, page=page, more=len(found) > PER_PAGE,
                           filters=filters, only=only, may_write=may_write)



# -- 2. one circular: status, marks, reminder, CSV, print ---------------------------------------------

@bp.get("/circulars/<int:circular_id>")
@require()
def circular(circular_id: int):
    config = bot().config
    with bot().db.read() as s:
        circ = s.get(Circular, circular_id)
        han = _visible(circ)
        tl = circulars.tally(s, circ, han)
        options = circulars.answer_options(circ, "ja")
        counts = [(o, tl.answers.get(o, 0)) for o in options]
        counts += sorted((a, n) for a, n in tl.answers.items() if a not in options)
        households = [dict(g, read=_when(g["read_at"])) for g in circulars.household_status(s, circ, han)]
        pic = circulars.photo(s, circ, config.with_overrides(public_base_url=None))
        today = utcnow().astimezone(ZoneInfo(config.tz_name)).date().isoformat()
        info = {"id": circ.id, "title": circ.title, "paragraphs": circ.body.split("\n"), "link": circ.link_url,
                "association": circulars.association_name(s, circ), "han": circ.han, "sent": _when(circ.sent_at),
                "deadline": _when(circ.deadline), "question": circ.question, "photo": pic[1] if pic else None,
                "translations": [(loc, LANGUAGES[loc]) for loc in LANGUAGES
                                 if loc != "ja" and circulars.text_in(circ, loc)[2]],
                "reminded_today": circ.last_reminded_on == today,
                "may_remind": _may_lead(circ.association_id) and circ.sent_at is not None}
    return render_template("console/circulars_status.html", c=info, my_han=han, read=tl.read, total=tl.households,
                           counts=counts, options=options, households=households,
                           paper_count=sum(1 for h in households if h["paper"]))


@bp.post("/circulars/<int:circular_id>/remind")
@require(StaffRole.STAFF, StaffRole.LEADER)
def circular_remind(circular_id: int):
    config = bot().config
    with bot().db.session() as s:
        circ = s.get(Circular, circular_id)
        _visible(circ)
        if not _may_lead(circ.association_id):
            abort(403)  # as in LINE: only the 会長 (and staff) remind
        try:
            n = apply(s, circulars.remind_unread(s, circ, config, utcnow())).facts["reminded"]
        except circulars.CircularError as exc:
            flash(_error_text(exc), "error")
            n = None
    if n is not None:
        flash(ct("Reminder sent to {n} members who have not read it.", n=n))
    return redirect(url_for("console.circular", circular_id=circular_id), 303)


def _markable(s: Session, circular_id: int, household_id: int) -> tuple[Circular, Household]:
    """The circular and a household of it the signed-in person may mark (403/404 otherwise):
    anyone who sees the circular, a 班長 only for households of their 班."""
    circ = s.get(Circular, circular_id)
    han = _visible(circ)
    hh = s.get(Household, household_id)
    if hh is None or hh.association_id != circ.association_id or (han is not None and hh.han != han):
        abort(403)
    return circ, hh


@bp.post("/circulars/<int:circular_id>/paper/<int:household_id>")
@require()
def circular_paper(circular_id: int, household_id: int):
    """Mark a paper household's sign-off (and its answer) from the signed sheet."""
    answer = (request.form.get("answer") or "").strip() or None
    with bot().db.session() as s:
        circ, hh = _markable(s, circular_id, household_id)
        if answer is not None and answer not in circulars.answer_options(circ, "ja"):
            abort(400)
        try:
            apply(s, circulars.mark_paper(s, circ, hh, answer=answer, now=utcnow()))
        except circulars.CircularError as exc:
            flash(_error_text(exc), "error")
        else:
            flash(ct("Marked “{household}” as read.", household=hh.label) if answer is None else
                  ct("Marked “{household}” as read with the answer “{answer}”.", household=hh.label, answer=answer))
    return redirect(url_for("console.circular", circular_id=circular_id) + f"#h{household_id}", 303)


@bp.post("/circulars/<int:circular_id>/paper/<int:household_id>/unmark")
@require()
def circular_paper_unmark(circular_id: int, household_id: int):
    """Undo a paper household's mark made by mistake: it counts as not read (no answer) again."""
    with bot().db.session() as s:
        circ, hh = _markable(s, circular_id, household_id)
        try:
            undone, out = circulars.unmark_paper(s, circ, hh)
            apply(s, out)
        except circulars.CircularError as exc:
            flash(_error_text(exc), "error")
        else:
            if undone is None:
                flash(ct("“{household}” was not marked as read; nothing changed.", household=hh.label), "error")
            else:
                flash(ct("The mark of “{household}” was undone: it counts as not read again.", household=hh.label))
    return redirect(url_for("console.circular", circular_id=circular_id) + f"#h{household_id}", 303)


@bp.get("/circulars/<int:circular_id>/csv")
@require()
def circular_csv(circular_id: int):
    with bot().db.read() as s:
        circ = s.get(Circular, circular_id)
        han = _visible(circ)
        data = circulars.status_csv(s, circ, han)
    with bot().db.session() as s:
        audit(s, "export_circular_csv", f"circular:{circular_id}", han=han)
    name = f"circular-{circular_id}" + ("-han" if han else "") + ".csv"
    return bot_response(data, "text/csv; charset=utf-8", {"Content-Disposition": f"attachment; filename={name}"})


@bp.get("/circulars/<int:circular_id>/print")
@require()
def circular_print(circular_id: int):
    with bot().db.read() as s:
        circ = s.get(Circular, circular_id)
        han = _visible(circ)
        html = circular_page.print_sheet(s, circ, bot().config, han)
    return bot_response(html.encode("utf-8"), "text/html; charset=utf-8", {})


def bot_response(data: bytes, mimetype: str, headers: dict):
    resp = make_response(data)
    resp.headers["Content-Type"] = mimetype
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Robots-Tag"] = "noindex"
    resp.headers.update(headers)
    return resp


# -- 3. the roster ------------------------------------------------------------------------------------

def roster_of(s: Session, assoc_id: int) -> dict:
    """Households (label, 班, paper?, members) and the members (for the forms), as in LINE's
    「名簿」: members who finished joining."""
    members = s.execute(
        select(Membership.id, Membership.role, Membership.household_id, Resident.nickname)
        .join(Resident, Resident.id == Membership.resident_id)
        .where(Membership.association_id == assoc_id, Resident.consent_at.is_not(None))
        .order_by(Resident.nickname, Membership.id)).all()
    households = []
    by_household: dict[int, list[dict]] = {}
    for mid, role, hh, nick in members:
        if hh is not None:
            by_household.setdefault(hh, []).append({"name": nick or "?", "role": role})
    for hid, label, han, paper in s.execute(
            select(Household.id, Household.label, Household.han, Household.paper)
            .where(Household.association_id == assoc_id).order_by(Household.han, Household.label, Household.id)):
        households.append({"id": hid, "label": label, "han": han, "paper": paper, "members": by_household.get(hid, [])})
    labels = {h["id"]: h["label"] for h in households}
    return {
        "households": households,
        "members": [{"id": mid, "name": nick or "?", "role": role, "household": labels.get(hh)}
                    for mid, role, hh, nick in members],
        "hans": sorted({h["han"] for h in households if h["han"]}),
    }


def _roster_association(s: Session, value) -> int:
    led = [a for a, _ in led_associations(s)]
    if not led:
        abort(403)
    if value in (None, ""):
        return led[0]
    try:
        assoc_id = int(value)
    except (TypeError, ValueError):
        abort(400)
    if assoc_id not in led:
        abort(403)
    return assoc_id


@bp.get("/circulars/roster")
@require(StaffRole.STAFF, StaffRole.LEADER)
def circular_roster():
    with bot().db.read() as s:
        assoc_id = _roster_association(s, request.args.get("association"))
        led = led_associations(s)
        data = roster_of(s, assoc_id)
    return render_template("console/circulars_roster.html", assoc_id=assoc_id, led=led,
                           name=dict(led).get(assoc_id, "?"), **data)



@bp.post("/circulars/roster")
@require(StaffRole.STAFF, StaffRole.LEADER)
def circular_roster_post():

    loc = console_locale()
    action = request.form.get("action", "")
    with bot().db.session() as s:
        assoc_id = _roster_association(s, request.form.get("association"))

        def text(field: str, max_len: int, msgid: str, required: bool = True) -> str | None:
            raw = request.form.get(field, "")
            if not raw.strip() and not required:
                return None
            try:
                return common.free_text(max_len, msgid, single_line=True)(None, {}, Answer(text=raw))
            except Invalid as exc:
                flash(t(loc, exc.msgid, **exc.named), "error")
                return None

        def member() -> Membership:
            try:
                m = s.get(Membership, int(request.form.get("member", "")))
            except ValueError:
                abort(400)
            if m is None or m.association_id != assoc_id:
                abort(403)
            return m

        if action == "add_household":
            label = text("label", 60, N_("Please write how you know the household, e.g. 5番 山本."))
            han = text("han", 30, N_("Please write the name of the block, e.g. 3班."), required=False)
            if label is not None and (han is not None or not request.form.get("han", "").strip()):
                paper = request.form.get("paper") == "1"
                english = " ".join((request.form.get("label_en") or "").split())[:60]
                _, out = roster.add_household(s, assoc_id, label, han, paper, {"en": english})
                apply(s, out)
                flash(ct("Added the paper household “{label}”.", label=label) if paper else
                      ct("Added the household “{label}”.", label=label))
        elif action == "assign":
            m = member()
            try:
                hh = s.get(Household, int(request.form.get("household", "")))
            except ValueError:
                abort(400)
            if hh is None or hh.association_id != assoc_id:
                abort(403)
            try:
                apply(s, roster.assign_household(s, m, hh))
            except roster.RosterError as exc:  # as in LINE: members go in households that get the circular in LINE
                flash(_error_text(exc), "error")
            else:
                name = s.scalar(select(Resident.nickname).where(Resident.id == m.resident_id)) or "?"
                flash(ct("{name} is now in the household “{label}”.", name=name, label=hh.label))
        elif action == "han_leader":
            m = member()
            name = s.scalar(select(Resident.nickname).where(Resident.id == m.resident_id)) or "?"
            make = request.form.get("make") == "yes"
            try:
                apply(s, roster.set_han_leader(s, m, make))
            except roster.RosterError as exc:
                flash(_error_text(exc), "error")
            else:
                if make and m.household_id is None:
                    flash(ct("{name} is now a block leader. Put them in a household of their block too, so they see that block.",
                             name=name))
                else:
                    flash(ct("{name} is now a block leader.", name=name) if make else
                          ct("{name} is no longer a block leader.", name=name))
        else:
            abort(400)
    return redirect(url_for("console.circular_roster", association=assoc_id), 303)
