"""`GET /c/<token>`: a circular as a simple mobile page, in the reader's language. The token
is unguessable and per recipient; opening the page counts as read."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from sqlalchemy import select

from bot import circulars
from bot.db import utcnow
from bot.i18n import N_, t
from bot.models import Circular, CircularRecipient, Resident

bp = Blueprint("circular_page", __name__, template_folder="templates")


@bp.get("/c/<token>")
def show(token: str):
    if not 20 <= len(token) <= 43:
        abort(404)
    bot = current_app.extensions["tsunagari"]
    with bot.db.session() as s:
        row = s.scalar(select(CircularRecipient).where(CircularRecipient.token == token))
        if row is None or row.resident_id is None:
            abort(404)
        circ = s.get(Circular, row.circular_id)
        resident = s.get(Resident, row.resident_id)
        locale = resident.locale if resident else bot.config.default_locale
        circulars.mark_read(s, row, utcnow())
        title, body, translated = circulars.text_in(circ, locale)
        page = {
            "lang": locale, "title": title, "paragraphs": body.split("\n"), "link": circ.link_url,
            "association": circulars.association_name(s, circ),
            "image": circulars.photo(s, circ, bot.config.with_overrides(public_base_url=None)),
            "image_alt": t(locale, N_("Photo attached to the circular")),
            "note": None if translated else t(locale, N_("(Not translated into your language: shown in Japanese.)")),
            "read": t(locale, N_("Thank you. We have noted that you read it.")),
            "answer": t(locale, N_("Your answer now: {answer}"), answer=row.answer) if row.answer else None,
            "how": t(locale, N_("To answer, use the buttons in LINE.")) if circ.question != "none" else None,
        }
    resp = current_app.make_response(render_template("circular.html", **page))
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Robots-Tag"] = "noindex"
    return resp
