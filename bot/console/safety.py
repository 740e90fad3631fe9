"""Safety checks (安否確認) in the console: staff start one (with a confirmation that says how
many residents will be asked) and end it; everyone who may see a check sees its tally by area
and by association, refreshed while it runs, and the households of an association the most
urgent first, which a leader marks after a call or a visit; a CSV for the center.

Who sees what: staff every check; a 会長 the checks that asked their association (everyone, or
their association), with their association's households; a 班長 the same, their 班 only.
The rules are `bot.services.safety`, the same the command line and LINE use."""
from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from bot.console import apply, audit, bot, bp, cN_, console_locale, ct, current, require
from bot.core import csvout, jma as jma_words, timefmt
from bot.core.db import utcnow
from bot.core.errors import UserError
from bot.core.models import Area, Association, Household, PreparedCheck, Resident, SafetyAnswer, SafetyCheck
from bot.core.i18n import t
from bot.core.vocab import SafetyStatus, StaffRole, SupportKind
from bot.services import jma, safety

STATUS_LABELS = {"help": cN_("Needs help"), "none": cN_("No answer yet"), "evacuated": cN_("Evacuated"), "safe": cN_("Safe")}
RELOAD_SECONDS = 30  # a running check's page refreshes itself


def _associations_seen(check: SafetyCheck) -> list[int] | None:
    """The associations of the check the signed-in person may see (None: all, for staff)."""
    p = current()
    if p.is_staff:
        return None
    scope = check.scope or {}
    mine = list(p.scope)
    if scope.get("all"):
        return mine
    if scope.get("association") in mine:
        return [scope["association"]]
    return []


def _check_or_403(s, check_id: int) -> SafetyCheck:
    check = s.get(SafetyCheck, check_id)
    if check is None:
        abort(404)
    if _associations_seen(check) == []:
        abort(403)
    return check


def _scope_text(s, scope: dict) -> str:
    if scope.get("areas"):
        names = [a.name("ja") for a in s.scalars(select(Area).where(Area.code.in_(scope["areas"])))]
        return ct("Areas: {areas}", areas="、".join(names))
    if scope.get("association"):
        assoc = s.get(Association, scope["association"])
        return ct("Members of {association}", association=assoc.name if assoc else "?")
    return ct("Everyone")


def _form_scope(s) -> tuple[dict | None, str | None]:
    kind = request.form.get("to", "all")
    if kind == "all":
        return {"all": True}, None
    if kind == "areas":
        codes = sorted(set(s.scalars(select(Area.code).where(Area.code.in_(request.form.getlist("areas"))))))
        return ({"areas": codes}, None) if codes else (None, ct("Choose at least one area."))
    if kind == "association":
        try:
            assoc = s.get(Association, int(request.form.get("association", "")))
        except ValueError:
            assoc = None
        return ({"association": assoc.id}, None) if assoc else (None, ct("Choose the association."))
    return None, ct("Choose who is asked.")


@bp.get("/safety")
@require(StaffRole.STAFF, StaffRole.LEADER, StaffRole.HAN_LEADER)
def safety_checks():
    with bot().db.read() as s:
        rows = []
        for check in s.scalars(select(SafetyCheck).order_by(SafetyCheck.id.desc()).limit(50)):
            if _associations_seen(check) == []:
                continue
            rows.append({"id": check.id, "drill": check.drill, "scope": _scope_text(s, check.scope),
                         "started": timefmt.show(check.created_at, "ja", bot().config.tz_name),
                         "running": check.ended_at is None, "tally": safety.tally(s, check)})
        areas = [(a.code, a.name("ja")) for a in s.scalars(select(Area).where(Area.active.is_(True)).order_by(Area.position))]
        associations = list(s.execute(select(Association.id, Association.name).order_by(Association.name)))
        lang = "ja" if console_locale() == "ja" else "en"
        prepared = [{"id": p.id, "text": jma_words.describe(p.event, lang),
                     "at": timefmt.show(p.created_at, "ja", bot().config.tz_name)}
                    for p in jma.open_prepared(s)] if current().is_staff else []
    return render_template("console/safety.html", rows=rows, areas=areas, associations=associations, form={},
                           prepared=prepared)


def _prepared_or_404(s, prepared_id: int) -> PreparedCheck:
    p = s.get(PreparedCheck, prepared_id)
    if p is None:
        abort(404)
    return p


@bp.post("/safety/prepared/<int:prepared_id>/start")
@require(StaffRole.STAFF)
def safety_prepared_start(prepared_id: int):
    """One tap: the check the clock prepared from the JMA's report starts now."""
    with bot().db.session() as s:
        try:
            check, outcome = jma.start(s, _prepared_or_404(s, prepared_id), bot().config, utcnow(), current().actor)
        except UserError:
            flash(ct("This prepared check was already started or dismissed."), "error")
            return redirect(url_for("console.safety_checks"))
        apply(s, outcome)
        check_id = check.id
    flash(ct("The safety check has started: {n} residents are being asked now.", n=outcome.facts["residents"]), "ok")
    return redirect(url_for("console.safety_check", check_id=check_id))


@bp.post("/safety/prepared/<int:prepared_id>/dismiss")
@require(StaffRole.STAFF)
def safety_prepared_dismiss(prepared_id: int):
    with bot().db.session() as s:
        try:
            apply(s, jma.dismiss(s, _prepared_or_404(s, prepared_id), utcnow(), current().actor))
        except UserError:
            flash(ct("This prepared check was already started or dismissed."), "error")
            return redirect(url_for("console.safety_checks"))
    flash(ct("Dismissed: nobody was asked."), "ok")
    return redirect(url_for("console.safety_checks"))


@bp.post("/safety/new")
@require(StaffRole.STAFF)
def safety_new():
    """First the confirmation (how many will be asked), then the start."""
    drill = request.form.get("drill") == "1"
    note = (request.form.get("note") or "").strip()[:safety.NOTE_MAX]
    try:
        reask = max(0, min(24 * 60, int(request.form.get("reask_minutes") or "30")))
    except ValueError:
        reask = 30
    with bot().db.session() as s:
        scope, problem = _form_scope(s)
        if problem:
            flash(problem, "error")
            return redirect(url_for("console.safety_checks"))
        if request.form.get("confirm") != "yes":
            count = len(safety.audience(s, scope))
            return render_template("console/safety_confirm.html", scope=scope, scope_text=_scope_text(s, scope),
                                   count=count, drill=drill, note=note, reask=reask, form=request.form)
        check, outcome = safety.start(s, scope, utcnow(), drill=drill, note=note or None,
                                      started_by=current().actor, reask_minutes=reask)
        apply(s, outcome)
        check_id = check.id
    flash(ct("The safety check has started: {n} residents are being asked now.", n=outcome.facts["residents"]), "ok")
    return redirect(url_for("console.safety_check", check_id=check_id))


def _by_area(s, check: SafetyCheck) -> list[tuple[str, dict[str, int]]]:
    stmt = (select(Area.code, SafetyAnswer.status, func.count()).select_from(SafetyAnswer)
            .join(Resident, Resident.id == SafetyAnswer.resident_id).outerjoin(Area, Area.id == Resident.area_id)
            .where(SafetyAnswer.check_id == check.id).group_by(Area.code, SafetyAnswer.status))
    names = {a.code: a.name("ja") for a in s.scalars(select(Area))}
    out: dict[str, dict[str, int]] = {}
    for code, status, n in s.execute(stmt):
        row = out.setdefault(names.get(code, "—"), {"help": 0, "none": 0, "evacuated": 0, "safe": 0})
        row[status or "none"] += n
    return sorted(out.items(), key=lambda kv: (-kv[1]["help"], -kv[1]["none"], kv[0]))


def _households(s, check: SafetyCheck, seen: list[int] | None) -> list[dict]:
    assoc_ids = [a for (a,) in s.execute(select(SafetyAnswer.association_id).where(
        SafetyAnswer.check_id == check.id, SafetyAnswer.association_id.is_not(None)).distinct())]
    if seen is not None:
        assoc_ids = [a for a in assoc_ids if a in seen]
    names = dict(s.execute(select(Association.id, Association.name).where(Association.id.in_(assoc_ids))).all())
    out = []
    for aid in sorted(assoc_ids, key=lambda a: names.get(a, "")):
        han = current().han_for(aid) if not current().is_staff else None
        homes = safety.households(s, check, aid, han, staff=current().is_staff)
        ids = dict(s.execute(select(Household.label, Household.id).where(Household.association_id == aid)).all())
        out.append({"id": aid, "name": names.get(aid, "?"), "han": han,
                    "homes": [{"h": h, "id": ids.get(h.household)} for h in homes]})
    return out


def _support_text(kinds) -> str:
    """The support register's needs in the console's words (the residents' catalog, in Japanese
    for a Japanese console, else English)."""
    lang = "ja" if console_locale() == "ja" else "en"
    return "・".join(t(lang, safety.SUPPORT_LABELS[SupportKind(k)]) for k in kinds) or ct("Registered")


@bp.get("/safety/<int:check_id>")
@require(StaffRole.STAFF, StaffRole.LEADER, StaffRole.HAN_LEADER)
def safety_check(check_id: int):
    with bot().db.read() as s:
        check = _check_or_403(s, check_id)
        seen = _associations_seen(check)
        page = {"id": check.id, "drill": check.drill, "scope": _scope_text(s, check.scope), "note": check.note,
                "started": timefmt.show(check.created_at, "ja", bot().config.tz_name), "running": check.ended_at is None,
                "tally": safety.tally(s, check) if seen is None else None,
                "areas": _by_area(s, check) if seen is None else [],
                "associations": _households(s, check, seen)}
        evacuated = safety.by_shelter(s, check)
        page["shelters"] = [(x.name if x else None, n) for x, n in evacuated] if seen is None else []
        shelter_names = {x.id: x.name for x, _ in evacuated if x is not None}
    return render_template("console/safety_check.html", check=page, labels=STATUS_LABELS, reload=RELOAD_SECONDS,
                           support_text=_support_text, shelter_names=shelter_names,
                           statuses=[(st.value, safety.STATUS_NAMES[st]) for st in SafetyStatus])


@bp.post("/safety/<int:check_id>/households/<int:household_id>")
@require(StaffRole.STAFF, StaffRole.LEADER, StaffRole.HAN_LEADER)
def safety_mark(check_id: int, household_id: int):
    """A leader marks a household after a phone call or a visit."""
    with bot().db.session() as s:
        check = _check_or_403(s, check_id)
        home = s.get(Household, household_id)
        if home is None:
            abort(404)
        p = current()
        if not p.is_staff and (not p.sees_association(home.association_id)
                               or p.han_for(home.association_id) not in (None, home.han)):
            abort(403)
        try:
            status = SafetyStatus(request.form.get("status", ""))
        except ValueError:
            flash(ct("Choose safe, needs help or evacuated."), "error")
            return redirect(url_for("console.safety_check", check_id=check_id))
        if check.ended_at is not None:
            flash(ct("This safety check has ended."), "error")
            return redirect(url_for("console.safety_check", check_id=check_id))
        n = safety.mark_household(s, check, home, status, utcnow(), p.actor)
        audit(s, "mark_safety_household", f"household:{home.id}", check=check.id, status=status.value, rows=n)
    flash(ct("Marked “{household}”.", household=home.label) if n else
          ct("Everyone in “{household}” had already answered.", household=home.label), "ok")
    return redirect(url_for("console.safety_check", check_id=check_id))


@bp.post("/safety/<int:check_id>/end")
@require(StaffRole.STAFF)
def safety_end(check_id: int):
    with bot().db.session() as s:
        check = _check_or_403(s, check_id)
        if check.ended_at is not None:
            flash(ct("This safety check has ended."), "ok")
            return redirect(url_for("console.safety_check", check_id=check_id))
        apply(s, safety.end(s, check, utcnow(), current().actor))
    flash(ct("The safety check has ended. Answers are no longer taken."), "ok")
    return redirect(url_for("console.safety_check", check_id=check_id))


@bp.get("/safety/<int:check_id>/visits")
@require(StaffRole.STAFF, StaffRole.LEADER, StaffRole.HAN_LEADER)
def safety_visits(check_id: int):
    """The households to visit, printable: needing help, then registered as needing support,
    then no answer (paper households included); safe and evacuated ones left out."""
    with bot().db.read() as s:
        check = _check_or_403(s, check_id)
        associations = _households(s, check, _associations_seen(check))
        for a in associations:
            a["homes"] = [item["h"] for item in a["homes"] if item["h"].status in (None, SafetyStatus.HELP.value)]
        printed = timefmt.show(utcnow(), "ja", bot().config.tz_name)
        drill = check.drill
    return render_template("safety_visits.html", check_id=check_id, drill=drill, associations=associations,
                           printed=printed, support=lambda kinds: "・".join(
                               t("ja", safety.SUPPORT_LABELS[SupportKind(k)]) for k in kinds))


@bp.get("/safety/<int:check_id>.csv")
@require(StaffRole.STAFF, StaffRole.LEADER, StaffRole.HAN_LEADER)
def safety_csv(check_id: int):
    with bot().db.read() as s:
        check = _check_or_403(s, check_id)
        rows = []
        names = {x.id: x.name for x, _ in safety.by_shelter(s, check) if x is not None}
        for assoc in _households(s, check, _associations_seen(check)):
            for item in assoc["homes"]:
                h = item["h"]
                rows.append((assoc["name"], h.han or "", h.household, "紙" if h.paper else "",
                             {"help": "助けが必要", "evacuated": "避難", "safe": "無事"}.get(h.status or "", "未回答"),
                             "・".join(t("ja", safety.SUPPORT_LABELS[SupportKind(k)]) for k in h.support) or
                             ("要支援" if h.registered else ""), " / ".join(h.notes),
                             "・".join(names.get(i, "") for i in h.shelters)))
    body = csvout.to_bytes(["町内会", "班", "世帯", "紙", "状況", "要支援", "メモ", "避難先"], rows)
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="safety-{check_id}.csv"'})
