"""`flask --app bot clock`: APScheduler's BlockingScheduler in the city's time zone, with its
job store in the bot's own database and every job under an explicit id.

Jobs only insert outbox rows (the worker sends them), each guarded so that a job run twice
sends once. Only one clock may run: it holds an advisory lock on PostgreSQL, a file lock beside
the database on SQLite; a second one says so and exits.

What falls due at a precise time (announcements, personal reminders) is looked for every
second with a read that takes no write lock; the clock's own periodic jobs run every few
minutes. A run missed during a restart is sent within the grace window (MISFIRE_GRACE_SECONDS,
default 1 hour); later ones are recorded as missed and logged for the staff."""
from __future__ import annotations

import fcntl
import logging
import os
import time
from datetime import datetime, timezone

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import create_engine, text
from sqlalchemy.orm import configure_mappers

from bot.core import heap
from bot.core.db import _sqlite_file, utcnow
from bot.core.vocab import RunStatus
from bot.delivery.pipeline import Bot
from bot.services import announcements, apply, disaster_menu, garbage, reminders, safety
from scheduler import aid_jobs as jobs
from scheduler import event_jobs, jma_jobs
from scheduler.circular_jobs import auto_remind
from scheduler.housekeeping import tidy

CLOCK = "clock"  # the actor of what the clock's jobs change

log = logging.getLogger(__name__)


def housekeeping(bot: Bot) -> None:
    with bot.db.session() as s:
        counts = tidy(s, utcnow(), bot.config.unfollowed_retention_days, bot.config.webhook_max_event_age_seconds)
    log.info("housekeeping: %s", counts)


def aid_jobs(bot: Bot) -> None:
    with bot.db.session() as s:
        now = utcnow()
        closed = jobs.close_due(s, bot.config, now)
        asked = jobs.follow_up(s, bot.config, now)
    if closed or asked:
        log.info("mutual aid: %d requests closed, %d follow-ups", closed, asked)


def circular_reminders(bot: Bot) -> None:
    with bot.db.session() as s:
        n = auto_remind(s, bot.config, utcnow())
    if n:
        log.info("circulars: reminders queued for %d members", n)


def event_reminders(bot: Bot) -> None:
    with bot.db.session() as s:
        n = event_jobs.reminders(s, bot.config, utcnow())
    if n:
        log.info("events: %d reminders queued", n)


REMINDERS_FIRST = 100  # reminders in the first transaction of a minute's: the workers start at once
REMINDERS_CHUNK = 500  # in each one after it (short turns at SQLite's writer lock)
HANDOVER_SECONDS = 0.005  # SQLite: a pause between the parts, so a waiting writer takes its turn


def due_now(bot: Bot) -> dict[str, int]:
    """Announcements and reminders whose time has come: queued at once, in parts each committed
    on its own, so that the workers send the first while the rest is queued."""
    now = utcnow()
    with bot.db.read() as s:
        ann_due = announcements.due(s, now)
        rem_due = reminders.due(s, now)
        queueing = announcements.queueing(s)
    out = {"announcements": 0, "reminders": 0}
    rem_limit = REMINDERS_FIRST
    # Reminders and new announcements are not held up by a big announcement being queued: each
    # turn does a little of each, in transactions of their own.
    while ann_due or rem_due or queueing:
        if ann_due:
            with bot.db.session() as s:
                runs = apply(s, announcements.fire_due(s, bot.config, now), CLOCK).facts["runs"]
                queueing = queueing or any(r.status == RunStatus.QUEUEING for r in runs)
            out["announcements"] += len(runs)
            ann_due = bool(runs)
            _hand_over(bot)
        if rem_due:
            with bot.db.session() as s:
                facts = apply(s, reminders.fire_due(s, bot.config, now, limit=rem_limit), CLOCK).facts
            rem_limit = REMINDERS_CHUNK
            out["reminders"] += facts["sent"]
            rem_due = facts["handled"] > 0  # even when this batch sent nothing (its residents had left)
            _hand_over(bot)
        if queueing:
            with bot.db.session() as s:
                queueing = apply(s, announcements.queue_next_chunk(s, bot.config, utcnow()), CLOCK).facts["more"]
            _hand_over(bot)
            # What falls due while a city-wide announcement is being queued (an urgent notice,
            # a minute's reminders) starts between its parts, not after them.
            now = utcnow()
            with bot.db.read() as s:
                ann_due = ann_due or announcements.due(s, now)
                rem_due = rem_due or reminders.due(s, now)
    if any(out.values()):
        log.info("due: %s", out)
    return out


def _hand_over(bot: Bot) -> None:
    """On SQLite, after a part is committed: the clock would take the write lock again before a
    worker waiting to claim what it just queued (or a webhook request) is even woken; a moment's
    pause lets them go first."""
    if bot.db.dialect == "sqlite":
        time.sleep(HANDOVER_SECONDS)


def daily_notices(bot: Bot) -> dict[str, int]:
    """The evening garbage-day reminders and the morning digests."""
    now = utcnow()
    out = {"garbage": 0, "digests": 0}
    while True:
        with bot.db.session() as s:
            n = apply(s, garbage.fire_due(s, bot.config, now), CLOCK).facts["sent"]
        out["garbage"] += n
        if not n:
            break
    while True:
        with bot.db.session() as s:
            n = apply(s, announcements.send_digests(s, bot.config, now), CLOCK).facts["residents"]
        out["digests"] += n
        if not n:
            break
    if any(out.values()):
        log.info("daily notices: %s", out)
    return out


def safety_reasks(bot: Bot) -> int:
    """Residents a running safety check asks once more (its `reask_minutes` after the start)."""
    now = utcnow()
    with bot.db.read() as s:
        if not safety.reask_pending(s, now):
            return 0
    with bot.db.session() as s:
        facts = apply(s, safety.reask_due(s, now), CLOCK).facts
    n = sum(facts.values())
    log.info("safety checks asked again: %s residents", n)
    return n


def disaster_menus(bot: Bot) -> dict[int, str]:
    """Disaster mode's rich menus: each running or ended check's switch one step on
    (bot.services.disaster_menu). A read first: nothing to do, no write."""
    with bot.db.read() as s:
        if not disaster_menu.pending(s):
            return {}
    with bot.db.session() as s:
        states = apply(s, disaster_menu.advance(s, utcnow()), CLOCK).facts["states"]
    if states:
        log.info("disaster menus: %s", states)
    return states


def jma_feeds(bot: Bot) -> dict[str, int]:
    """The JMA's feeds (scheduler/jma_jobs.py); never raises, so the clock goes on."""
    try:
        counts = jma_jobs.poll(bot)
    except Exception:
        log.exception("JMA feeds: unexpected error; trying again next minute")
        return {"errors": 1}
    if counts.get("read") or counts.get("errors"):
        log.info("JMA feeds: %s", counts)
    return counts


def _jobstore_engine(bot: Bot):
    """The job store's connection to the bot's database. On SQLite it gets an engine of its
    own with SQLite's ordinary (deferred) transactions: the scheduler's frequent reads then do
    not wait for the write lock, so a long write elsewhere (queueing a city-wide announcement)
    does not stall the clock's loop."""
    if bot.db.dialect != "sqlite":
        return bot.db.engine

    return create_engine(bot.db.url, connect_args={"timeout": 60, "check_same_thread": False})


def build_scheduler(bot: Bot, blocking: bool = True):

    cls = BlockingScheduler if blocking else BackgroundScheduler
    sched = cls(
        timezone=bot.config.tz_name,
        # The periodic jobs live in the bot's database; the once-a-second look for due work
        # in memory (it is recreated at every start, and would only churn the job table).
        jobstores={"default": SQLAlchemyJobStore(engine=_jobstore_engine(bot)), "memory": MemoryJobStore()},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": bot.config.misfire_grace_seconds},
    )
    # At every whole second (not every second from the clock's start): reminders and
    # announcements fall due on whole minutes, and are then picked up within milliseconds.
    sched.add_job("scheduler.clock:due_job", "cron", second="*", id="due", jobstore="memory",
                  replace_existing=True, misfire_grace_time=30)
    sched.add_job("scheduler.clock:daily_job", "interval", minutes=1, id="daily_notices", replace_existing=True)
    sched.add_job("scheduler.clock:safety_job", "interval", minutes=1, id="safety_reasks", replace_existing=True)
    sched.add_job("scheduler.clock:menus_job", "interval", seconds=20, id="disaster_menus", replace_existing=True)
    sched.add_job("scheduler.clock:jma_job", "interval", minutes=1, id="jma_feeds", replace_existing=True)
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


def due_job() -> None:
    assert _BOT is not None
    due_now(_BOT)


def daily_job() -> None:
    assert _BOT is not None
    daily_notices(_BOT)


def safety_job() -> None:
    assert _BOT is not None
    safety_reasks(_BOT)


def menus_job() -> None:
    assert _BOT is not None
    disaster_menus(_BOT)


def jma_job() -> None:
    assert _BOT is not None
    jma_feeds(_BOT)


def circular_job() -> None:
    assert _BOT is not None
    circular_reminders(_BOT)


def event_job() -> None:
    assert _BOT is not None
    event_reminders(_BOT)


def aid_job() -> None:
    assert _BOT is not None
    aid_jobs(_BOT)


class ClockLock:
    """Only one clock: `pg_try_advisory_lock` on PostgreSQL (held by a connection kept open for
    the clock's life), an exclusive `flock` on a file beside the database on SQLite."""

    KEY = 0x7453_756E_6167_6172 & 0x7FFF_FFFF_FFFF_FFFF  # "tsunagar"

    def __init__(self, bot: Bot):
        self.bot = bot
        self._conn = None
        self._fd: int | None = None

    def acquire(self) -> bool:
        db = self.bot.db
        if db.dialect == "postgresql":
            self._conn = db.engine.connect()
            got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.KEY}).scalar()
            self._conn.commit()
            if not got:
                self._conn.close()
                self._conn = None
            return bool(got)


        path = (_sqlite_file(db.url) or os.path.join(os.getcwd(), "tsunagari-memory-db")) + ".clock.lock"
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            return False
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())
        return True

    def release(self) -> None:
        if self._conn is not None:
            # The connection goes back to the pool, its session lives on: unlock explicitly
            # (a clock that dies loses its connection, and the lock with it).
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.KEY})
                self._conn.commit()
            finally:
                self._conn.close()
                self._conn = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def warm_up(bot: Bot) -> None:
    """At start, what the first reminders or announcement due would otherwise pay for at their
    minute: SQLAlchemy's mappers and the statements that look for them (nothing is changed)."""
    configure_mappers()
    long_ago = datetime(2000, 1, 1, tzinfo=timezone.utc)
    try:
        with bot.db.read() as s:
            reminders.fire_due(s, bot.config, long_ago)
            announcements.fire_due(s, bot.config, long_ago)
    except Exception:
        log.exception("clock warm-up failed; going on")
    heap.freeze_startup()


class AnotherClockRunning(RuntimeError):
    pass


def run_clock(bot: Bot) -> None:
    global _BOT
    lock = ClockLock(bot)
    if not lock.acquire():
        raise AnotherClockRunning("another clock is already running on this database; this one exits")
    _BOT = bot
    # Every run of the once-a-second job would be logged at INFO; failures still are.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    try:
        warm_up(bot)
        sched = build_scheduler(bot)
        log.info("clock started (time zone %s)", bot.config.tz_name)
        sched.start()
    finally:
        lock.release()
