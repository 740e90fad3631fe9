"""The one module that knows LINE's webhook models: it verifies and parses a delivery with the
official SDK and turns each event into the bot's own small `Inbound` dataclass.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhooks import (
    Event,
    FollowEvent,
    JoinEvent,
    LocationMessageContent,
    LeaveEvent,
    MemberJoinedEvent,
    MemberLeftEvent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
)

from bot.core.vocab import Channel, InboundKind


# LINE's user IDs are "U" and 32 lowercase hex digits (group and room IDs: "C" or "R"); the
# local web chat's demo residents are "web-" and a short name (bot.cli.demo).
LINE_USER_ID = re.compile(r"U[0-9a-f]{32}")
LINE_GROUP_ID = re.compile(r"[CR][0-9a-f]{32}")
WEB_USER_ID = re.compile(r"web-[a-z0-9-]{1,40}")


def valid_ids(ev: "Inbound") -> bool:
    """The event's user (and group) IDs have the shape their channel gives them. Anything else
    (a 5,000-character "user ID") is ignored at the boundary, before it reaches a table."""
    pattern = WEB_USER_ID if ev.channel == Channel.WEB else LINE_USER_ID
    if ev.user_id is not None and not pattern.fullmatch(ev.user_id):
        return False
    return ev.group_id is None or ev.channel == Channel.WEB or bool(LINE_GROUP_ID.fullmatch(ev.group_id))


class BadSignature(Exception):
    pass


class MalformedDelivery(Exception):
    pass


@dataclass(frozen=True)
class Inbound:
    event_id: str
    kind: str  # message | follow | unfollow | postback | join | leave | member_joined | ...
    timestamp_ms: int = 0
    channel: str = Channel.LINE  # line | web
    mode: str = "active"
    redelivery: bool = False
    source_type: str = "user"  # user | group | room | unknown
    user_id: str | None = None
    group_id: str | None = None
    reply_token: str | None = None
    message_type: str | None = None  # text | image | sticker | location | ...
    message_id: str | None = None  # for a photo: where its content is fetched from
    # A photo the webhook fetched (outside any transaction) because the resident's conversation
    # asked for one: the token of the stored Media, or "" when it could not be used.
    media_token: str | None = None
    text: str | None = None
    latitude: float | None = None  # a location message: the place the resident sent
    longitude: float | None = None
    postback_data: str | None = None
    postback_params: dict[str, str] = field(default_factory=dict)
    unblocked: bool = False
    # Filled by the webhook for follow events, outside any transaction (LINE profile call).
    profile_name: str | None = None
    profile_language: str | None = None

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=timezone.utc)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Inbound":
        return cls(**d)


_KINDS: tuple[tuple[type, str], ...] = (
    (MessageEvent, InboundKind.MESSAGE),
    (FollowEvent, InboundKind.FOLLOW),
    (UnfollowEvent, InboundKind.UNFOLLOW),
    (PostbackEvent, InboundKind.POSTBACK),
    (JoinEvent, InboundKind.JOIN),
    (LeaveEvent, InboundKind.LEAVE),
    (MemberJoinedEvent, InboundKind.MEMBER_JOINED),
    (MemberLeftEvent, InboundKind.MEMBER_LEFT),
)


def parse_delivery(secret: str, body: bytes, signature: str | None) -> list[Inbound]:
    """Verify the signature on the raw bytes, then parse. Raises BadSignature or
    MalformedDelivery; never anything else."""
    if not signature:
        raise BadSignature()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # The signature is checked on bytes we cannot decode: verify first, then refuse.
        if not _valid_signature(secret, body, signature):
            raise BadSignature() from None
        raise MalformedDelivery("body is not UTF-8") from None
    parser = WebhookParser(secret)
    try:
        events = parser.parse(text, signature)
    except InvalidSignatureError:
        raise BadSignature() from None
    except Exception as exc:  # any shape the SDK cannot read: refuse, never 500
        raise MalformedDelivery(type(exc).__name__) from None
    try:
        return [_convert(ev) for ev in events]
    except Exception as exc:
        raise MalformedDelivery(type(exc).__name__) from None


def _valid_signature(secret: str, body: bytes, signature: str) -> bool:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest), signature.encode("ascii", "replace"))


def _convert(ev: Event) -> Inbound:
    event_id = getattr(ev, "webhook_event_id", None)
    if not isinstance(event_id, str) or not event_id or len(event_id) > 64:
        raise ValueError("event without a usable webhookEventId")
    kind = next((name for cls, name in _KINDS if isinstance(ev, cls)), None)
    raw_type = getattr(ev, "type", None)
    if kind is None:
        kind = "other:" + (str(raw_type)[:24] if raw_type else "unknown")
    source = getattr(ev, "source", None)
    source_type = getattr(source, "type", None) or "unknown"
    if isinstance(source, dict):  # UnknownEvent keeps plain dicts
        source_type = str(source.get("type") or "unknown")
    delivery = getattr(ev, "delivery_context", None)
    redelivery = bool(getattr(delivery, "is_redelivery", False)) if delivery is not None else False
    mode = getattr(ev, "mode", None)
    mode = getattr(mode, "value", mode) or "active"
    fields: dict[str, Any] = {
        "event_id": event_id,
        "kind": kind,
        "timestamp_ms": int(getattr(ev, "timestamp", 0) or 0),
        "mode": str(mode),
        "redelivery": redelivery,
        "source_type": str(source_type),
        "user_id": _str_or_none(getattr(source, "user_id", None)),
        "group_id": _str_or_none(
            getattr(source, "group_id", None) or getattr(source, "room_id", None)
        ),
        "reply_token": _str_or_none(getattr(ev, "reply_token", None)),
    }
    if isinstance(ev, MessageEvent):
        msg = ev.message
        fields["message_type"] = str(getattr(msg, "type", None) or "unknown")
        if isinstance(msg, TextMessageContent):
            fields["text"] = (msg.text or "").replace("\x00", "")  # no database keeps NUL
        elif isinstance(msg, LocationMessageContent):
            lat, lon = _float_or_none(msg.latitude), _float_or_none(msg.longitude)
            if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
                fields["latitude"], fields["longitude"] = lat, lon
        elif fields["message_type"] == "image":
            provider = getattr(getattr(msg, "content_provider", None), "type", "line")
            if provider == "line":  # photos from LINE's own servers only
                fields["message_id"] = _str_or_none(getattr(msg, "id", None))
    elif isinstance(ev, PostbackEvent):
        fields["postback_data"] = (ev.postback.data or "").replace("\x00", "")
        params = ev.postback.params or {}
        fields["postback_params"] = {str(k).replace("\x00", ""): str(v).replace("\x00", "") for k, v in dict(params).items()}
    elif isinstance(ev, FollowEvent):
        fields["unblocked"] = bool(getattr(ev.follow, "is_unblocked", False))
    return Inbound(**fields)


def _float_or_none(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if x == x and abs(x) != float("inf") else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
