"""The LINE renderer keeps every message within LINE's limits, and the fake LINE API (which
checks the same limits) accepts what it makes."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from bot.delivery import render_line
from bot.delivery.render_line import split_text, utf16_len
from bot.core.replies import Card, Choice, DateQuestion, Question, Text, from_dict, postback, to_dict
from tests.fakeline import validate_messages


def test_long_text_is_split_without_losing_anything():
    para = "あいうえお。" * 300  # 1,800 characters
    text = "\n\n".join([para] * 5)
    parts = split_text(text)
    assert len(parts) >= 2
    assert all(utf16_len(p) <= 5000 for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_emoji_count_as_two_utf16_units():
    text = "🙂" * 3000  # 6,000 UTF-16 units
    parts = split_text(text)
    assert [utf16_len(p) for p in parts] == [5000, 1000]
    assert "".join(parts) == text


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=12000))
def test_any_text_splits_within_the_limit(text):
    parts = split_text(text)
    assert all(1 <= utf16_len(p) <= 5000 for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_labels_are_shortened_to_twenty_characters():
    q = Question("Pick", tuple(Choice(label="とても長いラベル" * 5, data=postback(a="x")) for _ in range(3)))
    [msg] = render_line.render_one(q)
    labels = [i["action"]["label"] for i in msg["quickReply"]["items"]]
    assert all(utf16_len(lbl) <= 20 and lbl.endswith("…") for lbl in labels)
    assert validate_messages([msg]) is None


def test_quick_replies_never_exceed_thirteen():
    q = Question("Pick", tuple(Choice(label=f"c{i}", data=postback(a=str(i))) for i in range(20)))
    [msg] = render_line.render_one(q)
    assert len(msg["quickReply"]["items"]) == 13


def test_messages_are_grouped_five_per_request():
    groups = render_line.render([Text(f"t{i}") for i in range(12)])
    assert [len(g) for g in groups] == [5, 5, 2]


def test_card_and_date_question_are_valid_line_messages():
    card = Card("Title " * 100, "Body", (Choice("Yes", postback(a="y")), Choice("No", postback(a="n"))))
    date = DateQuestion("When?", "datetime", postback(f="x", s="when"), "Choose a date",
                        min="2026-12-01T00:00", choices=(Choice("Any time", postback(a="any")),))
    msgs = render_line.render_one(card) + render_line.render_one(date)
    assert validate_messages(msgs) is None
    assert msgs[1]["quickReply"]["items"][0]["action"]["type"] == "datetimepicker"
    assert utf16_len(msgs[0]["altText"]) <= 400


def test_postback_data_over_300_characters_is_refused():
    import pytest

    with pytest.raises(ValueError):
        postback(v="x" * 400)


def test_replies_round_trip_through_dicts():
    items = [
        Text("a"),
        Question("q", (Choice("l", "d", "shown"),)),
        Card("t", "b", (Choice("l", "d"),)),
        DateQuestion("w", "date", "d", "Pick", choices=(Choice("x", "y"),)),
    ]
    assert [from_dict(to_dict(r)) for r in items] == items


def test_dates_and_numbers_follow_each_locale_and_the_japanese_era_is_optional():
    from datetime import date, datetime, timezone

    from bot.core import timefmt
    from bot.core.i18n import LANGUAGES

    when = datetime(2026, 12, 24, 1, 30, tzinfo=timezone.utc)  # 10:30 in Tokyo
    assert timefmt.show(when, "ja", "Asia/Tokyo") == "2026/12/24(木) 10:30"
    assert timefmt.show(when, "en", "Asia/Tokyo") == "Thu, Dec 24, 2026, 10:30 AM"
    for loc in LANGUAGES:
        assert "24" in timefmt.show(when, loc, "Asia/Tokyo") and "30" in timefmt.show_time(when, loc, "Asia/Tokyo")
    assert timefmt.number(12345.5, "en") == "12,345.5"
    try:
        timefmt.use_japanese_era(True)
        assert timefmt.show(when, "ja", "Asia/Tokyo") == "令和8年12月24日(木) 10:30"
        assert timefmt.show(when, "en", "Asia/Tokyo").startswith("Thu")  # only Japanese changes
        assert timefmt.era_year(date(2019, 5, 1)) == "令和元年" and timefmt.era_year(date(2019, 4, 30)) == "平成31年"
    finally:
        timefmt.use_japanese_era(False)


def test_every_channel_has_one_renderer_and_a_row_size():
    """One place says how each channel's messages are kept (bot.delivery.renderers)."""
    from bot.core.vocab import Channel
    from bot.delivery import renderers

    assert set(renderers.RENDERERS) == set(Channel) == set(renderers.RECIPIENTS_PER_ROW)
    replies = [Text("こんにちは"), Question("Pick", (Choice("Yes", postback(a="y")),))]
    assert renderers.render(Channel.WEB, replies) == [[{"text": "こんにちは", "kind": "text"},
                                                       {"text": "Pick", "choices": ({"label": "Yes", "data": "a=y", "display": None},), "kind": "question"}]]
    line = renderers.render(Channel.LINE, replies)
    assert line[0][0] == {"type": "text", "text": "こんにちは"} and line[0][1]["quickReply"]["items"][0]["action"]["data"] == "a=y"
