"""`POST /callback`: LINE's webhook. Verify, record, handle, answer."""
from __future__ import annotations

import logging
from dataclasses import replace
from http import HTTPStatus

from flask import Blueprint, Flask, request
from sqlalchemy import select

import conversations
from bot import security
from bot.core import media
from bot.core.db import utcnow
from bot.delivery.inbound import BadSignature, Inbound, MalformedDelivery, parse_delivery, valid_ids
from bot.core.models import ConversationState, Resident
from bot.core.vocab import InboundKind
from bot.wiring import current_bot

log = logging.getLogger(__name__)
bp = Blueprint("webhook", __name__)
PATH = "/callback"


def answer(bot, body: bytes, signature: str | None) -> tuple[str, int]:
    """LINE's delivery `body` verified, recorded, handled and answered: the text and status LINE
    gets. The Flask route and the fast path (`FastPath`) both answer with this."""
    secret = bot.config.line_channel_secret
    if not secret:
        return "LINE channel not configured", 503
    try:
        events = parse_delivery(secret, body, signature)
    except BadSignature:
        return "bad signature", 400
    except MalformedDelivery as exc:
        log.info("malformed delivery refused: %s", exc)
        return "malformed", 400
    events = [_with_photo(bot, _with_profile(bot, ev)) for ev in _acceptable(bot, events)]
    bot.handle_delivery(events)
    return "OK", 200


@bp.post(PATH)
def callback():
    # raw bytes; Flask answers 413 past MAX_CONTENT_LENGTH
    return answer(current_bot(), request.get_data(cache=False), request.headers.get("X-Line-Signature"))


class FastPath:
    """WSGI middleware: LINE's deliveries answered without Flask's request machinery.

    A `POST /callback` with a Content-Length within MAX_CONTENT_LENGTH (every delivery LINE
    makes) is answered here by `answer`, as the Flask route would answer it, with the security
    headers Flask's after-request hook adds (`security.response_headers`) and the same log line
    and 500 when something raises. Flask's request context, session interface, before- and
    after-request hooks and response object do nothing for a delivery and cost 8 % of the
    instructions an event takes (bench/RESULTS.md). Anything else — other paths, a chunked or
    oversized body — goes to Flask as before."""

    def __init__(self, app: Flask, bot):
        self.app = app
        self.wsgi_app = app.wsgi_app
        self.bot = bot
        self.images = security.image_origins(bot.config)

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        length = environ.get("CONTENT_LENGTH") or ""
        limit = self.app.config["MAX_CONTENT_LENGTH"]
        if not length.isdigit() or (limit is not None and int(length) > limit):
            return self.wsgi_app(environ, start_response)  # Flask reads it (chunked) or answers 413
        body = environ["wsgi.input"].read(int(length))
        if len(body) != int(length):  # the client went away half-way
            text, status = "incomplete body", 400
        else:
            try:
                text, status = answer(self.bot, body, environ.get("HTTP_X_LINE_SIGNATURE"))
            except Exception:
                propagate = self.app.config["PROPAGATE_EXCEPTIONS"]
                if propagate or (propagate is None and (self.app.testing or self.app.debug)):
                    raise  # as Flask does when testing
                self.app.logger.error("Exception on %s [%s]", PATH, "POST", exc_info=True)  # as Flask logs it
                text, status = "Internal Server Error", 500
        data = text.encode()
        secure = environ.get("wsgi.url_scheme") == "https"
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(data))),
                   *security.response_headers(PATH, secure, None, self.images)]
        start_response(f"{status} {HTTPStatus(status).phrase.upper()}", headers)
        return [data]


def _acceptable(bot, events: list[Inbound]) -> list[Inbound]:
    """Drop, with a log line (never the user ID), events that must not be handled:
    - too old (`WEBHOOK_MAX_EVENT_AGE_SECONDS`): a signed delivery captured and sent again once
      its inbox row is gone would otherwise be handled again; LINE redelivers well within it;
    - a user or group ID that is not one LINE gives (it would be stored as sent)."""
    window_ms = bot.config.webhook_max_event_age_seconds * 1000
    now_ms = int(utcnow().timestamp() * 1000)
    kept = []
    for ev in events:
        if now_ms - ev.timestamp_ms > window_ms:
            log.warning("event %s (%s) refused: sent %d s ago, more than WEBHOOK_MAX_EVENT_AGE_SECONDS=%d "
                        "(a replay?)", ev.event_id, ev.kind, (now_ms - ev.timestamp_ms) // 1000,
                        bot.config.webhook_max_event_age_seconds)
        elif not valid_ids(ev):
            log.warning("event %s (%s) ignored: its user or group ID is not a LINE ID", ev.event_id, ev.kind)
        else:
            kept.append(ev)
    return kept


def _with_profile(bot, ev: Inbound) -> Inbound:
    """Follow events start onboarding, which pre-selects the language and suggests a name from
    the LINE profile. The lookup happens here, before any transaction."""
    if ev.kind != InboundKind.FOLLOW or not ev.user_id or bot.line is None or ev.mode == "standby":
        return ev
    profile = bot.line.get_profile(ev.user_id)
    if profile is None:
        return ev
    return replace(ev, profile_name=profile.display_name, profile_language=profile.language)


def _with_photo(bot, ev: Inbound) -> Inbound:
    """A photo sent at a conversation step that takes one (a circular's photo) is fetched from
    LINE and stored here, before any transaction: the step then only links it. Other photos are
    not downloaded at all."""
    if (ev.kind != InboundKind.MESSAGE or ev.message_type != "image" or not ev.message_id or not ev.user_id
            or bot.line is None or ev.mode == "standby" or not step_takes_photo(bot, ev.user_id)):
        return ev
    raw = bot.line.get_content(ev.message_id, media.MAX_UPLOAD_BYTES)
    token = ""
    if raw:
        try:
            with bot.db.session() as s:
                token = media.store(s, raw).token
        except media.NotAnImage:
            log.info("a photo could not be read as an image")
    return replace(ev, media_token=token)


def step_takes_photo(bot, user_id: str) -> bool:
    with bot.db.session() as s:  # photos are rare: a short transaction is fine
        row = s.execute(
            select(ConversationState.flow, ConversationState.step)
            .join(Resident, Resident.id == ConversationState.resident_id)
            .where(Resident.line_user_id == user_id, ConversationState.expires_at > utcnow())
        ).first()
    flow = conversations.get(row.flow) if row else None
    step = flow.steps.get(row.step) if flow else None
    return bool(step and step.photo)
