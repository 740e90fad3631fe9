"""A resident who does not read Japanese is not shown it (issue 18): every feature's words,
typed in each language, with the demo city, an event, a circular and the city's garbage
calendar, and everything the bot sends back read for Japanese script. Residents of en, vi, tl,
pt_BR, id and ne see none; ko and zh_Hans see no kana (a kanji name is readable in Chinese,
and the chain gives Korean readers Latin letters). Content nobody translated is allowed only
in a message that says so ("Not translated into your language")."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import services
from bot.core.i18n import LANGUAGES, N_, t
from bot.core.models import Association, Circular, Event
from bot.services import circulars
from handlers import FEATURES
from handlers.basics import CANCEL
from handlers.features import words
from tests.support import run_worker

DATA = Path(__file__).parent / "data" / "5374"
NO_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")
NO_KANA = re.compile(r"[\u3040-\u30ff\uff66-\uff9f]")
RULES = {"en": NO_JAPANESE, "vi": NO_JAPANESE, "tl": NO_JAPANESE, "pt_BR": NO_JAPANESE, "id": NO_JAPANESE,
         "ne": NO_JAPANESE, "ko": NO_JAPANESE, "zh_Hans": NO_KANA}
LABELS = {"en": "English", "vi": "Tiếng Việt", "tl": "Tagalog", "pt_BR": "Português", "id": "Bahasa Indonesia",
          "ne": "नेपाली", "ko": "한국어", "zh_Hans": "简体中文"}
UNTRANSLATED = (N_("(Not translated into your language: shown in Japanese.)"),)


def strings(message: dict) -> list[str]:
    """Every piece of text in a message as LINE would show it: text, alt text, labels, a
    card's texts, quick replies."""
    out: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "altText", "label", "displayText", "title") and isinstance(value, str):
                    out.append(value)
                elif key not in ("data", "uri", "url", "originalContentUrl", "previewImageUrl"):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message)
    return out


def world(db, runner, now: datetime) -> None:
    assert runner.invoke(args=["garbage", "import", "--dir", str(DATA)]).exit_code == 0
    with db.session() as s:
        s.add(Event(title="夏祭りの準備", place="あさひ公民館", description="テントを立てます",
                    starts_at=now + timedelta(days=3), capacity=20, association_id=None, organizer="あさひ町内会",
                    translations={loc: {"title": "Festival set-up", "place": "Asahi hall", "description": "Tents"}
                                  for loc in ("en", "vi", "tl", "pt_BR", "id", "ne", "ko", "zh_Hans")},
                    created_at=now))



def send_circular(db, bot, now: datetime) -> None:
    """A circular of the association with an English translation only, sent to its members."""
    with db.session() as s:
        asahi = s.scalar(select(Association).where(Association.join_code == "ASAHI-2026"))
        circ = Circular(association_id=asahi.id, title="清掃のお知らせ", body="日曜9時に集合してください。",
                        translations={"en": {"title": "Clean-up", "body": "Sunday 9:00, please gather."}},
                        created_at=now)
        s.add(circ)
        s.flush()
        services.apply(s, circulars.send(s, circ, bot.config, now), "test")
    run_worker(bot)


@pytest.mark.parametrize("locale", sorted(RULES))
def test_nothing_in_japanese_script_for_a_resident_who_does_not_read_it(locale, line, fake_line, db, bot, runner,
                                                                         time_machine):
    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)
    now = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
    world(db, runner, now)
    user = "U" + "e" * 31 + str(len(locale))
    fake_line.profiles[user] = {"displayName": "Sam", "language": locale.split("_")[0].lower()}
    line.follow(user)
    line.tap(user, LABELS[locale])
    line.tap(user, fake_line.quick_labels(user)[0])  # the first area
    line.say(user, "ASAHI-2026")  # the association's join code
    line.say(user, "Sam")
    line.tap(user, fake_line.quick_labels(user)[0])  # I agree
    send_circular(db, bot, now)
    stop = t(locale, CANCEL).split("|")[0]
    for word in words(FEATURES):
        typed = t(locale, word.msgid).split("|")[0]
        line.say(user, typed)
        line.say(user, stop)
    line.say(user, t(locale, N_("garbage days")).split("|")[0])  # the calendar's areas and kinds, in full
    line.tap(user, fake_line.quick_labels(user)[0])
    line.tap(user, fake_line.quick_labels(user)[1])
    line.tap(user, fake_line.quick_labels(user)[-2])  # Done
    seen = "\n".join(text for message in fake_line.messages_to(user) for text in strings(message))
    assert "Festival set-up" in seen and "Asahi hall" in seen  # the event was listed
    assert "Clean-up" in seen  # the circular, in the city's second language
    assert t(locale, "Burnable garbage") in seen  # the calendar's kinds
    rule = RULES[locale]
    marks = [t(locale, m) for m in UNTRANSLATED]
    bad = []
    for message in fake_line.messages_to(user):
        texts = strings(message)
        if any(mark in text for mark in marks for text in texts):
            continue
        # the language buttons name each language in its own script, as every language picker does
        bad += [text for text in texts if rule.search(text) and text not in LANGUAGES.values()]
    assert not bad, f"{locale}: shown in Japanese script:\n" + "\n---\n".join(dict.fromkeys(bad))
