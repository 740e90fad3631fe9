"""Names from the city's data (areas, associations, collection areas, garbage kinds) shown to a
resident in a form they can read.

The chain, for a name kept as {language: text} (Japanese always there):

    the resident's language → the city's second language (`FALLBACK_LANGUAGE`, English by
    default) → the name in Latin letters (Hepburn), made from the Japanese reading when nobody
    wrote one → Japanese

For やさしい日本語, a name with kanji carries its reading: 燃えるごみ（もえるごみ）. Chinese
readers read kanji, so for zh_Hans a Japanese name without kana comes before its romanised form.
Readings come from SudachiPy's core dictionary (the same one `bot.core.understand` loads).
"""
from __future__ import annotations

import re
from functools import lru_cache

from sudachipy import tokenizer as sudachi

from bot.core import understand
from bot.core.i18n import LANGUAGES, N_, t

_KANJI = re.compile(r"[\u3400-\u9fff\uf900-\ufaff々〆ヶ]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff々〆ヶ]")
LATIN_LOCALES = ("en", "vi", "tl", "pt_BR", "id")

# Hepburn (as on Japan's road signs and station names): し shi, ち chi, つ tsu, ふ fu, じ ji,
# long vowels written plainly (おおさか → osaka, とうきょう → tokyo), ん before b/m/p is n.
_BASE = dict(zip(
    "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわゐゑをん"
    "がぎぐげござじずぜぞだぢづでどばびぶべぼぱぴぷぺぽぁぃぅぇぉゃゅょゎゔ",
    "a i u e o ka ki ku ke ko sa shi su se so ta chi tsu te to na ni nu ne no ha hi fu he ho ma mi mu me mo "
    "ya yu yo ra ri ru re ro wa i e o n ga gi gu ge go za ji zu ze zo da ji zu de do ba bi bu be bo pa pi pu pe po "
    "a i u e o ya yu yo wa vu".split()))
_YOON = {"きゃ": "kya", "きゅ": "kyu", "きょ": "kyo", "しゃ": "sha", "しゅ": "shu", "しょ": "sho", "ちゃ": "cha",
         "ちゅ": "chu", "ちょ": "cho", "にゃ": "nya", "にゅ": "nyu", "にょ": "nyo", "ひゃ": "hya", "ひゅ": "hyu",
         "ひょ": "hyo", "みゃ": "mya", "みゅ": "myu", "みょ": "myo", "りゃ": "rya", "りゅ": "ryu", "りょ": "ryo",
         "ぎゃ": "gya", "ぎゅ": "gyu", "ぎょ": "gyo", "じゃ": "ja", "じゅ": "ju", "じょ": "jo", "ぢゃ": "ja",
         "ぢゅ": "ju", "ぢょ": "jo", "びゃ": "bya", "びゅ": "byu", "びょ": "byo", "ぴゃ": "pya", "ぴゅ": "pyu",
         "ぴょ": "pyo", "しぇ": "she", "ちぇ": "che", "じぇ": "je", "ふぁ": "fa", "ふぃ": "fi", "ふぇ": "fe",
         "ふぉ": "fo", "てぃ": "ti", "でぃ": "di", "うぃ": "wi", "うぇ": "we", "うぉ": "wo"}
_LONG = re.compile(r"(?<=[aeiou])(?:(?<=o)u|(?<=u)u|(?<=o)o|(?<=a)a|(?<=e)e|-)")  # ou, uu, oo, aa, ee, ー
# Words that are the end of a place or group name: joined to the name before them with a hyphen.
_SUFFIXES = {"町": ("machi", "cho"), "丁目": ("chome",), "区": ("ku",), "市": ("shi",), "村": ("mura", "son"),
             "郡": ("gun",), "県": ("ken",), "通り": ("dori",), "団地": ("danchi",), "班": ("han",)}
_ATTACHED = {"会": "kai", "台": "dai"}  # 町内会 → Chonaikai, 自治会 → Jichikai, さくら台 → Sakuradai


def kana_to_romaji(kana: str) -> str:
    """ひらがな or カタカナ in Hepburn, long vowels plain: 「とうきょう」 → "tokyo"."""
    s = kana.translate({c: c - 0x60 for c in range(ord("ァ"), ord("ヶ") + 1)})
    out, i = [], 0
    while i < len(s):
        two = s[i:i + 2]
        if two in _YOON:
            out.append(_YOON[two])
            i += 2
            continue
        ch = s[i]
        if ch == "っ" and i + 1 < len(s):  # a doubled consonant: っち → tchi
            nxt = _YOON.get(s[i + 1:i + 3]) or _BASE.get(s[i + 1], "")
            out.append("t" if nxt.startswith("ch") else nxt[:1] if nxt[:1] not in "aiueo" else "")
        elif ch == "ん":
            nxt = _YOON.get(s[i + 1:i + 3]) or _BASE.get(s[i + 1], "") if i + 1 < len(s) else ""
            out.append("n")
            if nxt[:1] in ("a", "i", "u", "e", "o", "y"):
                out.append("'")  # しんよう → shin'yo
        elif ch == "ー":
            out.append("-")
        else:
            out.append(_BASE.get(ch, ch))
        i += 1
    return _LONG.sub("", "".join(out)).replace("'", "")


@lru_cache(maxsize=4096)
def romanize(japanese: str) -> str:
    """A Japanese name in Latin letters, from its reading: 「旭町二丁目町内会」 →
    "Asahi-machi Ni-chome Chonaikai"-like. Text that is not Japanese is kept as it is."""
    if not _JAPANESE.search(japanese):
        return japanese
    numbered = _NUMBERED.match(japanese)
    if numbered:  # 「4番 鈴木」, a household as leaders number them → "No. 4 Suzuki"
        rest = numbered.group(2).strip()
        return f"No. {numbered.group(1)}" + (f" {romanize(rest)}" if rest else "")
    japanese = japanese.replace("（", " (").replace("）", ") ")
    words: list[str] = []
    for m in understand._tokenizer().tokenize(japanese, sudachi.Tokenizer.SplitMode.A):
        surface = m.surface()
        if not _JAPANESE.search(surface):
            if surface.strip():
                words.append(surface.strip())
            continue
        if surface in ("・", "、", "／"):
            if words:
                words[-1] += "/"
            continue
        reading = m.reading_form() if _KANJI.search(surface) else surface
        roman = kana_to_romaji(reading if reading not in ("", "キゴウ") else surface)
        if not roman:
            continue
        suffix = next(((k, r) for k, rs in _SUFFIXES.items() for r in rs if surface.endswith(k) and roman.endswith(r)), None)
        if suffix and len(surface) > len(suffix[0]) and len(roman) > len(suffix[1]):  # 旭町 → Asahi-cho
            roman = f"{roman[:-len(suffix[1])]}-{suffix[1]}"
            suffix = None
        glue = words and words[-1][-1:].isalpha()
        if glue and suffix and surface == suffix[0]:  # 町 on its own after a name
            words[-1] = f"{words[-1]}-{roman}"
        elif glue and _ATTACHED.get(surface) == roman:
            words[-1] += roman
        elif glue and m.part_of_speech()[0] in ("助詞", "助動詞", "接尾辞"):
            words[-1] += roman
        elif words and words[-1].endswith("/"):
            words[-1] += roman.capitalize()
        else:
            words.append(roman.capitalize())
    return _PAREN_SPACES.sub(lambda m: "(" if m.group(0).startswith("(") else ")", " ".join(words)).strip()


# The kinds of place a shelter (or another facility) is, as their English signs say them: a
# resident who does not read Japanese finds "Asahi Elementary School", not "Asahi Sho Gakko".
# Longest first; a name may end with several (みなと中学校体育館 → Minato Junior High School Gymnasium).
FACILITIES = {
    "コミュニティセンター": "Community Center", "コミュニティーセンター": "Community Center",
    "市民センター": "Civic Center", "地区センター": "District Center", "福祉センター": "Welfare Center",
    "センター": "Center", "小学校": "Elementary School", "中学校": "Junior High School",
    "義務教育学校": "School", "高等学校": "High School", "高校": "High School", "大学": "University",
    "幼稚園": "Kindergarten", "保育園": "Nursery School", "保育所": "Nursery School", "学校": "School",
    "体育館": "Gymnasium", "公民館": "Community Hall", "集会所": "Meeting Hall", "会館": "Hall",
    "図書館": "Library", "公園": "Park", "広場": "Open Space", "グラウンド": "Sports Ground",
    "運動場": "Sports Ground", "市役所": "City Hall", "区役所": "Ward Office", "町役場": "Town Office",
    "村役場": "Village Office", "役場": "Town Office", "出張所": "Branch Office", "病院": "Hospital",
    "神社": "Shrine", "寺": "Temple", "駐車場": "Parking Lot", "校庭": "Schoolyard",
}
_FACILITY_ENDS = sorted(FACILITIES, key=len, reverse=True)


@lru_cache(maxsize=4096)
def facility_english(japanese: str) -> str | None:
    """A facility's name in English when it ends with a kind of place this module knows: the rest
    in Latin letters, the kinds in English (「あさひ小学校」 → "Asahi Elementary School",
    「川辺町コミュニティセンター」 → "Kawabe-cho Community Center"). None when it does not."""
    rest, kinds = japanese.strip(), []
    while rest:
        end = next((w for w in _FACILITY_ENDS if rest.endswith(w)), None)
        if end is None:
            break
        kinds.insert(0, FACILITIES[end])
        rest = rest[: -len(end)].rstrip(" 　・")
    if not kinds:
        return None
    return " ".join([romanize(rest), *kinds]) if rest else " ".join(kinds)


_NUMBERED = re.compile(r"^\s*(\d+)\s*番\s*(.*)$")
_PAREN_SPACES = re.compile(r"\(\s+|\s+\)")


@lru_cache(maxsize=4096)
def with_reading(japanese: str) -> str:
    """For やさしい日本語: a name with kanji followed by its reading, 「燃えるごみ（もえるごみ）」."""
    if not _KANJI.search(japanese):
        return japanese
    return f"{japanese}（{understand.reading(japanese)}）"


def display(names: dict[str, str] | None, locale: str, fallback: str = "en", default: str = "") -> str:
    """The form of a name a resident of `locale` reads (the chain in the module docstring)."""
    names = {k: v for k, v in (names or {}).items() if isinstance(v, str) and v.strip()}
    ja = names.get("ja", "")
    if locale in names:
        return names[locale]
    if locale == "ja_easy":
        return with_reading(ja) if ja else (names.get(fallback) or default)
    if locale == "ja":
        return ja or names.get(fallback) or default
    if locale == "zh_Hans" and ja and not _KANA.search(ja):
        return ja
    if fallback in names and fallback != "ja":
        return names[fallback]
    if ja:
        return romanize(ja)
    return next(iter(names.values()), default)


def is_japanese(text: str) -> bool:
    return bool(_JAPANESE.search(text))


# -- content: circulars, announcements, events ------------------------------------------------
# Content written by people (a circular, an event) is translated by them, or not: a reader gets
# their language, else the city's second language, else the Japanese original, and is told
# when it is not in their language.

_settings = {"fallback": "en"}


def use_fallback(language: str) -> None:
    """Set once at start-up from the configuration (`FALLBACK_LANGUAGE`)."""
    _settings["fallback"] = language


def fallback_language() -> str:
    return _settings["fallback"]


def version_for(available, locale: str, fallback: str | None = None) -> str:
    """Which language's version of a text a resident of `locale` reads, among the `available`
    translations (the Japanese original always is): theirs, the second language, else "ja"."""
    fb = fallback or _settings["fallback"]
    if locale == "ja" or locale in available:
        return locale
    if fb in available and fb != "ja":
        return fb
    return "ja"


def not_in_your_language(locale: str, shown_in: str) -> str | None:
    """The line that tells a reader the text is not in their language (None when it is)."""
    if shown_in == locale:
        return None
    if shown_in == "ja":
        return t(locale, N_("(Not translated into your language: shown in Japanese.)"))
    return t(locale, N_("(Not translated into your language: shown in {language}.)"), language=LANGUAGES[shown_in])
