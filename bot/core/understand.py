"""What a resident means by what they type: free text → an intent and its details, offline.

The words live in reviewable per-language data, like the catalogs:
`locales/<lang>/understanding.toml` (see `locales/en/understanding.toml` for the format). A
message is folded the same way as the words (`fold`): NFKC (full-width → half-width), lower case,
katakana → hiragana, a letter typed three or more times once ("obrigadaaa"), emoji and
punctuation as spaces; Latin-script words also without accents ("cam on" = "cảm ơn") and, when
nothing matches exactly, with one typo forgiven in words of five letters or more ("thnak" →
"thank": rapidfuzz's optimal string alignment distance). Japanese is also compared by reading
(SudachiPy with its core dictionary), so 「てつだって」 matches 「手伝って」 and 「ゴミ」
matches 「ごみ」.

The resident's own language is tried first, then the others (people mix: a Japanese setting and
"thank you!"). Intents are tried in `PRIORITY` order, so "thanks, can someone help me shop" asks
for help. Nothing here acts: the caller decides, and confirms what matters (handlers/understood.py).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache

from rapidfuzz import process
from sudachipy import dictionary
from sudachipy import tokenizer as sudachi
from rapidfuzz.distance import OSA  # one letter wrong, missing or extra, or two swapped

from bot.core.i18n import LANGUAGES, read_words

FILE = "understanding.toml"

# First match wins: what a resident most likely means when a message has several cues.
PRIORITY = (
    "cancel", "delete_data", "language", "reminder", "garbage_item", "garbage_day", "my_events", "events",
    "my_requests", "circulars", "ask_help", "offer_help", "settings", "help", "menu", "thanks", "greeting",
)
INTENTS = frozenset(PRIORITY)
# Intents read from the whole message only (「やめて」 is cancel; "stop notifications" is not).
WHOLE_ONLY = frozenset({"cancel", "menu"})
CATEGORIES = ("garbage", "dog", "garden", "shopping", "phone", "tidying", "ride", "childwatch", "lending", "other")
GARBAGE_KINDS = ("burnable", "nonburnable", "plastic", "cans_bottles", "paper", "oversized", "recyclables", "hazardous")
# A message of nothing but these means the intent in any language.
EMOJI = {"👍": "thanks", "🙏": "thanks", "🙇": "thanks", "💐": "thanks", "👋": "greeting", "🙌": "thanks", "👌": "thanks"}
MIN_TYPO_LEN = 5  # words this long may have one letter wrong
MAX_CHARS = 400  # what a request in a sentence needs; a pasted novel is not read to the end


@dataclass(frozen=True)
class Understood:
    intent: str | None  # None: not understood
    language: str | None = None  # whose words matched
    slots: dict = field(default_factory=dict)  # category, kind, item, language
    choices: tuple[str, ...] = ()  # not sure: the likeliest intents, to offer

    @property
    def understood(self) -> bool:
        return self.intent is not None


# -- folding ---------------------------------------------------------------------------------

_KATA = {c: c - 0x60 for c in range(ord("ァ"), ord("ヶ") + 1)}
_REPEAT = re.compile(r"([a-z\u00c0-\u024f])\1{2,}")  # Latin letters only: 「名名名」 is not a typo
_SPACES = re.compile(r"\s+")
_JA_CHARS = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_LATIN = re.compile(r"[a-z]")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """The form words and messages are compared in."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_KATA)
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] in "LNM" or ch in "ー-'":
            out.append(ch)
        else:
            out.append(" ")
    text = _REPEAT.sub(r"\1", "".join(out))
    text = re.sub(r"ー{2,}", "ー", text)
    return _SPACES.sub(" ", text).strip()


def strip_accents(text: str) -> str:
    text = text.replace("đ", "d").replace("ð", "d")
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")


def _nospace(text: str) -> str:
    return text.replace(" ", "")


@cache
def _tokenizer():
    """SudachiPy over its core dictionary (mapped from the installed package, loaded once)."""
    return dictionary.Dictionary(dict="core").tokenizer()


@lru_cache(maxsize=4096)
def reading(text: str) -> str:
    """Japanese in kana (hiragana), word by word: 「手伝って」 → 「てつだって」."""
    parts = []
    for m in _tokenizer().tokenize(text, sudachi.Tokenizer.SplitMode.C):
        surface = m.surface()
        r = m.reading_form()
        if not _JA_CHARS.search(surface) or r in ("キゴウ", ""):
            parts.append(fold(surface).replace(" ", ""))
        else:
            parts.append(r.translate(_KATA))
    return "".join(parts).replace(" ", "")


# -- the words of one language ----------------------------------------------------------------

class _Phrases:
    """A list of phrases compiled for fast search in a folded message."""

    def __init__(self, phrases: list[str], japanese: bool):
        folded = sorted({fold(p) for p in phrases if fold(p)}, key=len, reverse=True)
        self.phrases = tuple(folded)
        latin = [p for p in folded if _LATIN.search(p)]
        other = [_nospace(p) for p in folded if not _LATIN.search(p)]
        self.latin = _alternation(latin + [strip_accents(p) for p in latin], words=True)
        self.other = _alternation(other, words=False)
        # Japanese by reading: only phrases of three kana or more (shorter ones match by chance).
        self.readings = None
        if japanese:
            rs = {reading(p) for p in other if _JA_CHARS.search(p)}
            self.readings = _alternation([r for r in rs if len(r) >= 3], words=False)

    def find(self, msg: "_Message") -> re.Match | None:
        if self.latin is not None:
            m = self.latin.search(msg.text) or self.latin.search(msg.plain)
            if m:
                return m
        if self.other is not None:
            m = self.other.search(msg.nospace)
            if m:
                return m
        if self.readings is not None and msg.reading:
            return self.readings.search(msg.reading)
        return None

    def whole(self, msg: "_Message", fillers: "_Phrases | None") -> bool:
        """The message is one of the phrases, give or take fillers (「です」, "please", "po")."""
        for variant in (msg.text, msg.plain):
            if self._has(variant) and not self._left(variant, fillers):
                return True
        if self.readings is not None and msg.reading and self.readings.search(msg.reading):
            left = self.readings.sub("", msg.reading)
            if fillers is not None:
                for pat in (fillers.readings, fillers.other):
                    if pat is not None:
                        left = pat.sub("", left)
            return not left
        return False

    def _has(self, text: str) -> bool:
        return bool((self.latin is not None and self.latin.search(text))
                    or (self.other is not None and self.other.search(_nospace(text))))

    def _left(self, text: str, fillers: "_Phrases | None") -> str:
        both = [p for p in (self, fillers) if p is not None]
        for phrases in both:  # words first, while the spaces between them are there
            if phrases.latin is not None:
                text = phrases.latin.sub(" ", text)
        text = _nospace(text)
        for phrases in both:
            if phrases.other is not None:
                text = phrases.other.sub("", text)
        return text


def _alternation(items: list[str], words: bool) -> re.Pattern | None:
    items = sorted({i for i in items if i}, key=len, reverse=True)
    if not items:
        return None
    body = "|".join(re.escape(i) for i in items)
    return re.compile(rf"(?<![^\W_])(?:{body})(?![^\W_])" if words else f"(?:{body})")


@dataclass
class Lexicon:
    language: str
    intents: dict[str, dict[str, _Phrases]]  # intent → {"contains": …, "whole": …}
    combos: dict[str, list[list[str]]]  # intent → groups of [words] that must all appear
    words: dict[str, _Phrases]  # named word groups ("garbage", "when", "fillers", …)
    categories: dict[str, _Phrases]
    kinds: dict[str, _Phrases]
    languages: dict[str, _Phrases]
    vocabulary: tuple[str, ...]  # single Latin words, sorted (ties in typo matching go the same way every run)


def _read(language: str) -> dict:
    return read_words(language, FILE)


@cache
def lexicon(language: str) -> Lexicon:
    data = _read(language)
    japanese = language in ("ja", "ja_easy")
    intents: dict[str, dict[str, _Phrases]] = {}
    combos: dict[str, list[list[str]]] = {}
    vocab: set[str] = set()
    for name, spec in (data.get("intents") or {}).items():
        if name not in INTENTS:
            raise ValueError(f"{language}/{FILE}: unknown intent {name!r}")
        intents[name] = {k: _Phrases(spec.get(k, []), japanese) for k in ("contains", "whole") if spec.get(k)}
        if spec.get("unless"):  # compared as written, never by reading: 「大会」 is not 「退会」
            intents[name]["unless"] = _Phrases(spec["unless"], False)
        if spec.get("all"):
            combos[name] = [list(g) for g in spec["all"]]
        for k in ("contains", "whole"):
            for p in spec.get(k, []):
                vocab.update(w for w in _WORD.findall(fold(p)) if _LATIN.search(w))

    def groups(section: str) -> dict[str, _Phrases]:
        out = {}
        for key, phrases in (data.get(section) or {}).items():
            out[key] = _Phrases(list(phrases), japanese)
            for p in phrases:
                vocab.update(w for w in _WORD.findall(fold(p)) if _LATIN.search(w))
        return out

    lex = Lexicon(language, intents, combos, groups("words"), groups("categories"), groups("garbage_kinds"),
                  groups("languages"), ())
    for name, gs in combos.items():
        for g in gs:
            for w in g:
                if w not in lex.words:
                    raise ValueError(f"{language}/{FILE}: intent {name} needs the word group {w!r}")
    lex.vocabulary = tuple(sorted(w for w in vocab if len(w) >= MIN_TYPO_LEN))
    return lex


# -- a message -------------------------------------------------------------------------------

@dataclass
class _Message:
    raw: str
    text: str  # folded
    plain: str  # folded, without accents
    nospace: str
    reading: str  # Japanese: in kana; else ""

    @classmethod
    def of(cls, raw: str, text: str | None = None) -> "_Message":
        text = fold(raw) if text is None else text
        return cls(raw, text, strip_accents(text), _nospace(text), reading(_nospace(text)) if _JA_CHARS.search(text) else "")


def message(text: str) -> _Message:
    """A text folded for matching against a lexicon's phrases (`Lexicon.kinds[k].find(...)`)."""
    return _Message.of(text)


def is_japanese(text: str) -> bool:
    return bool(_JA_CHARS.search(text))


def _corrected(msg: _Message, vocabulary: tuple[str, ...]) -> _Message | None:
    """The message with each unknown Latin word of 5+ letters replaced by the lexicon's word one
    letter away, or None when nothing changed."""
    if not vocabulary:
        return None
    changed = False
    out = []
    for w in msg.plain.split(" "):
        if len(w) >= MIN_TYPO_LEN and _LATIN.search(w) and w not in vocabulary:
            hit = process.extractOne(w, vocabulary, scorer=OSA.distance, score_cutoff=1)
            if hit is not None:
                out.append(hit[0])
                changed = True
                continue
        out.append(w)
    return _Message.of(msg.raw, " ".join(out)) if changed else None


# -- understanding ---------------------------------------------------------------------------

def _blocked(msg: _Message, order: list[str]) -> set[str]:
    """Intents an `unless` phrase of any language rules out ("I don't need help", 「大会」), so
    that another language's words do not find them instead."""
    out = set()
    for lang in order:
        for name, spec in lexicon(lang).intents.items():
            if "unless" in spec and spec["unless"].find(msg):
                out.add(name)
    return out


def _match(lex: Lexicon, msg: _Message, blocked: set[str] = frozenset()) -> list[str]:
    """The intents this language's words find in the message, in priority order."""
    fillers = lex.words.get("fillers")
    found = []
    for name in PRIORITY:
        if name in blocked:
            continue
        spec = lex.intents.get(name, {})
        whole = spec.get("whole")
        contains = spec.get("contains")
        if whole is not None and whole.whole(msg, fillers):
            found.append(name)
        elif contains is not None and name not in WHOLE_ONLY and contains.find(msg):
            found.append(name)
        elif any(all(lex.words[w].find(msg) for w in group) for group in lex.combos.get(name, ())):
            found.append(name)
    return found


def _longest(groups: dict[str, _Phrases], keys, msg: _Message) -> str | None:
    """The key whose phrase matches the most of the message ("non-burnable" over "burnable",
    "easy Japanese" over "Japanese"); on a tie, the first in `keys`."""
    best, size = None, 0
    for key in keys:
        m = groups[key].find(msg) if key in groups else None
        if m is not None and len(m[0]) > size:
            best, size = key, len(m[0])
    return best


def kind_named(text: str, language: str = "ja") -> str | None:
    """The kind of garbage a name says (「燃やすごみ」 → "burnable", 「燃やさないごみ」 →
    "nonburnable"), from the language's [garbage_kinds] words; None when it names none."""
    return _longest(lexicon(language).kinds, GARBAGE_KINDS, _Message.of(text))


def _slots(lex: Lexicon, intent: str, msg: _Message) -> dict:
    slots: dict = {}
    if intent == "ask_help":
        slots["category"] = next((c for c in CATEGORIES if c in lex.categories and lex.categories[c].find(msg)), None)
    elif intent == "garbage_day":
        slots["kind"] = _longest(lex.kinds, GARBAGE_KINDS, msg)
    elif intent == "language":
        slots["language"] = _longest(lex.languages, LANGUAGES, msg)
    elif intent == "garbage_item":
        slots["item"] = _item(lex, msg)
    return slots


def _item(lex: Lexicon, msg: _Message) -> str | None:
    """What is left of 「フライパンは何ごみ」 / "how do I throw away a frying pan" once the
    question's words, the garbage words and the fillers are taken out."""
    text = msg.text if not _JA_CHARS.search(msg.text) else msg.nospace
    removers = [lex.intents.get("garbage_item", {}).get("contains"), lex.words.get("garbage"),
                lex.words.get("fillers"), lex.words.get("particles")]
    for phrases in removers:
        if phrases is None:
            continue
        for pat in (phrases.latin, phrases.other):
            if pat is not None:
                text = pat.sub(" ", text)
    text = _SPACES.sub(" ", text).strip(" ?")
    return text or None


def understand(text: str, locale: str | None = None) -> Understood:
    """The intent of a message typed at the top level (not at a question)."""
    raw = (text or "").strip()[:MAX_CHARS]
    if not raw:
        return Understood(None)
    symbols = [ch for ch in raw if not ch.isspace() and unicodedata.category(ch)[0] not in "LN"]
    if symbols and len(symbols) == len(raw.replace(" ", "")):  # only emoji and marks
        hits = {EMOJI[ch] for ch in symbols if ch in EMOJI}
        return Understood(hits.pop() if len(hits) == 1 else None, locale)
    msg = _Message.of(raw)
    if not msg.text:
        return Understood(None)
    order = [locale] if locale in LANGUAGES else []
    order += [lang for lang in LANGUAGES if lang not in order]
    best: tuple[int, str, str, _Message] | None = None
    blocked = _blocked(msg, order)
    for attempt in ("exact", "typo"):
        for lang in order:
            lex = lexicon(lang)
            m = msg if attempt == "exact" else _corrected(msg, lex.vocabulary)
            if m is None:
                continue
            found = _match(lex, m, blocked)
            if found:
                rank = PRIORITY.index(found[0])
                if best is None or rank < best[0]:
                    best = (rank, found[0], lang, m)
                if lang == locale:  # the resident's own language decides when it knows
                    break
        if best is not None:
            break
    if best is None:
        return Understood(None, None, choices=_topics(msg, order))
    _, intent, lang, m = best
    return Understood(intent, lang, _slots(lexicon(lang), intent, m))


def _topics(msg: _Message, order: list[str]) -> tuple[str, ...]:
    """Not understood, but a topic word was there (「ごみ」 alone): the intents about it."""
    for lang in order:
        lex = lexicon(lang)
        if "garbage" in lex.words and lex.words["garbage"].find(msg):
            return ("garbage_day", "garbage_item", "ask_help")
        if "event" in lex.words and lex.words["event"].find(msg):
            return ("events", "my_events")
        if "circular" in lex.words and lex.words["circular"].find(msg):
            return ("circulars",)
    return ()


def cancels(text: str, locale: str | None = None) -> bool:
    """「やめて」, "stop", "nevermind" … typed as the whole message, in any language."""
    msg = _Message.of(text or "")
    if not msg.text:
        return False
    langs = ([locale] if locale in LANGUAGES else []) + [lang for lang in LANGUAGES if lang != locale]
    for lang in langs:
        lex = lexicon(lang)
        spec = lex.intents.get("cancel", {}).get("whole")
        if spec is not None and spec.whole(msg, lex.words.get("fillers")):
            return True
    return False


def without_intent_words(text: str, language: str, intent: str) -> str:
    """The message (folded) with the words that said its intent taken out: "nhắc tôi mỗi thứ
    ba 7 giờ sáng đổ rác" → "mỗi thứ ba 7 giờ sáng đổ rác", for reading what is left."""
    phrases = lexicon(language).intents.get(intent, {}).get("contains")
    left = _Message.of(text or "").text
    if phrases is not None:
        for pat in (phrases.latin, phrases.other):
            if pat is not None:
                left = pat.sub(" ", left)
    return _SPACES.sub(" ", left).strip()


def only_words(text: str, group: str) -> bool:
    """Whether the text is nothing but words of a [words] group, in any language: the 「見たい」
    of 「回覧板見たい」 ("show"), so it is not taken as a search word."""
    msg = _Message.of(text or "")
    if not msg.text:
        return False
    for lang in LANGUAGES:
        lex = lexicon(lang)
        words = lex.words.get(group)
        if words is not None and words.whole(msg, lex.words.get("fillers")):
            return True
    return False


def language_named(text: str) -> str | None:
    """「英語」, "English", "Tiếng Việt", "in Korean please": the language a message names and
    nothing else, in any of the ten languages' words."""
    msg = _Message.of(text or "")
    if not msg.text:
        return None
    for lang in LANGUAGES:
        lex = lexicon(lang)
        fillers = lex.words.get("fillers")
        for code in LANGUAGES:
            names = lex.languages.get(code)
            if names is not None and names.whole(msg, fillers):
                return code
    return None


def language_of(text: str) -> str | None:
    """The language a resident wrote in: whose words were understood, else by script and
    Lingua; None when it cannot be told ("ok", a name)."""
    got = understand(text)
    return got.language if got.intent is not None else detect_language(text)


# -- which language --------------------------------------------------------------------------

_SCRIPTS = (
    (re.compile(r"[\u3040-\u30ff]"), "ja"),
    (re.compile(r"[\uac00-\ud7af\u1100-\u11ff]"), "ko"),
    (re.compile(r"[\u0900-\u097f]"), "ne"),
    (re.compile(r"[\u4e00-\u9fff]"), "zh_Hans"),  # Han without kana: Chinese (kana was tried first)
)
_VIETNAMESE = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]")
_PORTUGUESE = re.compile(r"[ãõç]")


def detect_language(text: str) -> str | None:
    """The language a message is written in, among the ten, or None when it cannot be told
    (a name, a number, "ok")."""
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    for pattern, lang in _SCRIPTS:
        if pattern.search(folded):
            return lang
    if _VIETNAMESE.search(folded):
        return "vi"
    if _PORTUGUESE.search(folded):
        return "pt_BR"
    words = _WORD.findall(folded)
    if not words or sum(len(w) for w in words) < 4:
        return None
    letters = [w for w in words if not w.isdigit()]
    if letters and all(_ROMAJI.fullmatch(w) for w in letters):
        # Japanese written in Latin letters ("asahi 2", "Hanako", "Minato-machi"): a place or a
        # name, which tells nothing of the writer's language (Lingua would say Tagalog).
        return None
    return _latin_detector(" ".join(words))


# A word made only of Japanese syllables in Latin letters (Hepburn, with ō/ū folded): a consonant
# (or sh/ch/ts, or one with y) and a vowel, the moraic n, a doubled consonant (Hokkaido, Sapporo)
# or t before ch (Matcha).
_ROMAJI = re.compile(r"(?:(?:[kgsztdnhbpmrwfjv]y?|sh|ch|ts|y)?[aeiouōū]|n(?![aeiouy])|([kgsztdbpc])(?=\1)|t(?=ch))+")


@lru_cache(maxsize=2048)
def _latin_detector(text: str) -> str | None:
    detector = _lingua()
    if detector is None:
        return None
    found = detector.detect_language_of(text)
    if found is None:
        return None
    return _LINGUA_CODES.get(found.name)


_LINGUA_CODES = {"ENGLISH": "en", "INDONESIAN": "id", "PORTUGUESE": "pt_BR", "TAGALOG": "tl", "VIETNAMESE": "vi"}


@cache
def _lingua():
    """Lingua, limited to the Latin-script languages the bot speaks (the others are told by
    their script). Loaded on first use: only a first message with no LINE language needs it."""
    from lingua import Language, LanguageDetectorBuilder  # late: its models load only when needed

    return (LanguageDetectorBuilder.from_languages(*(getattr(Language, n) for n in _LINGUA_CODES))
            .with_minimum_relative_distance(0.1).build())


def warm() -> None:
    """Load every language's words and the Japanese dictionary (at start-up, not on a resident's
    first message)."""
    for lang in LANGUAGES:
        lexicon(lang)
    reading("ごみ")
