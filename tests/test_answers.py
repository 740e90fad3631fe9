"""Answers typed at a question, in every language (issue 17): yes/no, numbers, dates and times
(bot.core.answers), reminders written in each language, and what the steps do with them."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bench.answers import evaluate_all, load
from bot.core import answers
from bot.core.config import Config
from bot.core.i18n import SUPPORTED_LOCALES
from bot.core.models import Reminder
from bot.core.recurrence import Rule, describe
from bot.delivery.inbound import Inbound
from bot.services import reminders
from conversations import create_event, event_signup, thanks
from conversations.engine import NO, YES, Answer, Invalid, Option, _typed_yes_no
from handlers.context import Ctx

ASKED = datetime(2026, 12, 4, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # Friday
NOW = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)  # Tuesday 10:00 in Tokyo

# The set the word lists were written with in view must stay read in full; the held-out set
# (written by someone who had not read them: 88.7% on its first run, see bench/RESULTS.md) has
# its own floor. Raise, never lower.
SET_FLOOR = 1.0
HELD_OUT_FLOOR = 0.95


def test_the_answer_set_covers_every_language_and_kind():
    for lang in SUPPORTED_LOCALES:
        lines = load(lang)
        assert len(lines) >= 20, lang
        assert {line["kind"] for line in lines} == {"yes_no", "when", "number"}, lang


def test_every_answer_of_the_set_is_read_right():
    _, overall = evaluate_all("answers")
    assert overall.accuracy >= SET_FLOOR, "\n".join(overall.misses)


def test_answers_the_word_lists_were_not_written_from_are_read_above_the_floor():
    per, overall = evaluate_all("answers_heldout")
    assert overall.total >= 100
    assert overall.accuracy >= HELD_OUT_FLOOR, "\n".join(overall.misses)


@pytest.mark.parametrize("text,locale", [
    ("いいです", "ja"), ("大丈夫です", "ja"), ("yes and no", "en"), ("maybe", "en"), ("", "en"),
    ("🙂", "ja"), ("はいいいえ", "ja"), ("oui", "en"),
])
def test_what_could_mean_either_or_neither_is_not_taken_as_yes_or_no(text, locale):
    assert answers.yes_no(text, locale) is None


@pytest.mark.parametrize("text,locale,expected", [
    ("はい！😊", "ja", "yes"), ("ＯＫです", "ja", "yes"), ("khong can dau", "vi", None),
    ("không cần ạ", "vi", "no"), ("Não, obrigado!", "pt_BR", "no"), ("sige po", "tl", "yes"),
    ("네", "ko", "yes"), ("hindi", "en", "no"),  # another language's word, when no language disagrees
])
def test_yes_and_no_in_the_residents_words(text, locale, expected):
    assert answers.yes_no(text, locale) == expected


@pytest.mark.parametrize("text,locale,expected", [
    ("3", "ja", 3), ("３人", "ja", 3), ("二十七", "ja", 27), ("세 명", "ko", 3), ("दुई जना", "ne", 2),
    ("१२", "ne", 12), ("two of us", "en", 2), ("3 people and 2 dogs", "en", None), ("nothing", "en", None),
    ("9" * 5000, "en", None),  # no number is that long (and Python refuses to read it)
])
def test_numbers_in_digits_and_words(text, locale, expected):
    assert answers.number(text, locale) == expected


@pytest.mark.parametrize("text,locale,expected", [
    ("jam setengah 8 pagi", "id", "2026-12-05T07:30"),  # half an hour before eight
    ("2月30日", "ja", None), ("25時", "ja", None), ("13/45", "en", None), ("3", "en", None),
    ("午後", "ja", None), ("3pm", "en", "2026-12-04T15:00"), ("9am", "en", "2026-12-05T09:00"),  # next 9am
    ("金曜", "ja", "2026-12-11"),  # a weekday is the next one, never today
    ("明天下午3点", "ja", "2026-12-05T15:00"),  # another language's words, when the resident's say nothing
    ("12月31日の夜11時半", "ja", "2026-12-31T23:30"), ("24/12 18h", "pt_BR", "2026-12-24T18:00"),
    ("12/24 18h", "pt_BR", "2026-12-24T18:00"),
])
def test_dates_and_times(text, locale, expected):
    found = answers.when(text, ASKED, locale)
    got = None if found is None else found[0].isoformat() + (f"T{found[1]:%H:%M}" if found[1] else "")
    assert got == expected


def test_every_token_a_word_list_names_is_one_the_reader_knows():
    for lang in SUPPORTED_LOCALES:
        w = answers.words(lang)
        assert w.pattern is not None and w.yes is not None and w.no is not None, lang
        for tokens in w.phrases.values():
            assert all(t in answers.TOKENS or t.isdigit() for t in tokens.split()), (lang, tokens)


# -- the steps --------------------------------------------------------------------------------

def ctx(locale: str) -> Ctx:
    return Ctx(session=None, config=Config(), inbound=Inbound(event_id="x", kind="message"), now=NOW,
               locale_override=locale)


@pytest.mark.parametrize("typed,locale,expected", [
    ("三人", "ja", "3"), ("two of us", "en", "2"), ("dalawa po", "tl", "2"), ("3 orang", "id", "3"), ("1", "ko", "1"),
])
def test_a_party_size_in_words(typed, locale, expected):
    assert event_signup.accept_party(ctx(locale), {}, Answer(text=typed)) == expected


@pytest.mark.parametrize("typed", ["0", "100", "たくさん", "3 or 4"])
def test_a_party_size_that_is_not_one_is_explained(typed):
    with pytest.raises(Invalid):
        event_signup.accept_party(ctx("ja"), {}, Answer(text=typed))


@pytest.mark.parametrize("typed,locale,minutes", [("二時間", "ja", "120"), ("two hours", "en", "120"), ("1,5", "pt_BR", "90"),
                                               ("3 oras", "tl", "180")])
def test_hours_helped_in_words(typed, locale, minutes):
    assert thanks.accept_hours(ctx(locale), {}, Answer(text=typed)) == minutes


def test_a_capacity_in_words():
    assert create_event.accept_capacity(ctx("en"), {}, Answer(text="twelve people")) == "12"
    assert create_event.accept_capacity(ctx("ja"), {}, Answer(text="３０人")) == "30"


def test_typed_yes_or_no_picks_the_button_that_means_it():
    block = [Option(YES, "Yes, block leader"), Option(NO, "No, a member")]
    assert _typed_yes_no(block, "いらない", "ja") == NO
    assert _typed_yes_no(block, "sure", "en") == YES
    consent = [Option("agree", "I agree", says=YES), Option("disagree", "I do not agree", says=NO)]
    assert _typed_yes_no(consent, "vâng", "vi") == "agree"
    assert _typed_yes_no([Option("a", "A"), Option("b", "B")], "yes", "en") is None  # not a yes/no question


# -- reminders written in each language -------------------------------------------------------

@pytest.mark.parametrize("typed,locale,said,title", [
    ("mỗi thứ ba 7 giờ sáng đổ rác cháy được", "vi", "Every Tue at 7:00 AM", "đổ rác cháy được"),
    ("thứ ba và thứ sáu 7 giờ tối: đổ rác", "vi", "Every Tue, Fri at 7:00 PM", "đổ rác"),
    ("setiap Selasa jam 7 pagi buang sampah", "id", "Every Tue at 7:00 AM", "buang sampah"),
    ("besok jam 9.30 ke dokter", "id", "Dec 2, 2026 at 9:30 AM", "ke dokter"),
    ("toda terça às 7h lixo queimável", "pt_BR", "Every Tue at 7:00 AM", "lixo queimável"),
    ("24/12 às 10h30 limpeza da rua", "pt_BR", "Dec 24, 2026 at 10:30 AM", "limpeza da rua"),
    ("tuwing Martes alas 7 ng umaga basura", "tl", "Every Tue at 7:00 AM", "basura"),
    ("每周二早上7点 扔可燃垃圾", "zh_Hans", "Every Tue at 7:00 AM", "扔可燃垃圾"),
    ("12月24号 10点 打扫", "zh_Hans", "Dec 24, 2026 at 10:00 AM", "打扫"),
    ("매주 화요일 오전 7시 쓰레기", "ko", "Every Tue at 7:00 AM", "쓰레기"),
    ("매일 저녁 9시 약 먹기", "ko", "Every day at 9:00 PM", "약 먹기"),
    ("हरेक मंगलबार बिहान ७ बजे फोहोर", "ne", "Every Tue at 7:00 AM", "फोहोर"),
    ("まいしゅう かようび あさ 7じ ごみ", "ja_easy", "Every Tue at 7:00 AM", "ごみ"),
    ("毎週火曜 7:00 燃えるごみ", "vi", "Every Tue at 7:00 AM", "燃えるごみ"),  # Japanese is read for everyone
])
def test_a_reminder_in_the_residents_language(typed, locale, said, title):
    rule, got = reminders.read(typed, NOW, "Asia/Tokyo", locale)
    assert describe(rule, "en") == said
    assert got == title


def test_a_reminder_that_still_lacks_a_time_says_so_in_the_residents_language():
    with pytest.raises(reminders.ReminderError) as exc:
        reminders.read("mỗi thứ ba đổ rác", NOW, "Asia/Tokyo", "vi")
    assert exc.value.msgid == "Please add a time, like 7:00."


# -- through signed webhooks ------------------------------------------------------------------

VI = "U" + "c1" * 16
JA = "U" + "c2" * 16


@pytest.fixture
def clock(time_machine):
    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)  # a Tuesday
    return time_machine


def test_a_vietnamese_reminder_typed_and_confirmed_with_a_typed_yes(line, joined, db, fake_line, clock):
    fake_line.profiles[VI] = {"displayName": "Lan", "language": "vi"}
    line.follow(VI)
    line.tap(VI, "Tiếng Việt")
    line.say(VI, "Minato-machi")
    line.tap(VI, "Bỏ qua")
    line.say(VI, "Lan")
    line.tap(VI, fake_line.quick_labels(VI)[0])  # I agree
    line.say(VI, "Lời nhắc mỗi thứ ba 7 giờ sáng đổ rác")
    assert "đổ rác" in line.last_text(VI) and "T3" in line.last_text(VI)
    line.say(VI, "vâng")
    assert "Đã lưu" in line.last_text(VI)
    with db.session() as s:
        rem = s.scalars(select(Reminder)).one()
        assert rem.title == "đổ rác"
        assert Rule.from_json(rem.rule) == Rule(kind="weekly", at=datetime(2026, 1, 1, 7, 0).time(), weekdays=(1,))


def test_a_typed_no_at_a_confirmation_leaves_and_saves_nothing(line, joined, db, fake_line, clock):
    joined(JA, name="花子", locale_label="日本語")
    line.say(JA, "リマインダー 毎週火曜 7:00 燃えるごみ")
    line.say(JA, "いいえ")
    assert "やめました" in fake_line.texts_to(JA)[-2] or "やめました" in line.last_text(JA)
    with db.session() as s:
        assert s.scalars(select(Reminder)).first() is None


def test_a_reminder_asked_for_in_a_sentence_is_read_without_the_asking_words(line, joined, fake_line, clock):
    joined(VI, name="Lan", locale_label="Tiếng Việt")
    line.say(VI, "nhắc tôi mỗi thứ ba 7 giờ sáng đổ rác")
    asked = line.last_text(VI)
    assert "“đổ rác”" in asked and "T3" in asked  # straight to "Remind you …?", the title as written


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_examples_the_reminder_question_gives_are_read_in_that_language(locale):
    import re

    from bot.core.i18n import t

    asked = t(locale, "When, and what? Write it in one line, for example:\n“every Tuesday 7:00 burnable garbage”\n"
                      "“12/24 10:00 street clean-up”\n“every month on the 1st 9:00 pass on the circular”")
    examples = re.findall(r"“([^”]+)”|「([^」]+)」", asked)
    assert len(examples) == 3, asked
    for example in (a or b for a, b in examples):
        reminders.read(example, NOW, "Asia/Tokyo", locale)  # raises ReminderError if not understood
