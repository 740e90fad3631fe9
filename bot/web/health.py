"""`GET /healthz`: 200 when the app, its database and its compiled message catalogs are usable,
503 when not (catalogs missing or older than their .po: residents would be answered in English)."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import select

from bot.core.i18n import catalog_problems
from bot.core.models import InboundEvent
from bot.wiring import current_bot

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    bot = current_bot()
    try:
        with bot.db.engine.connect() as conn:
            conn.execute(select(InboundEvent.id).limit(1))  # the schema is there, not only the server
    except Exception:
        return jsonify(status="unavailable", database="unreachable"), 503
    stale = catalog_problems()
    if stale:
        return jsonify(status="unavailable", database="ok", catalogs=f"{len(stale)} not compiled or stale"), 503
    return jsonify(status="ok", database="ok", catalogs="ok"), 200
