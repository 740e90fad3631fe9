"""The conversation engine: flows are explicit tables of steps, persisted per resident.

A step asks a question (with choices, free text, or a date/time picker), `accept` turns an
answer into a clean value or raises `Invalid` (the same step is asked again with the reason),
and `next` names the following step (a name, a mapping from the value, or a function of the
collected data). Only the flow's `on_finish` has effects.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache, lru_cache
from typing import Any, Callable, Mapping, Sequence, Union

from sqlalchemy import bindparam, delete, insert, inspect, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from bot.core import answers
from handlers.context import Ctx
from bot.core.i18n import N_, SUPPORTED_LOCALES, normalize_text, t
from bot.core.models import ConversationState
from bot.core.prepared import Prepared, attach
from bot.core.replies import Choice, DateQuestion, Question, Reply, Text, postback

YES, NO = "yes", "no"  # the values of the options of a yes/no or a confirm question
PAGE_SIZE = 11  # + "more" + "cancel" = 13, LINE's quick-reply limit
MORE = "__more"
DONE = "__done"
# Kept in the collected data: the conversation's own key, minted when it starts. Every button
# of the conversation carries it, so a button from an earlier conversation (even of the same
# flow, at the same step) is never taken for an answer to this one.
KEY = "_k"
INTERNAL = (KEY, "_page")


@lru_cache(maxsize=4096)  # every question's buttons, every event: the same few values
def option_key(value: str) -> str:
    """What a choice button carries for an option: a digest of its value, never the value itself
    (an area's or a household's name can be long, and is data, not something to put in a
    button). 8 URL-safe characters, so postback data stays far below LINE's 300."""
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()[:6]).decode()


class Invalid(Exception):
    def __init__(self, msgid: str, **named: object):
        super().__init__(msgid)
        self.msgid = msgid
        self.named = named


@dataclass(frozen=True)
class Answer:
    text: str | None = None  # what the resident typed
    value: str | None = None  # the option key (`option_key`) of a tapped choice
    params: Mapping[str, str] = field(default_factory=dict)  # date/time picker params
    photo: str | None = None  # a photo sent at a step that takes one: the Media token ("" unusable)


@dataclass(frozen=True)
class Option:
    value: str
    label: str  # a msgid, translated at render time, unless `literal`
    literal: bool = False
    named: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()  # other words that pick it when typed
    says: str | None = None  # YES or NO: typed yes/no in any language picks it (「はい」 at "Post it")

    def text(self, locale: str) -> str:
        return self.label if self.literal else t(locale, self.label, **self.named)


def typed_words(o: Option) -> frozenset[str]:
    """What typed picks the option: its label in every language and its aliases, normalised.
    Worked out once per option (every typed answer at a step checks every option), except for
    an option that names something (a resident's name): those are not kept."""
    if o.named:
        return _words(o)
    return _typed_words(o.value, o.label, o.literal, o.aliases)


@lru_cache(maxsize=4096)
def _typed_words(value: str, label: str, literal: bool, aliases: tuple[str, ...]) -> frozenset[str]:
    return _words(Option(value, label, literal, aliases=aliases))


def _words(o: Option) -> frozenset[str]:
    return frozenset({normalize_text(o.text(loc)) for loc in SUPPORTED_LOCALES} | {normalize_text(a) for a in o.aliases})


OptionsSpec = Union[Sequence[Option], Callable[[Ctx, dict], Sequence[Option]]]
NextSpec = Union[str, None, Mapping[str, Union[str, None]], Callable[[dict], Union[str, None]]]


@dataclass(frozen=True)
class Step:
    ask: str | Callable[[Ctx, dict], str]  # a msgid, or a function returning translated text
    options: OptionsSpec = ()
    accept: Callable[[Ctx, dict, Answer], Any] | None = None
    next: NextSpec = None
    date_mode: str | None = None  # date | time | datetime
    date_label: str = N_("Choose")
    store: str | None = None  # key in the collected data; default: the step's name
    ask_named: Callable[[Ctx, dict], Mapping[str, object]] | None = None
    # A multiple choice: each tap toggles an option (shown with ✓), "Done" moves on.
    collect: bool = False
    # The step takes a photo: the webhook fetches and stores it before the step's `accept` runs.
    photo: bool = False

    def next_steps(self) -> set[str | None]:
        if isinstance(self.next, Mapping):
            return set(self.next.values())
        if callable(self.next):
            return set(getattr(self.next, "targets", ())) or {None}
        return {self.next}


@dataclass(frozen=True)
class Flow:
    name: str
    first: str
    steps: Mapping[str, Step]
    on_finish: Callable[[Ctx, dict], list[Reply]]
    initial: Callable[[Ctx], dict] | None = None
    # A data key that, once set, is the language the rest of the flow speaks.
    locale_key: str | None = None


def branch(mapping: Mapping[str, str | None], key: str) -> Callable[[dict], str | None]:
    """`next` chosen by the value stored under `key` (visible to the flow-walking test)."""

    def choose(data: dict) -> str | None:
        return mapping.get(str(data.get(key)))

    choose.targets = tuple(mapping.values())  # type: ignore[attr-defined]
    # The whole table, for the diagrams generated from the flows (scripts/flows.py).
    choose.cases = dict(mapping)  # type: ignore[attr-defined]
    choose.key = key  # type: ignore[attr-defined]
    return choose


# -- running ---------------------------------------------------------------------------------

def _flow_locale(ctx: Ctx, flow: Flow, data: dict) -> str:
    if flow.locale_key and data.get(flow.locale_key) in SUPPORTED_LOCALES:
        return data[flow.locale_key]
    return ctx.locale


def _options(ctx: Ctx, step: Step, data: dict) -> list[Option]:
    spec = step.options
    return list(spec(ctx, data) if callable(spec) else spec)


def _choice_data(flow: Flow, step_name: str, data: dict, value: str) -> str:
    return postback(f=flow.name, s=step_name, k=data.get(KEY), o=option_key(value))


def cancel_choice(locale: str) -> Choice:
    return Choice(label=t(locale, N_("Cancel")), data=postback(a="cancel"))


def _page_size(step: Step) -> int:
    return PAGE_SIZE - 1 if step.collect else PAGE_SIZE  # room for "Done"


def _paged(step: Step, options: list) -> bool:
    """The step's options take more than one page: it shows "More…"."""
    return len(options) > _page_size(step) + 1


def render_step(ctx: Ctx, flow: Flow, step_name: str, data: dict) -> Reply:
    step = flow.steps[step_name]
    locale = _flow_locale(ctx, flow, data)
    if callable(step.ask):
        text = step.ask(ctx, data)
    else:
        named = step.ask_named(ctx, data) if step.ask_named else {}
        text = t(locale, step.ask, **named)
    options = _options(ctx, step, data)
    page = int(data.get("_page", {}).get(step_name, 0))
    shown = options
    more = False
    size = _page_size(step)
    if _paged(step, options):
        pages = (len(options) + size - 1) // size
        page %= pages
        shown = options[page * size : (page + 1) * size]
        more = True
    chosen = set(data.get(step.store or step_name) or []) if step.collect else set()
    choices = [
        Choice(label=("✓ " if o.value in chosen else "") + o.text(locale), data=_choice_data(flow, step_name, data, o.value))
        for o in shown
    ]
    if step.collect:
        choices.append(Choice(label=t(locale, N_("Done")), data=_choice_data(flow, step_name, data, DONE)))
    if more:
        choices.append(Choice(label=t(locale, N_("More…")), data=_choice_data(flow, step_name, data, MORE)))
    choices.append(cancel_choice(locale))
    if step.date_mode:
        return DateQuestion(
            text=text,
            mode=step.date_mode,
            data=postback(f=flow.name, s=step_name, k=data.get(KEY)),
            label=t(locale, step.date_label),
            choices=tuple(choices),
        )
    return Question(text=text, choices=tuple(choices))


def start(ctx: Ctx, flow: Flow, data: dict | None = None, step: str | None = None) -> list[Reply]:
    """Begin `flow` (at its first step, or at `step`) for the resident, replacing any
    conversation they had."""
    first = step or flow.first
    assert first in flow.steps
    assert ctx.resident is not None
    data = dict(data or {})
    if flow.initial:
        data = {**flow.initial(ctx), **data}
    data[KEY] = secrets.token_urlsafe(6)
    state = ctx.conversation
    if state is not None:
        _save(ctx, state, first, data, flow_name=flow.name)
        ctx.session.flush()
        return [render_step(ctx, flow, first, data)]
    values = dict(resident_id=ctx.resident.id, flow=flow.name, step=first, data=data, version=1,
                  expires_at=ctx.now + timedelta(seconds=ctx.config.conversation_ttl_seconds), updated_at=ctx.now)
    if ctx.resident.id is not None and not ctx.session.new:
        # The usual start: one INSERT on the driver, the row attached as if the session had read
        # it. (A resident or anything else new in this transaction: the ORM's flush, in order.)
        values["id"] = _start_stmt().run(ctx.session.connection(), values).fetchone()[0]
        ctx.conversation = attach(ctx.session, ConversationState, values)
    else:
        ctx.conversation = ConversationState(**values)
        ctx.session.add(ctx.conversation)
        ctx.session.flush()
    return [render_step(ctx, flow, first, data)]


def end(ctx: Ctx) -> None:
    state = ctx.conversation
    if state is None:
        return
    loaded = inspect(state)
    if loaded.persistent and not loaded.modified:
        # The usual end: one DELETE, checked against the version read, as the ORM's would be.
        seen = state.version
        if _end_stmt().run(ctx.session.connection(), {"sid": state.id, "seen": seen}).rowcount != 1:
            raise StaleDataError(f"conversation_state {state.id} changed since version {seen}")
        ctx.session.expunge(state)
    else:
        ctx.session.delete(state)
        ctx.session.flush()
    ctx.conversation = None


def _resolve(ctx: Ctx, flow: Flow, step_name: str, step: Step, data: dict, answer: Answer) -> Any:
    options = _options(ctx, step, data)
    if answer.value is not None:
        # "More…" and "Done" only where the step shows them: an old or forged one elsewhere
        # (a "Done" at a question with one answer) is no answer to it
        if answer.value == option_key(MORE) and _paged(step, options):
            return MORE
        if answer.value == option_key(DONE) and step.collect:
            return DONE
        for o in options:
            if option_key(o.value) == answer.value:
                return o.value
        raise Invalid(N_("That button is no longer valid. Please choose again."))
    if answer.text is not None and options:
        typed = normalize_text(answer.text)
        if _paged(step, options) and typed in {normalize_text(t(loc, N_("More…"))) for loc in SUPPORTED_LOCALES}:
            return MORE
        if step.collect and typed in {normalize_text(t(loc, N_("Done"))) for loc in SUPPORTED_LOCALES}:
            return DONE
        for o in options:
            if typed and (typed in typed_words(o) or typed == normalize_text(o.value)):
                return o.value
        said = _typed_yes_no(options, answer.text, ctx.locale)
        if said is not None:
            return said
    if step.accept is not None:
        return step.accept(ctx, data, answer)
    raise Invalid(N_("Please choose one of the buttons below."))


def handle(ctx: Ctx, flow: Flow, answer: Answer,
           elsewhere: Callable[[], list[Reply] | None] | None = None) -> list[Reply]:
    """Apply one answer to the resident's active conversation in `flow`. `elsewhere`: asked when
    the answer is not one the step takes; replies from it (the caller left the question) are
    given instead of asking again."""
    state = ctx.conversation
    assert state is not None and state.flow == flow.name
    step_name = state.step
    step = flow.steps[step_name]
    data = dict(state.data or {})
    try:
        value = _resolve(ctx, flow, step_name, step, data, answer)
    except Invalid as exc:
        went = elsewhere() if elsewhere is not None else None
        if went is not None:
            return went
        locale = _flow_locale(ctx, flow, data)
        state.expires_at = ctx.now + timedelta(seconds=ctx.config.conversation_ttl_seconds)
        return [Text(t(locale, exc.msgid, **exc.named)), render_step(ctx, flow, step_name, data)]
    if value == MORE:
        pages = dict(data.get("_page", {}))
        pages[step_name] = int(pages.get(step_name, 0)) + 1
        data["_page"] = pages
        _save(ctx, state, step_name, data)
        return [render_step(ctx, flow, step_name, data)]
    key = step.store or step_name
    if step.collect:
        chosen = list(data.get(key) or [])
        if value != DONE:
            if value in chosen:
                chosen.remove(value)
            else:
                chosen.append(value)
            data[key] = chosen
            _save(ctx, state, step_name, data)
            return [render_step(ctx, flow, step_name, data)]
        if not chosen:
            locale = _flow_locale(ctx, flow, data)
            return [Text(t(locale, N_("Please choose at least one, then tap “Done”."))), render_step(ctx, flow, step_name, data)]
        value = chosen
    data[key] = value
    nxt = step.next
    if isinstance(nxt, Mapping):
        nxt = nxt.get(str(value))
    elif callable(nxt):
        nxt = nxt(data)
    if nxt is None:
        end(ctx)
        for internal in INTERNAL:
            data.pop(internal, None)
        if flow.locale_key and data.get(flow.locale_key) in SUPPORTED_LOCALES:
            ctx.locale_override = data[flow.locale_key]
        return with_next_step(ctx, flow.on_finish(ctx, data))
    _save(ctx, state, nxt, data)
    return [render_step(ctx, flow, nxt, data)]


def with_next_step(ctx: Ctx, replies: list[Reply]) -> list[Reply]:
    """A flow never ends on a bare sentence: a last plain text gets the menu as its button, so
    the resident always has somewhere to go (a flow's own buttons stay as they are)."""
    if replies and isinstance(replies[-1], Text):
        replies = [*replies[:-1], Question(replies[-1].text, (Choice(ctx.t(N_("Menu")), postback(a="show_menu")),))]
    return replies


@cache
def _save_stmt() -> Prepared:
    t = ConversationState.__table__
    return Prepared(update(t).where(t.c.id == bindparam("sid"), t.c.version == bindparam("seen"))
                    .values(flow=bindparam("flow"), step=bindparam("step"), data=bindparam("data"),
                            updated_at=bindparam("now"), expires_at=bindparam("expires"), version=bindparam("seen") + 1))


@cache
def _start_stmt() -> Prepared:
    t = ConversationState.__table__
    return Prepared(insert(t).returning(t.c.id),
                    columns=["resident_id", "flow", "step", "data", "version", "expires_at", "updated_at"])


@cache
def _end_stmt() -> Prepared:
    t = ConversationState.__table__
    return Prepared(delete(t).where(t.c.id == bindparam("sid"), t.c.version == bindparam("seen")))


def _save(ctx: Ctx, state: ConversationState, step_name: str, data: dict, flow_name: str | None = None) -> None:
    flow_name = flow_name or state.flow
    expires = ctx.now + timedelta(seconds=ctx.config.conversation_ttl_seconds)
    loaded = inspect(state)
    if not (loaded.persistent and not loaded.modified):  # new, or changed otherwise in this event
        state.flow = flow_name
        state.step = step_name
        state.data = data  # a new dict: SQLAlchemy sees the change
        state.updated_at = ctx.now
        state.expires_at = expires
        return
    # The usual step, on every answer: one UPDATE, checked against the version read with the
    # state, as the ORM's version counter would (another event of the resident's got there
    # first: StaleDataError, and the event starts again on fresh state).
    seen = state.version
    done = _save_stmt().run(ctx.session.connection(), {
        "sid": state.id, "seen": seen, "flow": flow_name, "step": step_name, "data": data, "now": ctx.now,
        "expires": expires,
    }).rowcount
    if done != 1:
        raise StaleDataError(f"conversation_state {state.id} changed since version {seen}")
    for key, value in (("flow", flow_name), ("step", step_name), ("data", data), ("updated_at", ctx.now),
                       ("expires_at", expires), ("version", seen + 1)):
        set_committed_value(state, key, value)


def belongs(state: ConversationState, flow_name: str | None, step_name: str | None, key: str | None) -> bool:
    """Whether a button (its flow, step and conversation key) was drawn for the question the
    resident is at now."""
    return flow_name == state.flow and step_name == state.step and (key or None) == ((state.data or {}).get(KEY) or None)


def reask(ctx: Ctx, flow: Flow) -> Reply:
    state = ctx.conversation
    assert state is not None
    return render_step(ctx, flow, state.step, dict(state.data or {}))


def _typed_yes_no(options: Sequence[Option], text: str | None, locale: str) -> str | None:
    """The "yes" or "no" option that typed はい / "sure" / "không" / 「いらない」 picks, at a step
    that has one (bot.core.answers reads the words of every language)."""
    meaning = {(o.says or o.value): o.value for o in options if (o.says or o.value) in (YES, NO)}
    if not meaning:
        return None
    said = answers.yes_no(text or "", locale)
    return meaning.get(said) if said else None


def takes_as_option(ctx: Ctx, flow: Flow, text: str) -> bool:
    """Whether typed text picks one of the current step's buttons (then it is an answer, even
    when it is also a word like 「キャンセル」 or 「イベント」, or a "no" like 「やめとく」 at a
    question whose buttons are yes and no)."""
    state = ctx.conversation
    if state is None or state.step not in flow.steps:
        return False
    typed = normalize_text(text)
    options = _options(ctx, flow.steps[state.step], dict(state.data or {}))
    if any(typed in typed_words(o) for o in options):
        return True
    return _typed_yes_no(options, text, ctx.locale) is not None


def declines(ctx: Ctx, flow: Flow, text: str) -> bool:
    """A typed "no" (いいえ, "nope", não) at a question that asks only to confirm (its one button
    is yes): the resident does not want it, so the flow is left, as with 「やめる」."""
    state = ctx.conversation
    if state is None or state.step not in flow.steps:
        return False
    meanings = {o.says or o.value for o in _options(ctx, flow.steps[state.step], dict(state.data or {}))}
    return YES in meanings and NO not in meanings and answers.yes_no(text, ctx.locale) == NO
