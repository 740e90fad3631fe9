"""Writing and sending a circular (回覧板) in the console: form → preview → send, for staff
(one, several or all associations) and an association's leader (会長, their own).

The form has what the LINE flow asks (title, text, link, question, deadline, whole association
or one 班) and, like the announcement form, an optional photo and optional translations into the
languages the bot speaks. The photo is stored as soon as the form comes in (`photos.take`: JPEG
or PNG, re-encoded by `bot.core.media` without its metadata) and carried by its token through errors
and the preview; translations are a title and a text per language, both or neither. Every error
shows the form again with everything typed (and the photo) kept. Nothing is sent before "Send
now" on the preview, which carries a one-time token so that a double click sends once.

The checks are the LINE flow's (`conversations.compose_circular`, `conversations.common`), with
its messages; sending is `bot.services.circulars.send`."""
from __future__ import annotations

import re
import secrets
from collections import Counter

from flask import abort, flash, redirect, render_template, request, session, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import services
from bot.console import bot, bp, cN_, console_locale, ct, current, photos, require
from bot.console.circulars import _when, led_associations
from bot.core import timefmt
from bot.core.db import utcnow
from bot.core.i18n import LANGUAGES, N_, t
from bot.core.models import Association, Circular, Household, Media
from bot.core.vocab import CircularQuestion, PrincipalKind, StaffRole
from bot.services import circulars
from conversations import common
from conversations.compose_circular import accept_choices
from conversations.engine import Answer, Invalid

QUESTIONS = ((CircularQuestion.NONE, cN_("No question")),
             (CircularQuestion.ATTENDANCE, cN_("Attendance (attending / not attending / not sure)")),
             (CircularQuestion.CHOICES, cN_("Own choices")))
MAX_REMIND_DAYS = 14
TITLE_MAX = 100  # Circular.title; the LINE flow's limits
BODY_MAX = 2000
OTHER_LANGUAGES = [loc for loc in LANGUAGES if loc != "ja"]
_LINK = re.compile(r"https://[^\s<>\"]{3,490}")
_COMPOSE_KEY = "circular_compose"  # one-time tokens of the previews shown (a send uses one up)


def _hans(s: Session, assoc_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, set[str]] = {a: set() for a in assoc_ids}
    for a, h in s.execute(select(Household.association_id, Household.han).where(
            Household.association_id.in_(assoc_ids), Household.han.is_not(None))):
        out[a].add(h)
    return {a: sorted(hs) for a, hs in out.items()}


def _empty_form() -> dict:
    return {"title": "", "body": "", "link": "", "question": CircularQuestion.NONE, "choices": "", "deadline": "",
            "audience": "whole", "han": "", "associations": [], "all_associations": False,
            "remind_days": "1", "public_answers": False, "photo_token": "", "translations": {}}


def _raw_form() -> dict:
    f = request.form

    def text(name: str, max_len: int) -> str:  # as typed (kept on errors), within reason
        return f.get(name, "")[:max_len * 2]

    translations = {}
    for loc in OTHER_LANGUAGES:
        tr = {"title": text(f"tr_{loc}_title", TITLE_MAX), "body": text(f"tr_{loc}_body", BODY_MAX),
              "choices": text(f"tr_{loc}_choices", 200)}
        if tr["title"].strip() or tr["body"].strip() or tr["choices"].strip():
            translations[loc] = tr
    return {
        "title": f.get("title", ""), "body": f.get("body", ""), "link": f.get("link", "").strip(),
        "question": f.get("question", CircularQuestion.NONE), "choices": f.get("choices", ""), "deadline": f.get("deadline", "").strip(),
        "audience": f.get("audience", "whole"), "han": f.get("han", ""),
        "associations": f.getlist("association"), "all_associations": f.get("all_associations") == "1",
        "remind_days": f.get("remind_days", "1").strip(), "public_answers": f.get("public_answers") == "1",
        "photo_token": (f.get("photo_token") or "").strip()[:43], "translations": translations,
    }


def hidden_fields(raw: dict) -> list[tuple[str, str]]:
    """(name, value) pairs that carry the form through the preview."""
    out = [(key, raw[key]) for key in ("title", "body", "link", "question", "choices", "deadline", "audience", "han",
                                       "remind_days", "photo_token")]
    out += [("association", a) for a in raw["associations"]]
    if raw["all_associations"]:
        out.append(("all_associations", "1"))
    if raw["public_answers"]:
        out.append(("public_answers", "1"))
    for loc, tr in raw["translations"].items():
        out += [(f"tr_{loc}_title", tr["title"]), (f"tr_{loc}_body", tr["body"]), (f"tr_{loc}_choices", tr.get("choices", ""))]
    return out


def validate(s: Session, raw: dict) -> tuple[dict, dict[str, str]]:
    """The circular to send, from the form; the LINE flow's checks (title, text, choices,
    deadline) with its messages. Ids from the form are checked against what the person leads."""

    loc, tz = console_locale(), bot().config.tz_name
    errors: dict[str, str] = {}
    clean: dict = {}

    def check(field: str, accept, text: str, label: str | None = None):
        try:
            return accept(None, {}, Answer(text=text))
        except Invalid as exc:
            problem = t(loc, exc.msgid, **exc.named)
            errors[field] = ct("{language}: {problem}", language=label, problem=problem) if label else problem
            return None

    title_ok = common.free_text(TITLE_MAX, N_("Please write a title."), single_line=True)
    body_ok = common.free_text(BODY_MAX, N_("Please write the text."))
    clean["title"] = check("title", title_ok, raw["title"])
    clean["body"] = check("body", body_ok, raw["body"])
    clean["link"] = raw["link"] or None
    if clean["link"] and not _LINK.fullmatch(clean["link"]):
        errors["link"] = ct("The link must start with https:// (or leave it empty).")
    clean["translations"] = {}
    for lang, tr in raw["translations"].items():
        name = LANGUAGES[lang]
        if not tr["title"].strip() or not tr["body"].strip():
            errors[f"tr_{lang}_{'body' if tr['title'].strip() else 'title'}"] = ct(
                "{language}: please write both the title and the text of the translation, or leave both empty.",
                language=name)
            continue
        title = check(f"tr_{lang}_title", title_ok, tr["title"], name)
        body = check(f"tr_{lang}_body", body_ok, tr["body"], name)
        if title is not None and body is not None:
            clean["translations"][lang] = {"title": title, "body": body}
            if raw["question"] == CircularQuestion.CHOICES and tr.get("choices", "").strip():
                translated = check(f"tr_{lang}_choices", accept_choices, tr["choices"], name) or []
                try:
                    ja = accept_choices(None, {}, Answer(text=raw["choices"]))
                except Invalid:
                    ja = []  # the Japanese choices' own error is shown
                if translated and ja and len(translated) != len(ja):
                    errors[f"tr_{lang}_choices"] = ct(
                        "{language}: please translate each of the {n} choices, in the same order.", language=name, n=len(ja))
                elif translated:
                    clean["translations"][lang]["choices"] = translated
    clean["image_id"] = None
    if raw["photo_token"]:
        clean["image_id"] = s.scalar(select(Media.id).where(Media.token == raw["photo_token"]))
        if clean["image_id"] is None:
            errors["photo"] = ct("The photo is no longer available. Please attach it again.")
    clean["question"] = raw["question"] if raw["question"] in dict(QUESTIONS) else CircularQuestion.NONE
    clean["choices"] = []
    if clean["question"] == CircularQuestion.CHOICES:
        clean["choices"] = check("choices", accept_choices, raw["choices"]) or []
    clean["deadline"] = None
    if raw["deadline"]:
        try:
            when = timefmt.parse_local(raw["deadline"], tz)
        except ValueError:
            errors["deadline"] = ct("Please give the deadline as a date and time.")
        else:
            now = utcnow()
            if when <= now:
                errors["deadline"] = t(loc, N_("That time has already passed. Please choose a time in the future."))
            elif when > now + circulars.DEADLINE_MAX:
                errors["deadline"] = t(loc, N_("Please choose a deadline within the next year."))
            clean["deadline"] = when
    try:
        clean["remind_days"] = int(raw["remind_days"] or "1")
        if not 0 <= clean["remind_days"] <= MAX_REMIND_DAYS:
            raise ValueError
    except ValueError:
        errors["remind_days"] = ct("Please give a number of days from 0 to {max}.", max=MAX_REMIND_DAYS)
    clean["public_answers"] = raw["public_answers"]
    led = dict(led_associations(s))
    clean["han"], clean["targets"] = None, []
    if raw["audience"] == "han":
        aid, _, han = raw["han"].partition(":")
        if not aid.isdigit() or not han:
            errors["han"] = ct("Please choose the block (班).")
        else:
            if int(aid) not in led:
                abort(403)
            if han not in _hans(s, [int(aid)])[int(aid)]:
                errors["han"] = ct("Please choose the block (班).")
            clean["han"], clean["targets"] = han, [int(aid)]
    elif raw["all_associations"] and current().is_staff:
        clean["targets"] = list(led)
    else:
        try:
            chosen = [int(a) for a in raw["associations"]]
        except ValueError:
            abort(400)
        if any(a not in led for a in chosen):
            abort(403)  # a leader sends for their own association only
        if not chosen and len(led) == 1:
            chosen = list(led)
        clean["targets"] = sorted(set(chosen))
        if not chosen:
            errors["association"] = ct("Please choose at least one association.")
    return clean, errors


def _values(clean: dict, assoc_id: int) -> dict:
    return dict(association_id=assoc_id, han=clean["han"], title=clean["title"], body=clean["body"],
                link_url=clean["link"], translations=clean["translations"], image_id=clean["image_id"],
                question=clean["question"], choices=clean["choices"], public_answers=clean["public_answers"],
                deadline=clean["deadline"], remind_days_before=clean["remind_days"])


def _draft(clean: dict, assoc_id: int) -> Circular:
    return Circular(**_values(clean, assoc_id))


def _form_page(s: Session, raw: dict, errors: dict[str, str], status: int = 200):
    led = led_associations(s)
    hans = _hans(s, [a for a, _ in led])
    photo = s.scalar(select(Media.token).where(Media.token == raw["photo_token"])) if raw["photo_token"] else None
    limit = photos.limit()
    return render_template("console/circulars_new.html", raw=raw, errors=errors, led=led, hans=hans,
                           questions=QUESTIONS, max_remind=MAX_REMIND_DAYS, photo=photo,
                           languages=LANGUAGES, other_languages=OTHER_LANGUAGES, title_max=TITLE_MAX,
                           body_max=BODY_MAX, photo_limit=limit, photo_limit_mb=photos.megabytes(limit),
                           open_translations=bool(raw["translations"]) or any(k.startswith("tr_") for k in errors)
                           ), status


def _preview_page(s: Session, raw: dict, clean: dict):
    """The notice as members of each language will see it in LINE, the full text, who gets it."""
    config = bot().config
    names = dict(s.execute(select(Association.id, Association.name)).all())
    targets, by_language = [], Counter()
    for aid in clean["targets"]:
        members, paper = circulars.audience(s, _draft(clean, aid))
        targets.append({"name": names.get(aid, "?"), "members": len(members), "paper": len(paper)})
        by_language.update(locale for _, _, _, locale, _ in members)
    first = _draft(clean, clean["targets"][0])
    pic = circulars.photo(s, first, config.with_overrides(public_base_url=None))
    assoc_name = names.get(first.association_id, "")
    card = circulars.notice(first, "ja", config, assoc_name, pic[0] if pic else None)
    others = []
    for lang in OTHER_LANGUAGES:
        if by_language.get(lang) or lang in clean["translations"]:
            title, body, translated = circulars.text_in(first, lang)
            others.append({"locale": lang, "name": LANGUAGES[lang], "count": by_language.get(lang, 0),
                           "translated": translated and lang in clean["translations"], "title": title, "body": body,
                           "card": circulars.notice(first, lang, config, assoc_name, pic[0] if pic else None)})
    missing = [o["name"] for o in others if not o["translated"] and o["count"]]
    choices_missing = [LANGUAGES[loc] for loc in circulars.missing_choice_translations(first)]
    token = secrets.token_urlsafe(16)
    session[_COMPOSE_KEY] = (session.get(_COMPOSE_KEY) or [])[-4:] + [token]
    return render_template("console/circulars_preview.html", raw=raw, clean=clean, targets=targets, card=card,
                           options=circulars.answer_options(first, "ja"), deadline=_when(clean["deadline"]),
                           token=token, question_label=dict(QUESTIONS)[clean["question"]], photo=pic,
                           ja_count=by_language.get("ja", 0), others=others, missing=missing,
                           choices_missing=choices_missing,
                           hidden=hidden_fields(raw), languages=LANGUAGES,
                           joiner="、" if console_locale() == "ja" else ", ")


@bp.route("/circulars/new", methods=["GET", "POST"])
@require(StaffRole.STAFF, StaffRole.LEADER)
def circular_new():
    config = bot().config
    with bot().db.read() as s:
        if not led_associations(s):
            abort(403)
        if request.method == "GET":
            return _form_page(s, _empty_form(), {})
    raw = _raw_form()
    step = request.form.get("step", "preview")
    errors: dict[str, str] = {}
    raw["photo_token"] = photos.take(raw["photo_token"], errors)  # first: an error elsewhere keeps it
    with bot().db.read() as s:
        clean, more = validate(s, raw)
        errors.update({k: v for k, v in more.items() if k not in errors})
        if step == "edit" or errors:
            return _form_page(s, raw, errors, 400 if errors else 200)
        if step != "send":
            return _preview_page(s, raw, clean)
    # step == "send": a preview's one-time token, so a double click sends once
    tokens = session.get(_COMPOSE_KEY) or []
    token = request.form.get("token", "")
    if token not in tokens:
        flash(ct("This circular was already sent (or the preview is too old). Please check the list."), "error")
        return redirect(url_for("console.circulars"), 303)
    session[_COMPOSE_KEY] = [x for x in tokens if x != token]
    p = current()
    sent_ids, members, paper = [], 0, 0
    with bot().db.session() as s:
        now = utcnow()
        for aid in clean["targets"]:
            by = p.id if p.kind == PrincipalKind.RESIDENT else None
            circ, result, outcome = circulars.create_and_send(s, _values(clean, aid), config, now, created_by_id=by)
            services.apply(s, outcome, p.actor)
            sent_ids.append(circ.id)
            members += result["members"]
            paper += result["paper_households"]
    flash(ct("Sent to {members} members in LINE. Paper households: {paper} (print the sheet for them).",
             members=members, paper=paper) if paper else
          ct("Sent to {members} members in LINE; no household gets it on paper.", members=members))
    if len(sent_ids) == 1:
        return redirect(url_for("console.circular", circular_id=sent_ids[0]), 303)
    return redirect(url_for("console.circulars"), 303)
