"""Machine translation, off unless the city turns it on (`MT_PROVIDER`, `MT_API_KEY`).

Two providers, spoken to in their documented HTTP formats:

- DeepL API v2: `POST {base}/v2/translate`, header `Authorization: DeepL-Auth-Key KEY`, JSON
  `{"text": [...], "target_lang": "EN-US", "source_lang": "JA"}` → `{"translations":
  [{"detected_source_language": "JA", "text": "…"}]}`. A free key (ending in `:fx`) is served by
  https://api-free.deepl.com, a paid one by https://api.deepl.com.
- Google Cloud Translation (Basic, v2): `POST {base}/language/translate/v2`, the key in the
  `X-goog-api-key` header, JSON `{"q": [...], "target": "en", "source": "ja", "format": "text"}`
  → `{"data": {"translations": [{"translatedText": "…", "detectedSourceLanguage": "ja"}]}}`.

A language the provider does not have (DeepL: Tagalog, Nepali; Vietnamese only for Pro keys on
its next-gen models, so not used) gets no machine translation: the reader sees the original,
marked as not translated. やさしい日本語 is never machine translated. A timeout, an error or a
quota reply (429, DeepL's 456) is no translation either, logged without the text (residents'
words never go into the logs); nothing here raises into a handler.

`translated(session, config, texts, target, source)` is what the services call: translations
are kept in `mt_cache` (keyed by a digest of provider, languages and text), so the same
announcement read by 500 residents asks the provider once per language. Housekeeping deletes
rows older than `CACHE_DAYS`, and leaving deletes those of the resident's own words
(`forget`).
"""
from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Iterable, Protocol, Sequence

import requests
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.core.config import Config
from bot.core.db import utcnow
from bot.core.models import MachineTranslation

log = logging.getLogger(__name__)

PROVIDERS = ("deepl", "google")
PROVIDER_NAMES = {"deepl": "DeepL", "google": "Google Cloud Translation"}  # as the privacy notice names them
CACHE_DAYS = 30
TIMEOUT_SECONDS = 5.0
MAX_TEXTS = 50  # per request (DeepL takes 50 texts, Google 128 segments)

DEEPL_FREE = "https://api-free.deepl.com"
DEEPL_PRO = "https://api.deepl.com"
GOOGLE = "https://translation.googleapis.com"

# The bot's locales in each provider's codes (None: the provider does not have it).
DEEPL_TARGET = {"ja": "JA", "en": "EN-US", "pt_BR": "PT-BR", "id": "ID", "ko": "KO", "zh_Hans": "ZH-HANS"}
DEEPL_SOURCE = {"ja": "JA", "en": "EN", "pt_BR": "PT", "id": "ID", "ko": "KO", "zh_Hans": "ZH"}
GOOGLE_CODES = {"ja": "ja", "en": "en", "vi": "vi", "tl": "tl", "pt_BR": "pt", "id": "id", "ne": "ne", "ko": "ko",
                "zh_Hans": "zh-CN"}


class Translator(Protocol):
    name: str

    def supports(self, locale: str) -> bool:
        """Whether the provider translates into the bot's `locale`."""

    def translate(self, texts: list[str], target: str, source: str | None) -> list[str] | None:
        """`texts` in `target` (bot locales; `source` None: the provider detects it), in order;
        None when there is no translation (unsupported, timeout, error, quota)."""


def base_language(locale: str | None) -> str | None:
    """The language a provider is asked for: やさしい日本語 is Japanese."""
    return "ja" if locale == "ja_easy" else locale


class _Http:
    name = ""
    path = ""

    def __init__(self, key: str, base_url: str, timeout: float = TIMEOUT_SECONDS):
        self.key, self.base_url, self.timeout = key, base_url.rstrip("/"), timeout

    def _post(self, body: dict, headers: dict[str, str]) -> dict | None:
        try:
            resp = requests.post(self.base_url + self.path, json=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            log.warning("machine translation (%s): no answer (%s)", self.name, type(exc).__name__)
            return None
        if resp.status_code != 200:
            why = "quota or rate limit" if resp.status_code in (429, 456) else "refused"
            log.warning("machine translation (%s): HTTP %s, %s", self.name, resp.status_code, why)
            return None
        try:
            return resp.json()
        except ValueError:
            log.warning("machine translation (%s): an answer that is not JSON", self.name)
            return None

    def _checked(self, out: object, n: int) -> list[str] | None:
        if not isinstance(out, list) or len(out) != n or not all(isinstance(x, str) for x in out):
            log.warning("machine translation (%s): an answer of an unexpected shape", self.name)
            return None
        return out


class DeepL(_Http):
    name = "deepl"
    path = "/v2/translate"

    def supports(self, locale: str) -> bool:
        return locale in DEEPL_TARGET

    def translate(self, texts: list[str], target: str, source: str | None) -> list[str] | None:
        if target not in DEEPL_TARGET or (source is not None and source not in DEEPL_SOURCE):
            return None
        body: dict = {"text": list(texts), "target_lang": DEEPL_TARGET[target]}
        if source is not None:
            body["source_lang"] = DEEPL_SOURCE[source]
        data = self._post(body, {"Authorization": f"DeepL-Auth-Key {self.key}"})
        if data is None:
            return None
        try:
            out = [tr["text"] for tr in data["translations"]]
        except (KeyError, TypeError):
            out = None
        return self._checked(out, len(texts))


class Google(_Http):
    name = "google"
    path = "/language/translate/v2"

    def supports(self, locale: str) -> bool:
        return locale in GOOGLE_CODES

    def translate(self, texts: list[str], target: str, source: str | None) -> list[str] | None:
        if target not in GOOGLE_CODES or (source is not None and source not in GOOGLE_CODES):
            return None
        body: dict = {"q": list(texts), "target": GOOGLE_CODES[target], "format": "text"}
        if source is not None:
            body["source"] = GOOGLE_CODES[source]
        data = self._post(body, {"X-goog-api-key": self.key})
        if data is None:
            return None
        try:
            out = [tr["translatedText"] for tr in data["data"]["translations"]]
        except (KeyError, TypeError):
            out = None
        return self._checked(out, len(texts))


class MisconfiguredTranslation(RuntimeError):
    """MT_PROVIDER names an unknown provider, or one without MT_API_KEY: the bot must not start."""


def problem(config: Config) -> str | None:
    """What is wrong with the machine-translation settings (None: off, or fine)."""
    provider = (config.mt_provider or "").strip().lower()
    if not provider:
        return None
    if provider not in PROVIDERS:
        return f"MT_PROVIDER is {config.mt_provider!r}; it must be one of {', '.join(PROVIDERS)}, or empty (off)"
    if not (config.mt_api_key or "").strip():
        return f"MT_PROVIDER is {provider!r} but MT_API_KEY is not set"
    return None


def check(config: Config) -> None:
    """Raise MisconfiguredTranslation when the settings are wrong (called by create_app)."""
    why = problem(config)
    if why:
        message = f"Refusing to start: {why}. Set both MT_PROVIDER and MT_API_KEY, or neither (see docs/OPERATIONS.md)."
        log.critical(message)
        raise MisconfiguredTranslation(message)


def default_base_url(provider: str, key: str) -> str:
    if provider == "deepl":
        return DEEPL_FREE if key.strip().endswith(":fx") else DEEPL_PRO
    return GOOGLE


def from_config(config: Config) -> Translator | None:
    """The configured provider's client; None when machine translation is off (or misconfigured,
    which create_app refuses)."""
    if not config.mt_provider or problem(config):
        return None
    provider = config.mt_provider.strip().lower()
    key = config.mt_api_key.strip()  # type: ignore[union-attr]
    base = config.mt_api_base_url or default_base_url(provider, key)
    cls = DeepL if provider == "deepl" else Google
    return cls(key, base, config.mt_timeout_seconds)


def on(config: Config) -> bool:
    return from_config(config) is not None


# -- the cache ---------------------------------------------------------------------------------

def source_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_key(provider: str, text: str, target: str, source: str | None) -> str:
    raw = "\x1f".join((provider, source or "auto", target, source_digest(text)))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def translated(session: Session, config: Config, texts: Sequence[str], target: str,
               source: str | None = None) -> list[str] | None:
    """`texts` machine-translated into the bot locale `target`, from the cache or the provider;
    None when there is none (off, a language the provider lacks, やさしい日本語, the same
    language, a failure). Never raises."""
    translator = from_config(config)
    source = base_language(source)
    if translator is None or target == "ja_easy" or target == source or not translator.supports(target):
        return None
    texts = list(texts)
    if not texts:
        return []
    try:
        keys = [cache_key(translator.name, text, target, source) for text in texts]
        known = dict(session.execute(
            select(MachineTranslation.key, MachineTranslation.text).where(MachineTranslation.key.in_(set(keys)))
        ).all())
        missing = [i for i, k in enumerate(keys) if k not in known and texts[i].strip()]
        for start in range(0, len(missing), MAX_TEXTS):
            part = missing[start:start + MAX_TEXTS]
            got = translator.translate([texts[i] for i in part], target, source)
            if got is None:
                return None
            now = utcnow()
            for i, text in zip(part, got):
                if keys[i] not in known:
                    known[keys[i]] = text
                    _remember(session, keys[i], source_digest(texts[i]), text, now)
        return [known.get(k, texts[i]) for i, k in enumerate(keys)]
    except Exception:  # a bug or a database hiccup here must not cost a resident their message
        log.exception("machine translation (%s): failed; the original is shown", translator.name)
        return None


def _remember(session: Session, key: str, source_hash: str, text: str, now: datetime) -> None:
    """Keep one translation; another process that cached the same text meanwhile wins quietly."""
    ins = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(ins(MachineTranslation).values(key=key, source_hash=source_hash, text=text, created_at=now)
                    .on_conflict_do_nothing(index_elements=["key"]))


def expire(session: Session, now: datetime, days: int = CACHE_DAYS) -> int:
    """Delete cached translations older than `days` (the clock's housekeeping)."""
    return session.execute(delete(MachineTranslation).where(MachineTranslation.created_at < now - timedelta(days=days))).rowcount or 0


def forget(session: Session, texts: Iterable[str]) -> int:
    """Delete cached translations of these texts (a resident's own words, when they leave)."""
    digests = {source_digest(t) for t in texts if t}
    if not digests:
        return 0
    return session.execute(delete(MachineTranslation).where(MachineTranslation.source_hash.in_(digests))).rowcount or 0
