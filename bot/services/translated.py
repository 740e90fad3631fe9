"""What a resident reads of a text written in another language, when the city turned machine
translation on (bot.core.translate): the machine translation, always marked as such, with an
"Original" button (`original_choice`) that names the record, never the text.

With machine translation off every function here gives back the text as written and adds
nothing, so what residents read is exactly as before.

- Residents' own words (a help request, an offer's message, a relayed message): written in the
  writer's language (their locale), read in the reader's; the provider detects the language,
  and a text that comes back unchanged (already in the reader's language) is shown unmarked.
- The center's and associations' words (announcements, events, circulars), Japanese originals:
  a human translation in the reader's language wins; then the machine's (never into
  やさしい日本語); then the human chain of `bot.core.names.version_for`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from bot.core import translate
from bot.core.config import Config
from bot.core.i18n import N_, t
from bot.core.models import OutboxMessage, Resident
from bot.core.refs import ref
from bot.core.replies import Choice, postback

MARK = N_("(Machine translation. Tap “Original” to see the text as written.)")
NOT_TRANSLATED = N_("(Not translated into your language: shown as written.)")
ORIGINAL = N_("Original")
AS_WRITTEN = N_("As written:")
PRIVACY = N_("When a text has no translation in your language, it is sent to {provider} to be machine translated: "
             "what residents write (requests for help, offers, messages) and notices from the city or your association.")

# The kinds of record an "Original" button names (`k=`), and the one word for each.
REQUEST, OFFER, RELAY, ANNOUNCEMENT, EVENT, CIRCULAR = "req", "offer", "relay", "ann", "ev", "circ"
KINDS = (REQUEST, OFFER, RELAY, ANNOUNCEMENT, EVENT, CIRCULAR)


@dataclass(frozen=True)
class Shown:
    text: str
    machine: bool = False  # a machine translation (mark it, offer the original)
    untranslated: bool = False  # machine translation is on but gave nothing for this reader


def same_language(a: str | None, b: str | None) -> bool:
    return translate.base_language(a) == translate.base_language(b)


def residents_words(session: Session, config: Config, texts: list[str], writer: str | None, reader: str) -> list[Shown]:
    """Texts a resident of locale `writer` wrote, as a resident of locale `reader` reads them."""
    if not texts or same_language(writer, reader) or not translate.on(config):
        return [Shown(x) for x in texts]
    got = translate.translated(session, config, texts, translate.base_language(reader) or reader, None)
    if got is None:
        return [Shown(x, untranslated=True) for x in texts]
    return [Shown(g, machine=True) if g.strip() != x.strip() else Shown(x) for g, x in zip(got, texts)]


def prefetch(session: Session, config: Config, writings: list[tuple[str, str | None]], reader: str) -> None:
    """Ask the provider once for many residents' texts ((text, writer's locale) pairs) a reader is
    about to see (a carousel of requests): the cards then find them in the cache."""
    texts = [x for x, writer in writings if x and not same_language(writer, reader)]
    if texts and translate.on(config):
        translate.translated(session, config, list(dict.fromkeys(texts)), translate.base_language(reader) or reader, None)


def resident_text(session: Session, config: Config, text: str, writer: str | None, reader: str) -> Shown:
    return residents_words(session, config, [text], writer, reader)[0]


def content(session: Session | None, config: Config | None, texts: list[str], reader: str) -> list[str] | None:
    """Japanese originals in the reader's language by machine, or None (off, unsupported,
    やさしい日本語, a failure: the caller shows its human chain)."""
    if session is None or config is None or reader in ("ja", "ja_easy") or not translate.on(config):
        return None
    return translate.translated(session, config, texts, reader, "ja")


def note(locale: str, shown: Shown | list[Shown]) -> str | None:
    """The line under a text: machine translated, or not translated (None: neither)."""
    items = shown if isinstance(shown, list) else [shown]
    if any(s.machine for s in items):
        return t(locale, MARK)
    if any(s.untranslated for s in items):
        return t(locale, NOT_TRANSLATED)
    return None


def with_note(locale: str, shown: Shown) -> str:
    line = note(locale, shown)
    return shown.text if not line else f"{shown.text}\n{line}"


def original_choice(locale: str, kind: str, record) -> Choice:
    """The button that shows the original of `record` (a help request, an offer, a relayed
    message, an announcement, an event, a circular)."""
    assert kind in KINDS, kind  # a fixed word of the bot's, never data
    return Choice(t(locale, ORIGINAL), postback(a="mt", x="orig", k=kind, i=ref(record)))


def privacy_note(config: Config, locale: str) -> str | None:
    """The privacy notice's sentence about machine translation (None: off, nothing is sent)."""
    client = translate.from_config(config)
    if client is None:
        return None
    return t(locale, PRIVACY, provider=translate.PROVIDER_NAMES[client.name])


_ORIGINAL_DATA = re.compile(r"a=mt&x=orig&k=[a-z]+&i=[0-9]+\.[A-Za-z0-9_-]+")
RECENT_DAYS = 7  # how far back 「原文」 typed looks for the last machine translation shown
RECENT_ROWS = 200


def last_original(session: Session, resident: Resident, now: datetime) -> str | None:
    """The "Original" button (its postback data) of the latest machine translation sent to the
    resident in the last week, for 「原文」 / "original" typed instead of tapped. Read from the
    outbox's rendered messages, multicasts included; nothing new is stored."""
    stmt = (select(OutboxMessage.recipients, OutboxMessage.payload)
            .where(OutboxMessage.created_at >= now - timedelta(days=RECENT_DAYS),
                   OutboxMessage.channel == resident.channel,
                   cast(OutboxMessage.payload, String).like("%x=orig%"))
            .order_by(OutboxMessage.id.desc()).limit(RECENT_ROWS))
    for recipients, payload in session.execute(stmt):
        if resident.line_user_id in (recipients or []):
            found = _ORIGINAL_DATA.findall(json.dumps(payload))
            if found:
                return found[-1]
    return None
