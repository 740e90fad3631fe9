"""Announcements from the center (staff only): the history, composing one, a preview that shows
the message as LINE shows it to each language, then sending or scheduling it; cancelling one that
has not gone out yet.

Composing goes in two steps and nothing is sent before the second: the form is checked and shown
back as a preview (the audience counted per language, the translations that are missing, the send
time, and for urgent notices a confirmation that must be ticked); the preview carries what was
typed in hidden fields (a photo is stored at the preview and carried by its token), and only its
"Send" creates the announcement (`bot.services.announcements.create`), which the clock then delivers. Every
error shows the form again with what was typed kept."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.services import announcements as domain
from bot.core import timefmt
from bot.console import apply, bot, bp, cN_, console_locale, ct, current, photos, require
from bot.core.db import utcnow
from bot.core.i18n import LANGUAGES, t
from bot.core.models import Announcement, Area, Association, AuditEntry, Media, StaffAccount
from bot.core.recurrence import ParseError, Rule, describe, next_after, parse
from bot.core.vocab import AnnouncementStatus, OutboxStatus, PrincipalKind, RuleKind, RunStatus, SendMethod, StaffRole

OTHER_LANGUAGES = [loc for loc in LANGUAGES if loc != "ja"]
WHEN = ("now", "at", "repeat")
KINDS = (("areas", "area"), ("associations", "association"), ("languages", "lang"), ("topics", "topic"))
MAX_TEXT = 4000
MAX_LINK = 500  # Announcement.link_url
HISTORY_LIMIT = 50
FORM_MARGIN = 200_000  # bytes a compose form takes beside its photo

STATUS_NAMES = {AnnouncementStatus.SCHEDULED: cN_("Scheduled"), AnnouncementStatus.DONE: cN_("Done"),
                AnnouncementStatus.CANCELLED: cN_("Cancelled")}
RUN_NAMES = {RunStatus.QUEUEING: cN_("Being sent (queued in parts)"), RunStatus.QUEUED: cN_("Sent out"),
             RunStatus.MISSED: cN_("Missed (the clock was not running)")}
METHOD_NAMES = {SendMethod.BROADCAST: cN_("Broadcast"), SendMethod.MULTICAST: cN_("Multicast"), SendMethod.PUSH: cN_("One by one")}
# LINE calls of an announcement by state (not "Sent", which names a date elsewhere in the console)
DELIVERY_NAMES = ((OutboxStatus.SENT, cN_("Delivered to LINE")), (OutboxStatus.PENDING, cN_("Waiting to be sent")),
                  (OutboxStatus.DEAD, cN_("Failed")), (OutboxStatus.CANCELLED, cN_("Cancelled")))
KIND_NAMES = {"areas": cN_("Areas"), "associations": cN_("Associations"), "languages": cN_("Languages"),
              "topics": cN_("Topics")}


# -- what was typed ---------------------------------------------------------------------------

@dataclass
class Draft:
    """The compose form's values, exactly as typed (kept through errors and the preview)."""

    text: str = ""
    translations: dict[str, str] = field(default_factory=dict)
    link: str = ""
    photo_token: str = ""
    everyone: bool = True
    areas: list[str] = field(default_factory=list)
    associations: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    when: str = "now"
    at: str = ""
    repeat: str = ""
    urgent: bool = False
    key: str = ""  # one per draft: sending the same preview twice creates it once

    @classmethod
    def from_form(cls, form) -> "Draft":
        def many(name: str) -> list[str]:
            out: list[str] = []
            for v in form.getlist(name):
                v = v.strip()[:100]
                if v and v not in out:
                    out.append(v)
            return out[:200]

        def text(name: str) -> str:  # browsers send a textarea's line breaks as CR LF
            return (form.get(name) or "").replace("\r\n", "\n").replace("\r", "\n")[:MAX_TEXT * 2]

        when = form.get("when", "now")
        return cls(
            text=text("text"),
            translations={loc: text(f"tr_{loc}") for loc in OTHER_LANGUAGES if text(f"tr_{loc}").strip()},
            link=(form.get("link") or "").strip()[:MAX_LINK * 2],
            photo_token=(form.get("photo_token") or "").strip()[:43],
            everyone=form.get("everyone") == "1",
            areas=many("area"), associations=many("association"), languages=many("lang"), topics=many("topic"),
            when=when if when in WHEN else "now",
            at=(form.get("at") or "").strip()[:40],
            repeat=(form.get("repeat") or "").strip()[:200],
            urgent=form.get("urgent") == "1",
            key=(form.get("draft") or "").strip()[:64] or secrets.token_urlsafe(16),
        )

    def hidden(self) -> list[tuple[str, str]]:
        """(name, value) pairs that carry the draft through the preview."""
        out = [("text", self.text), ("link", self.link), ("photo_token", self.photo_token), ("when", self.when),
               ("at", self.at), ("repeat", self.repeat), ("draft", self.key)]
        out += [(f"tr_{loc}", v) for loc, v in self.translations.items()]
        if self.everyone:
            out.append(("everyone", "1"))
        if self.urgent:
            out.append(("urgent", "1"))
        for kind, name in KINDS:
            out += [(name, v) for v in getattr(self, kind)]
        return out

    def specs(self) -> list[str]:
        """The audience as bot.services.announcements.parse_audience reads it."""
        return [f"{name}:{v}" for kind, name in KINDS for v in getattr(self, kind)]


@dataclass
class Checked:
    text: str
    translations: dict[str, str]
    link: str | None
    image_id: int | None
    audience: dict[str, Any]
    at: datetime | None
    rule: Rule | None
    first: datetime


class AudienceError(ValueError):
    """A console msgid saying what is wrong with the audience chosen."""


def audience_of(s, d: Draft) -> dict[str, Any]:
    """The audience dict, or domain.AnnouncementError / AudienceError."""
    specs = d.specs()
    if d.everyone and specs:
        raise AudienceError(cN_("Choose either “Everyone” or some groups below, not both."))
    if not d.everyone and not specs:
        raise AudienceError(cN_("Choose who receives it: “Everyone”, or at least one group."))
    return domain.parse_audience(s, ["all"] if d.everyone else specs)


def check(s, d: Draft, now: datetime) -> tuple[Checked | None, dict[str, str]]:
    """What the draft means, or the errors (field id -> message in the console language). The
    domain's create() checks again when it is sent."""
    loc = console_locale()
    tz = bot().config.tz_name
    errors: dict[str, str] = {}
    text = d.text.strip()
    if not text:
        errors["text"] = ct("Please write the announcement in Japanese.")
    elif len(text) > MAX_TEXT:
        errors["text"] = ct("The text is too long: at most {n} characters.", n=f"{MAX_TEXT:,}")
    for lang, tr in d.translations.items():
        if len(tr.strip()) > MAX_TEXT:
            errors[f"tr_{lang}"] = ct("This translation is too long: at most {n} characters.", n=f"{MAX_TEXT:,}")
    if d.link and not d.link.startswith("https://"):
        errors["link"] = ct("A link must start with https://.")
    elif len(d.link) > MAX_LINK:
        errors["link"] = ct("The link is too long: at most {n} characters.", n=MAX_LINK)
    image_id = None
    if d.photo_token:
        image_id = s.scalar(select(Media.id).where(Media.token == d.photo_token))
        if image_id is None:
            errors["photo"] = ct("The photo is no longer available. Please attach it again.")
    audience: dict[str, Any] = {}
    try:
        audience = audience_of(s, d)
    except domain.AnnouncementError as exc:
        errors["audience"] = exc.render(loc, tz)
    except AudienceError as exc:
        errors["audience"] = ct(str(exc))
    at = rule = None
    first = now
    if d.when == "at":
        if not d.at:
            errors["at"] = ct("Please choose the date and time to send it.")
        else:
            try:
                at = timefmt.parse_local(d.at, tz)
            except ValueError:
                errors["at"] = ct("That is not a date and time. Please choose one.")
            else:
                if at < now - timedelta(minutes=1):
                    errors["at"] = ct("That time has already passed. Please choose a later one.")
                first = at
    elif d.when == "repeat":
        if not d.repeat:
            errors["repeat"] = ct("Please write when it repeats, like 「毎週火曜 7:00」 or “every day 8:00”.")
        else:
            try:
                rule, _ = parse(d.repeat + " _", now, tz)
            except ParseError as exc:
                errors["repeat"] = t(loc, exc.reason)
            else:
                nxt = next_after(rule, now, tz) if rule.kind != RuleKind.ONCE else None
                if nxt is None:
                    rule = None
                    errors["repeat"] = ct("That is a single time, not a repeating one: choose “At a date and time” for it.")
                else:
                    first = nxt
    if errors:
        return None, errors
    return Checked(text, {k: v.strip() for k, v in d.translations.items()}, d.link or None, image_id, audience, at,
                   rule, first), {}


def photo_limit() -> int:
    """The largest photo the form can take (the app's request size limit leaves room for it)."""
    return photos.limit(FORM_MARGIN)


def take_photo(d: Draft, errors: dict[str, str]) -> None:
    """Store a newly attached photo (or drop the current one) before anything else is checked,
    so an error elsewhere does not lose it."""
    d.photo_token = photos.take(d.photo_token, errors)


# -- showing things ---------------------------------------------------------------------------

def joiner() -> str:
    return "、" if console_locale() == "ja" else ", "


def choices(s) -> dict[str, list[tuple[str, str]]]:
    """(value, label) of each audience checkbox."""
    loc = console_locale()
    areas = [(a.code, a.names.get("ja") or a.code) for a in
             s.scalars(select(Area).where(Area.active.is_(True)).order_by(Area.position, Area.id))]
    assocs = [(code, name) for code, name in
              s.execute(select(Association.join_code, Association.name).order_by(Association.name))]
    return {"areas": areas, "associations": assocs,
            "languages": list(LANGUAGES.items()),
            "topics": [(code, t(loc, label)) for code, label in domain.TOPICS.items()]}


def audience_words(audience: dict[str, Any], names: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
    """(label, values) lines that say who an announcement goes to."""
    if not audience or audience.get("all"):
        return [(ct("Audience"), ct("Everyone"))]
    return [(ct(KIND_NAMES[kind]), joiner().join(names[kind].get(v, v) for v in audience[kind]))
            for kind in ("areas", "associations", "languages", "topics") if audience.get(kind)]


def names_for(s) -> dict[str, dict[str, str]]:
    c = choices(s)
    return {kind: dict(pairs) for kind, pairs in c.items()}


def counted(s, audience: dict[str, Any], translated) -> dict[str, Any]:
    by_lang = domain.count(s, audience)
    ordered = dict(sorted(by_lang.items(), key=lambda kv: (-kv[1], kv[0])))
    return {"total": sum(by_lang.values()), "by_language": ordered,
            "missing_translations": sorted(loc for loc in by_lang if loc != "ja" and loc not in translated)}


def compose_page(d: Draft, errors: dict[str, str] | None = None, status: int = 200):
    with bot().db.read() as s:
        c = choices(s)
        photo = None
        if d.photo_token:
            photo = s.scalar(select(Media.token).where(Media.token == d.photo_token))
    limit = photo_limit()
    return render_template("console/announcements_new.html", d=d, c=c, errors=errors or {}, photo=photo,
                           languages=LANGUAGES, other_languages=OTHER_LANGUAGES, photo_limit=limit,
                           open_translations=bool(d.translations) or any(k.startswith("tr_") for k in errors or {}),
                           photo_limit_mb=photos.megabytes(limit)), status


def preview_page(d: Draft, ok: Checked, errors: dict[str, str] | None = None, status: int = 200):
    loc = console_locale()
    tz = bot().config.tz_name
    with bot().db.read() as s:
        n = counted(s, ok.audience, ok.translations)
        words = audience_words(ok.audience, names_for(s))
    probe = Announcement(text=ok.text, translations=ok.translations, link_url=ok.link, urgent=d.urgent)
    bubbles = [{"locale": lang, "name": LANGUAGES.get(lang, lang), "count": count,
                "missing": lang in n["missing_translations"], "text": domain.text_for(probe, lang)}
               for lang, count in (n["by_language"].items() or [("ja", 0)])]
    if d.when == "now":
        when = ct("Now, as soon as you press “Send now”")
    elif ok.rule is not None:
        when = ct("{rule} (first: {time})", rule=describe(ok.rule, loc), time=timefmt.show(ok.first, loc, tz))
    else:
        when = timefmt.show(ok.first, loc, tz)
    return render_template("console/announcements_preview.html", d=d, ok=ok, n=n, words=words, bubbles=bubbles,
                           when=when, errors=errors or {}, languages=LANGUAGES), status


# -- the pages --------------------------------------------------------------------------------

@bp.get("/announcements")
@require(StaffRole.STAFF)
def announcements():
    loc = console_locale()
    tz = bot().config.tz_name
    items = []
    with bot().db.read() as s:
        names = names_for(s)
        history = domain.history(s, HISTORY_LIMIT)
        held = domain.held(s, [ann.id for ann, _, _ in history], utcnow())
        for ann, runs, status in history:
            rule = None
            if ann.rule:
                try:
                    rule = describe(Rule.from_json(ann.rule), loc)
                except ValueError:
                    rule = "?"
            delivery = dict(status)
            delivery[OutboxStatus.PENDING] = delivery.get(OutboxStatus.PENDING, 0) + delivery.pop(OutboxStatus.SENDING, 0)
            items.append({
                "id": ann.id, "text": ann.text, "status": ann.status, "urgent": ann.urgent,
                "title": next((line.strip() for line in ann.text.splitlines() if line.strip()), "")[:40],
                "next": timefmt.show(ann.next_fire_at, loc, tz) if ann.next_fire_at else None,
                "rule": rule, "audience": audience_words(ann.audience or {}, names),
                "translated": [LANGUAGES.get(x, x) for x in sorted(ann.translations or {})],
                "link": ann.link_url, "photo": bool(ann.image_id),
                "created": timefmt.show(ann.created_at, loc, tz) if ann.created_at else "",
                "created_by": ann.created_by or "",
                "runs": [{"time": timefmt.show(r.fire_time, loc, tz), "status": r.status, "recipients": r.recipients,
                          "digested": r.digested, "calls": r.calls, "method": r.method} for r in runs],
                "delivery": [(label, delivery.get(key, 0)) for key, label in DELIVERY_NAMES
                             if key != OutboxStatus.CANCELLED or delivery.get(key)],
                "held": ({"residents": held[ann.id].residents, "until": timefmt.show(held[ann.id].until, loc, tz)}
                         if ann.id in held else None),
                "waiting": delivery.get(OutboxStatus.PENDING, 0),
            })
    return render_template("console/announcements.html", items=items, status_names=STATUS_NAMES,
                           run_names=RUN_NAMES, method_names=METHOD_NAMES)


@bp.get("/announcements/new")
@require(StaffRole.STAFF)
def announcement_new():
    return compose_page(Draft(key=secrets.token_urlsafe(16)))


@bp.post("/announcements/new")
@require(StaffRole.STAFF)
def announcement_preview():
    """Check the form; show it again with its errors, or show the preview (nothing is sent)."""
    d = Draft.from_form(request.form)
    errors: dict[str, str] = {}
    take_photo(d, errors)
    with bot().db.read() as s:
        ok, more = check(s, d, utcnow())
    errors.update({k: v for k, v in more.items() if k not in errors})
    if errors or ok is None:
        return compose_page(d, errors, 422)
    return preview_page(d, ok)


@bp.post("/announcements/confirm")
@require(StaffRole.STAFF)
def announcement_confirm():
    """From the preview: back to editing, or create the announcement."""
    d = Draft.from_form(request.form)
    if request.form.get("action") == "edit":
        return compose_page(d)
    now = utcnow()
    with bot().db.read() as s:
        ok, errors = check(s, d, now)
    if ok is None:
        return compose_page(d, errors, 422)
    if d.urgent and request.form.get("confirm_urgent") != "1":
        return preview_page(d, ok, {"confirm_urgent": ct("Please tick the box to confirm that this is an urgent notice.")},
                            422)
    p = current()
    created_by = p.actor
    tz = bot().config.tz_name
    try:
        with bot().db.session() as s:
            if p.kind == PrincipalKind.STAFF:
                username = s.scalar(select(StaffAccount.username).where(StaffAccount.id == p.id))
                created_by = f"staff:{username}" if username else p.actor
            done = _already_sent(s, p.actor, d.key, now)
            if done is None:
                ann, out = domain.create(s, text=ok.text, audience=ok.audience, now=now, at=ok.at, rule=ok.rule,
                                         translations=ok.translations, link=ok.link, image_id=ok.image_id,
                                         urgent=d.urgent, created_by=created_by[:60], tz_name=tz)
                out.audit[0].detail.update(draft=d.key, when=d.when)  # which draft, and the time as written
                apply(s, out)
                ann_id, first = ann.id, ann.next_fire_at
    except domain.AnnouncementError as exc:  # rolled back: nothing was created
        return compose_page(d, {"form": exc.render(console_locale(), tz)}, 422)
    if done is not None:
        flash(ct("Announcement {id} was already created from this preview; it was not created again.", id=done),
              "error")
        return redirect(url_for("console.announcements"))
    if d.when == "now":
        flash(ct("Announcement {id} is being sent now.", id=ann_id) if d.urgent else
              ct("Announcement {id} is being sent now; residents in their quiet hours get it when those end "
                 "(the list shows how many are waiting).", id=ann_id), "ok")
    else:
        flash(ct("Announcement {id} is scheduled for {time}.", id=ann_id,
                 time=timefmt.show(first, console_locale(), tz)), "ok")
    return redirect(url_for("console.announcements"))


def _already_sent(s, actor: str, key: str, now: datetime) -> int | None:
    """The announcement this preview created already (a second click on "Send"), if any."""
    for target, detail in s.execute(
            select(AuditEntry.target, AuditEntry.detail)
            .where(AuditEntry.action == "create_announcement", AuditEntry.actor == actor,
                   AuditEntry.at > now - timedelta(days=1))
            .order_by(AuditEntry.id.desc()).limit(200)):
        if (detail or {}).get("draft") == key and target:
            return int(target.split(":")[1])
    return None


@bp.get("/announcements/count")
@require(StaffRole.STAFF)
def announcement_count():
    """How many residents an audience reaches, by language (the compose form's live count)."""
    d = Draft.from_form(request.args)
    translated = {x for x in request.args.getlist("translated") if x in LANGUAGES}
    translated |= set(d.translations)
    with bot().db.read() as s:
        try:
            audience = audience_of(s, d)
        except domain.AnnouncementError as exc:
            return jsonify({"error": exc.render(console_locale(), bot().config.tz_name)}), 400
        except AudienceError as exc:
            return jsonify({"error": ct(str(exc))}), 400
        return jsonify(counted(s, audience, translated))


@bp.post("/announcements/<int:announcement_id>/cancel")
@require(StaffRole.STAFF)
def announcement_cancel(announcement_id: int):
    with bot().db.session() as s:
        ann = s.get(Announcement, announcement_id)
        if ann is None:
            abort(404)
        try:
            apply(s, domain.cancel(s, ann))
        except domain.AnnouncementError as exc:
            flash(exc.render(console_locale(), bot().config.tz_name), "error")
            return redirect(url_for("console.announcements"))
    flash(ct("Announcement {id} was cancelled: it will not be sent.", id=announcement_id), "ok")
    return redirect(url_for("console.announcements"))
