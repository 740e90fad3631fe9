"""What residents see of mutual aid: cards and notices, each built in the reader's own
language. Nobody's LINE user ID or real name appears: only nicknames, and "a neighbour" for an
anonymous request until it is matched."""
from __future__ import annotations

from sqlalchemy.orm import object_session

from bot.core import timefmt
from bot.core.refs import ref
from bot.core.config import Config
from bot.core.i18n import N_, t
from bot.core.models import HelpOffer, HelpRequest, RelayMessage, Resident
from bot.services import translated
from bot.services.mutual_aid import CATEGORIES
from bot.core.replies import Card, Choice, postback
from bot.core.vocab import RequestStatus


def category_label(locale: str, code: str) -> str:
    return t(locale, CATEGORIES.get(code, CATEGORIES["other"]))


def when_text(req: HelpRequest, locale: str, config: Config) -> str:
    if req.when_at is None:
        return t(locale, N_("Any time"))
    return timefmt.show(req.when_at, locale, config.tz_name)


def requester_name(req: HelpRequest, locale: str, *, reveal: bool = False) -> str:
    if req.anonymous and not reveal:
        return t(locale, N_("A neighbour"))
    return req.requester.nickname or t(locale, N_("A neighbour"))


def description(req: HelpRequest, locale: str, config: Config) -> translated.Shown:
    """The request's words as a reader of `locale` reads them: as written, or machine translated
    from the asker's language when the city turned that on (bot.services.translated)."""
    session = object_session(req)
    if session is None or req.requester_id is None:
        return translated.Shown(req.description)
    return translated.resident_text(session, config, req.description, req.requester.locale, locale)


def request_body(req: HelpRequest, locale: str, config: Config) -> str:
    area = req.area.name(locale) if req.area else "-"
    return t(
        locale, N_("{description}\nWhen: {when}\nWhere: {area}"),
        description=translated.with_note(locale, description(req, locale, config)),
        when=when_text(req, locale, config), area=area,
    )


def _original(req: HelpRequest, locale: str, config: Config) -> tuple[Choice, ...]:
    """The "Original" button, when the reader gets the request's words machine translated."""
    if description(req, locale, config).machine:
        return (translated.original_choice(locale, translated.REQUEST, req),)
    return ()


def request_card(req: HelpRequest, locale: str, config: Config, *, can_offer: bool = True) -> Card:
    title = t(locale, N_("{category} — {name}"), category=category_label(locale, req.category),
              name=requester_name(req, locale))
    buttons = []
    if can_offer:
        buttons.append(Choice(t(locale, N_("I can help")), postback(a="aid", x="offer", r=ref(req))))
    buttons.append(Choice(t(locale, N_("Report")), postback(a="aid", x="report", k="request", i=ref(req))))
    buttons += _original(req, locale, config)
    return Card(title=title, body=request_body(req, locale, config), buttons=tuple(buttons))


def my_request_card(req: HelpRequest, locale: str, config: Config, other: Resident | None) -> Card:
    status = {
        RequestStatus.OPEN: N_("Waiting for an offer"),
        RequestStatus.MATCHED: N_("Matched with {name}"),
    }.get(req.status, N_("Closed"))
    buttons = []
    if req.status == RequestStatus.MATCHED and other is not None:
        buttons += [
            Choice(t(locale, N_("Message {name}"), name=other.nickname or "-"), postback(a="aid", x="msg", r=ref(req))),
            Choice(t(locale, N_("Done: say thanks")), postback(a="aid", x="done", r=ref(req))),
        ]
    if req.status == RequestStatus.OPEN:
        buttons.append(Choice(t(locale, N_("Edit")), postback(a="aid", x="edit", r=ref(req))))
    buttons.append(Choice(t(locale, N_("Cancel this request")), postback(a="aid", x="cancel", r=ref(req))))
    title = category_label(locale, req.category) + " — " + t(locale, status, name=(other.nickname if other else "") or "-")
    return Card(title=title, body=request_body(req, locale, config), buttons=tuple(buttons))


def offer_card(offer: HelpOffer, locale: str, config: Config) -> Card:
    """To the requester: someone offers to help."""
    req = offer.request
    body = t(locale, N_("{name} offers to help with your request:\n{description}"),
             name=offer.helper.nickname or "-", description=req.description)
    original: tuple[Choice, ...] = ()
    if offer.message:
        session = object_session(offer)
        said = translated.resident_text(session, config, offer.message, offer.helper.locale, locale) if session \
            else translated.Shown(offer.message)
        body += "\n\n" + t(locale, N_("Their message: {message}"), message=translated.with_note(locale, said))
        if said.machine:
            original = (translated.original_choice(locale, translated.OFFER, offer),)
    return Card(
        title=t(locale, N_("A neighbour can help!")),
        body=body,
        buttons=(
            Choice(t(locale, N_("Yes, please")), postback(a="aid", x="accept", o=ref(offer))),
            Choice(t(locale, N_("Not this time")), postback(a="aid", x="decline", o=ref(offer))),
            Choice(t(locale, N_("Block this person")), postback(a="aid", x="block", o=ref(offer))),
            *original,
        ),
    )


def match_card(req: HelpRequest, reader: Resident, other: Resident, config: Config) -> Card:
    """To both sides of a match: who, what, when, and how to talk through the bot."""
    locale = reader.locale
    body = t(
        locale,
        N_("You are matched with {name}.\n{details}\n\nWrite to each other through this chat: the bot passes your messages on, and neither of you sees the other's LINE account."),
        name=other.nickname or "-", details=request_body(req, locale, config),
    )
    return Card(
        title=t(locale, N_("Matched: {category}"), category=category_label(locale, req.category)),
        body=body,
        buttons=(Choice(t(locale, N_("Message {name}"), name=other.nickname or "-"), postback(a="aid", x="msg", r=ref(req))),
                 *_original(req, locale, config)),
    )


def relay_card(req: HelpRequest, msg: RelayMessage, sender: Resident, text: str, locale: str,
               config: Config | None = None) -> Card:
    """A forwarded message, as plain text (links are not turned into buttons); machine
    translated from the sender's language when the city turned that on."""
    session = object_session(msg)
    said = translated.resident_text(session, config, text, sender.locale, locale) if session and config \
        else translated.Shown(text)
    return Card(
        title=t(locale, N_("Message from {name}"), name=sender.nickname or "-"),
        body=translated.with_note(locale, said),
        buttons=(
            Choice(t(locale, N_("Reply")), postback(a="aid", x="msg", r=ref(req))),
            Choice(t(locale, N_("Report")), postback(a="aid", x="report", k="relay", i=ref(msg))),
            Choice(t(locale, N_("Block this person")), postback(a="aid", x="block", m=ref(msg))),
            *((translated.original_choice(locale, translated.RELAY, msg),) if said.machine else ()),
        ),
    )


def helper_notice_card(req: HelpRequest, locale: str, config: Config) -> Card:
    card = request_card(req, locale, config)
    return Card(
        title=t(locale, N_("Someone nearby needs a hand")),
        body=card.title + "\n" + card.body,
        buttons=(
            Choice(t(locale, N_("I can help")), postback(a="aid", x="offer", r=ref(req))),
            Choice(t(locale, N_("Stop these notices")), postback(a="aid", x="stop")),
            *_original(req, locale, config),
        ),
    )


def followup_card(req: HelpRequest, reader: Resident, config: Config) -> Card:
    locale = reader.locale
    requester = reader.id == req.requester_id
    if requester:
        body = t(locale, N_("Did you get the help you asked for?\n{details}"), details=request_body(req, locale, config))
        yes = N_("Yes: say thanks")
    else:
        body = t(locale, N_("Did the help happen as planned?\n{details}"), details=request_body(req, locale, config))
        yes = N_("Yes, it happened")
    return Card(
        title=t(locale, N_("How did it go?")),
        body=body,
        buttons=(
            Choice(t(locale, yes), postback(a="aid", x="happened", r=ref(req), v="yes")),
            Choice(t(locale, N_("It did not happen")), postback(a="aid", x="happened", r=ref(req), v="no")),
            *_original(req, locale, config),
        ),
    )
