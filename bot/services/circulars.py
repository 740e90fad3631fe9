"""Electronic circulars (電子回覧板): who gets one, delivery in as few LINE calls as possible,
read and answer, the tally per household (paper households included) and reminders.

Delivery sends one identical notice per language to up to 500 members per multicast; the
per-member web link is only given when a member asks for the full text, so the notices stay
identical and batchable."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from bot.core import names as name_chain
from bot.core import csvout, media, timefmt
from bot.core.config import Config
from bot.core.db import bulk_insert
from bot.core.errors import UserError
from bot.core.i18n import N_, t
from bot.core.models import Association, Circular, CircularRecipient, Household, Media, Membership, Resident, shown_label
from bot.core.refs import ref
from bot.core.replies import Card, Choice, postback
from bot.core.vocab import Channel, CircularQuestion, ReadPer, Role
from bot.services import Audit, Bulk, Outcome, translated

BATCH = 500  # LINE's multicast limit
DEADLINE_MAX = timedelta(days=366)  # a deadline is for this year's business, not later
INSERT_CHUNK = 5000
ATTENDANCE = (N_("Attending"), N_("Not attending"), N_("Not sure yet"))


class CircularError(UserError):
    pass


def answer_options(circ: Circular, locale: str, fallback: str | None = None) -> list[str]:
    """The answer choices as a reader of `locale` sees them, in the order they are kept (a
    button names its choice by position; the answer is stored in the sender's Japanese). Own
    choices are shown in the language the circular is shown in, when the sender translated them."""
    if circ.question == CircularQuestion.ATTENDANCE:
        return [t(locale, a) for a in ATTENDANCE]
    if circ.question == CircularQuestion.CHOICES:
        original = list(circ.choices or [])
        if locale == "ja":
            return original
        tr = (circ.translations or {}).get(_shown(circ, locale, fallback)) or {}
        translated = tr.get("choices") or []
        return list(translated) if len(translated) == len(original) else original
    return []


def answer_shown(circ: Circular, stored: str, locale: str, fallback: str | None = None) -> str:
    """A kept answer (the sender's Japanese) as a reader of `locale` sees it."""
    original = answer_options(circ, "ja")
    if stored in original:
        return answer_options(circ, locale, fallback)[original.index(stored)]
    return stored


def missing_choice_translations(circ: Circular) -> list[str]:
    """Languages the circular is translated into whose own answer choices are not."""
    if circ.question != CircularQuestion.CHOICES:
        return []
    n = len(circ.choices or [])
    return sorted(loc for loc, tr in (circ.translations or {}).items() if len(tr.get("choices") or []) != n)


def text_in(circ: Circular, locale: str) -> tuple[str, str, bool]:
    """(title, body, translated?) for a reader: the sender's translation, or the Japanese."""
    tr = (circ.translations or {}).get(locale)
    if locale == "ja" or (tr and tr.get("title") and tr.get("body")):
        return (tr["title"], tr["body"], True) if locale != "ja" else (circ.title, circ.body, True)
    return circ.title, circ.body, False


def _shown(circ: Circular, locale: str, fallback: str | None = None) -> str:
    have = {loc for loc, tr in (circ.translations or {}).items() if tr and tr.get("title") and tr.get("body")}
    return name_chain.version_for(have, locale, fallback)


def machine_text(circ: Circular, locale: str, session: Session | None, config: Config | None) -> tuple[str, str] | None:
    """(title, body) machine translated into `locale`, when the circular has no translation in it
    and the city turned machine translation on (bot.services.translated); else None."""
    tr = (circ.translations or {}).get(locale)
    if tr and tr.get("title") and tr.get("body"):
        return None
    got = translated.content(session, config, [circ.title, circ.body], locale)
    return (got[0], got[1]) if got else None


def for_reader(circ: Circular, locale: str, fallback: str | None = None, session: Session | None = None,
               config: Config | None = None) -> tuple[str, str, str | None]:
    """(title, body, note) as a resident of `locale` reads it: their language, else (given a
    session and the config, with machine translation on) the machine's, else the city's second
    language, else the Japanese; `note` says when it is not in their language."""
    machine = machine_text(circ, locale, session, config)
    if machine:
        return machine[0], machine[1], t(locale, translated.MARK)
    shown = _shown(circ, locale, fallback)
    title, body = (circ.title, circ.body) if shown == "ja" else (circ.translations[shown]["title"], circ.translations[shown]["body"])
    return title, body, name_chain.not_in_your_language(locale, shown)


def photo(session: Session, circ: Circular, config: Config) -> tuple[str, str] | None:
    """(full, preview) URLs of the circular's photo, if it has one."""

    return media.urls(config, session.get(Media, circ.image_id)) if circ.image_id else None


NOTICE_TEXT = 300  # characters of a circular shown in its notice; a longer one is opened to read it all


def notice(circ: Circular, locale: str, config: Config, association: str, image: str | None = None,
           session: Session | None = None) -> Card:
    """The short notice every member gets: identical for everyone reading that language (machine
    translated only when given the session, and machine translation is on)."""
    title, body, note = for_reader(circ, locale, config.fallback_language, session, config)
    lines = [t(locale, N_("Circular from {association}"), association=association)]
    if circ.deadline:
        lines.append(t(locale, N_("Please read by {date}"), date=timefmt.show(circ.deadline, locale, config.tz_name)))
    whole = len(body) <= NOTICE_TEXT
    lines.append("\n" + (body if whole else body[:NOTICE_TEXT - 20].rstrip() + "…"))  # the text itself, not only its title
    if note:
        lines.append(note)
    # 「読みました」 only under the whole text: a long one is read with 「全文を読む」 first.
    buttons = [Choice(t(locale, N_("I have read it")), postback(a="circ", x="read", c=ref(circ)))] if whole else []
    if circ.question != CircularQuestion.NONE:
        buttons.append(Choice(t(locale, N_("Answer")), postback(a="circ", x="ans", c=ref(circ))))
    buttons.insert(0 if not whole else len(buttons), Choice(t(locale, N_("Read it all")), postback(a="circ", x="full", c=ref(circ))))
    if machine_text(circ, locale, session, config):
        buttons.append(translated.original_choice(locale, translated.CIRCULAR, circ))
    return Card(title=title, body="\n".join(lines), buttons=tuple(buttons), image=image)


def association_name(session: Session, circ: Circular, locale: str = "ja", fallback: str = "en") -> str:
    """The circular's association, as a resident of `locale` reads its name (bot.core.names)."""
    assoc = session.get(Association, circ.association_id)
    return assoc.shown(locale, fallback) if assoc else ""


def audience(session: Session, circ: Circular) -> tuple[list[tuple[int, str, str, str, int | None]], list[int]]:
    """The members in LINE (id, LINE user id, channel, locale, household) and the paper
    households a circular goes to."""
    stmt = (
        select(Resident.id, Resident.line_user_id, Resident.channel, Resident.locale, Membership.household_id)
        .join(Membership, Membership.resident_id == Resident.id)
        .outerjoin(Household, Household.id == Membership.household_id)
        .where(Membership.association_id == circ.association_id, Resident.following.is_(True),
               Resident.consent_at.is_not(None))
    )
    paper = select(Household.id).where(Household.association_id == circ.association_id, Household.paper.is_(True))
    if circ.han:
        stmt = stmt.where(Household.han == circ.han)
        paper = paper.where(Household.han == circ.han)
    return [tuple(r) for r in session.execute(stmt)], list(session.scalars(paper))


def create_and_send(session: Session, values: dict, config: Config, now: datetime, *,
                    created_by_id: int | None = None) -> tuple[Circular, dict[str, int], Outcome]:
    """A new circular from any front end (LINE's compose flow, the console, the CLI), sent at
    once: the same columns, the same audit entry. `values`: Circular columns."""
    circ = Circular(**values, created_by_id=created_by_id, created_at=now)
    session.add(circ)
    session.flush()
    out = send(session, circ, config, now)
    sent = out.facts
    out.audit.append(Audit("send_circular", f"circular:{circ.id}", {
        "association": circ.association_id, "han": circ.han, "members": sent["members"],
        "paper": sent["paper_households"], "photo": circ.image_id is not None,
        "translations": sorted(circ.translations or {})}))
    return circ, sent, out


def send(session: Session, circ: Circular, config: Config, now: datetime) -> Outcome:
    """Record the recipients; the notices go one multicast per 500 members per language.
    Facts: members, paper_households, messages."""
    if circ.sent_at is not None:
        raise CircularError(N_("This circular has already been sent."))
    members, paper = audience(session, circ)
    # Recipients go in through Core (COPY on PostgreSQL): a city-wide circular stays small in
    # memory and quick.
    everyone = [(rid, hh) for rid, _, _, _, hh in members] + [(None, hh) for hh in paper]
    bulk_insert(session, CircularRecipient.__table__,
                ("circular_id", "resident_id", "household_id", "token", "marked_by_leader"),
                ((circ.id, rid, hh, secrets.token_urlsafe(24), False) for rid, hh in everyone), chunk=INSERT_CHUNK)
    if circ.created_by_id is not None:  # the leader who wrote it has read it (and so has her household)
        session.execute(update(CircularRecipient).where(CircularRecipient.circular_id == circ.id,
                                                        CircularRecipient.resident_id == circ.created_by_id)
                        .values(read_at=now).execution_options(synchronize_session=False))
    variants: dict[tuple[str, str], list[str]] = {}
    for _, user_id, channel, locale, _ in members:
        variants.setdefault((channel, locale), []).append(user_id)
    out = Outcome()
    calls = 0
    pic = photo(session, circ, config)
    for (channel, locale), ids in sorted(variants.items()):
        name = association_name(session, circ, locale, config.fallback_language)
        card = (notice(circ, locale, config, name, pic[0] if pic else None, session),)
        step = BATCH if channel == Channel.LINE else 1
        for i in range(0, len(ids), step):
            out.bulks.append(Bulk(channel, tuple(ids[i:i + step]), card, source=f"circ:{circ.id}",
                                  dedupe_key=f"circ:{circ.id}:{channel}:{locale}:{i // step}"))
            calls += 1
    circ.sent_at = now
    session.flush()
    out.facts.update(members=len(members), paper_households=len(paper), messages=calls)
    return out


CSV_HEADER = ["世帯", "班", "表示名", "既読", "回答", "紙"]


def status_rows(session: Session, circ: Circular, han: str | None = None) -> list[tuple]:
    """One row per recipient: (household label, 班, nickname, read at, answer, marked by a
    leader), by 班 and household; `han` narrows it to one 班."""
    stmt = (
        select(Household.label, Household.han, Resident.nickname, CircularRecipient.read_at,
               CircularRecipient.answer, CircularRecipient.marked_by_leader)
        .select_from(CircularRecipient)
        .outerjoin(Household, Household.id == CircularRecipient.household_id)
        .outerjoin(Resident, Resident.id == CircularRecipient.resident_id)
        .where(CircularRecipient.circular_id == circ.id)
        .order_by(Household.han, Household.label)
    )
    return [tuple(r) for r in session.execute(stmt) if not han or r[1] == han]


def status_csv(session: Session, circ: Circular, han: str | None = None) -> bytes:
    """The status CSV for the CLI and the console (bot.core.csvout: UTF-8 with BOM, no formulas)."""
    return csvout.to_bytes(CSV_HEADER, (
        [label or "", h or "", nick or "", "済" if read_at else "", answer or "", "紙" if paper else ""]
        for label, h, nick, read_at, answer, paper in status_rows(session, circ, han)))


def paper_households(session: Session, circ: Circular, han: str | None = None) -> list[tuple]:
    """(label, 班, read at, answer) of the paper households on the circular."""
    stmt = (
        select(Household.label, Household.han, CircularRecipient.read_at, CircularRecipient.answer)
        .join(CircularRecipient, CircularRecipient.household_id == Household.id)
        .where(CircularRecipient.circular_id == circ.id, CircularRecipient.resident_id.is_(None))
        .order_by(Household.han, Household.label)
    )
    if han:
        stmt = stmt.where(Household.han == han)
    return [tuple(r) for r in session.execute(stmt)]


@cache
def _recipient_stmt():
    return select(CircularRecipient).where(CircularRecipient.circular_id == bindparam("c"),
                                           CircularRecipient.resident_id == bindparam("r"))


@cache
def _mark_read_stmt():
    return (update(CircularRecipient).where(CircularRecipient.id == bindparam("row_id"), CircularRecipient.read_at.is_(None))
            .values(read_at=bindparam("now")).execution_options(synchronize_session=False))


def recipient(session: Session, circ_id: int, resident: Resident) -> CircularRecipient:
    row = session.scalar(_recipient_stmt(), {"c": circ_id, "r": resident.id})
    if row is None:
        raise CircularError(N_("That circular was not found."))
    return row


def mark_read(session: Session, row: CircularRecipient, now: datetime) -> bool:
    """Record the reading once. True the first time."""
    done = session.execute(_mark_read_stmt(), {"row_id": row.id, "now": now}).rowcount
    return bool(done)


def set_answer(session: Session, circ: Circular, row: CircularRecipient, value: str, now: datetime) -> None:
    if circ.deadline is not None and circ.deadline < now:
        raise CircularError(N_("The deadline for answers has passed."))
    row.answer, row.answered_at = value[:100], now
    if row.read_at is None:
        row.read_at = now
    session.flush()


@dataclass
class Tally:
    households: int = 0
    read: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    unread: list[str] = field(default_factory=list)  # household labels (or member names) not yet read
    answered: dict[str, list[str]] = field(default_factory=dict)  # answer -> who gave it (labels, as unread)


def household_status(session: Session, circ: Circular, han: str | None = None) -> list[dict]:
    """One row per household (or per member, when the association counts members; a paper
    household is always one row): label, 班, household id, paper?, members, first read, latest
    answer, marked by a leader. `han` narrows it to one 班 (a 班長's view)."""
    assoc = session.get(Association, circ.association_id)
    per_member = assoc is not None and assoc.read_per == ReadPer.MEMBER
    stmt = (
        select(CircularRecipient.id, CircularRecipient.household_id, CircularRecipient.resident_id,
               CircularRecipient.read_at, CircularRecipient.answer, CircularRecipient.answered_at,
               CircularRecipient.marked_by_leader, Household.label, Household.han, Resident.nickname, Household.names)
        .outerjoin(Household, Household.id == CircularRecipient.household_id)
        .outerjoin(Resident, Resident.id == CircularRecipient.resident_id)
        .where(CircularRecipient.circular_id == circ.id)
    )
    if han:
        stmt = stmt.where(Household.han == han)
    groups: dict[object, dict] = {}
    for rid, hh, resident_id, read_at, answer, answered_at, marked, label, h, nickname, names in session.execute(stmt):
        key = ("m", rid) if per_member or hh is None else ("h", hh)
        g = groups.setdefault(key, {"label": (nickname if per_member else label) or nickname or label or "-",
                                    "names": None if per_member or hh is None else (names or {}),
                                    "han": h, "household_id": hh, "paper": False, "members": [],
                                    "read_at": None, "answer": None, "answered_at": None, "marked": False})
        if resident_id is None:
            g["paper"] = True
        elif nickname:
            g["members"].append(nickname)
        if read_at and (g["read_at"] is None or read_at < g["read_at"]):
            g["read_at"] = read_at
        if answer and (g["answered_at"] is None or (answered_at and answered_at > g["answered_at"])):
            g["answer"], g["answered_at"] = answer, answered_at
        g["marked"] = g["marked"] or marked
    return sorted(groups.values(), key=lambda g: (g["han"] or "\uffff", g["label"]))


def tally(session: Session, circ: Circular, han: str | None = None, locale: str = "ja", fallback: str = "en") -> Tally:
    """Read and answers per household (or per member, as the association counts): LINE and
    paper households in one tally. `han` narrows it to one 班 (a 班長's view); the unread are
    named as a reader of `locale` reads the households' labels."""
    groups = household_status(session, circ, han)
    out = Tally(households=len(groups))
    for g in groups:
        # a household's label in the reader's language; a member's nickname as they chose it
        shown = g["label"] if g["names"] is None else shown_label(g["label"], g["names"], locale, fallback)
        if g["read_at"] is not None:
            out.read += 1
        else:
            out.unread.append(shown)
        if g["answer"]:
            out.answers[g["answer"]] = out.answers.get(g["answer"], 0) + 1
            out.answered.setdefault(g["answer"], []).append(shown)
    return out


def remind_unread(session: Session, circ: Circular, config: Config, now: datetime) -> Outcome:
    """A reminder to the members (in LINE) whose household has not read it; once a day at most.
    Facts: `reminded` (members)."""
    today = now.astimezone(ZoneInfo(config.tz_name)).date().isoformat()
    if circ.last_reminded_on == today:
        raise CircularError(N_("A reminder for this circular was already sent today."))
    assoc = session.get(Association, circ.association_id)
    per_member = assoc is not None and assoc.read_per == ReadPer.MEMBER
    read_households = select(CircularRecipient.household_id).where(
        CircularRecipient.circular_id == circ.id, CircularRecipient.read_at.is_not(None),
        CircularRecipient.household_id.is_not(None))
    stmt = (
        select(Resident.line_user_id, Resident.channel, Resident.locale)
        .join(CircularRecipient, CircularRecipient.resident_id == Resident.id)
        .where(CircularRecipient.circular_id == circ.id, CircularRecipient.read_at.is_(None),
               Resident.following.is_(True))
    )
    if not per_member:
        stmt = stmt.where(~and_(CircularRecipient.household_id.is_not(None),
                                CircularRecipient.household_id.in_(read_households)))
    variants: dict[tuple[str, str], list[str]] = {}
    for user_id, channel, locale in session.execute(stmt):
        variants.setdefault((channel, locale), []).append(user_id)
    out = Outcome()
    n = 0
    pic = photo(session, circ, config) if variants else None
    for (channel, locale), ids in variants.items():
        card = notice(circ, locale, config, assoc.shown(locale, config.fallback_language) if assoc else "",
                      pic[0] if pic else None, session)
        card = Card(title=t(locale, N_("Reminder: {title}"), title=card.title), body=card.body, buttons=card.buttons)
        step = BATCH if channel == Channel.LINE else 1
        for i in range(0, len(ids), step):
            out.bulks.append(Bulk(channel, tuple(ids[i:i + step]), (card,), source=f"circ:{circ.id}",
                                  dedupe_key=f"circ:{circ.id}:remind:{today}:{channel}:{locale}:{i // step}"))
        n += len(ids)
    circ.last_reminded_on = today
    session.flush()
    out.facts["reminded"] = n
    out.audit.append(Audit("remind_circular", f"circular:{circ.id}", {"members": n}))
    return out


def _paper_row(session: Session, circ: Circular, household: Household) -> CircularRecipient:
    row = session.scalar(select(CircularRecipient).where(CircularRecipient.circular_id == circ.id,
                                                         CircularRecipient.household_id == household.id,
                                                         CircularRecipient.resident_id.is_(None)))
    if row is None:
        raise CircularError(N_("That household is not on this circular's paper list."))
    return row


def mark_paper(session: Session, circ: Circular, household: Household, *, answer: str | None,
               now: datetime) -> Outcome:
    """The leader marks a paper household's sign-off by hand."""
    row = _paper_row(session, circ, household)
    row.read_at = row.read_at or now
    row.marked_by_leader = True
    if answer:
        row.answer, row.answered_at = answer[:100], now
    session.flush()
    return Outcome(audit=[Audit("mark_paper", f"circular:{circ.id}", {"household": household.id, "answer": answer})])


@dataclass(frozen=True)
class PaperMark:
    """A paper household's mark as it was before it was undone."""
    read_at: datetime | None
    answer: str | None


def unmark_paper(session: Session, circ: Circular, household: Household) -> tuple[PaperMark | None, Outcome]:
    """Undo a mark made by mistake: the paper household counts as not read, and without an
    answer, again (as before `mark_paper`). Returns the mark undone, or None when the household
    was not marked (nothing changes)."""
    row = _paper_row(session, circ, household)
    if row.read_at is None and not row.marked_by_leader and row.answer is None:
        return None, Outcome()
    undone = PaperMark(read_at=row.read_at, answer=row.answer)
    row.read_at = row.answer = row.answered_at = None
    row.marked_by_leader = False
    session.flush()
    return undone, Outcome(audit=[Audit("unmark_paper", f"circular:{circ.id}", {
        "household": household.id, "answer": undone.answer,
        "read_at": undone.read_at.isoformat() if undone.read_at else None})])


def latest_for(session: Session, resident: Resident, word: str | None = None, limit: int = 5) -> list[Circular]:
    stmt = (
        select(Circular).join(CircularRecipient, CircularRecipient.circular_id == Circular.id)
        .where(CircularRecipient.resident_id == resident.id).order_by(Circular.sent_at.desc(), Circular.id.desc())
    )
    if word:
        like = f"%{word}%"
        stmt = stmt.where(Circular.title.ilike(like) | Circular.body.ilike(like))
    return list(session.scalars(stmt.limit(limit)))


def led_by(session: Session, resident: Resident) -> list[tuple[int, str | None]]:
    """(association, 班 or None) the resident may see tallies for: a 会長 the whole association,
    a 班長 their 班 only."""
    out = []
    rows = session.execute(
        select(Membership.association_id, Membership.role, Household.han)
        .outerjoin(Household, Household.id == Membership.household_id)
        .where(Membership.resident_id == resident.id, Membership.role.in_([Role.LEADER, Role.HAN_LEADER]))
    )
    for assoc_id, role, han in rows:
        if role == Role.LEADER:
            out.append((assoc_id, None))
        elif han:
            out.append((assoc_id, han))
    return out


def count_sent(session: Session, association_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Circular).where(Circular.association_id == association_id)) or 0
