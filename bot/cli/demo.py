"""Demo residents for the local web chat (channel "web"). Never used with a LINE channel."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.db import utcnow
from bot.core.models import Area, Association, Membership, Resident
from bot.core.vocab import Channel, Role

# (id, nickname, locale, area code, association join code); None nickname: not yet joined.
DEMO_RESIDENTS = (
    ("web-demo-new", None, "ja", None, None),
    ("web-demo-hanako", "はなこ", "ja", "asahi-1", "ASAHI-2026"),
    ("web-demo-alex", "Alex", "en", "asahi-2", "ASAHI-2026"),  # next to はなこ: they can help each other
)


def seed(session: Session) -> list[str]:
    now = utcnow()
    names = []
    for user_id, nickname, locale, area_code, join_code in DEMO_RESIDENTS:
        r = session.scalar(select(Resident).where(Resident.line_user_id == user_id))
        if r is None:
            r = Resident(line_user_id=user_id, channel=Channel.WEB, following=True, followed_at=now, locale=locale)
            session.add(r)
            session.flush()
            if nickname:
                r.nickname = nickname
                r.consent_at = now
                area = session.scalar(select(Area).where(Area.code == area_code))
                r.area_id = area.id if area else None
                assoc = session.scalar(select(Association).where(Association.join_code == join_code))
                if assoc is not None:
                    session.add(Membership(resident_id=r.id, association_id=assoc.id, role=Role.MEMBER))
        names.append(user_id)
    session.flush()
    return names


def demo_residents(session: Session) -> list[Resident]:
    return list(session.scalars(select(Resident).where(Resident.channel == Channel.WEB).order_by(Resident.id)))
