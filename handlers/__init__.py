"""The routing table: one ordered list, first match wins. Global words come first, then the
resident's active conversation, then handlers by event, then a helpful fallback."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from bot.context import Ctx
from bot.replies import Reply
from handlers import aid
from handlers import circulars as circ
from handlers import events as ev
from handlers import basics as b
from handlers import reminders as rem


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
    Route("aid_button", aid.is_aid_postback, aid.aid_postback),
    Route("event_button", ev.is_event_postback, ev.event_postback),
    Route("circular_button", circ.is_circ_postback, circ.circ_postback),
    Route("circular_archive", circ.is_archive_word, circ.archive),
    Route("reminder_button", rem.is_reminder_postback, rem.reminder_postback),
    Route("garbage_button", rem.is_garbage_postback, rem.garbage_postback),
    Route("reminder_word", rem.is_reminder_word, rem.reminder_word),
    Route("keyword_flow", b.is_keyword, b.start_keyword_flow),
    Route("feature_word", b.is_aid_word, b.start_aid_word),
    Route("start_word", b.is_start_word, b.already_started),
    Route("menu_action", b.is_menu_action, b.menu_action),
    Route("stale_postback", b.is_stale_postback, b.stale_postback),
    Route("media", b.is_media, b.media),
    Route("text", b.is_text, b.fallback),
)


def check_routes(routes: tuple[Route, ...] = ROUTES) -> None:
    names = [r.name for r in routes]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise RuntimeError(f"duplicate routes: {sorted(dupes)}")


def route(ctx: Ctx) -> tuple[str, list[Reply]]:
    for r in ROUTES:
        if r.when(ctx):
            return r.name, r.run(ctx)
    return "none", []
