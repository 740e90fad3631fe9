"""Telling registered helpers about a new request that fits them: in their quiet hours the
notice waits for their morning, and nobody gets more than a few a day."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.services import aid_messages, mutual_aid
from bot.services import Outcome
from bot.core import quiet
from bot.core.config import Config
from bot.core.models import Area, HelperNotice, HelperProfile, HelpRequest, Resident
from bot.core.vocab import HelperDays, HelperTimes

TIME_SLOTS = {HelperTimes.MORNING: (5, 12), HelperTimes.AFTERNOON: (12, 17), HelperTimes.EVENING: (17, 22)}


def fits(profile: HelperProfile, helper: Resident, req: HelpRequest, req_area: Area | None, tz_name: str) -> bool:
    if req.category not in (profile.categories or []):
        return False
    if req_area is None or helper.area is None:
        return False
    if helper.area_id != req_area.id and not (profile.nearby and req_area.code in (helper.area.neighbours or [])):
        return False
    if req.when_at is not None:
        local = req.when_at.astimezone(ZoneInfo(tz_name))
        weekend = local.weekday() >= 5
        if (profile.days == HelperDays.WEEKDAYS and weekend) or (profile.days == HelperDays.WEEKENDS and not weekend):
            return False
        if profile.times in TIME_SLOTS:
            start, end = TIME_SLOTS[profile.times]
            if not start <= local.hour < end:
                return False
    return True


def notify_helpers(session: Session, config: Config, req: HelpRequest, now: datetime) -> Outcome:
    """A notice for every registered helper the request fits (facts["sent"]: how many)."""
    candidates = session.execute(
        select(HelperProfile, Resident)
        .join(Resident, Resident.id == HelperProfile.resident_id)
        .where(HelperProfile.notices.is_(True), Resident.following.is_(True), Resident.id != req.requester_id,
               Resident.consent_at.is_not(None))
    ).all()
    out = Outcome(facts={"sent": 0})
    for profile, helper in candidates:
        if not fits(profile, helper, req, req.area, config.tz_name):
            continue
        if mutual_aid.is_blocked(session, helper.id, req.requester_id):
            continue
        at = quiet.next_allowed(helper, now, config.tz_name)
        day = quiet.local_day(at, config.tz_name)
        today = session.scalar(
            select(func.count()).select_from(HelperNotice)
            .where(HelperNotice.helper_id == helper.id, HelperNotice.local_day == day)
        ) or 0
        if today >= config.helper_daily_cap:
            continue
        session.add(HelperNotice(helper_id=helper.id, request_id=req.id, local_day=day, created_at=now))
        card = aid_messages.helper_notice_card(req, helper.locale, config)
        out.tell(helper, card, not_before=at if at > now else None, dedupe_key=f"aid:notice:{req.id}:{helper.id}",
                 about=req.requester)
        out.facts["sent"] += 1
    session.flush()
    return out
