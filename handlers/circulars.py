"""Circulars in LINE: members read, answer and find them again; leaders (会長, 班長) see the
tally and remind the unread with one tap."""
from __future__ import annotations

from typing import Callable

from sqlalchemy import select

import conversations
from bot.console.auth import make_link
from bot.services import circulars, translated
from bot.core import media, refs, timefmt, understand
from handlers.context import Ctx
from bot.core.i18n import N_, keywords, normalize_text
from bot.core.models import Circular, CircularRecipient, Household, Media
from bot.delivery.render_line import split_text
from bot.core.replies import Card, Carousel, Choice, Image, Question, Reply, Text, postback
from bot.core.vocab import CircularQuestion, InboundKind
from conversations import engine
from handlers import buttons
from handlers.features import Feature, HelpLine, MenuItem, RichTile, Word

ARCHIVE = N_("circulars|circular")
STATUS = N_("circular status")
COMPOSE = N_("write a circular")
ROSTER = N_("roster|households")
CONSOLE = N_("console|admin")


def _circular(ctx: Ctx, data: dict) -> Circular:
    return buttons.record(ctx, data, "c", Circular)


def _circ(ctx: Ctx, data: dict) -> tuple[Circular, object]:
    circ = _circular(ctx, data)
    return circ, circulars.recipient(ctx.session, circ.id, ctx.resident)  # members only


def do_read(ctx: Ctx, data: dict) -> list[Reply]:
    circ, row = _circ(ctx, data)
    first = circulars.mark_read(ctx.session, row, ctx.now)
    return [Text(ctx.t(N_("Thank you. We have noted that you read it.") if first else
                       N_("You had already marked this circular as read. Thank you.")))]


def do_answer(ctx: Ctx, data: dict) -> list[Reply]:
    circ, row = _circ(ctx, data)
    options = circulars.answer_options(circ, ctx.locale, ctx.config.fallback_language)
    if not options:
        return [Text(ctx.t(N_("This circular has no question to answer.")))]
    current = ctx.t(N_("Your answer now: {answer}"), answer=circulars.answer_shown(
        circ, row.answer, ctx.locale, ctx.config.fallback_language)) + "\n" if row.answer else ""
    title, _, _ = circulars.for_reader(circ, ctx.locale, ctx.config.fallback_language, ctx.session, ctx.config)
    choices = tuple(Choice(o, postback(a="circ", x="av", c=refs.ref(circ), v=str(i))) for i, o in enumerate(options[:12]))
    return [Question(current + ctx.t(N_("“{title}”: please choose your answer."), title=title), choices)]


def do_answer_value(ctx: Ctx, data: dict) -> list[Reply]:
    circ, row = _circ(ctx, data)
    options = circulars.answer_options(circ, "ja")  # answers are kept in the sender's language
    try:
        value = options[int(data.get("v", ""))]
    except (ValueError, IndexError):
        raise circulars.CircularError(N_("That button is from an earlier message and no longer works.")) from None
    circulars.set_answer(ctx.session, circ, row, value, ctx.now)
    shown = circulars.answer_options(circ, ctx.locale, ctx.config.fallback_language)[int(data["v"])]
    replies: list[Reply] = [Text(ctx.t(N_("Thank you. Your answer “{answer}” is recorded. You can change it until the deadline."), answer=shown))]
    if circ.public_answers:  # only when the leader chose to share the answers
        counts = circulars.tally(ctx.session, circ).answers
        shown_counts = ((circulars.answer_shown(circ, k, ctx.locale, ctx.config.fallback_language), v)
                        for k, v in sorted(counts.items()))
        replies.append(Text(ctx.t(N_("Answers so far: {counts}"), counts=timefmt.show_list(
            [f"{k} {v}" for k, v in shown_counts], ctx.locale))))
    return replies


def do_full(ctx: Ctx, data: dict) -> list[Reply]:
    circ, row = _circ(ctx, data)
    title, body, note = circulars.for_reader(circ, ctx.locale, ctx.config.fallback_language, ctx.session, ctx.config)
    text = f"【{title}】\n\n{body}"
    if circ.link_url:
        text += "\n\n" + circ.link_url
    if note:
        text += "\n\n" + note
    parts: list[Reply] = [Text(p) for p in split_text(text, 4800)][:2]
    photo = media.urls(ctx.config, ctx.session.get(Media, circ.image_id)) if circ.image_id else None
    if photo:
        parts.append(Image(*photo))
    if ctx.config.public_base_url:
        parts.append(Text(ctx.t(N_("You can also read it on this page (opening it counts as read):\n{url}"),
                                url=f"{ctx.config.public_base_url.rstrip('/')}/c/{row.token}")))
    buttons = [Choice(ctx.t(N_("I have read it")), postback(a="circ", x="read", c=refs.ref(circ)))]
    if circ.question != CircularQuestion.NONE:
        buttons.append(Choice(ctx.t(N_("Answer")), postback(a="circ", x="ans", c=refs.ref(circ))))
    if circulars.machine_text(circ, ctx.locale, ctx.session, ctx.config):
        buttons.append(translated.original_choice(ctx.locale, translated.CIRCULAR, circ))
    return parts[:4] + [Question(ctx.t(N_("Done reading?")), tuple(buttons))]


def archive(ctx: Ctx) -> list[Reply]:
    assert ctx.resident is not None
    text = normalize_text(ctx.inbound.text or "")
    word = None
    for kw in sorted(keywords(ARCHIVE), key=len, reverse=True):  # the longest keyword that fits
        if text.startswith(kw):
            word = text[len(kw):].strip() or None
            break
    if word and understand.only_words(word, "show"):  # 「回覧板見たい」: the list, not a search for 「見たい」
        word = None
    found = circulars.latest_for(ctx.session, ctx.resident, word)
    if not found:
        msg = N_("No circular mentions “{word}”.") if word else N_("You have no circulars yet. When your association sends one, it arrives here.")
        return [Text(ctx.t(msg, word=word or ""))]
    cards = []
    for circ in found:
        c = circulars.notice(circ, ctx.locale, ctx.config, circulars.association_name(ctx.session, circ, ctx.locale, ctx.config.fallback_language),
                             session=ctx.session)
        sent = timefmt.show(circ.sent_at, ctx.locale, ctx.config.tz_name) if circ.sent_at else ""
        cards.append(Card(title=c.title, body=sent + "\n" + c.body, buttons=c.buttons))
    hint = ctx.t(N_("To find an older one, send “Circulars” and a word, e.g. “Circulars cleaning”."))
    return [Text(hint), Carousel(alt=ctx.t(N_("Circulars")), cards=tuple(cards))]


def status(ctx: Ctx) -> list[Reply]:
    assert ctx.resident is not None
    scopes = circulars.led_by(ctx.session, ctx.resident)
    if not scopes:
        return [Text(ctx.t(N_("Only association leaders and block leaders can see the read status.")))]
    cards = []
    for assoc_id, han in scopes:
        stmt = select(Circular).where(Circular.association_id == assoc_id, Circular.sent_at.is_not(None))
        if han:
            stmt = stmt.where((Circular.han == han) | Circular.han.is_(None))
        for circ in ctx.session.scalars(stmt.order_by(Circular.sent_at.desc()).limit(5)):
            cards.append(status_card(ctx, circ, han))
    if not cards:
        return [Text(ctx.t(N_("No circulars have been sent yet.")))]
    return [Carousel(alt=ctx.t(N_("Read status")), cards=tuple(cards[:10]))]


def status_card(ctx: Ctx, circ: Circular, han: str | None) -> Card:
    tl = circulars.tally(ctx.session, circ, han, ctx.locale, ctx.config.fallback_language)
    lines = [ctx.t(N_("Read: {read} of {total}"), read=tl.read, total=tl.households)]
    fb = ctx.config.fallback_language
    for answer, n in sorted(tl.answers.items()):  # who answered what, as the unread are named
        who = tl.answered.get(answer, [])
        names = timefmt.show_list(who[:8], ctx.locale) + ("…" if len(who) > 8 else "")
        lines.append(f"・{circulars.answer_shown(circ, answer, ctx.locale, fb)}: {n}" + (f" ({names})" if names else ""))
    if tl.unread:
        lines.append(ctx.t(N_("Not yet read: {names}"), names="、".join(tl.unread[:15]) + ("…" if len(tl.unread) > 15 else "")))
    buttons: tuple[Choice, ...] = ()
    if tl.unread:
        buttons = (Choice(ctx.t(N_("Remind the unread")), postback(a="circ", x="remind", c=refs.ref(circ))),
                   Choice(ctx.t(N_("Record paper reads")), postback(a="circ", x="paper", c=refs.ref(circ))))
    return Card(title=circ.title + (f"（{han}）" if han else ""), body="\n".join(lines), buttons=buttons)


def do_remind(ctx: Ctx, data: dict) -> list[Reply]:
    circ = _circular(ctx, data)
    if circ.association_id not in {a for a, han in circulars.led_by(ctx.session, ctx.resident) if han is None}:
        raise circulars.CircularError(N_("Only the association's leader can send reminders."))
    n = ctx.apply(circulars.remind_unread(ctx.session, circ, ctx.config, ctx.now)).facts["reminded"]
    return [Text(ctx.t(N_("Reminder sent to {n} members who have not read it."), n=n))]


def compose(ctx: Ctx) -> list[Reply]:
    if not [a for a, han in circulars.led_by(ctx.session, ctx.resident) if han is None]:
        return [Text(ctx.t(N_("Only the association's leader can send circulars.")))]
    return engine.start(ctx, conversations.get("compose_circular"))


def _led_circular(ctx: Ctx, data: dict) -> tuple[Circular, str | None]:
    circ = _circular(ctx, data)
    scopes = dict(circulars.led_by(ctx.session, ctx.resident))
    if circ.association_id not in scopes:
        raise circulars.CircularError(N_("That circular was not found."))
    return circ, scopes[circ.association_id]


def do_paper(ctx: Ctx, data: dict) -> list[Reply]:
    """A leader (or a 班長, for their 班) marks paper households from the signed sheet."""
    circ, han = _led_circular(ctx, data)
    rows = ctx.session.scalars(
        select(Household).join(CircularRecipient, CircularRecipient.household_id == Household.id)
        .where(CircularRecipient.circular_id == circ.id, CircularRecipient.resident_id.is_(None),
               CircularRecipient.read_at.is_(None), *([Household.han == han] if han else []))
        .order_by(Household.label).limit(12)
    ).all()
    if not rows:
        return [Text(ctx.t(N_("Every paper household has been marked.")))]
    return [Question(ctx.t(N_("Which paper household has signed the sheet?")), tuple(
        Choice(hh.shown(ctx.locale, ctx.config.fallback_language), postback(a="circ", x="pmark", c=refs.ref(circ), h=refs.ref(hh)))
        for hh in rows))]


def do_paper_mark(ctx: Ctx, data: dict) -> list[Reply]:
    circ, han = _led_circular(ctx, data)
    hh = buttons.record(ctx, data, "h", Household)
    if hh.association_id != circ.association_id or (han and hh.han != han):
        raise circulars.CircularError(N_("That household is not on this circular's paper list."))
    ctx.apply(circulars.mark_paper(ctx.session, circ, hh, answer=None, now=ctx.now))
    return [Text(ctx.t(N_("Marked “{household}” as read."), household=hh.shown(ctx.locale, ctx.config.fallback_language))),
            *do_paper(ctx, data)]


def roster(ctx: Ctx) -> list[Reply]:
    # late: conversations.engine imports handlers (so this module); conversations.roster needs the engine done
    from conversations.roster import led_association

    if led_association(ctx) is None:
        return [Text(ctx.t(N_("Only the association's leader can change the roster.")))]
    return engine.start(ctx, conversations.get("roster"))


def console_link(ctx: Ctx) -> list[Reply]:
    """A one-time link to the web console, for leaders (会長, 班長)."""
    if ctx.resident is None or not circulars.led_by(ctx.session, ctx.resident):
        return [Text(ctx.t(N_("The console is for association leaders and the center's staff.")))]
    if not ctx.config.public_base_url:  # a link LINE cannot open (a bare /console/link/…) helps nobody
        return [Text(ctx.t(N_("The console's web address is not set up yet, so no link can be made here. Please ask the center's staff to set PUBLIC_BASE_URL.")))]
    url = make_link(ctx.session, ctx.resident, ctx.config.public_base_url)
    return [Text(ctx.t(N_("Open the console with this link (valid for 15 minutes, once; do not share it):\n{url}"), url=url))]


ACTIONS: dict[str, Callable[[Ctx, dict], list[Reply]]] = {
    "read": do_read, "ans": do_answer, "av": do_answer_value, "full": do_full, "remind": do_remind,
    "paper": do_paper, "pmark": do_paper_mark, "status": lambda ctx, data: status(ctx),
}


def is_archive_word(ctx: Ctx) -> bool:
    if ctx.inbound.kind != InboundKind.MESSAGE or ctx.inbound.message_type != "text":
        return False
    text = normalize_text(ctx.inbound.text or "")
    if text in keywords(STATUS) | keywords(COMPOSE) | keywords(ROSTER) | keywords(CONSOLE):
        return False
    return any(text.startswith(kw) for kw in keywords(ARCHIVE))


FEATURE = Feature(
    name="circulars", postback="circ", actions=ACTIONS,
    words=(Word(STATUS, run=status), Word(COMPOSE, run=compose), Word(ROSTER, run=roster), Word(CONSOLE, run=console_link)),
    menu=(MenuItem("circulars", N_("Circulars"), 80, run=archive),),
    help=(HelpLine(N_("“Circulars”: your association's circulars; add a word to search"), 90),
          HelpLine(N_("“Write a circular”: send a circular to your members"), 10, leaders=True),
          HelpLine(N_("“Circular status”: who has read and answered; remind the rest"), 20, leaders=True),
          HelpLine(N_("“Roster”: households, paper households and block leaders"), 30, leaders=True),
          HelpLine(N_("“Console”: a link to the web console (circulars, roster, events)"), 50, leaders=True)),
    flows=("compose_circular", "roster"),
    rich_menu=(RichTile("circulars", N_("Circulars"), ARCHIVE, "#A23B2A", 40),),
    own_words=(ARCHIVE,),  # route circular_archive: the word and what to search for
)
