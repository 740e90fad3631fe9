"""Photos served at unguessable addresses (/m/<token>.jpg and a preview), because LINE fetches
images from public https URLs. Stored and re-encoded by bot.core.media."""
from __future__ import annotations

from flask import Blueprint, Response, abort
from sqlalchemy import select

from bot.core.models import Media
from bot.wiring import current_bot

bp = Blueprint("media", __name__)


@bp.get("/m/<token>.jpg")
def full(token: str):
    return _serve(token, preview=False)


@bp.get("/m/<token>/preview.jpg")
def preview(token: str):
    return _serve(token, preview=True)


def _serve(token: str, preview: bool) -> Response:
    if len(token) > 43:
        abort(404)
    bot = current_bot()
    with bot.db.session() as s:
        row = s.execute(select(Media.data, Media.preview).where(Media.token == token)).first()
    if row is None:
        abort(404)
    resp = Response(row.preview if preview else row.data, mimetype="image/jpeg")
    # private: a shared cache must not keep a photo that is deleted (a browser may, briefly)
    resp.headers["Cache-Control"] = "private, max-age=300"
    resp.headers["X-Robots-Tag"] = "noindex"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp
