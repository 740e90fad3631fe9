"""Onboarding, settings, data deletion and the dispatcher's order, end to end through signed
webhooks and the fake LINE API."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.core.models import (
    Association,
    ConversationState,
    InboundEvent,
    Membership,
    OutboxMessage,
    Resident,
)
from conversations import engine
from tests.support import base_event

USER = "U" + "c" * 32


def resident(db, user=USER) -> Resident | None:
    with db.session() as s:
        r = s.scalar(select(Resident).where(Resident.line_user_id == user))
        if r is not None:
            _ = r.memberships, r.area
        return r


def state(db, user=USER) -> ConversationState | None:
    with db.session() as s:
        return s.scalar(
            select(ConversationState).join(Resident, Resident.id == ConversationState.resident_id)
            .where(Resident.line_user_id == user)
        )


# -- onboarding ------------------------------------------------------------------------------

def test_onboarding_in_japanese_with_profile_name_and_join_code(line, fake_line, db):
    fake_line.profiles[USER] = {"displayName": "山田花子", "language": "ja"}
    line.follow(USER)
    assert fake_line.quick_labels(USER)[:3] == ["日本語", "やさしい日本語", "English"]
    line.tap(USER, "日本語")
    assert "お住まいの地区" in line.last_text(USER)
    line.say(USER, "港町")
    assert "参加コード" in line.last_text(USER)
    line.say(USER, "minato-2026")  # typed in lower case: still found
    assert fake_line.quick_labels(USER)[0] == "「山田花子」にする"
    line.tap(USER, "「山田花子」にする")
    assert "同意しますか" in line.last_text(USER)
    line.tap(USER, "同意する")
    texts = fake_line.texts_to(USER)
    assert "山田花子さん、ありがとうございます" in texts[-2]
    assert "町内会・自治会に参加しました" in texts[-2]
    assert texts[-1] == "何をしますか？"
    r = resident(db)
    assert r.locale == "ja" and r.nickname == "山田花子" and r.consent_at is not None
    assert r.area.code == "minato"
    assert [m.association_id for m in r.memberships]
    assert state(db) is None


def test_language_is_preselected_from_the_line_profile(line, fake_line):
    fake_line.profiles[USER] = {"displayName": "Ann", "language": "en-US"}
    line.follow(USER)
    assert fake_line.quick_labels(USER)[:2] == ["English", "日本語"]


def test_onboarding_without_a_profile_still_works(line, fake_line, db):
    line.follow(USER)  # the fake has no profile for this user: 404
    line.tap(USER, "English")
    line.say(USER, "Minato-machi")
    line.tap(USER, "Skip")
    assert fake_line.quick_labels(USER) == ["Cancel"]  # no name to suggest
    line.say(USER, "Neighbour K")
    line.tap(USER, "I agree")
    assert resident(db).nickname == "Neighbour K"


def test_area_list_pages_with_more(line, fake_line):
    line.follow(USER)
    line.tap(USER, "English")
    labels = fake_line.quick_labels(USER)
    assert len(labels) == 13 and labels[-2:] == ["More…", "Cancel"]
    assert "Minamimachi" not in labels
    line.tap(USER, "More…")
    assert "Minamimachi" in fake_line.quick_labels(USER)
    line.tap(USER, "Minamimachi")
    assert "join code" in line.last_text(USER)


@pytest.mark.parametrize("typed, locale_label, code", [
    ("asahi 2", "English", "asahi-2"),
    ("Asahi 2 chome", "English", "asahi-2"),
    ("ASAHI2-CHOME", "Tiếng Việt", "asahi-2"),
    ("kawabe cho", "English", "kawabe"),
    ("ekimae", "English", "ekimae"),
    ("sakura", "English", "sakura"),  # a part of one area's name
    ("あさひ2丁目", "日本語", "asahi-2"),  # without 町
    ("あさひ町１丁目", "日本語", "asahi-1"),  # full-width digit
    ("みどり", "日本語", "midori"),
    ("朝日2丁目", "简体中文", "asahi-2"),  # kanji guessed for あさひ: found by its reading
    ("かわべ", "日本語", "kawabe"),  # 川辺町 by its reading
])
def test_an_area_is_found_however_a_resident_writes_its_name(line, fake_line, db, typed, locale_label, code):
    line.follow(USER)
    line.tap(USER, locale_label)
    line.say(USER, typed)
    assert state(db).step == "association", fake_line.texts_to(USER)[-2:]
    assert state(db).data["area"] == code


def test_a_part_of_several_areas_names_lists_them(line, fake_line, db):
    line.follow(USER)
    line.tap(USER, "English")
    line.say(USER, "asahi")
    assert fake_line.texts_to(USER)[-2] == ('Several areas match “asahi”: Asahi 1-chome and Asahi 2-chome. '
                                           'Please write more of the name.')
    assert state(db).step == "area"
    line.say(USER, "1")  # one letter or digit alone finds nothing
    assert "could not find that area" in fake_line.texts_to(USER)[-2]
    line.say(USER, "asahi 1")
    assert state(db).data["area"] == "asahi-1"


def test_bad_answers_re_ask_the_same_step_with_the_reason(line, fake_line, db):
    line.follow(USER)
    line.tap(USER, "English")
    line.say(USER, "Atlantis")
    texts = fake_line.texts_to(USER)
    assert "could not find that area" in texts[-2]
    assert "Which area" in texts[-1]
    line.say(USER, "Minato-machi")
    line.say(USER, "WRONG-CODE")
    assert "join code was not found" in fake_line.texts_to(USER)[-2]
    line.tap(USER, "Skip")
    line.say(USER, "x" * 21)
    assert "1 to 20 characters" in fake_line.texts_to(USER)[-2]
    line.say(USER, "see https://evil.example")
    assert "without links" in fake_line.texts_to(USER)[-2]
    assert state(db).step == "nickname"
    assert resident(db).nickname is None


def test_declining_consent_saves_nothing(line, fake_line, db):
    line.follow(USER)
    line.tap(USER, "English")
    line.say(USER, "Minato-machi")
    line.tap(USER, "Skip")
    line.say(USER, "Kei")
    line.tap(USER, "I do not agree")
    assert "not saved anything" in line.last_text(USER)
    r = resident(db)
    assert r.consent_at is None and r.nickname is None and r.area_id is None
    # Any later message starts onboarding again
    line.say(USER, "hello")
    assert "Which language" in line.last_text(USER) or "言語" in line.last_text(USER)


# -- leaving a flow --------------------------------------------------------------------------

@pytest.mark.parametrize("word", ["やめる", "キャンセル", "cancel", "CANCEL", "ｃａｎｃｅｌ", "Cancel!"])
def test_cancel_word_leaves_the_flow_at_any_step(line, fake_line, db, joined, word):
    joined(USER)
    line.say(USER, "settings")
    line.tap(USER, "Name")
    line.say(USER, word)
    assert "Stopped" in fake_line.texts_to(USER)[-2]
    assert state(db) is None
    assert resident(db).nickname == "Taro"


def test_cancel_button_leaves_the_flow(line, fake_line, db, joined):
    joined(USER)
    line.say(USER, "settings")
    line.tap(USER, "Cancel")
    assert state(db) is None


def test_cancel_during_onboarding_keeps_nothing(line, fake_line, db):
    line.follow(USER)
    line.tap(USER, "English")
    line.say(USER, "やめる")
    assert "Nothing was saved" in line.last_text(USER)
    assert state(db) is None
    assert resident(db).consent_at is None


def test_global_words_come_before_the_conversation(line, fake_line, db, joined):
    joined(USER)
    line.say(USER, "settings")
    line.say(USER, "menu")
    assert {"Ask for help", "Settings", "How to use", "Delete my data"} <= set(fake_line.quick_labels(USER))
    assert state(db) is None
    line.say(USER, "ヘルプ")
    assert "Cancel" in fake_line.texts_to(USER)[-2]


def test_nothing_to_cancel(line, fake_line, joined):
    joined(USER)
    line.say(USER, "cancel")
    assert fake_line.texts_to(USER)[-2] == "There is nothing to cancel."


# -- settings --------------------------------------------------------------------------------

def test_settings_change_language_area_name_quiet_hours_and_association(line, fake_line, db, joined):
    joined(USER)
    line.say(USER, "設定")
    assert "Your settings" in line.last_text(USER)
    line.tap(USER, "Language")
    line.tap(USER, "日本語")
    assert fake_line.texts_to(USER)[-1].startswith("保存しました")
    assert resident(db).locale == "ja"

    line.say(USER, "設定")
    line.tap(USER, "地区")
    line.say(USER, "さくら台")
    assert resident(db).area.code == "sakura"

    line.say(USER, "設定")
    line.tap(USER, "表示名")
    line.say(USER, "  たろう  ")
    assert resident(db).nickname == "たろう"

    line.say(USER, "設定")
    line.tap(USER, "お休み時間")
    line.say(USER, "２２：３０〜６：００")
    r = resident(db)
    assert (r.quiet_start, r.quiet_end) == (22 * 60 + 30, 6 * 60)
    line.say(USER, "設定")
    line.tap(USER, "お休み時間")
    line.tap(USER, "設定しない")
    r = resident(db)
    assert (r.quiet_start, r.quiet_end) == (None, None)

    line.say(USER, "設定")
    line.tap(USER, "町内会・自治会")
    line.say(USER, "ASAHI-2026")
    assert len(resident(db).memberships) == 1
    line.say(USER, "設定")
    line.tap(USER, "町内会・自治会")
    line.say(USER, "ASAHI-2026")
    assert "すでに参加" in line.last_text(USER)
    line.say(USER, "設定")
    line.tap(USER, "町内会・自治会")
    line.tap(USER, "町内会をぬける")
    assert resident(db).memberships == []


def test_invalid_quiet_hours_re_ask(line, fake_line, db, joined):
    joined(USER)
    line.say(USER, "settings")
    line.tap(USER, "Quiet hours")
    line.say(USER, "25:00-7:00")
    assert "22:00-7:00" in fake_line.texts_to(USER)[-2]
    assert state(db).step == "quiet"


# -- stale buttons, media, odd text ----------------------------------------------------------

def test_stale_button_from_an_earlier_step_re_asks_the_current_one(line, fake_line, db):
    line.follow(USER)
    english = fake_line.quick_action(USER, "English")
    line.post([line.postback_event(USER, english["data"])])
    line.say(USER, "Minato-machi")
    # tapping the language button again, from the old message
    line.post([line.postback_event(USER, english["data"])])
    assert "earlier message" in fake_line.texts_to(USER)[-2]
    assert state(db).step == "association"


def test_stale_button_without_a_conversation(line, fake_line, joined):
    joined(USER)
    line.post([line.postback_event(USER, "f=settings&s=quiet&v=off")])
    assert "no longer works" in fake_line.texts_to(USER)[-2]


@pytest.mark.parametrize("data", ["", "garbage", "f=nope&s=x&v=1", "a=menu&v=nothing", "x" * 300])
def test_forged_postback_data_gets_a_polite_answer(line, fake_line, db, joined, data):
    joined(USER)
    resp = line.post([line.postback_event(USER, data)])
    assert resp.status_code == 200
    assert fake_line.texts_to(USER)[-1] == "What would you like to do?"


def test_forged_value_for_the_current_step_re_asks(line, fake_line, db):
    line.follow(USER)
    key = state(db).data[engine.KEY]
    line.post([line.postback_event(USER, f"f=onboarding&s=language&k={key}&o={engine.option_key('klingon')}")])
    assert "使えなくなりました" in fake_line.texts_to(USER)[-2]  # no profile: Japanese
    assert state(db).step == "language"
    # the right option, but drawn for another conversation (no key, or another one's): re-asked
    for k in ("", "&k=AAAAAAAA"):
        line.post([line.postback_event(USER, f"f=onboarding&s=language{k}&o={engine.option_key('en')}")])
        assert "前のメッセージのボタン" in fake_line.texts_to(USER)[-2]
        assert state(db).step == "language"


@pytest.mark.parametrize(
    "message",
    [
        {"type": "sticker", "id": "1", "packageId": "1", "stickerId": "1", "stickerResourceType": "STATIC", "quoteToken": "q"},
        {"type": "image", "id": "2", "contentProvider": {"type": "line"}, "quoteToken": "q"},
        {"type": "location", "id": "3", "latitude": 35.0, "longitude": 139.0, "address": "x"},
        {"type": "audio", "id": "4", "duration": 1000, "contentProvider": {"type": "line"}},
    ],
    ids=["sticker", "image", "location", "audio"],
)
def test_media_gets_a_polite_answer_and_keeps_state(line, fake_line, db, message):
    line.follow(USER)
    line.tap(USER, "English")
    ev = base_event("message", USER, line.token(USER), message=message)
    assert line.post([ev]).status_code == 200
    assert "only read text" in fake_line.texts_to(USER)[-2]
    assert state(db).step == "area"


@pytest.mark.parametrize(
    "text",
    ["x" * 5000, "🙂" * 2500, "\x00\x07\u200b", "   ", "مرحبا", "ふむふむ\n\n\n改行"],
    ids=["5000-chars", "emoji", "control", "blank", "arabic", "newlines"],
)
def test_odd_text_gets_an_answer_in_the_residents_language(line, fake_line, db, joined, text):
    joined(USER)
    before = len(fake_line.deliveries)
    line.say(USER, text)
    assert len(fake_line.deliveries) == before + 1
    assert fake_line.texts_to(USER)[-2] == "Sorry, I did not understand that."


def test_long_text_inside_a_step_is_refused_and_state_kept(line, fake_line, db, joined):
    joined(USER)
    line.say(USER, "settings")
    line.tap(USER, "Name")
    line.say(USER, "名" * 5000)
    assert state(db).step == "nickname"
    assert resident(db).nickname == "Taro"


# -- expiry ----------------------------------------------------------------------------------

def test_expired_conversation_starts_fresh_with_a_note(line, fake_line, db, joined, time_machine):
    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)
    joined(USER)
    line.say(USER, "settings")
    line.tap(USER, "Name")
    time_machine.shift(timedelta(minutes=31))
    line.say(USER, "Jiro")
    texts = fake_line.texts_to(USER)
    assert "timed out" in texts[-3]
    assert resident(db).nickname == "Taro"
    assert state(db) is None


def test_conversation_kept_within_thirty_minutes(line, fake_line, db, joined, time_machine):
    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)
    joined(USER)
    line.say(USER, "settings")
    line.tap(USER, "Name")
    time_machine.shift(timedelta(minutes=29))
    line.say(USER, "Jiro")
    assert resident(db).nickname == "Jiro"


# -- follow / unfollow -----------------------------------------------------------------------

def test_unfollow_then_follow_again_keeps_settings(line, fake_line, db, joined):
    joined(USER)
    line.unfollow(USER)
    r = resident(db)
    assert r.following is False and r.unfollowed_at is not None
    line.follow(USER, unblocked=True)
    assert "Welcome back, Taro" in fake_line.texts_to(USER)[-2]
    r = resident(db)
    assert r.following is True and r.nickname == "Taro" and r.area.code == "minato"


def test_unfollow_of_unknown_user_creates_nobody(line, db):
    line.unfollow("U" + "0" * 32)
    assert resident(db, "U" + "0" * 32) is None


# -- deleting my data ------------------------------------------------------------------------

def test_delete_my_data_removes_everything_and_confirms_in_their_language(line, fake_line, db, joined):
    joined(USER)
    line.say(USER, "settings")
    line.tap(USER, "Association")
    line.say(USER, "ASAHI-2026")
    line.say(USER, "データ削除")
    assert "cannot be undone" in line.last_text(USER)
    line.tap(USER, "Yes, delete")
    assert line.last_text(USER).startswith("Your data has been deleted")
    with db.session() as s:
        assert s.scalar(select(Resident).where(Resident.line_user_id == USER)) is None
        assert s.scalar(select(func.count()).select_from(Membership)) == 0
        assert s.scalar(select(func.count()).select_from(ConversationState)) == 0
        # no outbox row still names them or holds a message to them
        for row in s.scalars(select(OutboxMessage)):
            assert USER not in row.recipients
            assert row.resident_id is None
        # the inbox keeps ids only, not what they wrote
        assert all(p is None for p in s.scalars(select(InboundEvent.payload)))
        assert s.scalar(select(func.count()).select_from(Association)) == 2  # the city's data stays


def test_delete_my_data_can_be_declined(line, fake_line, db, joined):
    joined(USER)
    line.say(USER, "delete my data")
    line.tap(USER, "No, keep")
    assert line.last_text(USER) == "Nothing was deleted."
    assert resident(db).nickname == "Taro"


def test_after_deletion_a_new_message_starts_onboarding(line, fake_line, db, joined):
    joined(USER)
    line.say(USER, "delete my data")
    line.tap(USER, "Yes, delete")
    line.say(USER, "hello")
    assert "Which language" in line.last_text(USER) or "言語" in line.last_text(USER)
    assert resident(db).consent_at is None


def test_help_lists_the_words(line, fake_line, joined):
    joined(USER)
    line.say(USER, "help")
    text = fake_line.texts_to(USER)[-2]
    for word in ("Menu", "Settings", "Cancel", "Delete my data"):
        assert word in text
