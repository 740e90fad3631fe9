"""`/c/<token>`: a circular as a simple mobile page, in the reader's language. The token is
unguessable and per recipient.

Opening the page does not by itself count as read: link previewers (LINE's own, chat apps,
mail scanners) fetch it too, with GET or HEAD. It counts as read when the reader taps
「読みました」 on the page (a form POST back to the same address), or when a real browser has had
the page visible for a moment (static/circular.js POSTs the same way; previewers run no
scripts). The POST needs nothing but the address: the token is the key, so another site cannot
forge it without knowing the token, and browsers that say where a request comes from
(`Sec-Fetch-Site`) are only heard from this site itself."""
from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from bot import circulars
from bot.db import utcnow
from bot.i18n import N_, t
from bot.models import Circular, CircularRecipient, Resident
from bot.vocab import CircularQuestion
from bot.wiring import current_bot

bp = Blueprint("circular_page", __name__, template_folder="templates")

# User agents of link previewers, crawlers and scanners: they never mark a circular read.
# ("facebookexternalhit/1.1;line-poker/1.0" is LINE's own link preview.)
PREVIEWERS = re.compile(
    r"facebookexternalhit|facebot|line-poker|twitterbot|slackbot|slack-imgproxy|discordbot|telegrambot|whatsapp|"
    r"linkedinbot|skypeuripreview|microsoftpreview|googlebot|google-inspectiontool|bingbot|applebot|"
    r"yandexbot|baiduspider|duckduckbot|petalbot|embedly|iframely|pinterestbot|redditbot|bluesky|cardyb|"
    r"vkshare|headlesschrome|phantomjs|python-|curl/|wget/|go-http-client|okhttp|java/|libwww|"
    r"crawler|spider|preview|scanner|bot/|bot;|\+https?://",
    re.IGNORECASE,
)


def is_previewer(user_agent: str | None) -> bool:
    return not user_agent or bool(PREVIEWERS.search(user_agent))


def _recipient(s, token: str) -> CircularRecipient:
    if not 20 <= len(token) <= 43:
        abort(404)
    row = s.scalar(select(CircularRecipient).where(CircularRecipient.token == token))
    if row is None or row.resident_id is None:
        abort(404)
    return row


def _no_store(resp):
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Robots-Tag"] = "noindex"
    return resp


@bp.get("/c/<token>")
def show(token: str):
    """The page (GET and HEAD): reading it changes nothing."""
    bot = current_bot()
    with bot.db.read() as s:
        row = _recipient(s, token)
        circ = s.get(Circular, row.circular_id)
        resident = s.get(Resident, row.resident_id)
        locale = resident.locale if resident else bot.config.default_locale
        title, body, translated = circulars.text_in(circ, locale)
        page = {
            "lang": locale, "title": title, "paragraphs": body.split("\n"), "link": circ.link_url,
            "association": circulars.association_name(s, circ),
            "image": circulars.photo(s, circ, bot.config.with_overrides(public_base_url=None)),
            "image_alt": t(locale, N_("Photo attached to the circular")),
            "note": None if translated else t(locale, N_("(Not translated into your language: shown in Japanese.)")),
            "is_read": row.read_at is not None,
            "read": t(locale, N_("Thank you. We have noted that you read it.")),
            "read_button": t(locale, N_("I have read it")),
            "action": url_for("circular_page.mark", token=token),
            "answer": t(locale, N_("Your answer now: {answer}"), answer=row.answer) if row.answer else None,
            "how": t(locale, N_("To answer, use the buttons in LINE.")) if circ.question != CircularQuestion.NONE else None,
        }
    return _no_store(current_app.make_response(render_template("circular.html", **page)))


@bp.post("/c/<token>")
def mark(token: str):
    """「読みました」 on the page, or the page's script once a browser has shown it (how=view)."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        abort(403)
    bot = current_bot()
    if not is_previewer(request.headers.get("User-Agent")):
        with bot.db.session() as s:
            circulars.mark_read(s, _recipient(s, token), utcnow())
    else:
        with bot.db.read() as s:
            _recipient(s, token)  # an unknown token is a 404 all the same
    if request.form.get("how") == "view":
        return _no_store(current_app.make_response(("", 204)))
    return _no_store(redirect(url_for("circular_page.show", token=token), code=303))
