"""Free text that is no keyword and no answer to a question: what the resident means
(bot.core.understand), then the same thing a tap on the menu would do.

Nothing that matters is done on a guess: asking for help starts the ask flow with their words
kept and the kind of help guessed, for them to confirm; deleting data starts the flow that asks
first; a change of language is made at once with one tap to undo it. When unsure, the two or
three likeliest choices are offered instead of the whole menu."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import conversations
from bot.core import timefmt, understand
from bot.core.i18n import LANGUAGES, N_
from bot.core.replies import Choice, Question, Reply, Text, parse_postback, postback
from bot.core.vocab import InboundKind
from bot.services import garbage, mutual_aid, reminders, translated
from conversations import engine
from handlers import aid, basics, menu
from handlers import reminders as rem
from handlers.context import Ctx

# What each intent does: the menu entry a tap would run.
MENU_OF = {
    "ask_help": "ask", "offer_help": "offer", "my_requests": "mine", "events": "events", "my_events": "my_events",
    "circulars": "circulars", "reminder": "reminders", "garbage_day": "garbage", "garbage_item": "garbage",
    "settings": "settings", "help": "help", "delete_data": "delete",
}
# The likeliest next steps after a greeting or thanks.
NEXT_STEPS = ("ask", "offer", "garbage", "events")


# What someone answering a neighbour's message may also be saying (then it is offered for relay).
CHAT = (None, "greeting", "thanks", "ask_help", "offer_help")


def reply(ctx: Ctx) -> list[Reply]:
    text = ctx.inbound.text or ""
    got = understand.understand(text, ctx.locale)
    if got.intent in CHAT and ctx.resident is not None:
        talking = mutual_aid.answering(ctx.session, ctx.resident, ctx.now)
        if talking is not None and len(text) <= mutual_aid.RELAY_MAX and text.strip():
            req, other = talking
            return engine.start(ctx, conversations.get("relay"), step="confirm", data={
                "request_id": req.id, "to_name": other.nickname or "-", "text": text.strip(), "typed": True})
    if got.intent is None:
        if got.choices:
            return [_choices(ctx, ctx.t(N_("Did you mean one of these?")), [MENU_OF[i] for i in got.choices])]
        return [Text(ctx.t(N_("Sorry, I did not understand that."))), menu.main_menu(ctx)]
    do = ACTIONS.get(got.intent)
    if do is not None:
        return do(ctx, got, text)
    return _run_menu(ctx, MENU_OF[got.intent])


# What, typed at a question where it is no answer, leaves the question and is done instead: a
# request, a feature asked for in a sentence. (A greeting, thanks, "how does this work" or a
# guess between two features stay with the question, which is asked again.)
LEAVE_A_QUESTION = frozenset(MENU_OF) - {"help"} | {"language"}
# The conversations each of those is already about (then the words were meant for the question).
ABOUT = {
    "ask_help": ("ask_help", "edit_request"), "offer_help": ("offer",), "my_requests": ("edit_request",),
    "events": ("event_signup", "create_event"), "my_events": ("event_signup",), "circulars": ("compose_circular",),
    "reminder": ("reminder_new",), "garbage_day": ("garbage",), "garbage_item": ("garbage",),
    "settings": ("settings",), "language": ("settings",), "delete_data": ("delete_data",),
}
# Questions nothing typed leaves this way: a safety check's (what matters most, and free words
# are expected there) and a message being relayed to a neighbour.
KEEP = frozenset({"safety_help", "safety_shelter", "safety_start", "relay", "onboarding"})


def instead_of_answer(ctx: Ctx, leave) -> list[Reply] | None:
    """Typed text the current step does not take: if it clearly asks for something else (a
    sentence, understood; a request saying what for; not what the current conversation is
    already about), `leave(ctx)` ends the question and that is done; else None (the question is
    asked again, with why)."""
    if ctx.conversation is None or ctx.conversation.flow in KEEP:
        return None
    text = ctx.inbound.text or ""
    if not _worth_keeping(" ".join(text.split())):
        return None  # 「だれか」, "help": too little to leave a question for
    got = understand.understand(text, ctx.locale)
    if got.intent not in LEAVE_A_QUESTION or ctx.conversation.flow in ABOUT.get(got.intent, ()):
        return None
    if got.intent == "ask_help" and not got.slots.get("category"):
        return None  # a request, but for what is not said: the question stays
    leave(ctx)
    do = ACTIONS.get(got.intent)
    return do(ctx, got, text) if do is not None else _run_menu(ctx, MENU_OF[got.intent])


def _run_menu(ctx: Ctx, key: str) -> list[Reply]:
    item = menu.item(key)
    assert item is not None, key
    if item.flow is not None:
        return engine.start(ctx, conversations.get(item.flow))
    return item.run(ctx)


def _choices(ctx: Ctx, text: str, keys) -> Question:
    """`text` (already in the resident's language) with the menu entries `keys` as buttons."""
    items = [menu.item(k) for k in dict.fromkeys(keys)]
    choices = [Choice(ctx.t(item.label), postback(a="menu", v=item.key)) for item in items if item is not None]
    choices.append(Choice(ctx.t(N_("Menu")), postback(a="show_menu")))
    return Question(text, tuple(choices))


GREETINGS = {  # (with their name, without)
    "morning": (N_("Good morning, {name}!"), N_("Good morning!")),
    "day": (N_("Hello, {name}!"), N_("Hello!")),
    "evening": (N_("Good evening, {name}!"), N_("Good evening!")),
}


def greeting(ctx: Ctx, got: understand.Understood, text: str) -> list[Reply]:
    name = ctx.resident.nickname if ctx.resident is not None and ctx.resident.nickname else None
    hour = ctx.now.astimezone(ZoneInfo(ctx.config.tz_name)).hour
    named, plain = GREETINGS["morning" if 4 <= hour < 11 else "evening" if hour >= 18 or hour < 4 else "day"]
    said = ctx.t(named, name=name) if name else ctx.t(plain)
    return [_choices(ctx, said + " " + ctx.t(N_("What can I do for you today?")), NEXT_STEPS)]


def thanks(ctx: Ctx, got: understand.Understood, text: str) -> list[Reply]:
    return [_choices(ctx, ctx.t(N_("You're welcome! Anything else? Asking is never a bother.")), NEXT_STEPS)]


def ask_help(ctx: Ctx, got: understand.Understood, text: str) -> list[Reply]:
    """Their sentence becomes the request's words; the kind of help is guessed, and they
    confirm it (and everything else) before anything is posted."""
    started = aid.start_ask(ctx)
    if ctx.conversation is None or ctx.conversation.flow != "ask_help":
        return started  # no area yet, or too many open requests: said why
    words = " ".join(text.split())
    data = {"_guess": got.slots.get("category")}
    if _worth_keeping(words):
        data["description"] = words
    return engine.start(ctx, conversations.get("ask_help"), data=data)


def _worth_keeping(words: str) -> bool:
    """A sentence that says what the help is (not just 「手伝って」 or "I need help")."""
    return 0 < len(words) <= mutual_aid.DESCRIPTION_MAX and len(understand.fold(words).replace(" ", "")) >= 8


def language(ctx: Ctx, got: understand.Understood, text: str) -> list[Reply]:
    code = got.slots.get("language")
    r = ctx.resident
    if code not in LANGUAGES or r is None:
        return engine.start(ctx, conversations.get("settings"), data={"what": "language"}, step="language")
    if code == r.locale:
        return [Text(ctx.t(N_("I am already speaking {language}."), language=LANGUAGES[code]))]
    previous_locale = r.locale
    ctx.locale_override = code
    conversations.get("settings").on_finish(ctx, {"what": "language", "locale": code})
    return [Question(ctx.t(N_("From now on I will speak {language}."), language=LANGUAGES[code]),
                     (Choice(LANGUAGES[previous_locale], postback(a="lang", v=previous_locale)),
                      Choice(ctx.t(N_("Menu")), postback(a="show_menu"))))]


def is_language_button(ctx: Ctx) -> bool:
    return ctx.inbound.kind == InboundKind.POSTBACK and parse_postback(ctx.inbound.postback_data).get("a") == "lang"


def language_button(ctx: Ctx) -> list[Reply]:
    """The one tap back to the language they had (or any language): the same as typing it."""
    code = parse_postback(ctx.inbound.postback_data).get("v")
    return language(ctx, understand.Understood("language", slots={"language": code}), "")


def reminder(ctx: Ctx, got: understand.Understood, text: str) -> list[Reply]:
    """「毎朝8時に薬のリマインドして」, "nhắc tôi mỗi thứ ba 7 giờ sáng đổ rác": read at once when
    it can be (as written, else without the words that asked for a reminder); else the questions."""
    read = None
    for candidate in (text, understand.without_intent_words(text, got.language or ctx.locale, "reminder")):
        try:
            read = reminders.read(candidate, ctx.now, ctx.config.tz_name, ctx.locale)
            break
        except reminders.ReminderError:
            continue
    if read is None:
        return engine.start(ctx, conversations.get("reminder_new"))
    rule, title = read
    return engine.start(ctx, conversations.get("reminder_new"), data={"what": {"rule": rule.to_json(), "title": title}},
                        step="confirm")


def garbage_item(ctx: Ctx, got: understand.Understood, text: str) -> list[Reply]:
    cal = garbage.current(ctx.session)
    item = got.slots.get("item")
    if cal is None:
        return [Text(ctx.t(N_("The city's garbage calendar is not loaded yet. Please ask the center.")))]
    if not item:
        return [Text(ctx.t(N_("Which item? Write it like “frying pan: what garbage?”.")))]
    found = garbage.kind_of(cal, item, ctx.locale)
    if not found:
        return [_choices(ctx, ctx.t(N_("“{item}” is not in the city's list. Try another word for it (the list is in Japanese), or see your collection days."),
                                    item=item), ("garbage",))]
    fb = ctx.config.fallback_language
    area = garbage.area_of(ctx.session, ctx.resident)
    today = ctx.now.astimezone(ZoneInfo(ctx.config.tz_name)).date()
    lines = []
    for name, label, notice, asked in found[:5]:
        shown = ctx.t(N_("{item} ({word})"), item=name, word=asked) if asked else name  # フライパン (frying pan)
        line = ctx.t(N_("{item}: {kind}"), item=shown, kind=garbage.show_kinds(cal, [label], ctx.locale, fb)[0])
        day = garbage.next_collection(cal, area, label, today) if area else None
        if day is not None:
            line += "\n  " + ctx.t(N_("Next collection in your area: {day}"), day=timefmt.show_day(day, ctx.locale))
        lines.append(line + (f"\n  {_notice(ctx, notice)}" if notice else ""))
    if area is None:
        lines.append(ctx.t(N_("Choose your collection area with “Garbage days” to see the next collection day.")))
    return [_choices(ctx, "\n".join(lines), ("garbage",))]


def _notice(ctx: Ctx, notice: str) -> str:
    """The city's note on an item (target.csv, in Japanese) in the resident's language: as
    written for Japanese readers, else machine translated when that is on, else said to be in
    Japanese."""
    if ctx.locale in ("ja", "ja_easy"):
        return ctx.t(N_("Note: {note}"), note=notice)
    got = translated.content(ctx.session, ctx.config, [notice], ctx.locale)
    if got and got[0].strip() and got[0].strip() != notice.strip():
        return ctx.t(N_("Note (machine translation): {note}"), note=got[0])
    return ctx.t(N_("Note (in Japanese): {note}"), note=notice)


def garbage_day(ctx: Ctx, got: understand.Understood, text: str) -> list[Reply]:
    return rem.garbage_start(ctx, kind=got.slots.get("kind"))


ACTIONS = {
    "greeting": greeting, "thanks": thanks, "ask_help": ask_help,
    # the same as the words 「やめる」 and 「メニュー」 (nothing to cancel here: no question is open)
    "cancel": lambda ctx, got, text: basics.cancel(ctx), "menu": lambda ctx, got, text: basics.show_menu(ctx),
    "language": language, "reminder": reminder, "garbage_item": garbage_item, "garbage_day": garbage_day,
}
