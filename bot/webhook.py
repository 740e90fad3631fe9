"""`POST /callback`: LINE's webhook. Verify, record, handle, answer."""
from __future__ import annotations

import logging
from dataclasses import replace

from flask import Blueprint, current_app, request

from bot.inbound import BadSignature, Inbound, MalformedDelivery, parse_delivery

log = logging.getLogger(__name__)
bp = Blueprint("webhook", __name__)


def _bot():
    return current_app.extensions["tsunagari"]


@bp.post("/callback")
def callback():
    bot = _bot()
    secret = bot.config.line_channel_secret
    if not secret:
        return "LINE channel not configured", 503
    body = request.get_data(cache=False)  # raw bytes; Flask answers 413 past MAX_CONTENT_LENGTH
    try:
        events = parse_delivery(secret, body, request.headers.get("X-Line-Signature"))
    except BadSignature:
        return "bad signature", 400
    except MalformedDelivery as exc:
        log.info("malformed delivery refused: %s", exc)
        return "malformed", 400
    events = [_with_photo(bot, _with_profile(bot, ev)) for ev in events]
    bot.handle_delivery(events)
    return "OK", 200


def _with_profile(bot, ev: Inbound) -> Inbound:
    """Follow events start onboarding, which pre-selects the language and suggests a name from
    the LINE profile. The lookup happens here, before any transaction."""
    if ev.kind != "follow" or not ev.user_id or bot.line is None or ev.mode == "standby":
        return ev
    profile = bot.line.get_profile(ev.user_id)
    if profile is None:
        return ev
    return replace(ev, profile_name=profile.display_name, profile_language=profile.language)


def _with_photo(bot, ev: Inbound) -> Inbound:
    """A photo sent at a conversation step that takes one (a circular's photo) is fetched from
    LINE and stored here, before any transaction: the step then only links it. Other photos are
    not downloaded at all."""
    if (ev.kind != "message" or ev.message_type != "image" or not ev.message_id or not ev.user_id
            or bot.line is None or ev.mode == "standby" or not _step_takes_photo(bot, ev.user_id)):
        return ev
    from bot import media

    raw = bot.line.get_content(ev.message_id, media.MAX_UPLOAD_BYTES)
    token = ""
    if raw:
        try:
            with bot.db.session() as s:
                token = media.store(s, raw).token
        except media.NotAnImage:
            log.info("a photo could not be read as an image")
    return replace(ev, media_token=token)


def _step_takes_photo(bot, user_id: str) -> bool:
    import conversations
    from sqlalchemy import select

    from bot.db import utcnow
    from bot.models import ConversationState, Resident

    with bot.db.session() as s:  # photos are rare: a short transaction is fine
        row = s.execute(
            select(ConversationState.flow, ConversationState.step)
            .join(Resident, Resident.id == ConversationState.resident_id)
            .where(Resident.line_user_id == user_id, ConversationState.expires_at > utcnow())
        ).first()
    flow = conversations.get(row.flow) if row else None
    step = flow.steps.get(row.step) if flow else None
    return bool(step and step.photo)
