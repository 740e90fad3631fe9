"""Turns channel-neutral replies into LINE message objects (plain JSON dicts, as LINE's API
takes them), within LINE's limits: text ≤ 5,000 UTF-16 units, ≤ 13 quick replies, labels ≤ 20
characters, postback data ≤ 300 characters, altText ≤ 400 characters.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from bot.core.replies import Card, Carousel, Choice, DateQuestion, Image, Question, Reply, Text

MAX_TEXT = 5000
MAX_QUICK_REPLIES = 13
MAX_LABEL = 20
MAX_ALT_TEXT = 400
MAX_MESSAGES_PER_REQUEST = 5
MAX_DISPLAY_TEXT = 300
MAX_CAROUSEL = 10  # LINE allows 12 bubbles; pages of 10 read better


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def shorten(s: str, limit: int) -> str:
    """Cut to `limit` UTF-16 units, ending with an ellipsis when cut."""
    if utf16_len(s) <= limit:
        return s
    out = []
    used = 0
    for ch in s:
        w = utf16_len(ch)
        if used + w > limit - 1:
            break
        out.append(ch)
        used += w
    return "".join(out).rstrip() + "…"


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split long text into parts of at most `limit` UTF-16 units, preferring paragraph,
    line and sentence ends, so that nothing is lost."""
    if not text:
        return ["…"]
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        window = _prefix(rest, limit)
        cut = -1
        for sep in ("\n\n", "\n", "。", ". ", "！", "？", "、", " "):
            pos = window.rfind(sep)
            if pos > len(window) // 3:
                cut = pos + len(sep)
                break
        if cut <= 0:
            cut = len(window)
        parts.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:].lstrip("\n")
    if rest:
        parts.append(rest)
    return parts


def _prefix(s: str, limit: int) -> str:
    used = 0
    for i, ch in enumerate(s):
        used += utf16_len(ch)
        if used > limit:
            return s[:i]
    return s


def _postback_action(choice: Choice) -> dict[str, Any]:
    return {
        "type": "postback",
        "label": shorten(choice.label, MAX_LABEL),
        "data": choice.data,
        "displayText": shorten(choice.display or choice.label, MAX_DISPLAY_TEXT),
    }


def _quick_reply(actions: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    items = [{"type": "action", "action": a} for a in list(actions)[:MAX_QUICK_REPLIES]]
    return {"items": items} if items else None


def _text_messages(text: str, quick: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = [{"type": "text", "text": part} for part in split_text(text)]
    if quick:
        msgs[-1]["quickReply"] = quick
    return msgs


def render_one(reply: Reply) -> list[dict[str, Any]]:
    if isinstance(reply, Text):
        return _text_messages(reply.text)
    if isinstance(reply, Question):
        return _text_messages(reply.text, _quick_reply(_postback_action(c) for c in reply.choices))
    if isinstance(reply, DateQuestion):
        picker: dict[str, Any] = {
            "type": "datetimepicker",
            "label": shorten(reply.label, MAX_LABEL),
            "data": reply.data,
            "mode": reply.mode,
        }
        for key in ("initial", "min", "max"):
            value = getattr(reply, key)
            if value:
                picker[key] = value
        actions = [picker] + [_postback_action(c) for c in reply.choices]
        return _text_messages(reply.text, _quick_reply(actions))
    if isinstance(reply, Card):
        return [_card(reply)]
    if isinstance(reply, Image):
        if not (_https(reply.url) and _https(reply.preview_url)):
            return []  # LINE shows only https images; the web page has the photo
        return [{"type": "image", "originalContentUrl": reply.url, "previewImageUrl": reply.preview_url}]
    if isinstance(reply, Carousel):
        bubbles = [_card(c)["contents"] for c in reply.cards[:MAX_CAROUSEL]]
        msg: dict[str, Any] = {
            "type": "flex",
            "altText": shorten(reply.alt, MAX_ALT_TEXT),
            "contents": {"type": "carousel", "contents": bubbles},
        }
        quick = _quick_reply(_postback_action(c) for c in reply.choices)
        if quick:
            msg["quickReply"] = quick
        return [msg]
    raise TypeError(f"cannot render {type(reply).__name__}")


def _card(card: Card) -> dict[str, Any]:
    body = [
        {"type": "text", "text": shorten(card.title, 200), "weight": "bold", "size": "lg", "wrap": True},
    ]
    if card.body:
        body.append(
            {"type": "text", "text": shorten(card.body, 2000), "size": "md", "wrap": True, "margin": "md"}
        )
    bubble: dict[str, Any] = {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": body},
    }
    if card.image and _https(card.image):
        bubble["hero"] = {"type": "image", "url": card.image, "size": "full", "aspectRatio": "20:13",
                          "aspectMode": "cover"}
    if card.buttons:
        bubble["footer"] = {
            "type": "box",
            "layout": "vertical",
            "spacing": "sm",
            "contents": [
                {"type": "button", "style": "primary" if i == 0 else "secondary", "height": "md",
                 "action": _postback_action(c)}
                for i, c in enumerate(card.buttons[:4])
            ],
        }
    return {"type": "flex", "altText": shorten(card.title, MAX_ALT_TEXT), "contents": bubble}


def _https(url: str) -> bool:
    return url.startswith("https://") and len(url) <= 2000


def render(replies: Sequence[Reply]) -> list[list[dict[str, Any]]]:
    """Render replies and group them into requests of at most five messages each."""
    messages: list[dict[str, Any]] = []
    for reply in replies:
        messages.extend(render_one(reply))
    return [
        messages[i : i + MAX_MESSAGES_PER_REQUEST]
        for i in range(0, len(messages), MAX_MESSAGES_PER_REQUEST)
    ] or []
