"""Every catalog calls the bot's key things by one name: `locales/glossary.toml` gives, for each
key term, the one word each language uses (回覧板, 町内会, 班 …) and the variants it must not.

For every entry whose English msgid contains the term as a word (any case, plural too), the
translation must contain that language's term (or one of its listed `forms`) and none of its
`avoid` variants. Checked on the resident catalogs (messages.po, every shipped language) and on
the staff console's (console.po, Japanese and English)."""
from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

from bot.core.i18n import LANGUAGES, babel_locale

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
GLOSSARY = LOCALES / "glossary.toml"
# Keys of an entry that are not languages.
META = {"en", "match", "skip", "avoid", "forms", "console"}
PLACEHOLDER = re.compile(r"\{\w+\}")


@lru_cache(maxsize=None)
def glossary() -> dict[str, dict]:
    return tomllib.loads(GLOSSARY.read_text(encoding="utf-8"))


def english_pattern(entry: dict) -> re.Pattern[str]:
    """The English term as a word, any case, with an -s/-es plural; spaces and hyphens match
    each other ("wait-list", "wait list"). `match` replaces it with a regular expression."""
    if "match" in entry:
        return re.compile(entry["match"], re.IGNORECASE)
    words = r"[\s-]+".join(re.escape(w) for w in re.split(r"[\s-]+", entry["en"]))
    return re.compile(rf"\b{words}(?:s|es)?\b", re.IGNORECASE)


def catalogs() -> list[tuple[str, str, Path]]:
    """(language, label, path) of every catalog the glossary applies to."""
    out = [(lang, f"{lang}/messages.po", LOCALES / lang / "LC_MESSAGES" / "messages.po") for lang in LANGUAGES]
    out += [(lang, f"{lang}/console.po", LOCALES / lang / "LC_MESSAGES" / "console.po")
            for lang in LANGUAGES if (LOCALES / lang / "LC_MESSAGES" / "console.po").exists()]
    return out


@lru_cache(maxsize=None)
def entries(path: Path, lang: str) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(msgids, msgstrs) of a catalog; plural entries have two msgids and a form per plural."""
    with path.open("rb") as fh:
        cat = read_po(fh, locale=babel_locale(lang))
    out = []
    for msg in cat:
        if not msg.id:
            continue
        ids = msg.id if isinstance(msg.id, tuple) else (msg.id,)
        strs = msg.string if isinstance(msg.string, tuple) else (msg.string,)
        out.append((ids, tuple(s or "" for s in strs)))
    return out


def violations() -> list[str]:
    out = []
    for key, entry in glossary().items():
        pattern = english_pattern(entry)
        skip = [re.compile(s, re.IGNORECASE) for s in entry.get("skip", [])]
        for lang, label, path in catalogs():
            # The staff console may use its own word (`[term.console]`), e.g. 依頼 for a request.
            override = entry.get("console", {}) if label.endswith("console.po") else {}
            term = override.get(lang, entry.get(lang))
            if term is None:
                continue  # reported by test_glossary_names_every_language
            accepted = [term.lower(), *(f.lower() for f in entry.get("forms", {}).get(lang, []))]
            if override.get(lang):
                accepted = [term.lower()]
            avoid = [a.lower() for a in entry.get("avoid", {}).get(lang, [])]
            for ids, strs in entries(path, lang):
                english = [PLACEHOLDER.sub("", i) for i in ids]  # “{association}” names no association
                if not any(pattern.search(i) for i in english) or any(s.search(i) for s in skip for i in ids):
                    continue
                for text in strs:
                    # An empty translation is what `scripts/i18n.py check` reports; here it is
                    # one more place the term is missing.
                    low = text.lower()
                    bad = [a for a in avoid if a in low]
                    found = pattern.search(PLACEHOLDER.sub("", text)) if lang == "en" else any(a in low for a in accepted)
                    if not found or bad:
                        why = f"avoid {bad}" if bad else f"expected {term!r}"
                        out.append(f"{label} [{key}] {ids[0]!r} -> {text!r}: {why}")
    return out


def test_every_catalog_uses_its_glossary_terms():
    found = violations()
    assert not found, f"{len(found)} translations do not use the glossary's term:\n" + "\n".join(found)


def test_glossary_names_every_language_for_every_term():
    missing = [f"[{key}] {lang}" for key, entry in glossary().items() for lang in LANGUAGES if not entry.get(lang)]
    unknown = [f"[{key}] {lang}" for key, entry in glossary().items()
               for lang in set(entry) - META - set(LANGUAGES)]
    for key, entry in glossary().items():
        for table in ("avoid", "forms", "console"):
            unknown += [f"[{key}.{table}] {lang}" for lang in set(entry.get(table, {})) - set(LANGUAGES)]
    assert not missing, "terms without a word for a shipped language: " + ", ".join(missing)
    assert not unknown, "languages that are not shipped: " + ", ".join(sorted(unknown))


def test_glossary_terms_are_used_somewhere():
    """A term no English msgid contains checks nothing (a typo in `en` or `match`)."""
    msgids = [i for lang, _, path in catalogs() if lang == "ja" for ids, _ in entries(path, lang) for i in ids]
    unused = [key for key, entry in glossary().items() if not any(english_pattern(entry).search(i) for i in msgids)]
    assert not unused, "glossary terms that no msgid contains: " + ", ".join(unused)
