"""What residents type in their own words (issue 17), through signed webhooks: greetings and
thanks, a request for help in a sentence, garbage questions, a change of language, stopping or
leaving a question, circulars; and the understanding itself (bot.core.understand), directly."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core import understand
from bot.core.models import ConversationState, GarbageSubscription, HelpRequest, Resident

EN = "U" + "e1" * 16
JA = "U" + "e2" * 16
DATA = Path(__file__).parent / "data" / "5374"


@pytest.fixture
def clock(time_machine):
    time_machine.move_to("2026-12-04 10:00:00+09:00", tick=False)  # a Friday morning
    return time_machine


@pytest.fixture
def people(joined, clock):
    joined(EN, name="Emma")
    joined(JA, name="花子", locale_label="日本語")


def state(db, user):
    with db.session() as s:
        rid = s.scalar(select(Resident.id).where(Resident.line_user_id == user))
        return s.scalar(select(ConversationState).where(ConversationState.resident_id == rid))


# -- understanding, directly --------------------------------------------------------------------

@pytest.mark.parametrize("text,locale,intent,slots", [
    ("こんにちは", "ja", "greeting", {}),
    ("ありがとう😊", "ja", "thanks", {}),
    ("👍", "ja", "thanks", {}),
    ("Hi, thank you!", "ja", "thanks", {}),
    ("thnak you", "en", "thanks", {}),  # one typo forgiven
    ("粗大ごみはいつ出せますか？", "ja", "garbage_day", {"kind": "oversized"}),
    ("When is the next garbage day?", "en", "garbage_day", {"kind": None}),
    ("ごみ　いつ　だす？", "ja_easy", "garbage_day", {"kind": None}),  # by reading, with spaces
    ("I need help moving a sofa", "en", "ask_help", {"category": "tidying"}),
    ("ソファを運ぶのを手伝ってほしい", "ja", "ask_help", {"category": "tidying"}),
    ("てつだって　ほしい", "ja_easy", "ask_help", {"category": None}),
    ("フライパンは何ごみ", "ja", "garbage_item", {"item": "ふらいぱん"}),
    ("how do I throw away a frying pan", "en", "garbage_item", {"item": "frying pan"}),
    ("今週のイベント", "ja", "events", {}),
    ("回覧板見たい", "ja", "circulars", {}),
    ("change my language to English", "ja", "language", {"language": "en"}),
    ("日本語にして", "en", "language", {"language": "ja"}),
    ("delete my data", "ja", "delete_data", {}),
    ("ｈｅｌｐ", "ja", "help", {}),
    ("ﾒﾆｭｰ", "ja", "menu", {}),
    ("やめて", "ja", "cancel", {}),
    ("やめたい", "ja", "cancel", {}),
])
def test_understood(text, locale, intent, slots):
    got = understand.understand(text, locale)
    assert got.intent == intent
    for key, value in slots.items():
        assert got.slots.get(key) == value


@pytest.mark.parametrize("text", ["名" * 50, "です", "x" * 400, "2026", "火星", "stop notifications please"])
def test_not_taken_for_stop(text):
    """Only a whole message that says stop cancels a question (「名名名…」 at a name step does not)."""
    assert not understand.cancels(text, "ja")


@pytest.mark.parametrize("text,locale,slot,value", [
    ("when is non-burnable garbage", "en", "kind", "nonburnable"),  # not "burnable", found inside it
    ("燃えないごみはいつ", "ja", "kind", "nonburnable"),
    ("switch to easy Japanese", "en", "language", "ja_easy"),  # not "Japanese"
    ("やさしい日本語にして", "ja", "language", "ja_easy"),
])
def test_the_detail_named_most_fully_wins(text, locale, slot, value):
    assert understand.understand(text, locale).slots[slot] == value


@pytest.mark.parametrize("text,locale,not_intent", [
    ("大会に参加したい", "ja", "delete_data"),  # たいかい, but not 退会
    ("I don't need help", "en", "ask_help"),  # and no other language's "need help" takes it either
    ("手伝いはいらないです", "ja", "ask_help"),
])
def test_what_says_it_is_not_meant_is_not_taken_for_it(text, locale, not_intent):
    assert understand.understand(text, locale).intent != not_intent


def test_a_topic_word_alone_offers_the_likeliest_choices():
    got = understand.understand("ごみ", "ja")
    assert got.intent is None and got.choices == ("garbage_day", "garbage_item", "ask_help")


def test_every_language_file_loads_and_names_only_known_intents():
    from bot.core.i18n import LANGUAGES
    for lang in LANGUAGES:
        lex = understand.lexicon(lang)
        assert set(lex.intents) <= understand.INTENTS


# -- through LINE -------------------------------------------------------------------------------

def test_a_greeting_and_thanks_get_a_warm_answer_with_next_steps(line, fake_line, people):
    line.say(EN, "Hello!!")
    assert line.last_text(EN).startswith("Good morning, Emma!")
    assert fake_line.quick_labels(EN)[:2] == ["Ask for help", "Help a neighbour"]
    line.say(JA, "ありがとうございました🙏")
    assert line.last_text(JA).startswith("どういたしまして")


def test_a_request_in_a_sentence_keeps_the_words_and_guesses_the_kind_for_the_resident_to_confirm(
        line, fake_line, db, people):
    line.say(EN, "I need help moving a sofa to the second floor")
    st = state(db, EN)
    assert st.flow == "ask_help" and st.step == "category"
    assert st.data["description"] == "I need help moving a sofa to the second floor"
    assert "You wrote: “I need help moving a sofa" in line.last_text(EN)
    assert fake_line.quick_labels(EN)[0] == "Tidying the house"  # the guess first; they choose
    with db.session() as s:
        assert s.scalar(select(HelpRequest)) is None  # nothing posted on a guess
    line.tap(EN, "Tidying the house")
    assert state(db, EN).step == "when"  # their words are kept: not asked again
    line.tap(EN, "Any time")
    line.tap(EN, "Anonymous")
    line.tap(EN, "Post it")
    with db.session() as s:
        req = s.scalar(select(HelpRequest))
        assert (req.category, req.description) == ("tidying", "I need help moving a sofa to the second floor")


def test_garbage_questions_are_answered_from_the_citys_calendar(line, fake_line, runner, db, people):
    assert runner.invoke(args=["garbage", "import", "--dir", str(DATA)]).exit_code == 0
    line.say(JA, "鍋は何ごみですか？")  # the list says 「なべ」: compared by reading
    assert "なべ：燃やさないごみ" in line.last_text(JA)
    line.say(EN, "how do I throw away a spaceship")
    assert "is not in the city's list" in line.last_text(EN)
    with db.session() as s:
        rid = s.scalar(select(Resident.id).where(Resident.line_user_id == JA))
        s.add(GarbageSubscription(resident_id=rid, area="本町一丁目", categories=[]))
    line.say(JA, "粗大ごみはいつ出せますか？")
    text = line.last_text(JA)
    assert "粗大ごみ" in text and "燃やすごみ" not in text  # only the kind asked about


def test_a_change_of_language_in_words_is_made_with_one_tap_back(line, fake_line, db, people):
    line.say(JA, "英語にして")
    assert line.last_text(JA) == "From now on I will speak English."
    with db.session() as s:
        assert s.scalar(select(Resident.locale).where(Resident.line_user_id == JA)) == "en"
    line.tap(JA, "日本語")
    with db.session() as s:
        assert s.scalar(select(Resident.locale).where(Resident.line_user_id == JA)) == "ja"


def test_stop_in_their_words_leaves_a_question_and_saves_nothing(line, fake_line, db, people):
    line.say(JA, "助けて")
    assert state(db, JA).flow == "ask_help"
    line.tap(JA, "犬の散歩")
    line.say(JA, "やめて")  # not the request's words
    assert state(db, JA) is None
    assert "やめました" in fake_line.texts_to(JA)[-2]
    with db.session() as s:
        assert s.scalar(select(HelpRequest)) is None


def test_a_feature_word_in_the_middle_of_a_question_leaves_it_and_does_what_it_says(line, fake_line, db, people):
    line.say(EN, "settings")
    line.tap(EN, "Name")
    line.say(EN, "my events")
    assert state(db, EN) is None
    said = fake_line.texts_to(EN)
    assert any("I left the question we were on" in x for x in said[-3:])
    assert said[-1] == "You have not signed up for any upcoming event."  # what "my events" answers


def test_circulars_in_a_sentence_list_them_rather_than_search_for_the_verb(line, fake_line, people):
    line.say(JA, "回覧板見たい")
    assert "「見たい」" not in line.last_text(JA)


# -- first contact in the resident's language ---------------------------------------------------

def test_a_first_message_without_a_line_language_is_answered_in_the_language_it_is_written_in(line, fake_line, db):
    user = "U" + "e3" * 16
    fake_line.profiles[user] = {"displayName": "Lan"}  # no language in the profile
    line.say(user, "Xin chào")
    assert line.last_text(user).startswith("Chào mừng bạn đến với Tsunagari")
    assert fake_line.quick_labels(user)[0] == "Tiếng Việt"  # theirs first; the other nine one tap away
    assert len(fake_line.quick_labels(user)) >= 10


def test_hello_in_another_language_at_the_language_question_asks_it_again_in_that_language(line, fake_line, db):
    user = "U" + "e4" * 16
    fake_line.profiles[user] = {"displayName": "Ana"}
    line.follow(user)
    assert line.last_text(user).startswith("つながりへようこそ")  # nothing to go by yet: Japanese
    line.say(user, "Olá, bom dia")
    assert line.last_text(user).startswith("Bem-vindo")
    assert fake_line.quick_labels(user)[0] == "Português"
    line.say(user, "English please")  # a language named in words, not tapped
    assert state(db, user).data["locale"] == "en"


def test_japanese_places_and_names_in_latin_letters_do_not_change_the_language(line, fake_line, db):
    """Foreign residents write Japanese places and names in Latin letters ("asahi 2", "Hanako"):
    they tell nothing of the writer's language (Lingua took them for Tagalog), so the question is
    asked again in the language the resident was using."""
    for typed in ("asahi 2", "Hanako", "Minato-machi", "ekimae 3", "Hokkaido", "Kawabe-cho Shinjuku 1-2"):
        assert understand.detect_language(typed) is None, typed
    for typed, lang in (("Saya mau minta tolong", "id"), ("magandang umaga po", "tl"), ("Olá, bom dia", "pt_BR"),
                        ("I need help with shopping", "en"), ("salamat po", "tl")):
        assert understand.detect_language(typed) == lang, typed
    user = "U" + "e5" * 16
    fake_line.profiles[user] = {"displayName": "Lan"}
    line.say(user, "Xin chào")
    assert line.last_text(user).startswith("Chào mừng bạn đến với Tsunagari")
    line.say(user, "asahi 2")  # the area, typed one question early
    assert fake_line.texts_to(user)[-2] == "Vui lòng chọn ngôn ngữ bằng các nút."
    assert line.last_text(user).startswith("Chào mừng bạn đến với Tsunagari")
    assert fake_line.quick_labels(user)[0] == "Tiếng Việt"


# -- at a question, words that are no answer to it ----------------------------------------------

@pytest.fixture
def garbage_days(db):
    from bot.core import garbage5374  # the demo city's garbage calendar, for the questions that use it
    from bot.core.db import utcnow
    from bot.services import garbage

    with db.session() as s:
        garbage.store(s, garbage5374.load_dir(Path(__file__).parent.parent / "data" / "garbage" / "demo"), "demo",
                      utcnow())


def test_a_request_typed_at_a_question_it_does_not_answer_is_taken_as_the_request(line, fake_line, db, people,
                                                                                   garbage_days):
    line.say(JA, "ごみの日")  # the garbage days: which collection area?
    assert state(db, JA).flow == "garbage"
    line.say(JA, "買い物を手伝ってくれる人いませんか")
    assert fake_line.texts_to(JA)[-2] == "（さきほどの質問は終わりにしました。入力した内容は保存していません）"
    st = state(db, JA)
    assert st.flow == "ask_help" and st.data.get("description") == "買い物を手伝ってくれる人いませんか"
    assert st.data.get("_guess") == "shopping"


def test_at_a_question_thanks_or_words_for_the_same_thing_ask_the_question_again(line, fake_line, db, people,
                                                                                 garbage_days):
    line.say(EN, "garbage days")
    asked = line.last_text(EN)
    line.say(EN, "thank you")  # no request: the question stays
    assert state(db, EN).flow == "garbage" and line.last_text(EN) == asked
    line.say(EN, "When is the next garbage day?")  # what this question is already about
    assert state(db, EN).flow == "garbage" and line.last_text(EN) == asked
    line.say(EN, "can someone help me")  # a request, but not what for: too little to leave for
    assert state(db, EN).flow == "garbage" and line.last_text(EN) == asked


def test_a_request_typed_while_joining_does_not_leave_the_joining(line, fake_line, db):
    user = "U" + "e6" * 16
    fake_line.profiles[user] = {"displayName": "Ana", "language": "en"}
    line.follow(user)
    line.tap(user, "English")
    line.say(user, "I need help moving a sofa")  # at the area question
    assert state(db, user).flow == "onboarding"


# -- after a neighbour's message ----------------------------------------------------------------

def test_text_typed_after_a_neighbours_message_is_offered_for_relay(line, fake_line, db, bot, people):
    from bot import services
    from bot.core.db import utcnow
    from bot.services import aid, mutual_aid
    from tests.support import run_worker

    with db.session() as s:
        asker = s.scalar(select(Resident).where(Resident.line_user_id == JA))
        helper = s.scalar(select(Resident).where(Resident.line_user_id == EN))
        helper.area_id = asker.area_id
        req = mutual_aid.create_request(s, asker, category="dog", description="犬の散歩をお願いします", when_at=None,
                                        anonymous=False, now=utcnow())
        offer = mutual_aid.make_offer(s, helper, req.id, None, utcnow())
        mutual_aid.accept_offer(s, asker, offer.id, utcnow())
        _, _, out = aid.relay(s, asker, req.id, "明日の朝7時でお願いできますか", utcnow())
        services.apply(s, out, "resident")
    run_worker(bot)
    line.say(EN, "Sure, see you at 7!")  # no Reply tapped first
    assert line.last_text(EN).startswith("Send this to 花子?")
    assert "“Sure, see you at 7!”" in line.last_text(EN)
    line.tap(EN, "Send")
    run_worker(bot)
    card = fake_line.last_message_to(JA)
    assert card["altText"] == "Emmaさんからのメッセージ" and "Sure, see you at 7!" in str(card["contents"])
    line.say(EN, "Hello")  # answered already: a greeting again is a greeting
    assert line.last_text(EN).startswith("Good morning, Emma!")
