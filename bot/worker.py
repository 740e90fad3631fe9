"""The worker: drains the outbox and retries events a dying process left behind.

Run with `flask --app bot worker` (the Procfile's `worker`). Several may run at once on
PostgreSQL: claims use `FOR UPDATE SKIP LOCKED`, so no row is sent by two of them.
"""
from __future__ import annotations

import logging
import signal
import threading

from bot import outbox
from bot.db import utcnow
from bot.pipeline import Bot

log = logging.getLogger(__name__)


def run_once(bot: Bot, batch: int = 100) -> int:
    """One pass: take back stale rows, retry stale events, send what is due. Returns the number
    of outbox rows sent or attempted."""
    now = utcnow()
    with bot.db.session() as s:
        outbox.recover_stale(s, bot.config.outbox_stale_seconds, now)
    bot.retry_stale_events()
    with bot.db.session() as s:
        rows = outbox.claim(s, batch, now)
    if rows:
        bot.sender.deliver(rows)
    return len(rows)


def run_forever(bot: Bot, idle_sleep: float = 0.5, stop: threading.Event | None = None) -> None:
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
