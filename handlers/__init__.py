"""The routing table: one ordered list, first match wins. Global words come first, then the
resident's active conversation, then handlers by event, then a helpful fallback."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from handlers.context import Ctx
from bot.core.replies import Reply
from handlers import aid
from handlers import circulars as circ
from handlers import events as ev
from handlers import basics as b
from handlers import features
from handlers import reminders as rem
from handlers import safety
from handlers import shelters
from handlers import translation
from handlers import understood
from handlers.features import Feature

# Every feature, once: its words, menu entries, help lines, buttons and flows (handlers.features).
FEATURES: tuple[Feature, ...] = (aid.FEATURE, ev.FEATURE, circ.FEATURE, safety.FEATURE, shelters.FEATURE, rem.FEATURE, rem.GARBAGE_FEATURE,
                                  translation.FEATURE, b.FEATURE)


@dataclass(frozen=True)
class Route:
    name: str
    when: Callable[[Ctx], bool]
    run: Callable[[Ctx], list[Reply]]


ROUTES: tuple[Route, ...] = (
    Route("group", b.in_group, b.group_event),
    Route("unfollow", b.is_unfollow, b.unfollow),
    Route("follow", b.is_follow, b.follow),
    Route("cancel", b.is_cancel, b.cancel),
    Route("menu", b.is_menu, b.show_menu),
    Route("help", b.is_help, b.show_help),
    Route("conversation", b.has_conversation, b.continue_conversation),
    Route("not_onboarded", b.not_onboarded, b.start_onboarding),
    Route("feature_button", b.is_feature_button, b.feature_button),
    # words followed by more (「回覧板 清掃」, 「リマインダー 毎週火曜 7:00 …」): before the plain words
    Route("circular_archive", circ.is_archive_word, circ.archive),
    Route("reminder_word", rem.is_reminder_word, rem.reminder_word),
    Route("feature_word", b.is_feature_word, b.start_feature_word),
    Route("start_word", b.is_start_word, b.already_started),
    Route("menu_action", b.is_menu_action, b.menu_action),
    Route("language_button", understood.is_language_button, understood.language_button),
    Route("stale_postback", b.is_stale_postback, b.stale_postback),
    Route("location", shelters.is_location, shelters.near_location),  # a place sent: the shelters nearest it
    Route("media", b.is_media, b.media),
    # anything else typed: what they mean (bot.core.understand), else a helpful "not understood"
    Route("text", b.is_text, understood.reply),
)


def check_routes(routes: tuple[Route, ...] = ROUTES) -> None:
    names = [r.name for r in routes]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise RuntimeError(f"duplicate routes: {sorted(dupes)}")
    features.check(FEATURES)


def route(ctx: Ctx) -> tuple[str, list[Reply]]:
    for r in ROUTES:
        if r.when(ctx):
            return r.name, r.run(ctx)
    return "none", []
