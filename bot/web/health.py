"""`GET /healthz`: 200 when the app and its database are usable, 503 when not."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import select

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
    return jsonify(status="ok", database="ok"), 200
