"""What residents see of events, built in the reader's own language."""
from __future__ import annotations

from sqlalchemy.orm import object_session

from bot.core import timefmt
from bot.core import names as name_chain
from bot.core.config import Config
from bot.core.refs import ref
from bot.core.i18n import LANGUAGES, N_, Nn_, nt, t
from bot.core.models import Event, Signup
from bot.core.replies import Card, Choice, postback
from bot.core.vocab import SignupStatus
from bot.services import translated


PEOPLE = Nn_("{n} person", "{n} people")
PLACES_LEFT = Nn_("{n} place left", "{n} places left")


def people(n: int, locale: str) -> str:
    return nt(locale, PEOPLE, n, n=n)


def when(event: Event, locale: str, config: Config) -> str:
    text = timefmt.show(event.starts_at, locale, config.tz_name)
    if event.ends_at:
        if timefmt.same_day(event.starts_at, event.ends_at, config.tz_name):
            text += "–" + timefmt.show_time(event.ends_at, locale, config.tz_name)
        else:
            text += " – " + timefmt.show(event.ends_at, locale, config.tz_name)
    return text





def places(left: int | None, waiting: int, locale: str) -> str:
    if left is None:
        return t(locale, N_("Everyone welcome"))
    if left > 0:
        return nt(locale, PLACES_LEFT, left, n=left)
    return t(locale, N_("Full ({n} waiting)"), n=waiting)


FIELDS = ("title", "place", "description")


def machine(event: Event, locale: str, config: Config | None) -> dict[str, str] | None:
    """Title, place and description machine translated into `locale`, when the organiser wrote
    no translation in it and the city turned machine translation on; else None."""
    tr = (event.translations or {}).get(locale)
    if config is None or (tr and tr.get("title")):
        return None
    got = translated.content(object_session(event), config, [getattr(event, f) or "" for f in FIELDS], locale)
    return dict(zip(FIELDS, got)) if got else None


def shown_in(event: Event, locale: str) -> str:
    """The language a resident of `locale` reads the event in: theirs, else the city's second
    language, else the organiser's Japanese (a translation counts when it has a title)."""
    have = {loc for loc, tr in (event.translations or {}).items() if tr and tr.get("title")}
    return name_chain.version_for(have, locale)


def text_in(event: Event, locale: str, field: str, config: Config | None = None) -> str:
    """The organiser's translation of title / place / description, else (given the config, with
    machine translation on) the machine's, else the original (Japanese)."""
    by_machine = machine(event, locale, config)
    if by_machine is not None:
        return by_machine[field] or getattr(event, field) or ""
    shown = shown_in(event, locale)
    tr = (event.translations or {}).get(shown) or {} if shown != "ja" else {}
    return tr.get(field) or getattr(event, field) or ""


def question_for(event: Event, locale: str) -> str | None:
    """The organiser's question to each attendee as a resident of `locale` reads it: the
    translation of the language the event is shown in, else the Japanese, said to be so."""
    if not event.note_question:
        return None
    shown = shown_in(event, locale)
    tr = (event.translations or {}).get(shown) or {} if shown != "ja" else {}
    if tr.get("note_question"):
        return tr["note_question"]
    if locale in ("ja", "ja_easy") or not name_chain.is_japanese(event.note_question):
        return event.note_question
    return t(locale, N_("The organiser asks (in Japanese): {question}"), question=event.note_question)


def missing_languages(event: Event) -> list[str]:
    """The resident languages the event has no translated title in (Japanese aside)."""
    have = {loc for loc, tr in (event.translations or {}).items() if tr and tr.get("title")}
    return [loc for loc in LANGUAGES if loc != "ja" and loc not in have]


def event_card(event: Event, locale: str, config: Config, left: int | None, waiting: int, *, detail: bool = False,
               mine: Signup | None = None, position: int = 0) -> Card:
    """An event as a card; `mine`: the reader's own sign-up (going or waiting), which replaces
    "Sign up" / "Join the wait-list" with where they stand and their sign-up's button."""
    lines = [
        t(locale, N_("When: {when}"), when=when(event, locale, config)),
        t(locale, N_("Where: {place}"), place=text_in(event, locale, "place", config)),
        places(left, waiting, locale),
    ]
    if mine is not None and mine.status == SignupStatus.GOING:
        lines.insert(0, "✅ " + t(locale, N_("You are going ({people})"), people=people(mine.party_size, locale)))
    elif mine is not None and mine.status == SignupStatus.WAITLIST:
        lines.insert(0, "⏳ " + t(locale, N_("On the wait-list: number {n}"), n=position))
    by_machine = machine(event, locale, config) is not None
    note = t(locale, translated.MARK) if by_machine else name_chain.not_in_your_language(locale, shown_in(event, locale))
    if note:
        lines.append(note)
    if detail:
        if event.description:
            lines.insert(0, text_in(event, locale, "description", config) + "\n")
        if event.organizer:
            lines.append(t(locale, N_("Organised by {organizer}"), organizer=event.organizer))
        if event.signup_deadline:
            lines.append(t(locale, N_("Sign up by {date}"), date=timefmt.show(event.signup_deadline, locale, config.tz_name)))
    buttons = [] if detail else [Choice(t(locale, N_("Details")), postback(a="ev", x="detail", e=ref(event)))]
    full = left is not None and left <= 0
    if mine is not None and mine.status in (SignupStatus.GOING, SignupStatus.WAITLIST):
        buttons.insert(0, Choice(t(locale, N_("My events")), postback(a="ev", x="mine")))
    else:
        buttons.insert(0, Choice(t(locale, N_("Join the wait-list") if full else N_("Sign up")), postback(a="ev", x="join", e=ref(event))))
    if by_machine:
        buttons.append(translated.original_choice(locale, translated.EVENT, event))
    return Card(title=text_in(event, locale, "title", config), body="\n".join(lines), buttons=tuple(buttons))


def my_signup_card(signup: Signup, locale: str, config: Config, position: int) -> Card:
    ev = signup.event
    if signup.status == SignupStatus.GOING:
        status = t(locale, N_("You are going ({people})"), people=people(signup.party_size, locale))
    else:
        status = t(locale, N_("On the wait-list: number {n}"), n=position)
    body = "\n".join([status, t(locale, N_("When: {when}"), when=when(ev, locale, config)),
                      t(locale, N_("Where: {place}"), place=text_in(ev, locale, "place", config))])
    return Card(title=text_in(ev, locale, "title", config), body=body,
                buttons=(Choice(t(locale, N_("Cancel my place")), postback(a="ev", x="cancel", s=ref(signup))),))


def confirmation(event: Event, locale: str, config: Config, party: int) -> str:
    return t(locale, N_("You are signed up for “{title}” ({when}, {place}), {people}. We will remind you the day before."),
             title=text_in(event, locale, "title", config), when=when(event, locale, config), place=text_in(event, locale, "place", config), people=people(party, locale))


def promoted(event: Event, locale: str, config: Config) -> str:
    return t(locale, N_("Good news! A place opened up: you are now signed up for “{title}” ({when}, {place})."),
             title=text_in(event, locale, "title", config), when=when(event, locale, config), place=text_in(event, locale, "place", config))


def reminder(event: Event, locale: str, config: Config, *, soon: bool) -> str:
    msgid = N_("Reminder: “{title}” starts in an hour ({when}, {place}).") if soon else \
        N_("Reminder: “{title}” is tomorrow ({when}, {place}). See you there!")
    return t(locale, msgid, title=text_in(event, locale, "title", config), when=when(event, locale, config), place=text_in(event, locale, "place", config))


def changed(event: Event, locale: str, config: Config) -> str:
    return t(locale, N_("“{title}” has changed. Now: {when}, {place}."), title=text_in(event, locale, "title", config),
             when=when(event, locale, config), place=text_in(event, locale, "place", config))


def cancelled(event: Event, locale: str, config: Config) -> str:
    return t(locale, N_("We are sorry: “{title}” ({when}) has been cancelled."), title=text_in(event, locale, "title", config),
             when=when(event, locale, config))
