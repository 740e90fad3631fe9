"""The worker: drains the outbox and retries events a dying process left behind.

Run with `flask --app bot worker` (the Procfile's `worker`). Several may run at once on
PostgreSQL: claims use `FOR UPDATE SKIP LOCKED`, so no row is sent by two of them.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import timedelta

from sqlalchemy.orm import configure_mappers

from bot.delivery import outbox
from bot.core import heap
from bot.core.db import utcnow
from bot.delivery.pipeline import Bot

log = logging.getLogger(__name__)


RECOVER_EVERY = timedelta(seconds=10)  # between looks for rows a dead process left "sending"


def run_once(bot: Bot, batch: int = 100) -> int:
    """One pass: take back stale rows, retry stale events, send what is due. Returns the number
    of outbox rows sent or attempted. An idle pass only reads (no write lock)."""
    now = utcnow()
    _housekeeping(bot)
    with bot.db.read() as s:
        if not outbox.has_due(s, now):
            return 0
    with bot.db.session() as s:
        rows = outbox.claim(s, batch, now)
    if rows:
        bot.sender.deliver(rows)
    return len(rows)


# A claim holds enough sending to cover the recording and claiming done meanwhile (twice the
# last one took), within these bounds, at this process's share of the rate: short claims let
# several workers sharing the rate finish together; long enough that the send threads never wait.
CLAIM_SECONDS_MIN, CLAIM_SECONDS_MAX = 0.1, 0.3
CLAIM_MIN, CLAIM_MAX = 5, 500
CLAIM_FIRST = 25  # after an idle time: a small first claim, so that sending starts at once


class Pipeline:
    """The running worker's loop, overlapped: while the send threads send one claim, the
    worker records the claim before it and claims the next, so LINE's rate limit is used from
    the first second to the last instead of idling while the database is written.

    The order a resident's messages were queued in still holds: a claim is sent only once the
    one before it has been sent. After an idle time the first claim is small (`CLAIM_FIRST`
    rows: the first sends leave at once); then each claim holds 0.1–0.3 s of sending (a few
    multicasts, a few hundred pushes), twice what recording and claiming took the last time,
    so that the send threads do not wait for the database and several workers sharing the
    rate finish together. If the process dies, what it claimed or sent but did not record stays "sending"
    and is taken back after `OUTBOX_STALE_SECONDS` (a second send of it goes with the same
    retry key, which LINE answers 409: sent once)."""

    def __init__(self, bot: Bot):
        self.bot = bot
        self.limit = CLAIM_FIRST
        self.seconds = CLAIM_SECONDS_MIN  # of sending the next claim holds
        self._next: list = []  # claimed, to send after what is being sent
        self._done: list = []  # sent, to record

    def step(self) -> int:
        """Send one claim (recording the last and claiming the next meanwhile). Returns the rows
        sent; 0 when there was nothing to do."""
        _housekeeping(self.bot)
        rows, self._next = self._next, []
        if not rows:
            rows = self._record_and_claim()
        if not rows:
            self.limit = CLAIM_FIRST  # idle: the first claim of the next work is small
            return 0
        t0 = time.perf_counter()
        waiting = self.bot.sender.start(rows)
        try:
            # The last claim's outcomes and the next claim, in one transaction, while this one is sent.
            self._next = self._record_and_claim()
        finally:
            t1 = time.perf_counter()
            self.seconds = min(CLAIM_SECONDS_MAX, max(CLAIM_SECONDS_MIN, 2 * (t1 - t0)))
            self._done = waiting()
        log.debug("worker step: %d rows sent; recording and the next claim (%d rows) took %.3f s, then waited "
                  "%.3f s for the sends", len(rows), len(self._next), t1 - t0, time.perf_counter() - t1)
        return len(rows)

    def flush(self) -> None:
        """Record the outcomes in hand."""
        done, self._done = self._done, []
        self.bot.sender.record_outcomes(done)

    def finish(self) -> None:
        """Stopping: send what was claimed ahead, record everything."""
        try:
            if self._next:
                rows, self._next = self._next, []
                self.bot.sender.deliver(rows)
        finally:
            self.flush()

    def _record_and_claim(self) -> list:
        """Record the outcomes in hand and claim the next rows, in one write transaction (one
        turn at SQLite's writer lock instead of two). If it fails, the outcomes are recorded on
        their own (with retries), and nothing is claimed this time."""
        now = utcnow()
        done, self._done = self._done, []
        if not done:
            with self.bot.db.read() as s:  # idle: a read, no write lock
                if not outbox.has_due(s, now):
                    return []
        try:
            with self.bot.db.session() as s:
                if done:
                    self.bot.sender.record(s, done, now)
                rows = outbox.claim(s, self.limit, now)
        except Exception:
            if not done:
                raise
            log.warning("recording %d outcome(s) with the next claim failed; recording them alone", len(done),
                        exc_info=True)
            self.bot.sender.record_outcomes(done)
            return []
        if rows:  # the claim after: `self.seconds` of sending, at this claim's mix
            per_row = self.bot.sender.seconds_to_send(rows) / len(rows)
            self.limit = max(CLAIM_MIN, min(CLAIM_MAX, round(self.seconds / per_row)))
        return rows


def _housekeeping(bot: Bot) -> None:
    """Stale rows back to the queue (every RECOVER_EVERY), stale events retried."""
    now = utcnow()
    last = getattr(bot, "_last_recover", None)
    if last is None or abs(now - last) >= RECOVER_EVERY:
        bot._last_recover = now
        with bot.db.read() as s:
            stale = outbox.has_stale(s, bot.config.outbox_stale_seconds, now)
        if stale:
            with bot.db.session() as s:
                outbox.recover_stale(s, bot.config.outbox_stale_seconds, now, bot.config.outbox_max_attempts)
    bot.retry_stale_events()


def warm_up(bot: Bot) -> None:
    """At start, what the first claim after an idle time would otherwise pay for while a
    minute's reminders wait: SQLAlchemy's mappers and the claim's and the recording's statements
    (a claim of nothing, a record of nothing), the send threads and their LINE clients."""
    configure_mappers()
    with bot.db.session() as s:
        outbox.claim(s, 0)
        outbox.warm_up(s)
    bot.sender.warm_up()
    heap.freeze_startup()


def run_forever(bot: Bot, idle_sleep: float = 0.05, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()

    def _stop(signum, _frame):
        log.info("worker stopping (signal %s)", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    try:
        warm_up(bot)
    except Exception:
        log.exception("worker warm-up failed; going on")
    log.info("worker started")
    pipe = Pipeline(bot)
    while not stop.is_set():
        try:
            busy = pipe.step()
        except Exception:
            log.exception("worker pass failed; trying again shortly")
            busy = 0
        if not busy:
            stop.wait(idle_sleep)
    try:
        pipe.finish()
    except Exception:
        log.exception("worker: recording the last sends failed; they are taken back later")
    log.info("worker stopped")
