"""The worker: drains the outbox and retries events a dying process left behind.

Run with `flask --app bot worker` (the Procfile's `worker`). Several may run at once on
PostgreSQL: claims use `FOR UPDATE SKIP LOCKED`, so no row is sent by two of them.
"""
from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta

from bot.delivery import outbox
from bot.core.db import utcnow
from bot.delivery.pipeline import Bot

log = logging.getLogger(__name__)


RECOVER_EVERY = timedelta(seconds=10)  # between looks for rows a dead process left "sending"


def run_once(bot: Bot, batch: int = 100) -> int:
    """One pass: take back stale rows, retry stale events, send what is due. Returns the number
    of outbox rows sent or attempted. An idle pass only reads (no write lock)."""
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
    with bot.db.read() as s:
        if not outbox.has_due(s, now):
            return 0
    with bot.db.session() as s:
        rows = outbox.claim(s, batch, now)
    if rows:
        bot.sender.deliver(rows)
    return len(rows)


def run_forever(bot: Bot, idle_sleep: float = 0.1, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()

    def _stop(signum, _frame):
        log.info("worker stopping (signal %s)", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    log.info("worker started")
    while not stop.is_set():
        try:
            busy = run_once(bot)
        except Exception:
            log.exception("worker pass failed; trying again shortly")
            busy = 0
        if not busy:
            stop.wait(idle_sleep)
    log.info("worker stopped")
