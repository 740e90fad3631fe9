"""The dashboard: the figures a center's staff watch (followers by language and area, new this
week, blocked, the share of residents taking part in events, messages sent this month against
the quota); a leader sees their association's."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app, render_template
from sqlalchemy import func, inspect, select, text

from bot.console import bot, bp, current, pictures, require
from bot.core import timefmt
from bot.core.db import utcnow
from bot.core.i18n import LANGUAGES
from bot.core.models import AnnouncementRun, Area, Association, Circular, Membership, OutboxMessage, Resident
from bot.core.vocab import Channel, OutboxKind, OutboxStatus, RunStatus
from bot.services import events, garbage


def figures(s, config) -> dict:
    now = utcnow()
    local = now.astimezone(ZoneInfo(config.tz_name))
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    joined = Resident.consent_at.is_not(None)
    following = s.scalar(select(func.count()).select_from(Resident).where(Resident.following.is_(True), joined)) or 0
    by_lang = dict(s.execute(select(Resident.locale, func.count()).where(Resident.following.is_(True), joined)
                             .group_by(Resident.locale)).all())
    counts = s.execute(select(Resident.area_id, func.count(Resident.id)).where(
        Resident.following.is_(True), joined, Resident.area_id.is_not(None)).group_by(Resident.area_id)).all()
    names = {a.id: a.names for a in s.scalars(select(Area))}  # JSON cannot be grouped by on PostgreSQL
    by_area = sorted(((names.get(aid), n) for aid, n in counts), key=lambda x: -x[1])
    new_week = s.scalar(select(func.count()).select_from(Resident).where(joined, Resident.consent_at > now - timedelta(days=7))) or 0
    blocked = s.scalar(select(func.count()).select_from(Resident).where(Resident.following.is_(False))) or 0
    # Messages that count against LINE's monthly quota: pushes and multicasts (one per
    # recipient) and broadcasts (one per friend); replies are free.
    # Counted in the database: a city's month may hold thousands of multicasts of 500 ids.
    this_month = (OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.channel == Channel.LINE,
                  OutboxMessage.sent_at >= month_start.astimezone(now.tzinfo))
    broadcasts = s.scalar(select(func.count()).select_from(OutboxMessage).where(
        *this_month, OutboxMessage.kind == OutboxKind.BROADCAST)) or 0
    people = s.scalar(select(func.coalesce(func.sum(func.json_array_length(OutboxMessage.recipients)), 0)).where(
        *this_month, OutboxMessage.kind == OutboxKind.PUSH, OutboxMessage.reply_token.is_(None))) or 0
    sent = broadcasts * following + int(people)
    part = events.participation(s, local.year, config.tz_name)["all"]
    took, total = (part[0][1], part[0][2]) if part else (0, 0)
    return {
        "following": following, "by_lang": sorted(by_lang.items(), key=lambda kv: -kv[1]),
        "by_area": [((names or {}).get("ja") or "?", n) for names, n in by_area],
        "new_week": new_week, "blocked": blocked, "sent_month": sent, "quota": config.line_monthly_quota,
        "took_part": took, "residents": total, "year": local.year, "languages": LANGUAGES,
        "month": month_start.strftime("%Y-%m"),
    }


CLOCK_STALE = timedelta(minutes=3)  # the clock's minute job not run for this long: it is not running


def attention(s, now) -> dict:
    """What staff must know at once: the clock not running (nothing scheduled goes out),
    announcement runs missed in the last week, messages that could not be sent, a garbage
    calendar that has run out for some areas or lacks this year's year-end closures."""
    clock_seen = None
    if inspect(s.connection()).has_table("apscheduler_jobs"):
        # The clock's every-minute job: its next run in the past means no clock is running.
        nxt = s.execute(text("SELECT next_run_time FROM apscheduler_jobs WHERE id = 'daily_notices'")).scalar()
        if nxt is not None:
            clock_seen = datetime.fromtimestamp(float(nxt), timezone.utc)
    missed = s.scalar(select(func.count()).select_from(AnnouncementRun).where(
        AnnouncementRun.status == RunStatus.MISSED, AnnouncementRun.created_at > now - timedelta(days=7))) or 0
    failed = s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.DEAD)) or 0
    today = now.astimezone(ZoneInfo(bot().config.tz_name)).date()
    return {"clock_down": clock_seen is not None and now - clock_seen > CLOCK_STALE, "clock_seen": clock_seen,
            "missed": missed, "failed": failed, "garbage": garbage.attention(s, today)}


@bp.get("/")
@require()
def dashboard():
    p = current()
    with bot().db.read() as s:
        if p.is_staff:
            need = attention(s, utcnow())
            if need["clock_seen"] is not None:
                need["clock_seen"] = timefmt.show(need["clock_seen"], p.locale, bot().config.tz_name)
            f = figures(s, bot().config)
            return render_template("console/dashboard.html", f=f, associations=None, need=need,
                                   pictures=pictures.for_dashboard(s, bot().config), reports=_report_months(f["month"]))
        associations = []
        for assoc_id, han in p.scope.items():
            assoc = s.get(Association, assoc_id)
            members = s.scalar(select(func.count()).select_from(Membership).where(Membership.association_id == assoc_id)) or 0
            latest = [{"id": cid, "title": title} for cid, title in s.execute(
                select(Circular.id, Circular.title).where(Circular.association_id == assoc_id, Circular.sent_at.is_not(None),
                                                         *([Circular.han.is_(None) | (Circular.han == han)] if han else []))
                .order_by(Circular.sent_at.desc()).limit(5))]
            associations.append({"name": assoc.name if assoc else "?", "han": han, "members": members, "circulars": latest})
        shown = pictures.for_dashboard(s, bot().config)
    return render_template("console/dashboard.html", f=None, associations=associations, pictures=shown,
                           circular_page="console.circular" in current_app.view_functions)


def _report_months(month: str) -> list[tuple[int, int]]:
    """(year, month) of this month's report and last month's."""
    year, mon = (int(x) for x in month.split("-"))
    return [(year, mon), (year - 1, 12) if mon == 1 else (year, mon - 1)]
