"""Answers typed at a question, in every language: yes or no, a number, a date and time.

The words each language uses live in `locales/<lang>/answers.toml` (reviewable like the catalogs):
`yes`/`no` phrases, number words, and `when` phrases, each read as one or more of a few
language-neutral tokens. This module reads the tokens and the digits around them:

    relative days   +0 +1 +2           weekdays        mon tue wed thu fri sat sun
    "next week's"   nextweek           months          jan … dec
    part of day     am pm noon         markers         H (hour, 時/点/시/giờ/bajे),
    "at" before an hour   at                           M (month, 月/월), D (day, 日/号/일),
    half an hour before   halfto (setengah 8 = 7:30)   half (半/반/rưỡi/e meia), min (分),
    half past, before     halfpast (साढे ८ = 8:30)     Dp (a day's number follows: "dia 18",
                                                       "ngày 21", "tgl 19"; "18th" is 18 D)

Examples: 「火曜の朝7時」 → tue am 7 H; "ngày mai 3 giờ chiều" → +1 3 H pm; "27/12 às 10h" →
27/12 at 10 H. What the tokens mean is fixed here; which words make them is data.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

from bot.core.i18n import SUPPORTED_LOCALES, read_words
from bot.core.recurrence import calendar_date
from bot.core.understand import strip_accents

FILE = "answers.toml"
TOKENS = ("+0", "+1", "+2", "mon", "tue", "wed", "thu", "fri", "sat", "sun", "nextweek",
          "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
          "am", "pm", "noon", "at", "H", "M", "D", "Dp", "half", "halfto", "halfpast", "min", "-")
_WEEKDAYS = TOKENS[3:10]
_MONTHS = TOKENS[11:23]
_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5,
                 "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_NUMBER = re.compile(r"[〇零一二两兩三四五六七八九十]+")
_LATIN = re.compile(r"[a-z]")


def _kanji_value(s: str) -> int | None:
    """一 → 1, 十 → 10, 十二 → 12, 二十七 → 27 (up to 99); None for anything else."""
    if "十" not in s:
        return _KANJI_DIGITS[s] if len(s) == 1 else None
    tens, _, ones = s.partition("十")
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return None
    return (_KANJI_DIGITS[tens] if tens else 1) * 10 + (_KANJI_DIGITS[ones] if ones else 0)


def _digits(s: str) -> str:
    """Any Unicode decimal digits (full-width, Devanagari …) as ASCII."""
    return "".join(str(unicodedata.digit(ch)) if ch.isdigit() and not ch.isascii() and unicodedata.digit(ch, None) is not None
                   else ch for ch in s)


def fold(text: str, latin: bool) -> str:
    """The form answers and words are compared in: NFKC, lower case, ASCII digits; for languages
    written in Latin letters, without accents (「cam on」 is 「cảm ơn」)."""
    s = _digits(unicodedata.normalize("NFKC", text or "").casefold())
    if latin:
        s = strip_accents(s)
    return re.sub(r"\s+", " ", s).strip()


def _alternation(words: list[str]) -> re.Pattern | None:
    """Longest first; a word in Latin letters only where it stands alone (digits may touch it:
    「9ji」, "10h", "5th")."""
    words = sorted({w for w in words if w}, key=len, reverse=True)
    if not words:
        return None
    parts = []
    for w in words:
        body = re.escape(w).replace(r"\ ", r"\s*")
        left = r"(?<![a-z])" if _LATIN.match(w[0]) else ""
        right = r"(?![a-z])" if _LATIN.match(w[-1]) else ""
        parts.append(left + body + right)
    return re.compile("|".join(parts))


@dataclass(frozen=True)
class Words:
    language: str
    latin: bool
    yes: re.Pattern | None
    no: re.Pattern | None
    fillers: re.Pattern | None
    day_first: bool  # 20/12 is the 20th of December
    phrases: dict[str, str]  # folded phrase without its spaces → tokens (numbers as digits)
    pattern: re.Pattern | None


def _read(language: str) -> dict:
    return read_words(language, FILE)


@cache
def words(language: str) -> Words:
    data = _read(language)
    latin = bool(data.get("latin", False))
    phrases: dict[str, str] = {}
    for word, value in (data.get("numbers") or {}).items():
        phrases[fold(word, latin)] = str(int(value))
    for word, tokens in (data.get("when") or {}).items():
        bad = [tok for tok in tokens.split() if tok not in TOKENS]
        if bad:
            raise ValueError(f"{language}/{FILE}: unknown token {bad} for {word!r}")
        phrases[fold(word, latin)] = tokens

    def pat(key: str) -> re.Pattern | None:
        return _alternation([fold(w, latin) for w in data.get(key, [])])

    return Words(language, latin, pat("yes"), pat("no"), pat("fillers"), data.get("date_order", "md") == "dm",
                 {p.replace(" ", ""): v for p, v in phrases.items()}, _alternation(list(phrases)))


def _languages(locale: str | None) -> list[str]:
    first = [locale] if locale in SUPPORTED_LOCALES else []
    return first + [lang for lang in SUPPORTED_LOCALES if lang not in first]


# -- yes or no --------------------------------------------------------------------------------

def _whole(pattern: re.Pattern | None, text: str, fillers: re.Pattern | None) -> bool:
    if pattern is None or not pattern.search(text):
        return False
    left = pattern.sub(" ", text)
    if fillers is not None:
        left = fillers.sub(" ", left)
    return not re.sub(r"[\W_]+", "", left)


def yes_no(text: str, locale: str | None = None) -> str | None:
    """"yes" or "no" when the whole answer says so (give or take 「です」, "please", "po",
    punctuation and emoji), in the resident's language first, then in any other; None otherwise."""
    found: set[str] = set()
    for i, lang in enumerate(_languages(locale)):
        w = words(lang)
        s = fold(text, w.latin)
        forms = (s,) if w.latin else (s, s.replace(" ", ""))  # 「はい おねがい します」
        said = {v for v, p in (("yes", w.yes), ("no", w.no)) if any(_whole(p, f, w.fillers) for f in forms)}
        if i == 0 and len(said) == 1:
            return said.pop()
        found |= said
    return found.pop() if len(found) == 1 else None


# -- numbers ----------------------------------------------------------------------------------

def _tokens(text: str, w: Words) -> list[str]:
    """The answer as tokens: numbers (as digits), the module's tokens, ':' '/' '.', and '?' for
    any other word (particles, "de", "ng" …)."""
    s = fold(text, w.latin)
    if w.pattern is not None:
        s = w.pattern.sub(lambda m: " " + w.phrases["".join(m[0].split())] + " ", s)
    s = _KANJI_NUMBER.sub(lambda m: f" {v} " if (v := _kanji_value(m[0])) is not None else " ? ", s)
    out = []
    for m in re.finditer(r"\+[0-2](?!\d)|\d+|[:/.]|[^\s\d:/.+]+|\+", s):
        tok = m[0]
        if tok.isdigit() and len(tok) > 6:
            out.append("?")  # no answer here is a number that long
        elif tok.isdigit() or tok in ":/." or tok in TOKENS:
            out.append(tok)
        elif re.fullmatch(r"[\W_]+", tok):
            continue  # punctuation, emoji
        else:
            out.append("?")
    return out


def number(text: str, locale: str | None = None) -> int | None:
    """The one whole number an answer gives: 3, ３, ३, "three", 三人, 세 명, "dois", "3 orang",
    "just 1". None when there is none or more than one."""
    for lang in _languages(locale)[:1] + ["en"]:
        w = words(lang)
        toks = [tok for tok in _tokens(text, w) if tok not in ("?", "-")]
        nums = [tok for tok in toks if tok.isdigit()]
        if len(nums) == 1 and len(toks) == 1:
            return int(nums[0])
        # a counter word ("people", 人) is not in the token list; anything else is refused
        if len(nums) == 1 and all(tok.isdigit() for tok in toks):
            return int(nums[0])
    return None


# -- dates and times --------------------------------------------------------------------------

@dataclass
class _When:
    days: int | None = None  # +0 / +1 / +2
    weekday: int | None = None
    next_week: bool = False
    year: int | None = None
    month: int | None = None
    day: int | None = None
    hour: int | None = None
    minute: int = 0
    meridiem: str | None = None  # am / pm / noon


def _read_when(toks: list[str], day_first: bool) -> _When | None:
    w = _When()
    sig = [t for t in toks if t not in ("?", "-")]
    i = 0

    def after(j: int) -> str | None:
        return sig[j] if j < len(sig) else None

    def set_hour(h: int, j: int) -> int:
        """The hour at sig[j-1]; reads ":30", "H 30", "H half", "30 min" after it."""
        if w.hour is not None or h > 24:
            raise ValueError("two hours")
        w.hour = h
        if after(j) in (":", ".") and (after(j + 1) or "").isdigit() and len(sig[j + 1]) == 2:
            w.minute = int(sig[j + 1])
            j += 2
        if after(j) == "H":
            j += 1
            if (after(j) or "").isdigit() and len(sig[j]) <= 2 and after(j + 1) not in ("H", "M", "D", ":", "/", "."):
                w.minute = int(sig[j])
                j += 2 if after(j + 1) == "min" else 1
        if after(j) == "half":
            w.minute = 30
            j += 1
        return j

    while i < len(sig):
        tok = sig[i]
        if tok in ("+0", "+1", "+2"):
            w.days = int(tok[1])
            i += 1
        elif tok in _WEEKDAYS:
            w.weekday = _WEEKDAYS.index(tok)
            i += 1
        elif tok == "nextweek":
            w.next_week = True
            i += 1
        elif tok in ("am", "pm", "noon"):
            w.meridiem = tok if w.meridiem in (None, "am", "pm") else w.meridiem
            i += 1
        elif tok in _MONTHS:
            w.month = _MONTHS.index(tok) + 1
            i += 1
            hour_next = after(i + 1) in ("H", ":", ".") or (
                after(i + 1) in ("am", "pm") and not any(t.isdigit() for t in sig[i + 2:]))  # "Dec 10am"
            if (after(i) or "").isdigit() and w.day is None and not hour_next:
                w.day = int(sig[i])
                i += 1
                if (after(i) or "").isdigit() and len(sig[i]) == 4:
                    w.year = int(sig[i])
                    i += 1
        elif tok == "halfto":  # "setengah 8": half an hour before eight
            i += 1
            if (after(i) or "").isdigit() and 1 <= int(sig[i]) <= 24:
                i = set_hour(int(sig[i]) - 1, i + 1)
                w.minute = 30
        elif tok == "halfpast":  # "साढे ८": half past eight
            i += 1
            if (after(i) or "").isdigit():
                i = set_hour(int(sig[i]), i + 1)
                w.minute = 30
        elif tok == "Dp":  # "dia 18", "ngày 21": the day of the month
            i += 1
            if (after(i) or "").isdigit() and w.day is None:
                w.day = int(sig[i])
                i += 1
        elif tok == "at":
            i += 1
            if not (after(i) or "").isdigit():
                continue
            i = set_hour(int(sig[i]), i + 1)
        elif tok.isdigit():
            n, nxt = int(tok), after(i + 1)
            if nxt == "/" and (after(i + 2) or "").isdigit():
                a, b = n, int(sig[i + 2])
                i += 3
                if after(i) == "/" and (after(i + 1) or "").isdigit():
                    w.year = int(sig[i + 1])
                    i += 2
                    if a > 31:  # 2027/1/5
                        a, b, w.year = b, w.year, a
                        w.month, w.day = a, b
                        continue
                month, day = (b, a) if day_first else (a, b)
                if month > 12 and day <= 12:
                    month, day = day, month
                w.month, w.day = month, day
            elif nxt == "M":
                w.month = n
                i += 2
            elif nxt == "D":
                w.day = n
                i += 2
            elif nxt in _MONTHS and w.day is None:
                w.day = n
                i += 1
            elif nxt in ("H", ":", ".", "am", "pm", "half") or (w.hour is None and nxt in ("noon", None)
                                                                 and (w.meridiem or w.days is not None
                                                                      or w.weekday is not None or w.month)):
                i = set_hour(n, i + 1)
            elif len(tok) == 4 and w.year is None:
                w.year = n
                i += 1
            else:
                return None
        else:
            i += 1  # H, M, D, half, min, "-" on their own
    return w


def when(text: str, now: datetime, locale: str | None = None) -> tuple[date, time | None] | None:
    """The day (and time, when one was given) an answer means, in the time zone of `now`:
    「火曜の朝7時」, "next Tuesday 7am", "thứ Ba 7 giờ", "27/12 às 10h", "下周六下午两点".

    A bare weekday is the first such day after today; "next week's" weekday is in the Monday–
    Sunday week after this one; a day and month without a year is the next such date; a day
    alone is this month's (next month's once it has passed). None when the answer is not a date
    or time, or is one that does not exist."""
    today = now.date()
    for lang in dict.fromkeys(_languages(locale)[:1] + ["en", "ja"] + list(SUPPORTED_LOCALES)):
        w = words(lang)
        try:
            found = _read_when(_tokens(text, w), w.day_first)
        except ValueError:
            continue
        if found is None:
            continue
        try:
            result = _resolve(found, today, now)
        except ValueError:
            return None
        if result is not None:
            return result
    return None


def _resolve(w: _When, today: date, now: datetime) -> tuple[date, time | None] | None:
    clock = None
    if w.hour is not None:
        hour = w.hour
        if w.meridiem == "pm" and hour < 12:
            hour += 12
        elif w.meridiem == "am" and hour == 12:
            hour = 0
        elif w.meridiem == "noon" and 1 <= hour <= 6:
            hour += 12
        if hour == 24 and w.minute == 0:
            hour = 0  # rare; kept as midnight
        if not (0 <= hour <= 23 and 0 <= w.minute <= 59):
            raise ValueError("no such time")
        clock = time(hour, w.minute)
    elif w.meridiem == "noon":
        clock = time(12, 0)
    if w.month is not None or w.day is not None:
        day = _calendar(w.year, w.month, w.day, today)
    elif w.weekday is not None:
        if w.next_week:
            day = today - timedelta(days=today.weekday()) + timedelta(days=7 + w.weekday)
        else:
            day = today + timedelta(days=(w.weekday - today.weekday() - 1) % 7 + 1)
    elif w.days is not None:
        day = today + timedelta(days=w.days)
    elif clock is not None:
        day = today if clock > now.time() else today + timedelta(days=1)
    else:
        return None
    return day, clock


def _calendar(year: int | None, month: int | None, day: int | None, today: date) -> date:
    """The date meant: a day and month as bot.core.recurrence reads them (the next such date
    without a year); a day alone, this month's, or the next month's that has it."""
    if day is None:
        raise ValueError("a month without a day")
    if month is not None:
        return calendar_date(year, month, day, today)
    for k in range(3):
        y, m = today.year + (today.month - 1 + k) // 12, (today.month - 1 + k) % 12 + 1
        try:
            found = date(y, m, day)
        except ValueError:
            continue
        if found >= today:
            return found
    raise ValueError("no such day")


# -- reminders written in any language --------------------------------------------------------
# bot.core.recurrence reads schedules in Japanese and English. A reminder written in another
# language is rewritten into the words it reads, phrase by phrase, from the language's
# [schedule] table ("mỗi thứ ba" → 毎週火曜, "jam 7" → 7時); what the table does not name (the
# reminder's title) is left as written, and mapped back to the resident's own words.
#
# Values are recurrence's words, or one of: @am / @pm (before a number 午前/午後, after one
# am/pm), @at (an hour follows: "jam 7" → 7時), @and (between two weekdays), @day / @month (after
# a number: 24号 → 24日, 12월 → 12月), @hour (after a number: "7 giờ" → 7時). Where the context
# does not fit, the resident's word is kept as it was.

_SPECIAL = {"@am", "@pm", "@at", "@and", "@day", "@month", "@hour"}


@dataclass(frozen=True)
class _Schedule:
    latin: bool
    day_first: bool
    phrases: dict[str, str]  # folded phrase without spaces → replacement
    pattern: re.Pattern | None


@cache
def _schedule_words(language: str) -> _Schedule:
    data = _read(language)
    latin = bool(data.get("latin", False))
    table = data.get("schedule") or {}
    for word, value in table.items():
        if value.startswith("@") and value not in _SPECIAL:
            raise ValueError(f"{language}/{FILE}: unknown {value!r} for {word!r}")
    folded = {fold(w, latin): v for w, v in table.items()}
    return _Schedule(latin, data.get("date_order", "md") == "dm",
                     {p.replace(" ", ""): v for p, v in folded.items()}, _alternation(list(folded)))


def _fold_keeping_length(text: str, latin: bool) -> str:
    """`fold` character by character, so positions in the result are positions in `text`."""
    out = []
    for ch in text:
        f = unicodedata.normalize("NFKC", ch).casefold()
        f = _digits(f)
        if latin:
            f = strip_accents(f)
        out.append(f if len(f) == 1 else (f[:1] or " "))
    return "".join(out)


def schedule(text: str, locale: str | None) -> tuple[str, list[tuple[int, int, int, int]]] | None:
    """`text` in the words bot.core.recurrence reads, and the pieces replaced (start and end in
    the new text, start and end in `text`); None when the language has nothing to replace."""
    if locale not in SUPPORTED_LOCALES or locale in ("ja", "en"):
        return None
    sw = _schedule_words(locale)
    if sw.pattern is None:
        return None
    src = unicodedata.normalize("NFC", text)
    folded = _fold_keeping_length(src, sw.latin)
    hits = []  # (start, end, value) in src
    for m in sw.pattern.finditer(folded):
        hits.append((m.start(), m.end(), sw.phrases["".join(m[0].split())]))
    if sw.day_first:  # 24/12 → 12/24
        for m in re.finditer(r"(?<![\d/])(\d{1,2})\s*/\s*(\d{1,2})(?![\d/])", folded):
            if not any(s < m.end() and m.start() < e for s, e, _ in hits):
                hits.append((m.start(), m.end(), f"{m[2]}/{m[1]}"))
    for m in re.finditer(r"(?<!\d)(\d{1,2})\s*h\s*(\d{2})?(?![a-z\d])", folded):  # 7h, 7h30
        if not any(s < m.end() and m.start() < e for s, e, _ in hits):
            hits.append((m.start(), m.end(), f"{m[1]}:{m[2] or '00'}"))
    if not hits:
        return None
    hits.sort()
    out, pieces, pos = [], [], 0
    for i, (s, e, value) in enumerate(hits):
        if s < pos:
            continue
        out.append(src[pos:s])
        before = "".join(out).rstrip()
        after_text = folded[e:].lstrip()
        number_before = bool(re.search(r"\d$", before))
        number_after = bool(re.match(r"\d", after_text))
        word = src[s:e]
        if value == "@am" or value == "@pm":
            value = ("午前" if value == "@am" else "午後") if number_after else (
                value[1:] if number_before or re.search(r"時$", before) else word)
        elif value == "@at":
            m = re.match(r"(\d{1,2})(?:\s*[.:]\s*(\d{2})|\s*h\s*(\d{2})?(?![a-z]))?(?!\d)", after_text)
            if m:  # "jam 7", "às 7h30", "jam 9.30"
                skip = len(folded[e:]) - len(after_text) + m.end()
                minutes = m[2] or m[3]
                value = f" {m[1]}:{minutes} " if minutes else f" {m[1]}時 "
                e += skip
            else:
                value = word
        elif value == "@and":
            value = "・" if re.search(r"曜$", before) else word
        elif value in ("@day", "@month", "@hour"):
            value = {"@day": "日", "@month": "月", "@hour": "時"}[value] if number_before else word
        start = len("".join(out))
        if value != word:  # recurrence reads its words with spaces around them (「12 月 24 日」, "7 時")
            value = f" {value.strip()} "
        out.append(value)
        pieces.append((start, start + len(value), s, e))
        pos = e
    out.append(src[pos:])
    return "".join(out), pieces


def original_span(title: str, rewritten: str, pieces: list[tuple[int, int, int, int]], text: str) -> str:
    """The resident's own words for `title`, a part of `rewritten` (`schedule`'s result)."""
    start = rewritten.find(title)
    if start < 0:
        return title
    end = start + len(title)

    def back(pos: int, is_end: bool) -> int:
        shift = 0
        for ns, ne, os_, oe in pieces:
            if pos >= ne:
                shift = oe - ne
            elif ns <= pos < ne:
                return oe if is_end else os_
        return pos + shift

    return unicodedata.normalize("NFC", text)[back(start, False):back(end, True)].strip()
