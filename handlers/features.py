"""A feature registers itself once: one `Feature` record holds the words residents type for it,
its menu entries and help lines, its buttons' postback actions and the conversations it owns.
`handlers.FEATURES` lists the records; the routes, the menu and the help are built from them,
and a duplicate (a word, a menu key, a postback name) fails at start-up."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from handlers.context import Ctx
from bot.core.replies import Reply

Run = Callable[[Ctx], list[Reply]]
Action = Callable[[Ctx, dict], list[Reply]]


@dataclass(frozen=True)
class MenuItem:
    """An entry of the menu (「メニュー」): a handler to run, or a conversation to start."""

    key: str
    label: str  # msgid
    position: int  # where it stands in the menu (smaller first)
    run: Run | None = None
    flow: str | None = None


@dataclass(frozen=True)
class Word:
    """Words a resident types (a msgid listing them, "a|b"): a handler to run, or a flow."""

    msgid: str
    run: Run | None = None
    flow: str | None = None


@dataclass(frozen=True)
class HelpLine:
    msgid: str
    position: int
    leaders: bool = False  # shown to association leaders only


@dataclass(frozen=True)
class RichTile:
    """One of the rich menu's six big buttons (disaster mode's four): it sends the first of
    the word's words."""

    key: str
    label: str  # msgid
    word: str  # the keyword msgid whose first word the button sends
    colour: str
    position: int


@dataclass(frozen=True)
class Feature:
    name: str
    postback: str | None = None  # the `a=` of its buttons
    actions: Mapping[str, Action] = field(default_factory=dict)  # `x=` → action
    changed: Callable[[Ctx, object], list[Reply]] | None = None  # a record edited since a button was drawn
    words: tuple[Word, ...] = ()
    menu: tuple[MenuItem, ...] = ()
    help: tuple[HelpLine, ...] = ()
    flows: tuple[str, ...] = ()  # the conversations it starts
    rich_menu: tuple[RichTile, ...] = ()  # its big buttons in LINE's rich menu
    disaster_menu: tuple[RichTile, ...] = ()  # its big buttons in disaster mode's menu (four in all)
    # Words its own route reads because more may follow (「回覧板 清掃」, 「リマインダー 毎日 8:00 薬」).
    own_words: tuple[str, ...] = ()


def check(features: tuple[Feature, ...]) -> None:
    """Fail at start-up on a name, postback, menu key, word or flow registered twice."""
    seen: dict[str, str] = {}

    def once(kind: str, value: str, owner: str) -> None:
        key = f"{kind}:{value}"
        if key in seen:
            raise RuntimeError(f"{kind} {value!r} registered by both {seen[key]} and {owner}")
        seen[key] = owner

    for f in features:
        once("feature", f.name, f.name)
        if f.postback:
            once("postback", f.postback, f.name)
        for item in f.menu:
            once("menu key", item.key, f.name)
            if (item.run is None) == (item.flow is None):
                raise RuntimeError(f"menu item {item.key!r} of {f.name} needs one of run or flow")
        for word in f.words:
            once("word", word.msgid, f.name)
            if (word.run is None) == (word.flow is None):
                raise RuntimeError(f"word {word.msgid!r} of {f.name} needs one of run or flow")
        for flow in f.flows:
            once("flow", flow, f.name)
        for tile in f.rich_menu:
            once("rich-menu tile", tile.key, f.name)
            if not any(tile.word == w.msgid for g in features for w in g.words) and \
                    not any(tile.word in g.own_words for g in features):
                raise RuntimeError(f"rich-menu tile {tile.key!r} of {f.name} sends a word no feature answers")


def rich_tiles(features: tuple[Feature, ...]) -> tuple[tuple[str, str, str, str], ...]:
    """The rich menu's tiles, in order: (key, label msgid, keyword msgid, colour) each."""
    tiles = sorted((tile for f in features for tile in f.rich_menu), key=lambda tile: tile.position)
    return tuple((tile.key, tile.label, tile.word, tile.colour) for tile in tiles)


def disaster_tiles(features: tuple[Feature, ...]) -> tuple[tuple[str, str, str, str], ...]:
    """Disaster mode's tiles (bot.services.disaster_menu), in order, as `rich_tiles`."""
    tiles = sorted((tile for f in features for tile in f.disaster_menu), key=lambda tile: tile.position)
    return tuple((tile.key, tile.label, tile.word, tile.colour) for tile in tiles)


def menu_items(features: tuple[Feature, ...]) -> tuple[MenuItem, ...]:
    return tuple(sorted((i for f in features for i in f.menu), key=lambda i: i.position))


def help_lines(features: tuple[Feature, ...], *, leaders: bool) -> tuple[str, ...]:
    lines = sorted((h for f in features for h in f.help if leaders or not h.leaders),
                   key=lambda h: (h.leaders, h.position))
    return tuple(h.msgid for h in lines)


def words(features: tuple[Feature, ...]) -> tuple[Word, ...]:
    return tuple(w for f in features for w in f.words)


def by_postback(features: tuple[Feature, ...], name: str | None) -> Feature | None:
    return next((f for f in features if name and f.postback == name), None)
