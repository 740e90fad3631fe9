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

import base64
import re

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import circulars
from bot.core import timefmt
from bot.core.config import Config
from bot.core.db import utcnow
from bot.core.i18n import N_, t
from bot.core.models import Circular, CircularRecipient, Media, Resident
from bot.core.vocab import CircularQuestion
from bot.wiring import current_bot

bp = Blueprint("circular_page", __name__, template_folder="../templates")  # bot/templates

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
        title, body, note = circulars.for_reader(circ, locale, bot.config.fallback_language)
        page = {
            "lang": locale, "title": title, "paragraphs": body.split("\n"), "link": circ.link_url,
            "association": circulars.association_name(s, circ, locale, bot.config.fallback_language),
            "image": circulars.photo(s, circ, bot.config.with_overrides(public_base_url=None)),
            "image_alt": t(locale, N_("Photo attached to the circular")),
            "note": note,
            "is_read": row.read_at is not None,
            "read": t(locale, N_("Thank you. We have noted that you read it.")),
            "read_button": t(locale, N_("I have read it")),
            "action": url_for("circular_page.mark", token=token),
            "answer": t(locale, N_("Your answer now: {answer}"), answer=circulars.answer_shown(
                circ, row.answer, locale, bot.config.fallback_language)) if row.answer else None,
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


def print_sheet(session: Session, circ: Circular, config: Config, han: str | None = None,
                households: list[tuple] | None = None) -> str:
    """The print-ready sheet (circular_print.html) for the CLI and the console: the circular and a
    sign-off table for the paper households (of one 班 when `han` is given; `households` when
    already read). The photo is embedded, so the sheet prints the same anywhere. Needs an app
    context."""
    media = session.get(Media, circ.image_id) if circ.image_id else None
    return render_template(
        "circular_print.html", title=circ.title, paragraphs=circ.body.split("\n"), link=circ.link_url,
        association=circulars.association_name(session, circ),
        deadline=timefmt.show(circ.deadline, "ja", config.tz_name) if circ.deadline else None,
        sent=timefmt.show(circ.sent_at, "ja", config.tz_name) if circ.sent_at else None,
        options=circulars.answer_options(circ, "ja"),
        households=households if households is not None else circulars.paper_households(session, circ, han),
        image="data:image/jpeg;base64," + base64.b64encode(media.data).decode("ascii") if media else None,
    )
