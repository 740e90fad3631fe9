"""Each feature registers itself once (handlers.features): the routes, the menu and the help
are built from the records, every conversation belongs to one feature, and a duplicate fails
at start-up."""
from __future__ import annotations

import dataclasses

import pytest

import conversations
import handlers
from bot.core.i18n import keywords
from handlers import features, menu


def test_every_conversation_belongs_to_exactly_one_feature():
    owned = [flow for f in handlers.FEATURES for flow in f.flows]
    assert sorted(owned) == sorted(conversations.registry())


def test_menu_help_and_words_come_from_the_features_in_order():
    keys = [i.key for i in menu.items()]
    assert keys == ["ask", "offer", "mine", "record", "registry", "events", "my_events", "circulars", "reminders",
                    "garbage", "settings", "help", "delete"]
    resident = features.help_lines(handlers.FEATURES, leaders=False)
    leader = features.help_lines(handlers.FEATURES, leaders=True)
    assert resident[0] == "“Menu”: what you can do" and resident[-1] == "“Delete my data”: remove everything about you"
    assert leader[:len(resident)] == resident and len(leader) == len(resident) + 7
    # every menu entry and word runs something or starts a conversation that exists
    for item in menu.items():
        assert item.run is not None or conversations.get(item.flow) is not None, item.key
    for word in features.words(handlers.FEATURES):
        assert word.run is not None or conversations.get(word.flow) is not None, word.msgid


def test_no_two_features_answer_the_same_typed_word():
    seen: dict[str, str] = {}
    for f in handlers.FEATURES:
        for word in f.words:
            for typed in keywords(word.msgid):
                assert seen.setdefault(typed, f.name) == f.name, f"{typed!r}: {seen[typed]} and {f.name}"


@pytest.mark.parametrize("twice", ["postback", "menu", "word", "flow", "name"])
def test_a_duplicate_registration_fails_at_start_up(twice):
    aid = next(f for f in handlers.FEATURES if f.name == "aid")
    other = dataclasses.replace(aid, name="copy", postback=None, menu=(), words=(), flows=())
    clash = {"postback": dict(postback="aid"), "menu": dict(menu=aid.menu[:1]), "word": dict(words=aid.words[:1]),
             "flow": dict(flows=aid.flows[:1]), "name": dict(name="aid")}[twice]
    with pytest.raises(RuntimeError, match="registered by both"):
        features.check(handlers.FEATURES + (dataclasses.replace(other, **clash),))


def test_a_menu_item_needs_one_thing_to_do():
    bad = features.Feature(name="bad", menu=(features.MenuItem("x", "X", 1),))
    with pytest.raises(RuntimeError, match="needs one of run or flow"):
        features.check((bad,))


def test_the_rich_menu_is_built_from_the_features_tiles():
    tiles = features.rich_tiles(handlers.FEATURES)
    assert [key for key, *_ in tiles] == ["ask", "offer", "events", "circulars", "reminders", "settings"]
    lonely = features.Feature(name="lonely", rich_menu=(features.RichTile("x", "X", "no such word", "#000000", 99),))
    with pytest.raises(RuntimeError, match="sends a word no feature answers"):
        features.check(handlers.FEATURES + (lonely,))
