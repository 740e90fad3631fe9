"""The local web chat (`GET /chat`): talk to the same dispatcher as a LINE resident would,
as one of the demo residents (or a new one, "+ New resident"). On by default when no LINE
channel is configured.

What the page sends becomes the `Inbound` event LINE's webhook would have made of the same
thing — a text, a button's postback, a follow, a photo, a sticker, a location — and goes through
`Bot.handle_delivery` like a webhook's events. Replies reach the page through the same outbox as
LINE messages: the web channel's "sending" writes them into the transcript the page reads.
"""
from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import replace
from datetime import timezone

from flask import Blueprint, abort, jsonify, render_template, request
from sqlalchemy import select

from bot.cli.demo import MAX_NEW, demo_residents, new_resident
from bot.core import media
from bot.core.areas import valid_place
from bot.core.db import utcnow
from bot.core.i18n import LANGUAGES, N_, t
from bot.core.models import Area, Resident, WebChatMessage
from bot.core.replies import parse_postback
from bot.core.vocab import Channel, ChatDirection, InboundKind
from bot.delivery.inbound import WEB_USER_ID, Inbound
from bot.web import chat_dates
from bot.web.webhook import step_takes_photo
from bot.wiring import current_bot

bp = Blueprint("webchat", __name__, template_folder="../templates", static_folder="../static",  # bot/templates, bot/static
               static_url_path="/chat/static")

MAX_TEXT = 5000
MAX_NAME = 100  # a location's name
HISTORY = 200  # messages shown when a resident is opened: the latest ones
# A photo's request: the photo (at most media.MAX_UPLOAD_BYTES) in base64, and a little more.
PHOTO_BODY_BYTES = media.MAX_UPLOAD_BYTES * 4 // 3 + 64 * 1024
UI = {
    "title": N_("Tsunagari — try the bot"),
    "intro": N_("A local demo chat. Choose a demo resident and talk to the bot as they would in LINE."),
    "resident": N_("Demo resident"),
    "placeholder": N_("Type a message"),
    "send": N_("Send"),
    "choose": N_("Choose"),
    "new_resident": N_("(new, not joined yet)"),
    "add_resident": N_("+ New resident"),
    "too_many": N_("There are 20 new residents already. Please choose one of them."),
    "error": N_("The message could not be sent. Please try again."),
    "too_long": N_("That message is too long (at most 5,000 characters)."),
    "photo": N_("Photo"),
    "photo_sent": N_("(a photo)"),
    "photo_bad": N_("That file could not be sent. Please choose a photo (JPEG or PNG) of at most 10 MB."),
    "sticker": N_("Sticker"),
    "location": N_("Location"),
    "place_pick": N_("A place in the city"),
    "place_name": N_("Name of the place"),
    "latitude": N_("Latitude"),
    "longitude": N_("Longitude"),
    "here": N_("Use where I am"),
    "here_failed": N_("The browser did not give a location. Please type the latitude and longitude."),
    "send_location": N_("Send location"),
    "place_bad": N_("Please give a latitude (-90 to 90) and a longitude (-180 to 180)."),
    "date": N_("Date"),
    "time": N_("Time"),
    "empty": N_("No messages yet. Type a word such as “menu”, or tap the button."),
    "menu": N_("Menu"),
    "deleted": N_("This resident's data was deleted. The chat starts again as a new resident."),
}
# The stickers the page offers: (key, what the resident sees, its name for screen readers).
STICKERS = (
    ("thanks", "🙇", N_("Thank you")),
    ("ok", "👍", N_("OK")),
    ("smile", "😊", N_("Smile")),
    ("cheer", "🎉", N_("Hooray")),
)
_STICKER = {key: (face, name) for key, face, name in STICKERS}


def _ui_locale() -> str:
    lang = request.args.get("lang", "")
    return lang if lang in LANGUAGES else current_bot().config.default_locale


@bp.get("/chat")
def page():
    locale = _ui_locale()
    with current_bot().db.session() as s:
        people = [_person(r, locale) for r in demo_residents(s)]
        places = [{"name": a.name(locale), "lat": a.lat, "lon": a.lon}
                  for a in s.scalars(select(Area).where(Area.active.is_(True), Area.lat.is_not(None)).order_by(Area.position))]
    ui = {k: t(locale, v) for k, v in UI.items()}
    stickers = [{"key": key, "face": face, "name": t(locale, name)} for key, face, name in STICKERS]
    return render_template("chat.html", ui=ui, people=people, locale=locale, languages=LANGUAGES, stickers=stickers,
                           places=places, max_new=MAX_NEW)


def _person(r: Resident, locale: str) -> dict:
    return {"id": r.line_user_id, "label": r.nickname or t(locale, UI["new_resident"])}


def _resident(s, user_id: str) -> Resident:
    r = s.scalar(select(Resident).where(Resident.line_user_id == user_id))
    if r is None or r.channel != Channel.WEB:
        abort(404)
    return r


def _messages(s, r: Resident, after: int) -> list[dict]:
    stmt = select(WebChatMessage).where(WebChatMessage.resident_id == r.id, WebChatMessage.id > after)
    if after:
        rows = list(s.scalars(stmt.order_by(WebChatMessage.id).limit(HISTORY)))
    else:  # opening the chat: the latest messages, oldest first
        rows = list(reversed(list(s.scalars(stmt.order_by(WebChatMessage.id.desc()).limit(HISTORY)))))
    config = current_bot().config
    out = []
    for m in rows:
        payload = m.payload
        if m.direction == ChatDirection.OUT and payload.get("kind") == "date":
            # the choices the page offers, written as the resident's language writes dates
            payload = {**payload, "picker": chat_dates.picker(payload, r.locale, config.tz_name, utcnow())}
        out.append({"id": m.id, "direction": m.direction, "payload": payload,
                    "at": m.created_at.astimezone(timezone.utc).isoformat()})
    return out


@bp.get("/chat/api/messages")
def messages():
    user_id = request.args.get("resident", "")
    after = request.args.get("after", "0")
    after_id = int(after) if after.isdigit() else 0
    if not WEB_USER_ID.fullmatch(user_id):
        abort(404)
    with current_bot().db.session() as s:
        if s.scalar(select(Resident.id).where(Resident.line_user_id == user_id)) is None:
            # gone (their data deleted, the bot's goodbye not written yet): nothing to show, nothing to break
            return jsonify(messages=[], joined=False, gone=True)
        r = _resident(s, user_id)
        return jsonify(messages=_messages(s, r, after_id), joined=r.onboarded, gone=False)


@bp.post("/chat/api/new")
def add_resident():
    """"+ New resident": a fresh web resident who has not joined yet."""
    if not request.is_json:  # a JSON body cannot come from another site's form
        abort(415)
    locale = _ui_locale()
    with current_bot().db.session() as s:
        r = new_resident(s)
        if r is None:
            return jsonify(error=t(locale, UI["too_many"])), 409
        return jsonify(_person(r, locale))


@bp.post("/chat/api/send")
def send():
    if not request.is_json:  # a JSON body cannot come from another site's form
        abort(415)
    body = request.get_json(silent=True) or {}
    user_id = str(body.get("resident") or "")
    if not WEB_USER_ID.fullmatch(user_id):  # only demo residents' ids, checked before any use
        abort(404)
    locale = _ui_locale()
    text = body.get("text")
    if isinstance(text, str) and len(text) > MAX_TEXT:
        return jsonify(error=t(locale, UI["too_long"])), 400
    location = body.get("location")
    if isinstance(location, dict) and _place(location) is None:
        return jsonify(error=t(locale, UI["place_bad"])), 400
    made = _event(_base(user_id), body, locale)
    if made is None:  # refused before anything is stored
        return jsonify(error=t(locale, UI["error"])), 400
    ev, shown = made
    return _deliver(user_id, ev, shown, body.get("after"), locale)


@bp.post("/chat/api/photo")
def photo():
    """A photo, as LINE's image message: stored only when the resident's conversation is at a
    step that takes one (as the webhook fetches it from LINE only then), else only told."""
    request.max_content_length = PHOTO_BODY_BYTES
    if not request.is_json:
        abort(415)
    body = request.get_json(silent=True) or {}
    user_id = str(body.get("resident") or "")
    if not WEB_USER_ID.fullmatch(user_id):
        abort(404)
    locale = _ui_locale()
    raw = _decoded(body.get("data"))
    if raw is None:
        return jsonify(error=t(locale, UI["photo_bad"])), 400
    bot = current_bot()
    with bot.db.session() as s:
        _resident(s, user_id)
    ev = Inbound(kind=InboundKind.MESSAGE, message_type="image", message_id="web-" + uuid.uuid4().hex, **_base(user_id))
    shown: dict = {"kind": "in", "text": t(locale, UI["photo_sent"]), "photo": None}
    if step_takes_photo(bot, user_id):
        token = ""
        try:
            with bot.db.session() as s:
                token = media.store(s, raw).token
        except media.NotAnImage:
            pass  # the step says the photo could not be used, as it does for LINE
        ev = replace(ev, media_token=token)
        if token:
            shown["photo"] = f"/m/{token}/preview.jpg"
    return _deliver(user_id, ev, shown, body.get("after"), locale)


def _decoded(data) -> bytes | None:
    if not isinstance(data, str) or not data:
        return None
    if data.startswith("data:"):
        data = data.partition(",")[2]
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if 0 < len(raw) <= media.MAX_UPLOAD_BYTES else None


def _deliver(user_id: str, ev: Inbound, shown: dict | None, after, locale: str):
    """Write what the resident sent into their transcript, hand the event to the pipeline, and
    answer with the messages since `after` (all of them, when the resident's data was deleted)."""
    bot = current_bot()
    with bot.db.session() as s:
        r = _resident(s, user_id)
        resident_id = r.id
        if shown:
            s.add(WebChatMessage(resident_id=r.id, direction=ChatDirection.IN, payload=shown))
    bot.handle_delivery([ev])
    with bot.db.session() as s:
        r = s.get(Resident, resident_id)
        deleted = r is None
        if deleted:  # 「データ削除」: the bot's goodbye came to the resident the chat is now
            r = s.scalar(select(Resident).where(Resident.line_user_id == user_id))
        if r is None:
            return jsonify(messages=[], label=t(locale, UI["new_resident"]), deleted=True)
        since = 0 if deleted or not isinstance(after, int) else after
        return jsonify(messages=_messages(s, r, since), label=r.nickname or t(locale, UI["new_resident"]),
                       deleted=deleted)


def _base(user_id: str) -> dict:
    return dict(event_id="web-" + uuid.uuid4().hex, channel=Channel.WEB, user_id=user_id,
                timestamp_ms=int(utcnow().timestamp() * 1000))


def _place(location: dict) -> tuple[float, float, str] | None:
    try:
        lat, lon = float(location.get("lat")), float(location.get("lon"))
    except (TypeError, ValueError):
        return None
    if not valid_place(lat, lon):
        return None
    name = str(location.get("name") or "").replace("\x00", "").strip()[:MAX_NAME]
    return lat, lon, name


def _event(base: dict, body: dict, locale: str) -> tuple[Inbound, dict | None] | None:
    """The Inbound event LINE would make of what the page sent, and what the transcript shows
    of it (None: nothing, as for a follow). None when it is nothing the chat sends."""
    text, pb, sticker, location = body.get("text"), body.get("postback"), body.get("sticker"), body.get("location")
    if body.get("follow"):
        return Inbound(kind=InboundKind.FOLLOW, **base), None
    if isinstance(text, str):
        text = text.replace("\x00", "")
        return Inbound(kind=InboundKind.MESSAGE, message_type="text", text=text, **base), \
            ({"kind": "in", "text": text} if text else None)
    if isinstance(pb, dict) and isinstance(pb.get("data"), str) and len(pb["data"]) <= 300:
        params = pb.get("params") if isinstance(pb.get("params"), dict) else {}
        params = {str(k): str(v).replace("\x00", "") for k, v in params.items() if k in ("date", "time", "datetime")}
        if not parse_postback(pb["data"]):
            return None
        display = str(pb.get("display") or "")[:MAX_TEXT]
        return Inbound(kind=InboundKind.POSTBACK, postback_data=pb["data"].replace("\x00", ""), postback_params=params,
                       **base), ({"kind": "in", "text": display} if display else None)
    if isinstance(sticker, str) and sticker in _STICKER:
        # LINE's sticker message carries nothing the bot reads: the kind is all
        face, name = _STICKER[sticker]
        return Inbound(kind=InboundKind.MESSAGE, message_type="sticker", **base), \
            {"kind": "in", "sticker": face, "text": t(locale, name)}
    if isinstance(location, dict):
        place = _place(location)
        if place is None:
            return None
        lat, lon, name = place
        return Inbound(kind=InboundKind.MESSAGE, message_type="location", latitude=lat, longitude=lon, **base), \
            {"kind": "in", "location": {"name": name, "lat": lat, "lon": lon}, "text": name}
    return None
