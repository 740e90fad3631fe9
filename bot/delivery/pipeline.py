"""The path of a delivery: record every event in the inbox (once, across hosts), then handle
each new event in its own transaction, then send its replies after commit."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Callable, Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from bot.delivery import outbox
from bot.core.config import Config
from bot.core.prepared import Prepared
from bot.core.db import Database, utcnow
from bot.core.i18n import N_, t
from bot.delivery.inbound import Inbound
from bot.delivery.line_client import LineClient
from bot.core.models import InboundEvent, Resident
from bot.core.replies import Text
from bot.core.vocab import InboundKind, InboxStatus

log = logging.getLogger(__name__)

MAX_EVENT_ATTEMPTS = 5
RETRYABLE = (StaleDataError, IntegrityError)


Dispatch = Callable[..., Any]  # (session, config, inbound, now) -> the outbox row of the reply, or None


class Bot:
    """The running bot's parts, wired by `create_app()` (or a worker/CLI/benchmark)."""

    def __init__(self, config: Config, db: Database, line: LineClient | None, dispatch: Dispatch | None = None):
        self.config = config
        # What handles one event in its transaction (handlers.dispatcher.dispatch): given by
        # whoever wires the bot, so delivery knows nothing of the features above it.
        self.dispatch = dispatch
        self.db = db
        self.line = line
        self.sender = outbox.Sender(db, config, line)
        ins = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
        self._insert_event = (
            ins(InboundEvent)
            .on_conflict_do_nothing(index_elements=["webhook_event_id"])
            .returning(InboundEvent.webhook_event_id)
        )
        # A delivery of one event (a resident's message: nearly all of them) is recorded in the
        # transaction that handles it: recorded as done, with no payload to keep.
        self._insert_handled = Prepared(
            ins(InboundEvent)
            .values(status=InboxStatus.DONE, payload=None, attempts=1)
            .on_conflict_do_nothing(index_elements=["webhook_event_id"])
            .returning(InboundEvent.id),
            columns=["webhook_event_id", "event_type", "received_at", "processed_at"],
        )
        # Built once: every event is claimed with it (the hot path).
        self._claim_event = (
            update(InboundEvent)
            .where(InboundEvent.webhook_event_id == bindparam("eid"), InboundEvent.status == InboxStatus.PENDING)
            .values(status=InboxStatus.DONE, processed_at=bindparam("now"), payload=None, attempts=InboundEvent.attempts + 1)
            .execution_options(synchronize_session=False)
        )

    # -- the inbox -----------------------------------------------------------------------------
    def record(self, events: Sequence[Inbound]) -> list[Inbound]:
        """Insert events into the inbox; return those not seen before (on any host)."""
        if not events:
            return []
        now = utcnow()
        unique: dict[str, Inbound] = {}
        for ev in events:
            unique.setdefault(ev.event_id, ev)
        rows = [
            {
                "webhook_event_id": ev.event_id,
                "event_type": ev.kind[:32],
                "status": InboxStatus.PENDING,
                "payload": ev.to_dict(),
                "attempts": 0,
                "received_at": now,
            }
            for ev in unique.values()
        ]
        new_ids: set[str] = set()
        with self.db.core() as conn:  # a bare connection: no ORM session on the hot path
            for row in rows:  # one cached statement, run per event
                new_ids.update(conn.execute(self._insert_event, row).scalars())
        return [ev for ev in unique.values() if ev.event_id in new_ids]

    # -- handling ------------------------------------------------------------------------------
    def process(self, ev: Inbound) -> list[outbox.Sendable]:
        """Handle one recorded event exactly once. Returns the rows to send now."""
        # on the session's connection: a Core statement needs none of the ORM's work
        return self._handle(ev, recorded=True, begin=lambda conn, now: conn.execute(
            self._claim_event, {"eid": ev.event_id, "now": now}).rowcount > 0)  # else another handled it

    def _handle(self, ev: Inbound, recorded: bool, begin) -> list[outbox.Sendable]:
        """`begin(connection, now)` in a new transaction (claims or records the event; False:
        someone else has it), then the event dispatched in it, up to three times on conflicts.
        An event not `recorded` yet is recorded on its own when that cannot be done."""
        unrecorded = self.sender.unrecorded
        for attempt in range(3):
            try:
                with self.db.session() as s:
                    now = utcnow()
                    conn = s.connection()
                    sends = unrecorded.write(conn)  # this process's last replies, recorded as sent with it
                    rows = self.dispatch(s, self.config, ev, now) if begin(conn, now) else []
                unrecorded.done(sends)
                return rows
            except RETRYABLE as exc:
                # Two events for one resident at once: the loser starts again on fresh state.
                log.info("event %s conflicted (%s), attempt %d", ev.event_id, type(exc).__name__, attempt + 1)
                continue
            except OperationalError:
                log.exception("event %s: database unavailable; the worker will retry", ev.event_id)
                if not recorded:
                    self.record([ev])  # raises if the database is still away: a 500, and LINE redelivers
                return []
            except Exception:
                log.exception("event %s failed", ev.event_id)
                return self._apologise(ev) if recorded or self.record([ev]) else []
        log.warning("event %s left for the worker after repeated conflicts", ev.event_id)
        if not recorded:
            self.record([ev])
        return []

    def _apologise(self, ev: Inbound) -> list[outbox.Sendable]:
        """A bug must not leave the resident without an answer, nor the event half-done."""
        try:
            with self.db.session() as s:
                s.execute(
                    update(InboundEvent)
                    .where(InboundEvent.webhook_event_id == ev.event_id, InboundEvent.status == InboxStatus.PENDING)
                    .values(status=InboxStatus.FAILED, processed_at=utcnow(), attempts=InboundEvent.attempts + 1)
                    .execution_options(synchronize_session=False)
                )
                if ev.source_type != "user" or not ev.user_id or ev.kind in (InboundKind.UNFOLLOW,):
                    return []
                locale = s.scalar(select(Resident.locale).where(Resident.line_user_id == ev.user_id)) or self.config.default_locale
                resident_id = s.scalar(select(Resident.id).where(Resident.line_user_id == ev.user_id))
                msg = Text(t(locale, N_("Sorry, something went wrong on our side. Please try again in a moment.")))
                return outbox.enqueue(
                    s, channel=ev.channel, recipients=[ev.user_id], replies=[msg], resident_id=resident_id,
                    reply_token=ev.reply_token, claimed=True,
                )
        except Exception:
            log.exception("event %s: could not record the failure", ev.event_id)
            return []

    def handle_delivery(self, events: Sequence[Inbound]) -> None:
        """Record, handle and answer a webhook delivery.

        One event (nearly every delivery): recorded and handled in one transaction
        (`record_and_process`). Several: all recorded first, committed, then each handled in
        its own transaction, so that a process dying on the first leaves the others for the
        worker."""
        if len(events) == 1:
            self._send_replies(events[0], self.record_and_process(events[0]))
            return
        for ev in self.record(events):
            self._send_replies(ev, self.process(ev))

    def _send_replies(self, ev: Inbound, rows: list[outbox.Sendable]) -> None:
        if rows:
            try:
                self.sender.deliver(rows, later=True)  # recorded with the next event (outbox.Unrecorded)
            except Exception:
                # The rows stay "sending"; the worker takes them back and retries.
                log.exception("event %s: sending failed; left for the worker", ev.event_id)

    def record_and_process(self, ev: Inbound) -> list[outbox.Sendable]:
        """Record one event and handle it in the same transaction; return the rows to send now.

        The event is recorded before anything is acted on all the same: what handling changes
        and the replies it queues commit with the inbox row or not at all, and nothing is sent
        before that commit. A redelivery (on any host) finds the row and stops; one arriving
        while the first is still in its transaction waits for it on the unique index (SQLite:
        on the write lock). A process that dies before the commit leaves nothing: LINE had no
        200 and redelivers the event (webhook redelivery on, docs/OPERATIONS.md). If the
        transaction cannot be had, the event is recorded on its own, as for a delivery of several:
        conflicts and an unreachable database leave it for the worker, a bug gets the apology."""
        return self._handle(ev, recorded=False, begin=lambda conn, now: self._insert_handled.run(conn, {
            "webhook_event_id": ev.event_id, "event_type": ev.kind[:32], "received_at": now, "processed_at": now,
        }).fetchone() is not None)  # else seen before, on this host or another

    # -- recovery (the worker) -------------------------------------------------------------
    def retry_stale_events(self, limit: int = 50) -> int:
        """Events recorded by a process that died before handling them."""
        cutoff = utcnow() - timedelta(seconds=self.config.inbox_stale_seconds)
        with self.db.read() as s:  # the usual case, nothing to do, takes no write lock
            if s.scalar(select(InboundEvent.id).where(InboundEvent.status == InboxStatus.PENDING,
                                                      InboundEvent.received_at < cutoff).limit(1)) is None:
                return 0
        with self.db.session() as s:
            rows = list(
                s.execute(
                    select(InboundEvent.id, InboundEvent.payload, InboundEvent.attempts)
                    .where(InboundEvent.status == InboxStatus.PENDING, InboundEvent.received_at < cutoff)
                    .order_by(InboundEvent.id)
                    .limit(limit)
                )
            )
            for row_id, payload, attempts in rows:
                if payload is None or attempts >= MAX_EVENT_ATTEMPTS:
                    s.execute(update(InboundEvent).where(InboundEvent.id == row_id).values(status=InboxStatus.FAILED, payload=None))
        handled = 0
        for row_id, payload, attempts in rows:
            if payload is None or attempts >= MAX_EVENT_ATTEMPTS:
                continue
            ev = Inbound.from_dict(payload)
            sent = self.process(ev)
            self.sender.deliver(sent)
            handled += 1
        return handled
