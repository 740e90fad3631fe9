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
    events = [_with_profile(bot, ev) for ev in events]
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
