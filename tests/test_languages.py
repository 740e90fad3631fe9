"""Every language the bot speaks, end to end: a resident joins in it, uses the menu, the rich
menu's words, help and cancel, and reads replies in it; the fake LINE API checks every message
against LINE's limits. And no word a resident may type means two things across languages."""
from __future__ import annotations

import itertools

import pytest

from handlers import FEATURES
from handlers.features import rich_tiles
from bot.core.i18n import LANGUAGES, keywords, normalize_locale, t
from handlers import aid, basics, circulars, events, reminders

KEYWORD_MSGIDS = {
    "cancel": basics.CANCEL, "menu": basics.MENU, "help": basics.HELP, "settings": basics.SETTINGS,
    "delete": basics.DELETE, "start": basics.START, "ask": aid.ASK, "offer": aid.OFFER, "my requests": aid.MINE,
    "record": aid.RECORD, "registry": aid.REGISTRY, "events": events.EVENTS, "my events": events.MINE,
    "manage events": events.MANAGE, "circulars": circulars.ARCHIVE, "circular status": circulars.STATUS,
    "write a circular": circulars.COMPOSE, "roster": circulars.ROSTER, "reminders": reminders.REMINDERS,
    "garbage": reminders.GARBAGE, "console": circulars.CONSOLE,
}


def test_ten_languages_each_in_its_own_script():
    assert list(LANGUAGES) == ["ja", "ja_easy", "en", "zh_Hans", "ko", "vi", "tl", "pt_BR", "ne", "id"]
    assert LANGUAGES["ko"] == "한국어" and LANGUAGES["ne"] == "नेपाली" and LANGUAGES["ja_easy"] == "やさしい日本語"


@pytest.mark.parametrize("profile, expected", [
    ("ja", "ja"), ("en-US", "en"), ("zh-Hans", "zh_Hans"), ("zh-Hant", "zh_Hans"), ("ko", "ko"), ("vi", "vi"),
    ("fil", "tl"), ("tl", "tl"), ("pt-BR", "pt_BR"), ("pt", "pt_BR"), ("ne", "ne"), ("id", "id"), ("th", None)])
def test_line_profile_languages_map_to_a_catalog(profile, expected):
    assert normalize_locale(profile) == expected


def test_no_word_means_two_things_in_any_pair_of_languages():
    words = {name: keywords(msgid) for name, msgid in KEYWORD_MSGIDS.items()}
    for (a, wa), (b, wb) in itertools.combinations(words.items(), 2):
        assert not (wa & wb), f"{a!r} and {b!r} share {sorted(wa & wb)}"


@pytest.mark.parametrize("locale", list(LANGUAGES))
def test_a_resident_uses_the_bot_in_their_language(locale, line, fake_line):
    user = "U" + f"{abs(hash(locale)) % 16**32:032x}"
    fake_line.profiles[user] = {"displayName": "Aiko", "language": "en"}
    line.follow(user)
    assert LANGUAGES[locale] in fake_line.quick_labels(user)  # offered in its own script
    line.tap(user, LANGUAGES[locale])
    line.say(user, "Minato-machi")
    line.tap(user, t(locale, "Skip"))
    line.say(user, "Aiko")
    line.tap(user, t(locale, "I agree"))
    recent = "".join(fake_line.texts_to(user)[-3:])
    assert t(locale, "Thank you, {name}! You are all set.", name="Aiko") in recent
    if locale != "en":
        assert "Thank you, Aiko" not in recent  # really in the language, not English
    # The menu and help, by the word of the language.
    line.say(user, t(locale, "menu").split("|")[0])
    assert t(locale, "Ask for help") in fake_line.quick_labels(user)
    line.say(user, t(locale, "help|how to use").split("|")[0])
    assert t(locale, "Tsunagari connects neighbours who need a hand with neighbours who can give one. You can type these words at any time:")[:15] \
        in "".join(fake_line.texts_to(user)[-3:])
    # Each rich-menu button's word does something (not the "did not understand" answer), and
    # the language's cancel word leaves whatever it started.
    sorry = t(locale, "Sorry, I did not understand that.")
    cancel = t(locale, "cancel|stop|quit").split("|")[0]
    for _, _, keyword, _ in rich_tiles(FEATURES):
        before = len(fake_line.messages_to(user))
        line.say(user, t(locale, keyword).split("|")[0])
        new = fake_line.messages_to(user)[before:]
        assert new and not any(m.get("text") == sorry for m in new), (locale, keyword)
        line.say(user, cancel)
    # Every message the fake got was within LINE's limits (it refuses others with 400).
    assert all(c.status in (200, 202) for c in fake_line.calls if c.path.startswith("/v2/bot/message"))
