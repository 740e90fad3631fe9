"""Handlers for events that are not part of a conversation: follow, unfollow, groups,
stickers and images, global words, keywords, menu taps, stale buttons, and the fallback."""
from __future__ import annotations

import conversations
from bot.services import residents
from handlers.context import Ctx
from bot.core import understand
from bot.core.i18n import N_, keywords, normalize_text, t
from bot.core.replies import Reply, Text, parse_postback
from bot.core.vocab import InboundKind
from conversations import engine
from handlers import buttons, features, menu
from handlers.features import Feature, HelpLine, MenuItem, RichTile, Word

CANCEL = N_("cancel|stop|quit")
MENU = N_("menu")
HELP = N_("help|how to use")
SETTINGS = N_("settings")
DELETE = N_("delete my data|delete data")
START = N_("start")


def typed(ctx: Ctx) -> str | None:
    if ctx.inbound.kind == InboundKind.MESSAGE and ctx.inbound.message_type == "text":
        return normalize_text(ctx.inbound.text or "")
    return None


def is_word(ctx: Ctx, msgid: str, action: str | None = None) -> bool:
    text = typed(ctx)
    if text is not None:
        return text in keywords(msgid)
    if action and ctx.inbound.kind == InboundKind.POSTBACK:
        return parse_postback(ctx.inbound.postback_data).get("a") == action
    return False


# -- groups ----------------------------------------------------------------------------------

def in_group(ctx: Ctx) -> bool:
    return ctx.inbound.source_type != "user"


def group_event(ctx: Ctx) -> list[Reply]:
    if ctx.inbound.kind != InboundKind.JOIN:
        return []  # in groups the bot stays quiet after saying where it works
    note = N_("Thank you for adding Tsunagari. It works in one-to-one chat: please add it as a friend and talk to it there.")
    return [Text(t("ja", note) + "\n\n" + t("en", note))]


# -- follow / unfollow -----------------------------------------------------------------------

def is_unfollow(ctx: Ctx) -> bool:
    return ctx.inbound.kind == InboundKind.UNFOLLOW


def unfollow(ctx: Ctx) -> list[Reply]:
    if ctx.resident is not None:
        residents.mark_unfollowed(ctx.session, ctx.resident, ctx.now)
        ctx.conversation = None
    return []


def is_follow(ctx: Ctx) -> bool:
    return ctx.inbound.kind == InboundKind.FOLLOW


def follow(ctx: Ctx) -> list[Reply]:
    r = ctx.resident
    assert r is not None
    residents.mark_followed(r, ctx.now)
    if r.onboarded:
        return [Text(ctx.t(N_("Welcome back, {name}! Your settings are as you left them."), name=r.nickname or "")), menu.main_menu(ctx)]
    return engine.start(ctx, conversations.get("onboarding"))


# -- global words ----------------------------------------------------------------------------

def is_cancel(ctx: Ctx) -> bool:
    return is_word(ctx, CANCEL, "cancel")


def cancel(ctx: Ctx) -> list[Reply]:
    if ctx.conversation is None:
        return [Text(ctx.t(N_("There is nothing to cancel."))), menu.main_menu(ctx)]
    was_onboarding = ctx.conversation.flow == "onboarding"
    engine.end(ctx)
    if was_onboarding and not (ctx.resident and ctx.resident.onboarded):
        return [Text(ctx.t(N_("Stopped. Nothing was saved. Whenever you want to start, send “Start”.")))]
    return [Text(ctx.t(N_("Stopped. Nothing was changed."))), menu.main_menu(ctx)]


def is_menu(ctx: Ctx) -> bool:
    return is_word(ctx, MENU, "show_menu")


def show_menu(ctx: Ctx) -> list[Reply]:
    engine.end(ctx)
    return [menu.main_menu(ctx)]


def is_help(ctx: Ctx) -> bool:
    return is_word(ctx, HELP, "help")


def show_help(ctx: Ctx) -> list[Reply]:
    engine.end(ctx)
    return menu.help_replies(ctx)


# -- the active conversation -----------------------------------------------------------------

def has_conversation(ctx: Ctx) -> bool:
    if ctx.conversation is None or conversations.get(ctx.conversation.flow) is None:
        return False
    if ctx.inbound.kind == InboundKind.POSTBACK:
        # A menu or card button ("a=…") starts something else; only flow buttons belong here.
        data = parse_postback(ctx.inbound.postback_data)
        return "f" in data or "a" not in data
    return True


def continue_conversation(ctx: Ctx) -> list[Reply]:
    state = ctx.conversation
    assert state is not None
    flow = conversations.get(state.flow)
    assert flow is not None
    ib = ctx.inbound
    if ib.kind == InboundKind.POSTBACK:
        data = parse_postback(ib.postback_data)
        if not engine.belongs(state, data.get("f"), data.get("s"), data.get("k")):
            return [Text(ctx.t(N_("That button belongs to an earlier message. Here is the current question:"))),
                    engine.reask(ctx, flow)]
        if ib.postback_params:
            return engine.handle(ctx, flow, engine.Answer(params=dict(ib.postback_params)))
        return engine.handle(ctx, flow, engine.Answer(value=data.get("o", "")))
    if ib.kind == InboundKind.MESSAGE and ib.message_type == "text":
        text = ib.text or ""
        if not engine.takes_as_option(ctx, flow, text):
            # 「やめて」, "never mind": the whole message says stop, in any language
            if understand.cancels(text, ctx.locale) or engine.declines(ctx, flow, text):
                return cancel(ctx)
            # A feature's word (「回覧板」, "my events") leaves the question and does what it says.
            word = feature_word(ctx)
            joining = state.flow == "onboarding" and not (ctx.resident and ctx.resident.onboarded)
            if word is not None and not joining:
                _leave_question(ctx)
                return _run_or_start(ctx, word.run, word.flow)
            if not joining:
                # Not an answer to this question, and clearly asking for something else ("I need
                # help with shopping" at the area question): that is done instead.
                return engine.handle(ctx, flow, engine.Answer(text=text), elsewhere=lambda: _understood_elsewhere(ctx))
        return engine.handle(ctx, flow, engine.Answer(text=text))
    if ib.kind == InboundKind.MESSAGE and ib.message_type == "image" and flow.steps[state.step].photo:
        return engine.handle(ctx, flow, engine.Answer(photo=ib.media_token or ""))
    if ib.kind == InboundKind.MESSAGE:
        return [Text(ctx.t(N_("Sorry, I can only read text here."))), engine.reask(ctx, flow)]
    return []


def _leave_question(ctx: Ctx) -> None:
    engine.end(ctx)
    ctx.notes.append(Text(ctx.t(N_("(I left the question we were on; nothing from it was saved.)"))))


def _understood_elsewhere(ctx: Ctx) -> list[Reply] | None:
    # late: handlers.understood imports this module
    from handlers import understood

    return understood.instead_of_answer(ctx, _leave_question)


# -- not yet joined --------------------------------------------------------------------------

def not_onboarded(ctx: Ctx) -> bool:
    return ctx.resident is not None and not ctx.resident.onboarded and ctx.inbound.kind in (InboundKind.MESSAGE, InboundKind.POSTBACK)


def start_onboarding(ctx: Ctx) -> list[Reply]:
    return engine.start(ctx, conversations.get("onboarding"))


# -- words, menu taps and buttons of the features (handlers.FEATURES) --------------------------

def _features():
    # late: handlers/__init__.py imports this module to build its routes, before FEATURES exists
    from handlers import FEATURES

    return FEATURES


def _run_or_start(ctx: Ctx, run, flow: str | None) -> list[Reply]:
    if flow is not None:
        found = conversations.get(flow)
        assert found is not None, flow
        return engine.start(ctx, found)
    return run(ctx)


def feature_word(ctx: Ctx) -> features.Word | None:
    text = typed(ctx)
    if text is None:
        return None
    return next((w for w in features.words(_features()) if text in keywords(w.msgid)), None)


def is_feature_word(ctx: Ctx) -> bool:
    return feature_word(ctx) is not None


def start_feature_word(ctx: Ctx) -> list[Reply]:
    word = feature_word(ctx)
    assert word is not None
    return _run_or_start(ctx, word.run, word.flow)


def is_start_word(ctx: Ctx) -> bool:
    return is_word(ctx, START)


def already_started(ctx: Ctx) -> list[Reply]:
    return [menu.main_menu(ctx, ctx.t(N_("You are already registered. What would you like to do?")))]


def is_menu_action(ctx: Ctx) -> bool:
    data = parse_postback(ctx.inbound.postback_data) if ctx.inbound.kind == InboundKind.POSTBACK else {}
    return data.get("a") == "menu" and menu.item(data.get("v", "")) is not None


def menu_action(ctx: Ctx) -> list[Reply]:
    item = menu.item(parse_postback(ctx.inbound.postback_data).get("v", ""))
    assert item is not None
    engine.end(ctx)
    return _run_or_start(ctx, item.run, item.flow)


def _button_feature(ctx: Ctx) -> features.Feature | None:
    if ctx.inbound.kind != InboundKind.POSTBACK:
        return None
    return features.by_postback(_features(), parse_postback(ctx.inbound.postback_data).get("a"))


def is_feature_button(ctx: Ctx) -> bool:
    return _button_feature(ctx) is not None


def feature_button(ctx: Ctx) -> list[Reply]:
    feature = _button_feature(ctx)
    assert feature is not None
    return buttons.dispatch(ctx, dict(feature.actions), feature.changed)


def is_stale_postback(ctx: Ctx) -> bool:
    return ctx.inbound.kind == InboundKind.POSTBACK


def stale_postback(ctx: Ctx) -> list[Reply]:
    return [Text(ctx.t(N_("That button is from an earlier message and no longer works."))), menu.main_menu(ctx)]


# -- everything else -------------------------------------------------------------------------

def is_media(ctx: Ctx) -> bool:
    return ctx.inbound.kind == InboundKind.MESSAGE and ctx.inbound.message_type != "text"


def media(ctx: Ctx) -> list[Reply]:
    return [Text(ctx.t(N_("Thank you! I can only read text messages. Please choose from the menu or type a word."))), menu.main_menu(ctx)]


def is_text(ctx: Ctx) -> bool:
    return ctx.inbound.kind == InboundKind.MESSAGE




# What every resident has whatever the features: the menu and help, settings, leaving.
FEATURE = Feature(
    name="basics",
    words=(Word(SETTINGS, flow="settings"), Word(DELETE, flow="delete_data")),
    menu=(MenuItem("settings", N_("Settings"), 110, flow="settings"),
          MenuItem("help", N_("How to use"), 120, run=menu.help_replies),
          MenuItem("delete", N_("Delete my data"), 130, flow="delete_data")),
    help=(HelpLine(N_("“Menu”: what you can do"), 10),
          HelpLine(N_("“Settings”: language, area, association, name, quiet hours"), 120),
          HelpLine(N_("“Cancel”: stop what you are doing, at any step"), 130),
          HelpLine(N_("“Delete my data”: remove everything about you"), 140)),
    flows=("onboarding", "settings", "delete_data"),
    rich_menu=(RichTile("settings", N_("Settings"), SETTINGS, "#3D4451", 60),),
)
