"""Residents in the console: search by nickname or area; each one's language, whether they
still follow the bot, when they joined, and their memberships (role, household, 班). Staff may
change a member's role; an association's leader sees only their association's members and may
name or unname 班長 there. LINE user IDs are never shown."""
from __future__ import annotations

import unicodedata

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.console import ROLE_NAMES, apply, bot, bp, cN_, console_locale, ct, require
from bot.services import roster
from bot.console.events import managed_associations, show
from bot.core.i18n import LANGUAGES
from bot.core.models import Area, Association, Household, Membership, Resident
from bot.core.vocab import Channel, Role, StaffRole

MEMBER_ROLES = {Role.MEMBER: cN_("Member"), Role.HAN_LEADER: ROLE_NAMES[StaffRole.HAN_LEADER],
                Role.LEADER: ROLE_NAMES[StaffRole.LEADER]}
LEADER_MAY_SET = (Role.MEMBER, Role.HAN_LEADER)
PAGE = 100


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _memberships(s, resident_ids: list[int], associations: list[int] | None) -> dict[int, list[dict]]:
    stmt = (select(Membership.id, Membership.resident_id, Membership.association_id, Membership.role,
                   Association.name, Household.label, Household.han)
            .join(Association, Association.id == Membership.association_id)
            .outerjoin(Household, Household.id == Membership.household_id)
            .where(Membership.resident_id.in_(resident_ids)).order_by(Association.name, Membership.id))
    if associations is not None:
        stmt = stmt.where(Membership.association_id.in_(associations))
    out: dict[int, list[dict]] = {}
    for mid, rid, assoc_id, role, name, label, han in s.execute(stmt):
        out.setdefault(rid, []).append({"id": mid, "association": name, "role": role,
                                        "role_label": ct(MEMBER_ROLES.get(role, role)), "household": label, "han": han})
    return out


def _resident(r: Resident, memberships: list[dict]) -> dict:
    return {"id": r.id, "nickname": r.nickname or "-", "area": r.area.name(console_locale()) if r.area else "—",
            "language": LANGUAGES.get(r.locale, r.locale), "following": r.following, "joined": show(r.consent_at),
            "memberships": memberships, "web": r.channel == Channel.WEB}


@bp.get("/residents")
@require(StaffRole.STAFF, StaffRole.LEADER)
def residents():
    q = unicodedata.normalize("NFKC", (request.args.get("q") or "").strip())[:40]
    area = (request.args.get("area") or "").strip()
    led = managed_associations()
    with bot().db.read() as s:
        areas = [(a.code, a.name(console_locale())) for a in s.scalars(select(Area).order_by(Area.position, Area.id))]
        stmt = select(Resident).where(Resident.consent_at.is_not(None))
        if q:
            stmt = stmt.where(Resident.nickname.ilike(_like(q), escape="\\"))
        if area:
            stmt = stmt.where(Resident.area_id.in_(select(Area.id).where(Area.code == area)))
        if led is not None:
            stmt = stmt.where(Resident.id.in_(select(Membership.resident_id).where(Membership.association_id.in_(led))))
        found = list(s.scalars(stmt.order_by(Resident.nickname, Resident.id).limit(PAGE + 1)))
        more = len(found) > PAGE
        found = found[:PAGE]
        ms = _memberships(s, [r.id for r in found], led)
        rows = [_resident(r, ms.get(r.id, [])) for r in found]
    return render_template("console/residents.html", rows=rows, more=more, q=q, area=area, areas=areas, page=PAGE,
                           searched=bool(q or area))


@bp.get("/residents/<int:resident_id>")
@require(StaffRole.STAFF, StaffRole.LEADER)
def resident(resident_id: int):
    led = managed_associations()
    with bot().db.read() as s:
        r = s.get(Resident, resident_id)
        if r is None or r.consent_at is None:
            abort(404)
        ms = _memberships(s, [r.id], led).get(r.id, [])
        if led is not None and not ms:
            abort(403)  # not a member of the leader's association
        row = _resident(r, ms)
    may_set = MEMBER_ROLES if led is None else {k: MEMBER_ROLES[k] for k in LEADER_MAY_SET}
    return render_template("console/residents_detail.html", r=row, roles=may_set, staff=led is None)


@bp.post("/residents/memberships/<int:membership_id>/role")
@require(StaffRole.STAFF, StaffRole.LEADER)
def resident_role(membership_id: int):
    role = request.form.get("role") or ""
    led = managed_associations()
    with bot().db.session() as s:
        m = s.get(Membership, membership_id)
        if m is None:
            abort(404)
        # Whose member it is comes first: someone else's association gets 403 whatever they sent.
        if led is not None and (m.association_id not in led or m.role == Role.LEADER):
            abort(403)
        if role not in MEMBER_ROLES:
            abort(400)
        if led is not None and role not in LEADER_MAY_SET:
            abort(403)
        resident_id = m.resident_id
        if m.role == role:
            flash(ct("Nothing was changed."), "ok")
            return redirect(url_for("console.resident", resident_id=resident_id))
        apply(s, roster.set_role(s, m, role))  # a leader's role taken away ends their console sessions
        han = s.scalar(select(Household.han).where(Household.id == m.household_id)) if m.household_id else None
    flash(ct("The role is now: {role}.", role=ct(MEMBER_ROLES[role])), "ok")
    if role == Role.HAN_LEADER and not han:
        flash(ct("A block leader sees only their own block: put them in a household of their block too "
                 "(in LINE, “Roster”)."), "error")
    return redirect(url_for("console.resident", resident_id=resident_id))

