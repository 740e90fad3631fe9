"""Shelters (指定緊急避難場所) in the console: the city's list (imported from GSI's open data with
`flask --app bot shelters import`), searchable, and a button on each to open or close it.
Residents are shown the open ones. Staff only; every change is in the audit log. The rules are
`bot.services.shelters`, the same the command line uses."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from bot.console import apply, bot, bp, ct, require
from bot.core import timefmt
from bot.core.db import utcnow
from bot.core.models import Shelter
from bot.core.vocab import StaffRole
from bot.services import shelters

PAGE = 200  # rows shown at once; search for the others


@bp.get("/shelters")
@require(StaffRole.STAFF)
def shelters_page():
    q = (request.args.get("q") or "").strip()[:100]
    only_open = request.args.get("open") == "1"
    with bot().db.read() as s:
        stmt = select(Shelter).order_by(Shelter.is_open.desc(), Shelter.position, Shelter.id)
        if q:
            stmt = stmt.where(Shelter.name.contains(q) | Shelter.address.contains(q))
        if only_open:
            stmt = stmt.where(Shelter.is_open.is_(True))
        rows = [{"id": x.id, "name": x.name, "address": x.address, "open": x.is_open, "map": shelters.map_url(x),
                 "opened": timefmt.show(x.opened_at, "ja", bot().config.tz_name) if x.opened_at else "",
                 "hazards": "・".join(column for i, (_, column, _) in enumerate(shelters.HAZARDS) if x.hazards & (1 << i))}
                for x in s.scalars(stmt.limit(PAGE))]
        total = s.scalar(select(func.count()).select_from(Shelter)) or 0
        n_open = s.scalar(select(func.count()).select_from(Shelter).where(Shelter.is_open.is_(True))) or 0
    return render_template("console/shelters.html", rows=rows, q=q, only_open=only_open, total=total, n_open=n_open,
                           page=PAGE)


@bp.post("/shelters/<int:shelter_id>")
@require(StaffRole.STAFF)
def shelter_set(shelter_id: int):
    """Open (open=1) or close (open=0) a shelter."""
    want = request.form.get("open")
    if want not in ("0", "1"):
        abort(400)
    with bot().db.session() as s:
        shelter = s.get(Shelter, shelter_id)
        if shelter is None:
            abort(404)
        outcome = apply(s, shelters.set_open(s, shelter, want == "1", utcnow()))
        name = shelter.name
    if want == "1":
        flash(ct("“{name}” is open: residents are shown it.", name=name) if outcome.facts["changed"] else
              ct("“{name}” was already open.", name=name), "ok")
    else:
        flash(ct("“{name}” is closed.", name=name) if outcome.facts["changed"] else
              ct("“{name}” was already closed.", name=name), "ok")
    back = {k: v for k, v in (("q", request.form.get("q", "")[:100]), ("open", request.form.get("only_open", "")))
            if v}
    return redirect(url_for("console.shelters_page", **back))
