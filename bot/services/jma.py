"""Checks prepared from the JMA's feeds: an earthquake of the city's threshold intensity
(`JMA_MIN_INTENSITY`, 5弱 by default) or more in the city's areas (`JMA_AREA_CODES`), or a
特別警報 there (`JMA_SPECIAL_WARNINGS=1`), prepares one safety check for everyone, naming the
event, not sent: staff start it with one tap in the console (or `flask --app bot safety
start-prepared ID`), or it starts by itself when the city set `JMA_AUTO_START=1`. One event
prepares at most one check (`PreparedCheck.event_key`: the earthquake's EventID; a special
warning already prepared in the last two days is not prepared again while it continues).

The clock (`scheduler/jma_jobs.py`) fetches; these functions only decide and record."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.core import jma
from bot.core.config import Config
from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import JmaEntry, JmaFeed, PreparedCheck, SafetyCheck
from bot.core.vocab import JmaReportKind
from bot.services import Audit, Outcome, safety

WARNING_MEMORY = timedelta(days=2)  # a continuing 特別警報 is not prepared again within this
ENTRY_MEMORY = timedelta(days=14)  # feed entries are remembered this long (the feeds hold a few days)


class PreparedError(UserError):
    pass


def seen(session: Session, entry_ids: list[str]) -> set[str]:
    return set(session.scalars(select(JmaEntry.entry_id).where(JmaEntry.entry_id.in_(entry_ids)))) if entry_ids else set()


def feed_state(session: Session, url: str) -> JmaFeed | None:
    return session.scalar(select(JmaFeed).where(JmaFeed.url == url))


def record_feed(session: Session, url: str, now: datetime, *, etag: str | None = None,
                last_modified: str | None = None, error: str | None = None) -> None:
    row = feed_state(session, url)
    if row is None:
        row = JmaFeed(url=url)
        session.add(row)
    row.checked_at = now
    row.error = error[:200] if error else None
    if error is None:
        row.etag, row.last_modified = etag, last_modified


def mark_seen(session: Session, entry_id: str, now: datetime) -> None:
    if not seen(session, [entry_id]):
        session.add(JmaEntry(entry_id=entry_id[:300], seen_at=now))


def forget_old(session: Session, now: datetime) -> int:
    return session.execute(delete(JmaEntry).where(JmaEntry.seen_at < now - ENTRY_MEMORY)).rowcount or 0


def _event_of(session: Session, report: jma.Report, config: Config, now: datetime) -> tuple[str, dict] | None:
    """The event a report is about, if it calls for a check and none was prepared for it."""
    if not report.live:
        return None
    if report.kind == JmaReportKind.QUAKE:
        threshold = jma.intensity(config.jma_min_intensity) or "5-"
        if not (report.event_id and jma.at_least(report.max_int, threshold)):
            return None
        return f"eq:{report.event_id}", {"kind": JmaReportKind.QUAKE.value, "max_int": report.max_int, "places": report.places,
                                         "epicenter": report.epicenter, "event_id": report.event_id}
    if report.kind == JmaReportKind.WARNING and config.jma_special_warnings and report.warnings:
        recent = session.scalars(select(PreparedCheck.event).where(
            PreparedCheck.event_key.like("warn:%"), PreparedCheck.created_at >= now - WARNING_MEMORY))
        known = {code for ev in recent for code in ev.get("warnings") or []}
        new = [c for c in report.warnings if c not in known]
        if not new:
            return None
        return f"warn:{'+'.join(new)}:{report.report_time or now.isoformat()}", {
            "kind": JmaReportKind.WARNING.value, "warnings": new, "places": report.places}
    return None


def consider(session: Session, report: jma.Report, config: Config, now: datetime) -> Outcome:
    """Prepare a check for the report's event (and start it when JMA_AUTO_START is on).
    Facts: prepared (the PreparedCheck or None), started (the SafetyCheck or None)."""
    out = Outcome(facts={"prepared": None, "started": None})
    found = _event_of(session, report, config, now)
    if found is None:
        return out
    key, event = found
    if session.scalar(select(PreparedCheck.id).where(PreparedCheck.event_key == key)) is not None:
        return out  # the same event, from another document (震度速報, then 震源・震度に関する情報)
    prepared = PreparedCheck(event_key=key[:160], event=event, scope={"all": True}, created_at=now)
    session.add(prepared)
    session.flush()
    out.facts["prepared"] = prepared
    out.audit.append(Audit("prepare_safety_check", f"prepared_check:{prepared.id}", {"event": key}))
    if config.jma_auto_start:
        check, started = start(session, prepared, config, now, "jma")
        out.merge(started)
        out.facts["started"] = check
    return out


def open_prepared(session: Session) -> list[PreparedCheck]:
    """Prepared checks neither started nor dismissed, newest first."""
    return list(session.scalars(select(PreparedCheck).where(
        PreparedCheck.check_id.is_(None), PreparedCheck.dismissed_at.is_(None)).order_by(PreparedCheck.id.desc())))


def start(session: Session, prepared: PreparedCheck, config: Config, now: datetime, by: str) -> tuple[SafetyCheck, Outcome]:
    """Start a prepared check (once: a second tap finds it started)."""
    if prepared.check_id is not None or prepared.dismissed_at is not None:
        raise PreparedError(N_("This prepared safety check was already started or dismissed."))
    check, out = safety.start(session, prepared.scope, now, started_by=by, event=prepared.event,
                              default_locale=config.default_locale)
    prepared.check_id = check.id
    out.audit.append(Audit("start_prepared_check", f"prepared_check:{prepared.id}", {"check": check.id}))
    return check, out


def dismiss(session: Session, prepared: PreparedCheck, now: datetime, by: str) -> Outcome:
    if prepared.check_id is not None or prepared.dismissed_at is not None:
        raise PreparedError(N_("This prepared safety check was already started or dismissed."))
    prepared.dismissed_at, prepared.dismissed_by = now, by[:64]
    return Outcome(audit=[Audit("dismiss_prepared_check", f"prepared_check:{prepared.id}", {})])
