"""The local web chat (`GET /chat`): talk to the same dispatcher as a LINE resident would,
as one of a few demo residents. On by default when no LINE channel is configured.

Replies reach the page through the same outbox as LINE messages: the web channel's "sending"
writes them into the transcript the page reads.
"""
from __future__ import annotations

import uuid
from datetime import timezone

from flask import Blueprint, abort, jsonify, render_template, request
from sqlalchemy import select

from bot.core.db import utcnow
from bot.cli.demo import demo_residents
from bot.core.i18n import LANGUAGES, N_, t
from bot.delivery.inbound import WEB_USER_ID, Inbound
from bot.core.models import Resident, WebChatMessage
from bot.core.replies import parse_postback
from bot.core.vocab import Channel, ChatDirection, InboundKind
from bot.wiring import current_bot

bp = Blueprint("webchat", __name__, template_folder="../templates", static_folder="../static",  # bot/templates, bot/static
               static_url_path="/chat/static")

MAX_TEXT = 5000
UI = {
    "title": N_("Tsunagari — try the bot"),
    "intro": N_("A local demo chat. Choose a demo resident and talk to the bot as they would in LINE."),
    "resident": N_("Demo resident"),
    "placeholder": N_("Type a message"),
    "send": N_("Send"),
    "choose": N_("Choose"),
    "new_resident": N_("(new, not joined yet)"),
    "error": N_("The message could not be sent. Please try again."),
    "too_long": N_("That message is too long (at most 5,000 characters)."),
}



def _ui_locale() -> str:
    lang = request.args.get("lang", "")
    return lang if lang in LANGUAGES else current_bot().config.default_locale


@bp.get("/chat")
def page():
    locale = _ui_locale()
    with current_bot().db.session() as s:
        people = [
            {"id": r.line_user_id, "label": r.nickname or t(locale, UI["new_resident"])}
            for r in demo_residents(s)
        ]
    ui = {k: t(locale, v) for k, v in UI.items()}
    return render_template("chat.html", ui=ui, people=people, locale=locale, languages=LANGUAGES)


def _resident(s, user_id: str) -> Resident:
    r = s.scalar(select(Resident).where(Resident.line_user_id == user_id))
    if r is None or r.channel != Channel.WEB:
        abort(404)
    return r


def _messages(s, resident_id: int, after: int) -> list[dict]:
    rows = s.scalars(
        select(WebChatMessage)
        .where(WebChatMessage.resident_id == resident_id, WebChatMessage.id > after)
        .order_by(WebChatMessage.id)
        .limit(200)
    )
    return [{"id": m.id, "direction": m.direction, "payload": m.payload,
             "at": m.created_at.astimezone(timezone.utc).isoformat()} for m in rows]


@bp.get("/chat/api/messages")
def messages():
    user_id = request.args.get("resident", "")
    after = request.args.get("after", "0")
    after_id = int(after) if after.isdigit() else 0
    with current_bot().db.session() as s:
        r = _resident(s, user_id)
        return jsonify(messages=_messages(s, r.id, after_id), joined=r.onboarded)


@bp.post("/chat/api/send")
def send():
    if not request.is_json:  # a JSON body cannot come from another site's form
        abort(415)
    body = request.get_json(silent=True) or {}
    user_id = str(body.get("resident") or "")
    if not WEB_USER_ID.fullmatch(user_id):  # only demo residents' ids, checked before any use
        abort(404)
    bot = current_bot()
    locale = _ui_locale()
    text = body.get("text")
    pb = body.get("postback")
    follow = bool(body.get("follow"))
    if isinstance(text, str) and len(text) > MAX_TEXT:
        return jsonify(error=t(locale, UI["too_long"])), 400
    ev = _event(user_id, text, pb, follow)
    if ev is None:  # refused before anything is stored
        return jsonify(error=t(locale, UI["error"])), 400
    with bot.db.session() as s:
        r = _resident(s, user_id)
        resident_id = r.id
        shown = text if isinstance(text, str) else (str(pb.get("display") or "") if isinstance(pb, dict) else "")
        if shown:
            s.add(WebChatMessage(resident_id=r.id, direction=ChatDirection.IN, payload={"kind": "in", "text": shown}))
    bot.handle_delivery([ev])
    after = body.get("after")
    with bot.db.session() as s:
        r = s.get(Resident, resident_id) or s.scalar(select(Resident).where(Resident.line_user_id == user_id))
        label = (r.nickname if r is not None else None) or t(locale, UI["new_resident"])
        rid = r.id if r is not None else resident_id
        return jsonify(messages=_messages(s, rid, int(after) if isinstance(after, int) else 0), label=label)


def _event(user_id: str, text, pb, follow: bool) -> Inbound | None:
    base = dict(event_id="web-" + uuid.uuid4().hex, channel=Channel.WEB, user_id=user_id,
                timestamp_ms=int(utcnow().timestamp() * 1000))
    if follow:
        return Inbound(kind=InboundKind.FOLLOW, **base)
    if isinstance(text, str):
        return Inbound(kind=InboundKind.MESSAGE, message_type="text", text=text.replace("\x00", ""), **base)
    if isinstance(pb, dict) and isinstance(pb.get("data"), str) and len(pb["data"]) <= 300:
        params = pb.get("params") if isinstance(pb.get("params"), dict) else {}
        params = {str(k): str(v).replace("\x00", "") for k, v in params.items() if k in ("date", "time", "datetime")}
        if not parse_postback(pb["data"]):
            return None
        return Inbound(kind=InboundKind.POSTBACK, postback_data=pb["data"].replace("\x00", ""), postback_params=params, **base)
    return None
