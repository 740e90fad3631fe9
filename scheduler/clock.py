"""`flask --app bot clock`: APScheduler's BlockingScheduler in the city's time zone, with its
job store in the bot's own database and every job under an explicit id."""
from __future__ import annotations

import logging

from bot.db import utcnow
from bot.pipeline import Bot

log = logging.getLogger(__name__)


def housekeeping(bot: Bot) -> None:
    from scheduler.housekeeping import tidy

    with bot.db.session() as s:
        counts = tidy(s, utcnow())
    log.info("housekeeping: %s", counts)


def aid_jobs(bot: Bot) -> None:
    from scheduler import aid_jobs as jobs

    with bot.db.session() as s:
        now = utcnow()
        closed = jobs.close_due(s, bot.config, now)
        asked = jobs.follow_up(s, bot.config, now)
    if closed or asked:
        log.info("mutual aid: %d requests closed, %d follow-ups", closed, asked)


def circular_reminders(bot: Bot) -> None:
    from scheduler.circular_jobs import auto_remind

    with bot.db.session() as s:
        n = auto_remind(s, bot.config, utcnow())
    if n:
        log.info("circulars: reminders queued for %d members", n)


def event_reminders(bot: Bot) -> None:
    from scheduler.event_jobs import reminders

    with bot.db.session() as s:
        n = reminders(s, bot.config, utcnow())
    if n:
        log.info("events: %d reminders queued", n)


def build_scheduler(bot: Bot, blocking: bool = True):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    cls = BlockingScheduler if blocking else BackgroundScheduler
    sched = cls(
        timezone=bot.config.tz_name,
        jobstores={"default": SQLAlchemyJobStore(engine=bot.db.engine)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    # Jobs are looked up by reference ("module:function") so the job store can reload them.
    sched.add_job(
        "scheduler.clock:housekeeping_job", "interval", minutes=10, id="housekeeping", replace_existing=True
    )
    sched.add_job("scheduler.clock:aid_job", "interval", minutes=5, id="mutual_aid", replace_existing=True)
    sched.add_job("scheduler.clock:event_job", "interval", minutes=5, id="event_reminders", replace_existing=True)
    sched.add_job("scheduler.clock:circular_job", "interval", minutes=15, id="circular_reminders", replace_existing=True)
    return sched


_BOT: Bot | None = None


def housekeeping_job() -> None:
    assert _BOT is not None
    housekeeping(_BOT)


def circular_job() -> None:
    assert _BOT is not None
    circular_reminders(_BOT)


def event_job() -> None:
    assert _BOT is not None
    event_reminders(_BOT)


def aid_job() -> None:
    assert _BOT is not None
    aid_jobs(_BOT)


def run_clock(bot: Bot) -> None:
    global _BOT
    _BOT = bot
    sched = build_scheduler(bot)
    log.info("clock started (time zone %s)", bot.config.tz_name)
    sched.start()
