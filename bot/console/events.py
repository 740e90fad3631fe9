"""Events in the console: the upcoming ones with their figures, creating, editing (a new time or
place is sent to attendees and the wait-list, as `flask --app bot events update` does),
cancelling (everyone told), the attendee list with its CSV (UTF-8 with BOM, for Excel) and the
.ics file. Staff see every event; an association's leader only their association's."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from bot import services
from bot.core import csvout, timefmt
from bot.console import bot, bp, cN_, console_locale, ct, current, require
from bot.core.db import utcnow
from bot.core.i18n import LANGUAGES
from bot.core.ics import event_ics as make_ics
from bot.core.models import Area, Association, Event
from bot.core.vocab import Audience, EventStatus, PrincipalKind, SignupStatus, StaffRole
from bot.services import events as event_service

EVERYONE = cN_("Everyone")
AUDIENCES = {Audience.ALL: EVERYONE, Audience.AREAS: cN_("Residents of some areas"),
             Audience.ASSOCIATION: cN_("Members of an association")}
TITLE_MAX, PLACE_MAX, DESCRIPTION_MAX, ORGANIZER_MAX, QUESTION_MAX = 100, 200, 1000, 100, 100
OTHER_LANGUAGES = [loc for loc in LANGUAGES if loc != "ja"]
# What an organiser may translate, and its limit (the Japanese field's).
TR_FIELDS = (("title", TITLE_MAX), ("place", PLACE_MAX), ("description", DESCRIPTION_MAX),
             ("note_question", QUESTION_MAX))
TR_LABELS = {"title": cN_("Title"), "place": cN_("Place"), "description": cN_("Description"),
             "note_question": cN_("Question for each attendee")}
CAPACITY_MAX = 10000


# -- helpers shared by the page modules of this group ----------------------------------------

def show(dt: datetime | None) -> str:
    """A time for the console's reader, in the city's time zone."""
    return timefmt.show(dt, console_locale(), bot().config.tz_name) if dt else "—"


def local_input(dt: datetime | None) -> str:
    """A stored time as the value of a datetime-local input."""
    return dt.astimezone(ZoneInfo(bot().config.tz_name)).strftime("%Y-%m-%dT%H:%M") if dt else ""


def form_int(name: str) -> int | None:
    try:
        return int(request.form.get(name, ""))
    except ValueError:
        return None


# -- who manages which events -----------------------------------------------------------------

def managed_associations() -> list[int] | None:
    """The associations whose events the signed-in person manages (None: all, for staff)."""
    p = current()
    if p.is_staff:
        return None
    return sorted(a for a, han in p.scope.items() if han is None)


def may_manage(ev: Event) -> bool:
    ids = managed_associations()
    return ids is None or (ev.audience == Audience.ASSOCIATION and ev.association_id in ids)


def _event_or_403(s, event_id: int) -> Event:
    ev = event_service.get_event(s, event_id)
    if ev is None:
        abort(404)
    if not may_manage(ev):
        abort(403)
    return ev


def _audience_text(s, ev: Event) -> str:
    if ev.audience == Audience.AREAS:
        names = [a.name(console_locale()) for a in s.scalars(select(Area).where(Area.code.in_(ev.audience_areas or []))
                                                             .order_by(Area.position, Area.id))]
        return ct("Areas: {areas}", areas=("、" if console_locale() == "ja" else ", ").join(names) or "—")
    if ev.audience == Audience.ASSOCIATION:
        assoc = s.get(Association, ev.association_id) if ev.association_id else None
        return ct("Members of {association}", association=assoc.name if assoc else "?")
    return ct(EVERYONE)


def _row(s, ev: Event, detail: bool = False) -> dict:
    row = {"id": ev.id, "version": ev.version, "title": ev.title, "when": show(ev.starts_at), "place": ev.place, "capacity": ev.capacity,
            "going": event_service.seats_taken(s, ev.id), "waiting": len(event_service.waitlist(s, ev.id)),
            "audience": _audience_text(s, ev), "cancelled": ev.status == EventStatus.CANCELLED}
    if detail:
        row["signups"] = len(event_service.to_notify(s, ev.id))
    return row


# -- the list -----------------------------------------------------------------------------------

@bp.get("/events")
@require(StaffRole.STAFF, StaffRole.LEADER)
def events():
    past = request.args.get("past") == "1"
    ids = managed_associations()
    now = utcnow()
    with bot().db.read() as s:
        stmt = select(Event)
        if ids is not None:
            stmt = stmt.where(Event.audience == Audience.ASSOCIATION, Event.association_id.in_(ids))
        if past:
            stmt = stmt.where(Event.starts_at <= now).order_by(Event.starts_at.desc(), Event.id.desc())
        else:
            stmt = stmt.where(Event.starts_at > now).order_by(Event.starts_at, Event.id)
        rows = [_row(s, ev) for ev in s.scalars(stmt.limit(100))]
        year = now.astimezone(ZoneInfo(bot().config.tz_name)).year
        figures = event_service.participation(s, year, bot().config.tz_name)
        figures["area"] = [r for r in figures["area"] if r[2]]  # areas where someone lives
        if ids is not None:
            names = set(s.scalars(select(Association.name).where(Association.id.in_(ids))))
            figures = {"all": [], "area": [], "association": [r for r in figures["association"] if r[0] in names]}
    return render_template("console/events.html", rows=rows, past=past, figures=figures, year=year)


# -- create and edit ----------------------------------------------------------------------------

def _choices(s) -> dict:
    ids = managed_associations()
    stmt = select(Association.id, Association.name).order_by(Association.name)
    if ids is not None:
        stmt = stmt.where(Association.id.in_(ids))
    areas = [(a.code, a.name(console_locale())) for a in s.scalars(select(Area).where(Area.active.is_(True))
                                                                     .order_by(Area.position, Area.id))]
    return {"associations": [(i, n) for i, n in s.execute(stmt)], "areas": areas}


def _blank() -> dict:
    return {"title": "", "starts": "", "ends": "", "place": "", "description": "", "capacity": "", "deadline": "",
            "organizer": "", "note_question": "", "ask_party_size": False, "remind_hour_before": False,
            "audience": Audience.ALL if current().is_staff else Audience.ASSOCIATION, "areas": [], "association_id": None,
            "translations": {}}


def _from_event(ev: Event) -> dict:
    return {"title": ev.title, "starts": local_input(ev.starts_at), "ends": local_input(ev.ends_at), "place": ev.place,
            "description": ev.description or "", "capacity": "" if ev.capacity is None else str(ev.capacity),
            "deadline": local_input(ev.signup_deadline), "organizer": ev.organizer or "",
            "note_question": ev.note_question or "", "ask_party_size": ev.ask_party_size,
            "remind_hour_before": ev.remind_hour_before, "audience": ev.audience, "areas": list(ev.audience_areas or []),
            "association_id": ev.association_id,
            "translations": {loc: dict(tr) for loc, tr in (ev.translations or {}).items() if tr}}


def _form_page(form: dict, errors: list[str], event: dict | None, **choices):
    return render_template("console/events_form.html", form=form, errors=errors, event=event,
                           languages=LANGUAGES, other_languages=OTHER_LANGUAGES,
                           tr_fields=[(key, limit, ct(TR_LABELS[key])) for key, limit in TR_FIELDS],
                           missing=missing_translations(form), **choices)


def missing_translations(form: dict) -> list[str]:
    """The languages (their own names) the event has no translated title in yet."""
    return [LANGUAGES[loc] for loc in OTHER_LANGUAGES if not (form["translations"].get(loc) or {}).get("title")]


def _read_form(s, creating: bool) -> tuple[dict, dict, list[str]]:
    """The form as typed (to show again) and as values for the event, and the problems found."""
    f = request.form
    typed = {k: (f.get(k) or "").strip() for k in ("title", "starts", "ends", "place", "description", "capacity",
                                                   "deadline", "organizer", "note_question")}
    typed["translations"] = {}
    for loc in OTHER_LANGUAGES:
        tr = {key: (f.get(f"tr_{loc}_{key}") or "").strip() for key, _ in TR_FIELDS}
        if any(tr.values()):
            typed["translations"][loc] = tr
    typed.update(ask_party_size=f.get("ask_party_size") == "1", remind_hour_before=f.get("remind_hour_before") == "1",
                 audience=f.get("audience") or Audience.ALL, areas=f.getlist("areas"), association_id=form_int("association_id"))
    errors: list[str] = []
    tz = bot().config.tz_name
    values: dict = {}

    def when(key: str, label: str) -> datetime | None:
        if not typed[key]:
            return None
        try:
            return timefmt.parse_local(typed[key], tz)
        except ValueError:
            errors.append(ct("{field}: please give a date and time.", field=label))
            return None

    for key, label, limit in (("title", ct("Title"), TITLE_MAX), ("place", ct("Place"), PLACE_MAX)):
        if not typed[key]:
            errors.append(ct("{field}: please fill this in.", field=label))
        elif len(typed[key]) > limit:
            errors.append(ct("{field}: at most {n} characters.", field=label, n=limit))
    for key, label, limit in (("description", ct("Description"), DESCRIPTION_MAX),
                              ("organizer", ct("Organiser"), ORGANIZER_MAX),
                              ("note_question", ct("Question for each attendee"), QUESTION_MAX)):
        if len(typed[key]) > limit:
            errors.append(ct("{field}: at most {n} characters.", field=label, n=limit))
    for loc, tr in typed["translations"].items():
        for key, limit in TR_FIELDS:
            if len(tr[key]) > limit:
                errors.append(ct("{language}: {problem}", language=LANGUAGES[loc], problem=ct(
                    "{field}: at most {n} characters.", field=ct(TR_LABELS[key]), n=limit)))
        if not tr["title"]:
            errors.append(ct("{language}: please give the title too (or leave this language empty).", language=LANGUAGES[loc]))
        if tr["note_question"] and not typed["note_question"]:
            errors.append(ct("{language}: a translated question needs the question in Japanese too.", language=LANGUAGES[loc]))
    starts = when("starts", ct("Starts"))
    if starts is None and not typed["starts"]:
        errors.append(ct("{field}: please fill this in.", field=ct("Starts")))
    ends = when("ends", ct("Ends"))
    deadline = when("deadline", ct("Sign-up deadline"))
    now = utcnow()
    if starts is not None:
        if creating and starts <= now:
            errors.append(ct("The start must be in the future."))
        if ends is not None and ends <= starts:
            errors.append(ct("The end must be after the start."))
        if deadline is not None and deadline > starts:
            errors.append(ct("The sign-up deadline must be before the start."))
    capacity = None
    if typed["capacity"]:
        try:
            capacity = int(typed["capacity"])
        except ValueError:
            capacity = 0
        if not 1 <= capacity <= CAPACITY_MAX:
            errors.append(ct("Capacity: a number from 1 to {n}, or empty for no limit.", n=CAPACITY_MAX))
    values.update(title=typed["title"], place=typed["place"], description=typed["description"], starts_at=starts,
                  ends_at=ends, signup_deadline=deadline, capacity=capacity, organizer=typed["organizer"],
                  note_question=typed["note_question"] or None, ask_party_size=typed["ask_party_size"],
                  remind_hour_before=typed["remind_hour_before"],
                  # every language: an empty one removes its translation (bot.services.events)
                  translations={loc: {k: v for k, v in (typed["translations"].get(loc) or {}).items() if v}
                                for loc in OTHER_LANGUAGES})
    if creating:
        ids = managed_associations()
        audience = typed["audience"] if ids is None else Audience.ASSOCIATION
        if audience not in AUDIENCES:
            audience = Audience.ALL
        values.update(audience=audience, audience_areas=[], association_id=None)
        if audience == Audience.AREAS:
            codes = set(s.scalars(select(Area.code).where(Area.code.in_(typed["areas"]))))
            if not codes:
                errors.append(ct("Choose at least one area."))
            values["audience_areas"] = [c for c in typed["areas"] if c in codes]
        elif audience == Audience.ASSOCIATION:
            assoc = s.get(Association, typed["association_id"]) if typed["association_id"] else None
            if assoc is None or (ids is not None and assoc.id not in ids):
                errors.append(ct("Choose the association."))
            else:
                values["association_id"] = assoc.id
                values["organizer"] = values["organizer"] or assoc.name
    return typed, values, errors


@bp.get("/events/new")
@require(StaffRole.STAFF, StaffRole.LEADER)
def event_new():
    with bot().db.read() as s:
        choices = _choices(s)
    if not choices["associations"] and not current().is_staff:
        abort(403)
    form = _blank()
    if len(choices["associations"]) == 1:
        form["association_id"] = choices["associations"][0][0]
    return _form_page(form=form, errors=[], event=None, **choices)


@bp.post("/events/new")
@require(StaffRole.STAFF, StaffRole.LEADER)
def event_create():
    with bot().db.session() as s:
        typed, values, errors = _read_form(s, creating=True)
        if errors:
            choices = _choices(s)
            return _form_page(form=typed, errors=errors, event=None, **choices), 400
        translations = values.pop("translations")
        by = current().id if current().kind == PrincipalKind.RESIDENT else None
        ev, outcome = event_service.create_event(s, values, utcnow(), translations=translations, created_by_id=by,
                                                 config=bot().config)
        services.apply(s, outcome, current().actor)
        event_id = ev.id
    flash(ct("The event has been created. Residents can find it with “Events” in LINE."), "ok")
    return redirect(url_for("console.event_edit", event_id=event_id))


@bp.get("/events/<int:event_id>")
@require(StaffRole.STAFF, StaffRole.LEADER)
def event_edit(event_id: int):
    with bot().db.read() as s:
        ev = _event_or_403(s, event_id)
        row = _row(s, ev, detail=True)
        form = _from_event(ev)
        choices = _choices(s)
    return _form_page(form=form, errors=[], event=row, **choices)


def _managed_event(s, event_id: int):
    """The event, locked for a change, if the signed-in person manages it (else 404 / 403)."""
    ev = event_service.get_event(s, event_id, lock=True)
    if ev is None:
        abort(404)
    if not may_manage(ev):
        abort(403)
    return ev


@bp.post("/events/<int:event_id>")
@require(StaffRole.STAFF, StaffRole.LEADER)
def event_update(event_id: int):
    with bot().db.session() as s:
        ev = _managed_event(s, event_id)
        if ev.status == EventStatus.CANCELLED:
            flash(ct("This event has been cancelled and cannot be changed."), "error")
            return redirect(url_for("console.event_edit", event_id=event_id))
        if request.form.get("version") != str(ev.version):
            # the form was drawn for an earlier state of the event: saving it would undo a change
            flash(ct("Someone changed this event after you opened the form, so nothing was saved. Here it is now: make your change again."), "error")
            return redirect(url_for("console.event_edit", event_id=event_id))
        typed, values, errors = _read_form(s, creating=False)
        if errors:
            row = _row(s, ev, detail=True)
            choices = _choices(s)
            typed.update(audience=ev.audience, areas=list(ev.audience_areas or []), association_id=ev.association_id)
            return _form_page(form=typed, errors=errors, event=row, **choices), 400
        for key, field in (("starts", "starts_at"), ("ends", "ends_at"), ("deadline", "signup_deadline")):
            if typed[key] and typed[key] == local_input(getattr(ev, field)):
                values[field] = getattr(ev, field)  # unchanged to the minute: keep the stored time
        # Every language is on the form (empty: none).
        translations = values.pop("translations")
        outcome = event_service.update_event(s, ev, values, bot().config, utcnow(), translations=translations)
        services.apply(s, outcome, current().actor)
    facts = outcome.facts
    if not facts["changed"]:
        flash(ct("Nothing was changed."), "ok")
    elif facts["moved"]:
        flash(ct("Saved. {n} people (attendees and wait-list) will be told the new time or place.", n=facts["told"]), "ok")
    else:
        flash(ct("Saved."), "ok")
    if facts["promoted"]:
        flash(ct("{n} people moved from the wait-list to going, and will be told.", n=facts["promoted"]), "ok")
    return redirect(url_for("console.event_edit", event_id=event_id))


@bp.post("/events/<int:event_id>/cancel")
@require(StaffRole.STAFF, StaffRole.LEADER)
def event_cancel(event_id: int):
    with bot().db.session() as s:
        ev = _managed_event(s, event_id)
        if ev.status == EventStatus.CANCELLED:
            flash(ct("This event was already cancelled."), "ok")
            return redirect(url_for("console.event_edit", event_id=event_id))
        if request.form.get("confirm") != "yes":
            flash(ct("Tick the box to confirm the cancellation."), "error")
            return redirect(url_for("console.event_edit", event_id=event_id))
        if request.form.get("version") not in (None, str(ev.version)):
            flash(ct("Someone changed this event after you opened the form, so nothing was saved. Here it is now: make your change again."), "error")
            return redirect(url_for("console.event_edit", event_id=event_id))
        outcome = services.apply(s, event_service.cancel_event(s, ev, bot().config, utcnow()), current().actor)
    flash(ct("The event has been cancelled. {n} people will be told.", n=outcome.facts["told"]), "ok")
    return redirect(url_for("console.event_edit", event_id=event_id))


# -- attendees, CSV and .ics ------------------------------------------------------------------

def _attendee_rows(s, event_id: int) -> list[dict]:
    return [{"name": a.resident.nickname or "-", "party": a.party_size, "going": a.status == SignupStatus.GOING,
             "note": a.note or ""} for a in event_service.attendees(s, event_id)]


@bp.get("/events/<int:event_id>/attendees")
@require(StaffRole.STAFF, StaffRole.LEADER)
def event_attendees(event_id: int):
    with bot().db.read() as s:
        ev = _event_or_403(s, event_id)
        row = _row(s, ev)
        question = ev.note_question
        rows = _attendee_rows(s, event_id)
    return render_template("console/events_attendees.html", event=row, rows=rows, question=question,
                           going=sum(r["party"] for r in rows if r["going"]),
                           waiting=sum(r["party"] for r in rows if not r["going"]))


@bp.get("/events/<int:event_id>/attendees.csv")
@require(StaffRole.STAFF, StaffRole.LEADER)
def event_attendees_csv(event_id: int):
    with bot().db.read() as s:
        _event_or_403(s, event_id)
        rows = _attendee_rows(s, event_id)
    body = csvout.to_bytes([ct("Nickname"), ct("People"), ct("Status"), ct("Answer")],
                           ([r["name"], r["party"], ct("Going") if r["going"] else ct("On the wait-list"), r["note"]]
                            for r in rows))
    return Response(body, headers={
        "Content-Disposition": f'attachment; filename="event-{event_id}-attendees.csv"',
        "Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store"})


@bp.get("/events/<int:event_id>.ics")
@require(StaffRole.STAFF, StaffRole.LEADER)
def event_ics(event_id: int):
    with bot().db.read() as s:
        ev = _event_or_403(s, event_id)
        text = make_ics(ev)
    return Response(text.encode("utf-8"), headers={
        "Content-Type": "text/calendar; charset=utf-8",
        "Content-Disposition": f'attachment; filename="event-{event_id}.ics"'})

