"""Mutual-aid jobs for the clock: close requests whose time has passed, and ask both sides of
a match whether the help happened. The rules and the words are the service's
(`bot.services.aid`); these only apply its outcomes. Safe to run twice."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot import services
from bot.core.config import Config
from bot.services import aid

ACTOR = "clock"


def close_due(session: Session, config: Config, now: datetime) -> int:
    return services.apply(session, aid.close_due(session, config, now), ACTOR).facts["closed"]


def follow_up(session: Session, config: Config, now: datetime) -> int:
    return services.apply(session, aid.follow_up(session, config, now), ACTOR).facts["asked"]
