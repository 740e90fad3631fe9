"""Announcements from the center: to everyone or a segment, now, at a time or repeating; urgent
ones marked and sent through quiet hours; delivered in as few LINE calls as possible.

How a run is delivered (by the clock, so it happens once):

* A row in `announcement_run`, unique per (announcement, fire time): a job that runs twice finds
  it and sends nothing more.
* The audience is queued in chunks of `ANNOUNCEMENT_CHUNK` residents (in id order), each chunk in its
  own transaction together with the run's place (`cursor`) and the groups not yet full
  (`carry`): the worker starts sending the first multicasts while the clock queues the rest, a
  webhook never waits long for SQLite's lock, and a clock that dies goes on where it stopped.
  An audience of up to one chunk is queued in the transaction that starts the run.
* Residents who chose the daily digest get a digest item instead (not for urgent notices).
* The others are grouped by (language, the time their quiet hours allow; urgent: now) and
  queued as multicasts of 500, one outbox row each with its own retry key; a group of one is a
  push. When the audience is everyone, one message fits all, nobody is held back and every
  friend of the account has finished joining, a single broadcast does it: 1 call instead of
  ⌈N/500⌉, and the same quota.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import delete, exists, func, insert, or_
from sqlalchemy import null as sa_null
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import media
from bot.core import names as name_chain
from bot.core.areas import normalize_code
from bot.core.config import Config
from bot.core.errors import UserError
from bot.core.i18n import LANGUAGES, N_, t
from bot.core.models import (
    Announcement,
    AnnouncementRun,
    Area,
    Association,
    DigestItem,
    Media,
    Membership,
    OutboxMessage,
    Resident,
)
from bot.core.quiet import next_allowed
from bot.core.recurrence import Rule, next_after
from bot.core.replies import Image, Question, Reply, Text
from bot.core.vocab import AnnouncementStatus, Channel, OutboxKind, OutboxStatus, RunStatus, SendMethod
from bot.delivery import renderers
from bot.services import Audit, Bulk, Outcome, translated

log = logging.getLogger(__name__)

BATCH = 500  # LINE's multicast limit
READ_CHUNK = 5000
MAX_MISSED_RECORDED = 50

# Topics a resident can follow and an announcement can be aimed at.
TOPICS: dict[str, str] = {
    "disaster": N_("Disaster & safety"),
    "childcare": N_("Kids & families"),
    "seniors": N_("Seniors & care"),
    "events": N_("Events & culture"),
    "health": N_("Health"),
    "volunteering": N_("Volunteering"),
}
URGENT_MARK = N_("[URGENT]")


class AnnouncementError(UserError):
    pass


# -- the audience -----------------------------------------------------------------------------

def parse_audience(session: Session, specs: list[str]) -> dict[str, Any]:
    """`all`, `area:CODE`, `association:JOIN-CODE`, `lang:CODE`, `topic:CODE` (repeat or
    comma-separate). Within a kind any may match; across kinds all must."""
    out: dict[str, list[str]] = {}
    parts = [p.strip() for spec in specs for p in spec.split(",") if p.strip()]
    if not parts or parts == ["all"]:
        return {"all": True}
    for part in parts:
        kind, _, value = part.partition(":")
        kind = {"area": "areas", "association": "associations", "lang": "languages", "topic": "topics"}.get(kind, "")
        if not kind or not value:
            raise AnnouncementError(N_("Unknown audience “{spec}”: use all, area:CODE, association:CODE, lang:CODE or topic:CODE."),
                                    spec=part)
        if kind == "areas":
            code = _area_code(session, value)
            if code is None:
                raise AnnouncementError(N_("There is no area “{spec}”."), spec=value)
            value = code
        if kind == "associations":
            code = _association_code(session, value)
            if code is None:
                raise AnnouncementError(N_("There is no association “{spec}”."), spec=value)
            value = code
        if kind == "languages" and value not in LANGUAGES:
            raise AnnouncementError(N_("“{spec}” is not a language the bot speaks."), spec=value)
        if kind == "topics" and value not in TOPICS:
            raise AnnouncementError(N_("There is no topic “{spec}”."), spec=value)
        out.setdefault(kind, [])
        if value not in out[kind]:
            out[kind].append(value)
    return out


def _area_code(session: Session, value: str) -> str | None:
    """An area by its code or by its name in any language."""
    for area in session.scalars(select(Area)):
        if value == area.code or value in (area.names or {}).values():
            return area.code
    return None


def _association_code(session: Session, value: str) -> str | None:
    """An association by its join code or its name."""
    code = session.scalar(select(Association.join_code).where(Association.join_code == normalize_code(value)))
    return code or session.scalar(select(Association.join_code).where(Association.name == value.strip()))


def describe_audience(audience: dict[str, Any]) -> str:
    if audience.get("all"):
        return "all"
    return ", ".join(f"{k}: {'/'.join(v)}" for k, v in sorted(audience.items()))


@dataclass(frozen=True)
class Member:
    id: int
    user_id: str
    channel: str
    locale: str
    quiet: tuple[int | None, int | None]
    digest: bool


def _query(audience: dict[str, Any]):
    # Interests (JSON, costly to decode for a whole city) only when topics are asked for.
    interests = Resident.interests if audience.get("topics") else sa_null().label("interests")
    stmt = (
        select(Resident.id, Resident.line_user_id, Resident.channel, Resident.locale, Resident.quiet_start,
               Resident.quiet_end, Resident.digest, interests)
        .where(Resident.following.is_(True), Resident.consent_at.is_not(None))
        .order_by(Resident.id)
    )
    if audience.get("all"):
        return stmt
    if audience.get("areas"):
        stmt = stmt.where(Resident.area_id.in_(select(Area.id).where(Area.code.in_(audience["areas"]))))
    if audience.get("associations"):
        stmt = stmt.where(exists(
            select(Membership.id).join(Association, Association.id == Membership.association_id)
            .where(Membership.resident_id == Resident.id, Association.join_code.in_(audience["associations"]))))
    if audience.get("languages"):
        stmt = stmt.where(Resident.locale.in_(audience["languages"]))
    return stmt


def reaches(session: Session, ann: Announcement, resident: Resident) -> bool:
    """Whether `resident` is in the announcement's audience now (a button under it is theirs)."""
    audience = ann.audience or {}
    row = session.execute(_query(audience).where(Resident.id == resident.id)).first()
    if row is None:
        return False
    topics = set(audience.get("topics") or [])
    return not topics or bool(topics.intersection(row.interests or []))


def members(session: Session, audience: dict[str, Any]) -> Iterator[Member]:
    """The residents an announcement goes to, read in chunks."""
    topics = set(audience.get("topics") or [])
    result = session.execute(_query(audience).execution_options(yield_per=READ_CHUNK))
    for rid, uid, channel, locale, qs, qe, digest, interests in result:
        if topics and not topics.intersection(interests or []):
            continue
        yield Member(rid, uid, channel, locale if locale in LANGUAGES else "ja", (qs, qe), bool(digest))


def count(session: Session, audience: dict[str, Any]) -> dict[str, int]:
    """How many residents it would reach, by language (for the sender, before sending)."""
    out: dict[str, int] = {}
    if audience.get("topics"):  # interests are JSON: matched here, resident by resident
        for m in members(session, audience):
            out[m.locale] = out.get(m.locale, 0) + 1
        return out
    q = _query(audience).order_by(None).subquery()
    for locale, n in session.execute(select(q.c.locale, func.count()).group_by(q.c.locale)):
        key = locale if locale in LANGUAGES else "ja"
        out[key] = out.get(key, 0) + n
    return out


# -- the message ------------------------------------------------------------------------------

def machine_text(session: Session | None, config: Config | None, ann: Announcement, locale: str) -> str | None:
    """The announcement machine translated into `locale`, when it has no human translation in
    it and the city turned machine translation on (bot.services.translated); else None."""
    if (ann.translations or {}).get(locale):
        return None
    got = translated.content(session, config, [ann.text], locale)
    return got[0] if got else None


def text_for(ann: Announcement, locale: str, session: Session | None = None, config: Config | None = None) -> str:
    """What a resident of `locale` reads: their language, else (given a session and the config,
    with machine translation on) the machine's, else the second language, else the Japanese."""
    have = {loc for loc, text in (ann.translations or {}).items() if text}
    machine = machine_text(session, config, ann, locale)
    shown = name_chain.version_for(have, locale)
    note = t(locale, translated.MARK) if machine else name_chain.not_in_your_language(locale, shown)
    lines = []
    if ann.urgent:
        lines.append(t(locale, URGENT_MARK))
    lines.append(machine if machine else ann.text if shown == "ja" else ann.translations[shown])
    if note:
        lines.append(note)
    if ann.link_url:
        lines.append(ann.link_url)
    return "\n".join(lines)


def replies_for(session: Session, ann: Announcement, locale: str, config: Config) -> list[Reply]:
    text = text_for(ann, locale, session, config)
    machine = machine_text(session, config, ann, locale) is not None  # cached by text_for: no second call
    out: list[Reply] = [Question(text, (translated.original_choice(locale, translated.ANNOUNCEMENT, ann),))
                        if machine else Text(text)]
    pic = media.urls(config, session.get(Media, ann.image_id)) if ann.image_id else None
    if pic:
        out.append(Image(*pic))
    return out


# -- creating, cancelling ---------------------------------------------------------------------

def create(session: Session, *, text: str, audience: dict[str, Any], now: datetime, at: datetime | None = None,
           rule: Rule | None = None, translations: dict[str, str] | None = None, link: str | None = None,
           image_id: int | None = None, urgent: bool = False, created_by: str | None = None,
           tz_name: str = "Asia/Tokyo") -> tuple[Announcement, Outcome]:
    """A new announcement (from the console or the CLI), scheduled for `at` (default now), or by
    `rule` when it repeats; the clock sends it."""
    text = (text or "").strip()
    if not text or len(text) > 4000:
        raise AnnouncementError(N_("The text must have 1 to 4,000 characters."))
    if link and not link.startswith("https://"):
        raise AnnouncementError(N_("A link must start with https://."))
    for loc, tr in (translations or {}).items():
        if loc not in LANGUAGES or not isinstance(tr, str) or not tr.strip() or len(tr) > 4000:
            raise AnnouncementError(N_("A translation must be a text of 1 to 4,000 characters in a language the bot speaks ({spec})."),
                                    spec=str(loc))
    if rule is not None:
        first = at if at is not None and at > now else next_after(rule, now, tz_name)
    else:
        first = at or now
    if at is not None and rule is None and at < now - timedelta(minutes=1):
        raise AnnouncementError(N_("That time has already passed."))
    ann = Announcement(text=text, translations=dict(translations or {}), link_url=link, image_id=image_id,
                       audience=audience, urgent=urgent, rule=rule.to_json() if rule else None, status=AnnouncementStatus.SCHEDULED,
                       next_fire_at=first, created_by=created_by, created_at=now)
    session.add(ann)
    session.flush()
    return ann, Outcome(audit=[Audit("create_announcement", f"announcement:{ann.id}", {
        "urgent": urgent, "audience": audience, "rule": ann.rule,
        "first": ann.next_fire_at.isoformat() if ann.next_fire_at else None})])


def cancel(session: Session, ann: Announcement) -> Outcome:
    if ann.status != AnnouncementStatus.SCHEDULED:
        raise AnnouncementError(N_("Only an announcement that has not gone out yet can be cancelled."))
    ann.status = AnnouncementStatus.CANCELLED
    ann.next_fire_at = None
    return Outcome(audit=[Audit("cancel_announcement", f"announcement:{ann.id}")])


# -- firing -----------------------------------------------------------------------------------

def due(session: Session, now: datetime) -> bool:
    return session.scalar(select(exists().where(Announcement.status == AnnouncementStatus.SCHEDULED,
                                                Announcement.next_fire_at <= now))) or False


def fire_due(session: Session, config: Config, now: datetime, limit: int = 5) -> Outcome:
    """What has fallen due (at most `limit` announcements per transaction); `facts["runs"]`: the
    runs started or recorded as missed."""
    rows = list(session.scalars(
        select(Announcement)
        .where(Announcement.status == AnnouncementStatus.SCHEDULED, Announcement.next_fire_at <= now)
        .order_by(Announcement.next_fire_at).limit(limit).with_for_update(skip_locked=True)))
    runs: list[AnnouncementRun] = []
    out = Outcome(facts={"runs": runs})
    grace = timedelta(seconds=config.misfire_grace_seconds)
    for ann in rows:
        fire = ann.next_fire_at
        assert fire is not None
        rule = Rule.from_json(ann.rule) if ann.rule else None
        missed = 0
        while fire is not None and now - fire > grace:
            if missed < MAX_MISSED_RECORDED:
                runs.append(_record_missed(session, ann, fire, now))
            missed += 1
            fire = next_after(rule, fire, config.tz_name) if rule else None
        if missed:
            log.warning("announcement %s: %d run(s) missed beyond the grace window (clock not running?)", ann.id, missed)
        if fire is not None and fire <= now:
            runs.append(deliver(session, ann, fire, config, now, out))
            fire = next_after(rule, fire, config.tz_name) if rule else None
        ann.next_fire_at = fire
        if fire is None:
            ann.status = AnnouncementStatus.DONE
    return out


def _record_missed(session: Session, ann: Announcement, fire: datetime, now: datetime) -> AnnouncementRun:
    run = AnnouncementRun(announcement_id=ann.id, fire_time=fire, status=RunStatus.MISSED, created_at=now)
    session.add(run)
    return run


def deliver(session: Session, ann: Announcement, fire: datetime, config: Config, now: datetime,
            out: Outcome) -> AnnouncementRun:
    """Start one run of `ann` and add its first chunk of residents to `out` (all of them, for any
    audience of up to `config.announcement_chunk`); `queue_next_chunk` does the rest. A single
    broadcast, when it fits, is made here whole."""
    done = session.scalar(select(AnnouncementRun).where(AnnouncementRun.announcement_id == ann.id,
                                                        AnnouncementRun.fire_time == fire))
    if done is not None:  # this run was started before: nothing more (the unique key backs this)
        return done
    run = AnnouncementRun(announcement_id=ann.id, fire_time=fire, status=RunStatus.QUEUEING, created_at=now, cursor=0,
                          recipients=0, digested=0, calls=0)
    session.add(run)
    session.flush()
    everyone = _broadcast_audience(session, ann, config, now)
    if everyone is not None:
        # One message fits everyone, and every friend of the account gets it: one call.
        locale, when, people = everyone
        replies = _Messages(session, ann, config).get(locale)
        source = _source(run)
        out.bulks.append(Bulk(Channel.LINE, (), replies, source=source, at=when, dedupe_key=f"{source}:b",
                              rank=0 if ann.urgent else 1, kind=OutboxKind.BROADCAST))
        calls = len(renderers.render(Channel.LINE, replies))
        run.status, run.method, run.calls, run.recipients, run.cursor = RunStatus.QUEUED, SendMethod.BROADCAST, calls, people, None
        _log_run(ann, run)
        return run
    _queue_chunk(session, ann, run, config, now, out)
    return run


def queue_next_chunk(session: Session, config: Config, now: datetime, chunk: int | None = None) -> Outcome:
    """The next chunk of the oldest run still being queued, for this transaction (with the
    run's place, so a clock that dies in between goes on where the last commit left off).
    `facts["more"]` is False when there was nothing to do."""
    out = Outcome(facts={"more": False})
    run = session.scalars(select(AnnouncementRun).where(AnnouncementRun.status == RunStatus.QUEUEING)
                          .order_by(AnnouncementRun.id).limit(1).with_for_update(skip_locked=True)).first()
    if run is None:
        return out
    ann = session.get(Announcement, run.announcement_id)
    if ann is None:  # pragma: no cover - the run goes with its announcement (ON DELETE CASCADE)
        return out
    out.facts["more"] = True
    if now - run.fire_time > timedelta(seconds=config.misfire_grace_seconds):
        # The clock stopped in the middle for longer than the grace window: the rest is too late.
        run.status = RunStatus.MISSED
        run.carry = None
        log.warning("announcement %s: stopped after %d residents; the rest is beyond the grace window",
                    ann.id, run.recipients)
        return out
    _queue_chunk(session, ann, run, config, now, out, chunk)
    return out


def queueing(session: Session) -> bool:
    return session.scalar(select(exists().where(AnnouncementRun.status == RunStatus.QUEUEING))) or False


def _source(run: AnnouncementRun) -> str:
    return f"ann:{run.announcement_id}:{int(run.fire_time.timestamp())}"


def _log_run(ann: Announcement, run: AnnouncementRun) -> None:
    log.info("announcement %s: %d residents (%d in digests), %d LINE calls by %s", ann.id, run.recipients,
             run.digested, run.calls, run.method)


class _Messages:
    """The message per language, made once (and so rendered once per channel by `apply`)."""

    def __init__(self, session: Session, ann: Announcement, config: Config):
        self.session, self.ann, self.config = session, ann, config
        self._made: dict[str, tuple[Reply, ...]] = {}
        self._parts: dict[str, int] = {}

    def get(self, locale: str) -> tuple[Reply, ...]:
        if locale not in self._made:
            self._made[locale] = tuple(replies_for(self.session, self.ann, locale, self.config))
        return self._made[locale]

    def parts(self, channel: str, locale: str) -> int:
        """How many rows (LINE calls) one group's message makes."""
        key = f"{channel}:{locale}"
        if key not in self._parts:
            self._parts[key] = len(renderers.render(channel, self.get(locale)))
        return self._parts[key]


def _queue_chunk(session: Session, ann: Announcement, run: AnnouncementRun, config: Config, now: datetime,
                 out: Outcome, chunk: int | None = None) -> None:
    """Queue the next `chunk` residents of the audience after `run.cursor` (residents in id
    order). Full groups of 500 (language, send time) go out as multicasts; what is left of each
    group is carried in the run to the next chunk, so a city costs exactly ⌈N/500⌉ calls per
    language and send time. The last chunk queues what is left."""
    chunk = max(1, chunk or config.announcement_chunk)
    source = _source(run)
    messages = _Messages(session, ann, config)
    audience = ann.audience or {"all": True}
    topics = set(audience.get("topics") or [])
    rows = session.execute(_query(audience).where(Resident.id > (run.cursor or 0)).limit(chunk)).all()
    last = len(rows) < chunk

    # Where each quiet-hours setting puts the send time (computed once per setting).
    send_at_cache: dict[tuple[int | None, int | None], datetime] = {}

    # "Now" is the run's fire time, the same in every part, so groups carried from one part to
    # the next fill up instead of starting afresh.
    def send_at(quiet: tuple[int | None, int | None]) -> datetime:
        if ann.urgent:
            return run.fire_time
        if quiet not in send_at_cache:
            at = next_allowed(Resident(quiet_start=quiet[0], quiet_end=quiet[1]), now, config.tz_name)
            send_at_cache[quiet] = run.fire_time if at <= now else at
        return send_at_cache[quiet]

    groups: dict[tuple[str, str, datetime], list[str]] = {
        (ch, loc, datetime.fromisoformat(when)): list(ids)
        for ch, loc, when, ids in (run.carry or {}).get("groups", [])
    }
    digest_rows: list[dict[str, Any]] = []
    n = {"groups": 0, "rows": 0, "calls": 0, "people": 0, "digest": 0, "multi": 0}
    tag = f"{source}:{run.cursor or 0}"

    def flush_group(key: tuple[str, str, datetime], ids: list[str]) -> None:
        channel, locale, when = key
        n["groups"] += 1
        out.bulks.append(Bulk(channel, tuple(ids), messages.get(locale), source=source, at=when,
                              dedupe_key=f"{tag}:{n['groups']}", rank=0 if ann.urgent else 1))
        parts = messages.parts(channel, locale)
        n["rows"] += parts
        n["calls"] += parts if channel == Channel.LINE else 0
        n["multi"] += len(ids) > 1

    for rid, uid, channel, locale, qs, qe, digest, interests in rows:
        if topics and not topics.intersection(interests or []):
            continue
        locale = locale if locale in LANGUAGES else "ja"
        if digest and not ann.urgent:
            digest_rows.append({"resident_id": rid, "text": text_for(ann, locale), "created_at": now})
            n["digest"] += 1
            continue
        n["people"] += 1
        when = send_at((qs, qe))
        if channel != Channel.LINE:  # the local web chat: one resident at a time
            flush_group((Channel.WEB, locale, when), [uid])
            continue
        key = (Channel.LINE, locale, when)
        ids = groups.setdefault(key, [])
        ids.append(uid)
        if len(ids) >= BATCH:
            flush_group(key, ids)
            groups[key] = []
    if last:
        for key, ids in groups.items():
            if ids:
                flush_group(key, ids)
        run.carry = None
        run.cursor = None
        run.status = RunStatus.QUEUED
    else:
        run.carry = {"groups": [[ch, loc, when.isoformat(), ids] for (ch, loc, when), ids in groups.items() if ids]}
        run.cursor = rows[-1][0]
    if digest_rows:
        session.execute(insert(DigestItem.__table__), digest_rows)
    run.recipients = (run.recipients or 0) + n["people"]
    run.digested = (run.digested or 0) + n["digest"]
    run.calls = (run.calls or 0) + n["calls"]
    if n["multi"]:
        run.method = SendMethod.MULTICAST
    elif run.method is None and n["rows"]:
        run.method = SendMethod.PUSH
    if last:
        _log_run(ann, run)


def _broadcast_audience(session: Session, ann: Announcement, config: Config,
                        now: datetime) -> tuple[str, datetime, int] | None:
    """(language, send time, residents) when one broadcast reaches exactly this announcement's
    audience: everyone, in one language, at one time, nobody on a digest, and every friend of
    the account has finished joining in LINE. Else None (then multicasts)."""
    if not (ann.audience or {}).get("all"):
        return None
    joined = (Resident.following.is_(True), Resident.consent_at.is_not(None))
    # Most cities speak several languages: two of them end it at once, without reading everyone.
    if len(session.scalars(select(Resident.locale).where(*joined).distinct().limit(2)).all()) != 1:
        return None
    groups = session.execute(select(Resident.locale, Resident.quiet_start, Resident.quiet_end, Resident.digest,
                                    func.count()).where(*joined)
                             .group_by(Resident.locale, Resident.quiet_start, Resident.quiet_end, Resident.digest)).all()
    people = sum(g[4] for g in groups)
    if people < 2 * BATCH:  # a couple of multicasts cost no more than a broadcast
        return None
    if not ann.urgent and any(g[3] for g in groups):
        return None
    times = {now if ann.urgent else next_allowed(Resident(quiet_start=g[1], quiet_end=g[2]), now, config.tz_name)
             for g in groups}
    if len(times) != 1:
        return None
    # Anyone following who has not finished joining (or uses the web chat) would be missed or
    # reached without consent: then not.
    others = session.scalar(select(func.count()).select_from(Resident).where(
        Resident.following.is_(True), (Resident.consent_at.is_(None)) | (Resident.channel != Channel.LINE)))
    if others:
        return None
    locale = groups[0][0]
    return (locale if locale in LANGUAGES else "ja"), times.pop(), people


def history(session: Session, limit: int = 20) -> list[tuple[Announcement, list[AnnouncementRun], dict[str, int]]]:
    """Recent announcements, their runs, and the delivery status of their LINE calls."""
    out = []
    for ann in session.scalars(select(Announcement).order_by(Announcement.id.desc()).limit(limit)):
        runs = list(session.scalars(select(AnnouncementRun).where(AnnouncementRun.announcement_id == ann.id)
                                    .order_by(AnnouncementRun.fire_time)))
        status = dict(session.execute(
            select(OutboxMessage.status, func.count()).where(OutboxMessage.source.like(f"ann:{ann.id}:%"))
            .group_by(OutboxMessage.status)).all())
        out.append((ann, runs, status))
    return out


@dataclass(frozen=True)
class Held:
    """An announcement's messages waiting for residents' quiet hours to end."""

    residents: int  # residents not reached yet because of their quiet hours
    until: datetime  # the last of those quiet hours' ends: by then everyone has it


def held(session: Session, announcement_ids: list[int], now: datetime) -> dict[int, Held]:
    """Per announcement, the messages queued but held back to a later time (quiet hours): staff
    must not read "done" as "delivered"."""
    if not announcement_ids:
        return {}
    out: dict[int, Held] = {}
    rows = session.execute(
        select(OutboxMessage.source, OutboxMessage.next_attempt_at, func.json_array_length(OutboxMessage.recipients))
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at > now,
               or_(*[OutboxMessage.source.like(f"ann:{i}:%") for i in announcement_ids])))
    for source, at, n in rows:
        ann_id = int(source.split(":")[1])
        at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        old = out.get(ann_id)
        out[ann_id] = Held(residents=(old.residents if old else 0) + int(n or 0),
                           until=max(old.until, at) if old else at)
    return out


# -- the daily digest -------------------------------------------------------------------------

def digest_window(now: datetime, config: Config) -> bool:
    local = now.astimezone(ZoneInfo(config.tz_name))
    return local >= local.replace(hour=config.digest_hour, minute=0, second=0, microsecond=0)


def send_digests(session: Session, config: Config, now: datetime, limit: int = 2000) -> Outcome:
    """From the digest hour on, one message per resident with the notices gathered for them
    (queued and deleted in one transaction: sent once). `facts["residents"]`: how many."""
    out = Outcome(facts={"residents": 0})
    if not digest_window(now, config):
        return out

    local = now.astimezone(ZoneInfo(config.tz_name))
    today_start = local.replace(hour=config.digest_hour, minute=0, second=0, microsecond=0)
    # Items gathered before today's digest hour go out today; later ones tomorrow.
    cutoff = today_start.astimezone(now.tzinfo)
    ids = list(session.scalars(
        select(DigestItem.resident_id).where(DigestItem.created_at < cutoff).group_by(DigestItem.resident_id)
        .order_by(DigestItem.resident_id).limit(limit)))
    if not ids:
        return out
    items: dict[int, list[str]] = {}
    for rid, text in session.execute(select(DigestItem.resident_id, DigestItem.text).where(
            DigestItem.resident_id.in_(ids), DigestItem.created_at < cutoff).order_by(DigestItem.id)):
        items.setdefault(rid, []).append(text)
    for rid, uid, channel, locale, following in session.execute(
            select(Resident.id, Resident.line_user_id, Resident.channel, Resident.locale, Resident.following)
            .where(Resident.id.in_(ids))):
        if not following:
            continue
        head = t(locale, N_("Today's notices ({n}):"), n=len(items[rid]))
        msg = Text(head + "\n\n" + "\n\n―――\n\n".join(items[rid]))
        out.bulks.append(Bulk(channel, (uid,), (msg,), source="digest", at=now, rank=1, resident_id=rid))

    session.execute(delete(DigestItem).where(DigestItem.resident_id.in_(ids), DigestItem.created_at < cutoff)
                    .execution_options(synchronize_session=False))
    out.facts["residents"] = len(ids)
    return out
