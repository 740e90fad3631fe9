"""Personal reminders: a resident types 「毎週火曜 7:00 燃えるごみ」 or 「12/24 10:00 町内清掃」 and is
reminded then (bot.core.recurrence reads it). The clock sends what falls due.

A reminder is the resident's own choice of time, so it is sent then, quiet hours or not, and
never held for the digest. Reminders with the same words in the same language falling due
together go as one multicast (e.g. a street's 「燃えるごみ」 at 7:00)."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, exists, func, select, update
from sqlalchemy.orm import Session

from bot.services import Outcome
from bot.core import answers
from bot.core.config import Config
from bot.core.errors import UserError
from bot.core.i18n import N_, t
from bot.core.models import Reminder, Resident
from bot.core.recurrence import ParseError, Rule, describe, next_after, parse
from bot.core.replies import Choice, Question, postback

log = logging.getLogger(__name__)

TITLE_MAX = 100


class ReminderError(UserError):
    pass


def read(text: str, now: datetime, tz_name: str, locale: str | None = None) -> tuple[Rule, str]:
    """What the resident typed → (rule, title), or a ReminderError in their words. Written in
    Japanese or English, or in `locale`'s words ("mỗi thứ ba 7 giờ sáng đổ rác",
    「每周二早上7点 扔垃圾」; bot.core.answers.schedule), the title kept as they wrote it."""
    try:
        rule, title = parse(text, now, tz_name)
    except ParseError as exc:
        rewritten = answers.schedule(text, locale)
        if rewritten is None:
            raise ReminderError(exc.reason) from None
        try:
            rule, title = parse(rewritten[0], now, tz_name)
        except ParseError as again:  # its reason names what is missing from what was read
            raise ReminderError(again.reason) from None
        title = answers.original_span(title, rewritten[0], rewritten[1], text) or title
    if len(title) > TITLE_MAX:
        raise ReminderError(N_("Please keep it under {max} characters (it is {n} now)."), max=TITLE_MAX, n=len(title))
    return rule, title


def create(session: Session, resident: Resident, rule: Rule, title: str, now: datetime, config: Config) -> Reminder:
    n = session.scalar(select(func.count()).select_from(Reminder).where(Reminder.resident_id == resident.id)) or 0
    if n >= config.reminder_limit:
        raise ReminderError(N_("You have {n} reminders, the most there can be. Please delete one first."), n=n)
    first = next_after(rule, now, config.tz_name)
    if first is None:
        raise ReminderError(N_("That time has already passed."))
    rem = Reminder(resident_id=resident.id, title=title, rule=rule.to_json(), next_fire_at=first, created_at=now)
    session.add(rem)
    session.flush()
    return rem


def of(session: Session, resident: Resident) -> list[Reminder]:
    return list(session.scalars(select(Reminder).where(Reminder.resident_id == resident.id)
                                .order_by(Reminder.next_fire_at.is_(None), Reminder.next_fire_at, Reminder.id)))


def remove(session: Session, resident: Resident, reminder_id: int) -> Reminder:
    rem = session.get(Reminder, reminder_id)
    if rem is None or rem.resident_id != resident.id:
        raise ReminderError(N_("That reminder is already gone."))
    session.delete(rem)
    return rem


def describe_one(rem: Reminder, locale: str) -> str:
    return f"{describe(Rule.from_json(rem.rule), locale)}「{rem.title}」"


# -- the clock --------------------------------------------------------------------------------

def due(session: Session, now: datetime) -> bool:
    return session.scalar(select(exists().where(Reminder.next_fire_at <= now))) or False


def message(locale: str, title: str) -> Question:
    return Question(t(locale, N_("⏰ Reminder: {title}"), title=title),
                    (Choice(t(locale, N_("My reminders")), postback(a="rem", x="list")),))


def fire_due(session: Session, config: Config, now: datetime, limit: int = 1000) -> Outcome:
    """The reminders due by `now` (up to `limit` per transaction), each moved to its next time.
    Facts: `handled` (reminders) and `sent` (residents told): a reminder of a resident who left,
    or later than the grace window (the clock was stopped), is moved on without being sent."""
    rows = session.execute(
        select(Reminder.id, Reminder.title, Reminder.rule, Reminder.next_fire_at, Resident.line_user_id,
               Resident.channel, Resident.locale, Resident.following)
        .join(Resident, Resident.id == Reminder.resident_id)
        .where(Reminder.next_fire_at <= now)
        .order_by(Reminder.next_fire_at, Reminder.id).limit(limit)
        .with_for_update(skip_locked=True, of=Reminder)
    ).all()
    if not rows:
        return Outcome(facts={"handled": 0, "sent": 0})
    grace = timedelta(seconds=config.misfire_grace_seconds)
    groups: dict[tuple[str, str, str], list[str]] = {}
    moves = []
    late = 0
    nexts: dict[tuple[str, datetime], datetime | None] = {}  # many share a rule and a time (7:00 daily)
    for rid, title, rule_json, fire, user_id, channel, locale, following in rows:
        key = (rule_json if isinstance(rule_json, str) else json.dumps(rule_json, sort_keys=True, default=str), fire)
        if key in nexts:
            nxt = nexts[key]
        else:
            rule = Rule.from_json(rule_json)
            nxt = next_after(rule, fire, config.tz_name)
            while nxt is not None and nxt <= now:  # skip what was missed while the clock was down
                nxt = next_after(rule, nxt, config.tz_name)
            nexts[key] = nxt
        moves.append({"rid": rid, "nxt": nxt})
        if now - fire > grace:
            late += 1
            continue
        if following:
            groups.setdefault((channel, locale, title), []).append(user_id)
    keep = [m for m in moves if m["nxt"] is not None]
    if keep:
        table = Reminder.__table__
        session.execute(update(table).where(table.c.id == bindparam("rid")).values(next_fire_at=bindparam("nxt")), keep)
    done = [m["rid"] for m in moves if m["nxt"] is None]  # one-off reminders, now sent
    if done:
        session.execute(delete(Reminder).where(Reminder.id.in_(done)).execution_options(synchronize_session=False))
    out = Outcome(facts={"handled": len(rows)})
    out.facts["sent"] = out.tell_many(groups, lambda locale, title: [message(locale, title)], source="rem", at=now)
    if late:
        log.warning("reminders: %d were later than the grace window and were not sent", late)
    return out
