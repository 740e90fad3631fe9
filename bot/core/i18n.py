"""Translation. Strings are marked with `N_()` where defined and rendered late with
`t(locale, msgid, **named)`, the resident's locale always passed explicitly.

Catalogs live in `locales/<locale>/LC_MESSAGES/messages.po`; the setup command compiles them to
`.mo` files (not committed). English msgids.
"""
from __future__ import annotations

import os
import tempfile
import tomllib
import unicodedata
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from bot.core.config import ROOT

DEFAULT_LOCALE = "ja"
# Each language named in its own script (autonyms are data, not translations).
LANGUAGES: dict[str, str] = {
    "ja": "日本語", "ja_easy": "やさしい日本語", "en": "English", "zh_Hans": "简体中文", "ko": "한국어",
    "vi": "Tiếng Việt", "tl": "Tagalog", "pt_BR": "Português", "ne": "नेपाली", "id": "Bahasa Indonesia",
}
SUPPORTED_LOCALES: tuple[str, ...] = tuple(LANGUAGES)
LOCALES_DIR = ROOT / "locales"


# Babel's locale for a catalog whose code Babel does not know (plural rules, dates, numbers).
_BABEL_LOCALE = {"ja_easy": "ja"}


def babel_locale(code: str) -> str:
    return _BABEL_LOCALE.get(code, code)


def html_lang(code: str) -> str:
    """The BCP 47 tag for a page's `lang` attribute (screen readers choose their voice by it)."""
    return {"ja_easy": "ja"}.get(code, code.replace("_", "-"))


def N_(msgid: str) -> str:
    """Mark a string for extraction; translated later with `t()`."""
    return msgid


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a singular/plural pair for extraction; rendered later with `nt()`."""
    return singular, plural


# LINE profile languages (BCP 47) and other spellings that mean a shipped catalog.
_ALIASES = {"zh": "zh_Hans", "zh-hans": "zh_Hans", "zh-cn": "zh_Hans", "zh-sg": "zh_Hans", "zh-hant": "zh_Hans",
            "zh-tw": "zh_Hans", "zh-hk": "zh_Hans", "pt": "pt_BR", "pt-br": "pt_BR", "fil": "tl", "in": "id",
            "ja-easy": "ja_easy"}


def normalize_locale(value: str | None) -> str | None:
    """Map a LINE profile language ("ja", "en-US", "zh-Hant", "pt-BR" …) or a typed code to a
    shipped locale (Traditional Chinese readers get Simplified, the closest we ship)."""
    if not value:
        return None
    value = value.replace("_", "-").strip().lower()
    for candidate in (value, value.split("-")[0]):
        code = _ALIASES.get(candidate) or next((c for c in LANGUAGES if c.lower().replace("_", "-") == candidate), None)
        if code in LANGUAGES:
            return code
    return None


@lru_cache(maxsize=None)
def _translations(locale: str, locales_dir: str, domain: str = "messages") -> NullTranslations:
    path = Path(locales_dir) / locale / "LC_MESSAGES" / f"{domain}.mo"
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as fh:
        return Translations(fh, domain=domain)


def translations_for(locale: str, domain: str) -> NullTranslations:
    """Another catalog domain (the console's: Japanese and English)."""
    return _translations(locale, str(LOCALES_DIR), domain)


CONSOLE_LOCALES = ("ja", "en")  # the console's domain is in Japanese and English only


def _catalogs(locales_dir: Path) -> list[tuple[str, str, Path]]:
    """(locale, domain, the .po file) of every catalog the bot reads."""
    out = []
    for loc in SUPPORTED_LOCALES:
        for domain in ("messages", "console") if loc in CONSOLE_LOCALES else ("messages",):
            po = locales_dir / loc / "LC_MESSAGES" / f"{domain}.po"
            if po.exists():
                out.append((loc, domain, po))
    return out


def catalog_problems(locales_dir: Path | None = None) -> list[str]:
    """The compiled catalogs (.mo) that are missing or older than their .po: without them the
    bot would answer in English (msgids) while looking healthy."""
    out = []
    for loc, domain, po in _catalogs(locales_dir or LOCALES_DIR):
        mo = po.with_suffix(".mo")
        if not mo.exists():
            out.append(f"{loc}/{domain}.mo is missing")
        elif mo.stat().st_mtime < po.stat().st_mtime:
            out.append(f"{loc}/{domain}.mo is older than its .po")
    return out


def missing_compiled_catalogs(locales_dir: Path | None = None) -> list[str]:
    return sorted({p.split("/")[0] for p in catalog_problems(locales_dir)})


def compile_catalogs(locales_dir: Path | None = None) -> list[str]:
    """Compile the catalogs that `catalog_problems` names (each written to a temporary file and
    moved into place, so processes starting together never read half a file). Returns what was
    compiled; OSError when the folder cannot be written (the caller refuses to start)."""
    done = []
    for loc, domain, po in _catalogs(locales_dir or LOCALES_DIR):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=babel_locale(loc), domain=domain)
        fd, tmp = tempfile.mkstemp(dir=po.parent, prefix=f".{domain}.", suffix=".mo")
        try:
            with os.fdopen(fd, "wb") as out:
                write_mo(out, catalog)
            os.replace(tmp, mo)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        done.append(f"{loc}/{domain}")
    if done:
        reset_cache()
    return done


def t(locale: str | None, msgid: str, /, **named: object) -> str:
    loc = locale if locale in LANGUAGES else DEFAULT_LOCALE
    text = _translations(loc, str(LOCALES_DIR)).gettext(msgid)
    return text.format(**named) if named else text


def nt(locale: str | None, pair: tuple[str, str], n: int, /, **named: object) -> str:
    """The plural form of `pair` (from `Nn_`) for the number `n`, in the locale."""
    loc = locale if locale in LANGUAGES else DEFAULT_LOCALE
    text = _translations(loc, str(LOCALES_DIR)).ngettext(pair[0], pair[1], n)
    return text.format(**named) if named else text


@lru_cache(maxsize=None)
def keywords(msgid: str) -> frozenset[str]:
    """All the words, across every shipped language, that a keyword msgid stands for.

    A keyword msgid lists English words separated by "|"; each translation lists its own.
    A resident may type any of them whatever their language setting.
    """
    words: set[str] = set()
    for loc in SUPPORTED_LOCALES:
        for word in t(loc, msgid).split("|"):
            if word.strip():
                words.add(normalize_text(word))
    for word in msgid.split("|"):
        words.add(normalize_text(word))
    return frozenset(words)


@lru_cache(maxsize=8192)
def normalize_text(text: str) -> str:
    """Fold what a person might type differently: width, case, spaces, trailing marks."""
    text = unicodedata.normalize("NFKC", text).casefold().strip()
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))
    text = " ".join(text.split())
    return text.rstrip("!！?？。.、,~〜 ")


def reset_cache() -> None:
    _translations.cache_clear()
    keywords.cache_clear()


# -- the words residents use, per language (understanding.toml, answers.toml) ---------------

def read_words(language: str, filename: str) -> dict:
    """`locales/<language>/<filename>` (TOML); {} when the language has none. A file that says
    `extends = "ja"` (やさしい日本語) adds its lists to that language's and overrides the rest."""
    path = LOCALES_DIR / language / filename
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    base = data.pop("extends", None)
    return _merge(read_words(base, filename), data) if base else data


def _merge(base: dict, more: dict) -> dict:
    out = dict(base)
    for key, value in more.items():
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            out[key] = _merge(old, value)
        elif isinstance(value, list) and isinstance(old, list):
            out[key] = old + value
        else:
            out[key] = value
    return out
