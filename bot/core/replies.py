"""Channel-neutral replies. Conversations and handlers return these; renderers (LINE, web chat)
turn them into what each channel shows. Texts here are already translated for the recipient.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Union
from urllib.parse import parse_qsl, urlencode


@dataclass(frozen=True)
class Choice:
    label: str
    data: str  # postback data: see `postback()`
    display: str | None = None  # what appears as the resident's own message; default: label


@dataclass(frozen=True)
class Text:
    text: str
    kind: str = field(default="text", init=False)


@dataclass(frozen=True)
class Question:
    text: str
    choices: tuple[Choice, ...]
    kind: str = field(default="question", init=False)


@dataclass(frozen=True)
class Card:
    title: str
    body: str
    buttons: tuple[Choice, ...] = ()
    image: str | None = None  # a photo above the title (an https URL in LINE)
    kind: str = field(default="card", init=False)


@dataclass(frozen=True)
class Image:
    """A photo. LINE needs https URLs: the full image (≤ 10 MB) and a preview (≤ 1 MB)."""

    url: str
    preview_url: str
    kind: str = field(default="image", init=False)


@dataclass(frozen=True)
class Carousel:
    """Cards side by side (at most 10), e.g. requests a neighbour could help with."""

    alt: str  # what a notification or an old phone shows instead
    cards: tuple[Card, ...]
    choices: tuple[Choice, ...] = ()  # quick replies under it (e.g. "more", a filter)
    kind: str = field(default="carousel", init=False)


@dataclass(frozen=True)
class DateQuestion:
    text: str
    mode: str  # date | time | datetime
    data: str
    label: str
    initial: str | None = None
    min: str | None = None
    max: str | None = None
    choices: tuple[Choice, ...] = ()
    kind: str = field(default="date", init=False)


Reply = Union[Text, Question, Card, Carousel, DateQuestion, Image]


def to_dict(reply: Reply) -> dict[str, Any]:
    return asdict(reply)


def from_dict(d: dict[str, Any]) -> Reply:
    d = dict(d)
    kind = d.pop("kind")
    for key in ("choices", "buttons"):
        if key in d:
            d[key] = tuple(Choice(**c) for c in d[key])
    if "cards" in d:
        d["cards"] = tuple(from_dict(c) for c in d["cards"])
    return {"text": Text, "question": Question, "card": Card, "carousel": Carousel, "date": DateQuestion,
            "image": Image}[kind](**d)


_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


def postback(**fields: str) -> str:
    """Postback data as a short query string (LINE allows 300 characters)."""
    pairs = {k: v for k, v in fields.items() if v is not None}
    if all(isinstance(v, str) and _PLAIN.fullmatch(v) for v in pairs.values()):  # the usual: nothing to escape
        data = "&".join(f"{k}={v}" for k, v in pairs.items())
    else:
        data = urlencode(pairs)
    if len(data) > 300:
        raise ValueError("postback data over 300 characters")
    return data


def parse_postback(data: str | None) -> dict[str, str]:
    if not data or len(data) > 300:
        return {}
    try:
        return dict(parse_qsl(data, keep_blank_values=True, strict_parsing=False))
    except ValueError:
        return {}
