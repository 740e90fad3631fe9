"""The outbox: every outgoing message is a row, written in the same transaction as the change
that caused it, then sent after commit (by the request for its own replies, by the worker for
everything else and for whatever failed).

Sending is idempotent per row: a retry key is minted with the row and reused on every retry;
LINE's 409 for a key already accepted counts as sent.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Callable, Sequence, Union

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from bot.core.config import Config
from bot.core.db import Database, checkpoint_after_commit, utcnow
from bot.core.prepared import Prepared
from bot.core.models import OutboxMessage, Resident, WebChatMessage, new_retry_key
from bot.core.replies import Reply
from bot.core.vocab import Channel, ChatDirection, OutboxKind, OutboxStatus, SendMethod
from bot.delivery import renderers
from bot.delivery.line_client import LineClient, SendResult

log = logging.getLogger(__name__)

REPLY_TOKEN_MAX_AGE = timedelta(seconds=50)
RETRY_KEY_MAX_AGE = timedelta(hours=23)  # LINE keeps a retry key 24 h: stop well before
BACKOFF_BASE = 2.0
BACKOFF_CAP = 15 * 60.0
RECORD_RETRY_DELAYS = (0.05, 0.25, 1.0, 3.0)  # recording a send when the database hiccups
REACHABLE_CHUNK = 5000  # LINE user ids checked per query when a claim is sent

# What can be sent: an outbox row, or a request's own reply as it was written (`Claimed`).
Sendable = Union[OutboxMessage, "Claimed"]


def enqueue(
    session: Session,
    *,
    channel: str,
    recipients: Sequence[str],
    replies: Sequence[Reply],
    resident_id: int | None = None,
    reply_token: str | None = None,
    claimed: bool = False,
    erase_after_send: bool = False,
    dedupe_key: str | None = None,
    subject_resident_id: int | None = None,
) -> list[Sendable]:
    """Add outbox rows for `replies` (already translated for the recipients).

    `claimed=True` marks the rows as being sent by this process right after commit; if it dies
    first, the worker takes them back after `outbox_stale_seconds`. `subject_resident_id`: the
    other resident whose words or name the replies carry (scrubbed when they delete their data).
    """
    if not replies or not recipients:
        return []
    now = utcnow()
    payloads = renderers.render(channel, replies)
    if claimed and not dedupe_key and not subject_resident_id:
        return _insert_claimed(session, channel, list(recipients), payloads, resident_id, reply_token,
                               erase_after_send, now)
    rows = []
    for i, payload in enumerate(payloads):
        row = OutboxMessage(
            channel=channel,
            resident_id=resident_id,
            recipients=list(recipients),
            payload=payload,
            reply_token=reply_token if i == 0 else None,
            status=OutboxStatus.SENDING if claimed else OutboxStatus.PENDING,
            claimed_at=now if claimed else None,
            next_attempt_at=now,
            erase_after_send=erase_after_send,
            dedupe_key=f"{dedupe_key}:{i}" if dedupe_key and i else dedupe_key,
            created_at=now,
            rank=0 if len(recipients) == 1 else 1,  # one resident's messages before mass sends
            subject_resident_id=subject_resident_id,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


@lru_cache(maxsize=1)
def _insert_claimed_stmt() -> Prepared:
    columns = [f.name for f in fields(Claimed) if f.name != "id"]  # what a `Claimed` row holds, as written
    return Prepared(insert(OutboxMessage.__table__).returning(OutboxMessage.__table__.c.id), columns=columns)


def _insert_claimed(session: Session, channel: str, recipients: list[str], payloads: Sequence[list[dict[str, Any]]],
                    resident_id: int | None, reply_token: str | None, erase_after_send: bool,
                    now: datetime) -> list[Claimed]:
    """A request's own replies (every webhook event's): written with one Core INSERT each, in
    this transaction, and handed back as rows outside the session for the request to send
    after commit (nothing about them changes before then)."""
    if session.new or session.deleted:
        session.flush()  # what the event added or removed first (the row may refer to it), as before
    conn = session.connection()
    rows = []
    for i, payload in enumerate(payloads):
        values = dict(
            channel=channel, resident_id=resident_id, recipients=recipients, payload=payload,
            reply_token=reply_token if i == 0 else None, retry_key=new_retry_key(), dedupe_key=None,
            status=OutboxStatus.SENDING, claimed_at=now, attempts=0, next_attempt_at=now,
            erase_after_send=erase_after_send, created_at=now, kind=OutboxKind.PUSH,
            rank=0 if len(recipients) == 1 else 1, subject_resident_id=None, source=None,
        )
        row_id = _insert_claimed_stmt().run(conn, values).fetchone()[0]
        rows.append(Claimed(id=row_id, **values))
    return rows


@dataclass(slots=True)
class Claimed:
    """A request's own reply, as written (`_insert_claimed`): what `Sender` reads of an outbox row,
    without an ORM object to build for it (nothing about it changes before it is sent)."""
    id: int
    channel: str
    resident_id: int | None
    recipients: list[str]
    payload: list[dict[str, Any]]
    reply_token: str | None
    retry_key: str
    dedupe_key: str | None
    status: str
    claimed_at: datetime
    attempts: int
    next_attempt_at: datetime
    erase_after_send: bool
    created_at: datetime
    kind: str
    rank: int
    subject_resident_id: int | None
    source: str | None


def bulk(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert many prepared rows at once through Core (nothing kept in the session): for
    announcements and reminders to thousands. Each dict has channel, recipients, payload,
    next_attempt_at, dedupe_key, source and optionally kind / resident_id / rank (default 1, a
    mass send; 0 goes first). Returns the count."""

    if not rows:
        return 0
    now = utcnow()
    session.execute(insert(OutboxMessage.__table__), [
        {"channel": r["channel"], "recipients": r["recipients"], "payload": r["payload"],
         "resident_id": r.get("resident_id"), "reply_token": None, "retry_key": new_retry_key(),
         "dedupe_key": r.get("dedupe_key"), "status": OutboxStatus.PENDING, "attempts": 0,
         "next_attempt_at": r.get("next_attempt_at") or now, "erase_after_send": False, "created_at": now,
         "source": r.get("source"), "kind": r.get("kind", OutboxKind.PUSH), "rank": r.get("rank", 1)}
        for r in rows
    ])
    return len(rows)


MULTICAST_MAX = renderers.RECIPIENTS_PER_ROW[Channel.LINE]  # LINE's limit of recipients per multicast


def fan_out(session: Session, groups: dict[tuple[str, str, Any], list[str]], reply_for, *, source: str,
            now: datetime) -> int:
    """Queue identical messages: `groups` maps (channel, locale, key) to recipient ids and
    `reply_for(locale, key)` makes the message. LINE recipients go 500 to a multicast (one
    recipient: a push); the web chat one by one. Returns the number of recipients."""
    out: list[dict[str, Any]] = []
    told = 0
    for (channel, locale, key), ids in groups.items():
        reply = reply_for(locale, key)
        parts = renderers.render(channel, [reply])
        step = renderers.RECIPIENTS_PER_ROW[channel]
        for i in range(0, len(ids), step):
            for part in parts:
                out.append({"channel": channel, "recipients": ids[i:i + step], "payload": part, "source": source,
                            "next_attempt_at": now})
        told += len(ids)
        if len(out) >= 200:
            bulk(session, out)
            out = []
    bulk(session, out)
    return told


@dataclass
class Outcome:
    row_id: int
    result: SendResult
    transcript: list[dict[str, Any]] | None = None  # web chat: messages to show
    erase: bool = False  # blank recipients and text once sent


@lru_cache(maxsize=1)
def _sent_stmt():
    t = OutboxMessage.__table__  # Core: run once per row with a list of parameters
    return (update(t).where(t.c.id == bindparam("row_id"), t.c.status == OutboxStatus.SENDING)
            .values(status=OutboxStatus.SENT, sent_at=bindparam("now"), accepted_request_id=bindparam("req"), last_error=None))


@lru_cache(maxsize=1)
def _sent_one() -> Prepared:
    return Prepared(_sent_stmt())


class Sender:
    """Sends claimed rows and records what happened. Used by the web request and the worker."""

    def __init__(self, db: Database, config: Config, line: LineClient | None):
        self.db = db
        self.config = config
        self.line = line
        self.limits = RateLimits(config)
        self._pool = None
        # A request's replies sent: recorded with the process's next event (`Unrecorded`).
        self.unrecorded = Unrecorded(db, config.reply_record_ms / 1000)

    # -- sending (outside any transaction) ---------------------------------------------------
    def send(self, row: Sendable, now: datetime | None = None) -> Outcome:
        outcome = self._send(row, now or utcnow())
        outcome.erase = row.erase_after_send
        return outcome

    def _send(self, row: Sendable, now: datetime) -> Outcome:
        if row.channel == Channel.WEB:
            return Outcome(row.id, SendResult("sent"), transcript=list(row.payload))
        if self.line is None:
            return Outcome(row.id, SendResult("failed", error="LINE channel not configured"))
        if row.kind == OutboxKind.RICHMENU:  # link residents to a menu (their language's, disaster mode's)
            body = (row.payload or [{}])[0]
            rid = body.get("richMenuId", "")
            if body.get("bulk"):  # up to 500 at once (disaster mode and back)
                users = list(row.recipients)
                if not users:
                    return Outcome(row.id, SendResult("sent"))
                res = (self.line.call("POST", "/v2/bot/richmenu/bulk/unlink", {"userIds": users}) if not rid else
                       self.line.call("POST", "/v2/bot/richmenu/bulk/link", {"richMenuId": rid, "userIds": users}))
            else:
                res = self.line.call("POST", f"/v2/bot/user/{row.recipients[0]}/richmenu/{rid}", None)
            if res.ok:
                return Outcome(row.id, SendResult("sent", status=res.status))
            retry = res.status in (None, 429) or (res.status or 0) >= 500
            return Outcome(row.id, SendResult("retry" if retry else "failed", status=res.status, error=res.error,
                                              retry_after=res.retry_after))
        if row.kind == OutboxKind.BROADCAST:  # every friend of the account: no recipient list
            wait = self.limits.take(SendMethod.BROADCAST, block=False)
            if wait:
                return Outcome(row.id, SendResult("retry", status=429, error="broadcast rate (held back)", retry_after=wait))
            return Outcome(row.id, self.line.broadcast(row.payload, row.retry_key))
        recipients = list(row.recipients)
        if not recipients:
            return Outcome(row.id, SendResult("sent"))
        fresh = row.attempts == 0 and now - row.created_at < REPLY_TOKEN_MAX_AGE
        if row.reply_token and fresh:
            result = self.line.reply(row.reply_token, row.payload)
            if result.outcome != "bad_reply_token":
                # A reply that must be retried goes later as a push, with the row's retry key.
                return Outcome(row.id, result)
            # The token was spent or expired: fall back to a push, now.
        if len(recipients) == 1:
            self.limits.take(SendMethod.PUSH)
            result = self.line.push(recipients[0], row.payload, row.retry_key)
        else:
            self.limits.take(SendMethod.MULTICAST)
            result = self.line.multicast(recipients, row.payload, row.retry_key)
        return Outcome(row.id, result)

    # -- recording (one transaction for a batch) ---------------------------------------------
    def record(self, session: Session, outcomes: Sequence[Outcome], now: datetime | None = None) -> None:
        now = now or utcnow()
        if any(oc.erase for oc in outcomes):  # the last words to a resident who deleted their data
            checkpoint_after_commit(session)
        plain = [oc for oc in outcomes if oc.result.ok and oc.transcript is None and not oc.erase]
        done = {id(oc) for oc in plain}
        if plain:  # the common case: sent, all in one statement run many times
            session.execute(_sent_stmt(), [{"row_id": oc.row_id, "now": now, "req": oc.result.request_id}
                                           for oc in plain])
        for oc in outcomes:
            if id(oc) in done:
                continue
            if oc.result.ok and oc.transcript is None:
                # The common case, in one statement: sent. (Rows to erase are blanked too.)
                values: dict[str, Any] = dict(
                    status=OutboxStatus.SENT, sent_at=now, accepted_request_id=oc.result.request_id, last_error=None
                )
                if oc.erase:
                    values.update(recipients=[], payload=[])
                if oc.erase:
                    session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id == oc.row_id, OutboxMessage.status == OutboxStatus.SENDING)
                        .values(**values)
                        .execution_options(synchronize_session=False)
                    )
                else:  # the usual case, with a statement built once
                    session.execute(_sent_stmt(), {"row_id": oc.row_id, "now": now, "req": oc.result.request_id})
                continue
            row = session.get(OutboxMessage, oc.row_id)
            if row is None or row.status != OutboxStatus.SENDING:
                continue
            res = oc.result
            if res.ok:  # the web chat: the messages go into the transcript
                _write_transcript(session, row, oc.transcript or [], now)
                row.status = OutboxStatus.SENT
                row.sent_at = now
                if row.erase_after_send:
                    row.recipients = []
                    row.payload = []
                continue
            row.attempts += 1
            row.last_error = f"{res.status or '-'} {res.error or res.outcome}"[:500]
            too_old = now - row.created_at > RETRY_KEY_MAX_AGE
            if (
                res.outcome in ("failed", "bad_reply_token")
                or row.attempts >= self.config.outbox_max_attempts
                or too_old
            ):
                row.status = OutboxStatus.DEAD
                log.warning("outbox row %s dead-lettered: %s", row.id, row.last_error)
            else:
                row.status = OutboxStatus.PENDING
                row.claimed_at = None
                delay = backoff(row.attempts, res.retry_after)
                row.next_attempt_at = now + timedelta(seconds=delay)
                log.info("outbox row %s attempt %d failed (%s); next try in %.0fs", row.id, row.attempts, row.last_error, delay)

    def deliver(self, rows: Sequence[Sendable], later: bool = False) -> None:
        """Send rows this process claimed, then record the outcomes in one transaction.
        `later` (a webhook request's own replies): outcomes that are plain "sent" are left to
        `self.unrecorded`, which records them in the process's next transaction."""
        if not rows:
            return
        if len(rows) == 1 or self.config.worker_threads <= 1:
            outcomes = [self.send(row) for row in rows]
        else:  # LINE calls in parallel; the outcomes are recorded together
            outcomes = self.start(rows)()
        if later and self.unrecorded.delay > 0 and all(_plain(oc) for oc in outcomes):
            self.unrecorded.add(outcomes)
            return
        self._record_retrying(outcomes)

    def start(self, rows: Sequence[OutboxMessage]) -> Callable[[], list[Outcome]]:
        """Start sending claimed rows on the send threads and return at once; the function
        returned waits for them and gives the outcomes (to record with `record_outcomes`). The
        worker claims its next rows and records its last ones meanwhile."""
        lanes: list[list[OutboxMessage]] = [[] for _ in range(max(1, self.config.worker_threads))]
        for i, part in enumerate(_per_recipient(rows)):  # one thread per lane, a recipient's rows in one lane
            lanes[i % len(lanes)].extend(part)
        futures = [self._executor().submit(self._send_in_order, lane) for lane in lanes if lane]
        return lambda: [oc for f in futures for oc in f.result()]

    def warm_up(self) -> None:
        """Start the send threads, each with its LINE client (no call is made)."""
        if self.line is None or self.config.worker_threads <= 1:
            return
        n = self.config.worker_threads
        together = threading.Barrier(n)

        def make() -> None:
            self.line.warm_up()
            try:
                together.wait(timeout=2)  # so that each of the n threads makes one
            except threading.BrokenBarrierError:
                pass

        for f in [self._executor().submit(make) for _ in range(n)]:
            f.result()

    def record_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        if outcomes:
            self._record_retrying(outcomes)

    def seconds_to_send(self, rows: Sequence[OutboxMessage]) -> float:
        """How long LINE's rate limits (this process's share) make sending `rows` take."""
        return sum(self.limits.seconds_per(SendMethod.PUSH if len(r.recipients or ()) <= 1 else SendMethod.MULTICAST)
                   for r in rows)

    def _record_retrying(self, outcomes: Sequence[Outcome]) -> None:
        """Record what LINE answered, trying again when the database is briefly unreachable
        (a dropped connection, a failover, SQLite busy): a reply LINE accepted but not recorded
        would be taken back by the worker and pushed again, and LINE cannot tell it is the same
        message (replies take no retry key). Recording is idempotent (only rows still
        "sending" change). If the database stays away, the rows stay "sending" and the worker
        sends them later: a message may then come twice, but is never lost."""

        plain = all(_plain(oc) for oc in outcomes)
        for attempt, delay in enumerate((*RECORD_RETRY_DELAYS, None)):
            try:
                if plain:  # the hot path (a webhook's reply): one statement on a bare connection
                    now = utcnow()
                    with self.db.core() as conn:
                        _record_sent(conn, [{"row_id": oc.row_id, "now": now, "req": oc.result.request_id}
                                            for oc in outcomes])
                    return
                with self.db.session() as s:
                    self.record(s, outcomes)
                return
            except DBAPIError as exc:
                transient = exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError))
                if delay is None or not transient:
                    raise
                log.warning("recording %d send outcome(s) failed (%s), attempt %d; trying again in %.2fs",
                            len(outcomes), type(exc.orig).__name__, attempt + 1, delay)
                time.sleep(delay)

    def _send_in_order(self, rows: Sequence[OutboxMessage]) -> list[Outcome]:
        return [self.send(row) for row in rows]

    def _executor(self):
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max(1, self.config.worker_threads), thread_name_prefix="send")
        return self._pool


def _plain(oc: Outcome) -> bool:
    """Sent, with nothing more to do than mark the row sent (no transcript, nothing to erase)."""
    return oc.result.ok and oc.transcript is None and not oc.erase


def _record_sent(conn, params: list[dict[str, Any]]) -> None:
    if len(params) == 1:  # one row (a reply's): compiled once, on the driver
        _sent_one().run(conn, params[0])
    else:
        conn.execute(_sent_stmt(), params)


class Unrecorded:
    """Replies this process sent whose sending is not recorded yet.

    A webhook request used to record its reply's send in a transaction of its own, after the
    HTTP call: a second turn at SQLite's write lock per event, which the other web workers
    queued behind (the lock was the limit on how many events a second the bot answers; the
    reason is in bench/RESULTS.md). Now the record waits here and is written in the process's
    next transaction that asks for it — the next event's (`Bot._handle`) — or, when no event
    comes within `delay` seconds, by a thread of its own; and when the process exits
    normally. Each is the same idempotent UPDATE (only a row still "sending" changes).

    What a crash between the send and the record does is unchanged, only its window is wider
    (up to `delay`, 0.2 s by default, instead of one transaction): the row stays "sending", the
    worker takes it back after `OUTBOX_STALE_SECONDS` and pushes it — the resident may get
    that answer twice, never not at all. A transaction that rolls back records nothing and
    leaves the records here for the next one."""

    def __init__(self, db: Database, delay: float):
        self.db = db
        self.delay = delay
        self._pending: list[tuple[float, dict[str, Any]]] = []  # (monotonic time sent, UPDATE's parameters)
        self._cond = threading.Condition()
        self._pid = 0  # the process whose thread runs (a fork starts its own)

    def add(self, outcomes: Sequence[Outcome]) -> None:
        now, at = utcnow(), time.monotonic()
        with self._cond:
            if self._pid != os.getpid():
                self._start()
            self._pending.extend((at, {"row_id": oc.row_id, "now": now, "req": oc.result.request_id})
                                 for oc in outcomes)
            self._cond.notify()

    def __len__(self) -> int:
        return len(self._pending)

    def write(self, conn) -> list[tuple[float, dict[str, Any]]]:
        """Write the pending records in `conn`'s transaction; once it has committed, pass what
        this returns to `done`."""
        with self._cond:
            batch = list(self._pending)
        if batch:
            _record_sent(conn, [params for _, params in batch])
        return batch

    def done(self, batch: list[tuple[float, dict[str, Any]]]) -> None:
        if batch:
            gone = {id(entry) for entry in batch}
            with self._cond:
                self._pending = [entry for entry in self._pending if id(entry) not in gone]

    def flush(self) -> None:
        """Record whatever is pending now, in a transaction of its own."""
        with self._cond:
            if not self._pending:
                return
        with self.db.core() as conn:
            batch = self.write(conn)
        self.done(batch)

    def _start(self) -> None:
        self._pid = os.getpid()
        self._pending = []  # (a parent's records are its own to write)
        threading.Thread(target=self._run, name="record-sends", daemon=True).start()
        atexit.register(self._at_exit)

    def _at_exit(self) -> None:
        if self._pid == os.getpid():
            try:
                self.flush()
            except Exception:
                log.exception("recording %d sent replies at exit failed; the worker sends them again", len(self))

    def _run(self) -> None:
        pause = RECORD_RETRY_DELAYS[0]
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                wait = self._pending[0][0] + self.delay - time.monotonic()
                if wait > 0:  # the next event will likely take it; else we do
                    self._cond.wait(wait)
                    continue
            try:
                self.flush()
                pause = RECORD_RETRY_DELAYS[0]
            except Exception:
                log.exception("recording sent replies failed; trying again in %.2fs", pause)
                time.sleep(pause)
                pause = min(pause * 4, RECORD_RETRY_DELAYS[-1])


def _per_recipient(rows: Sequence[OutboxMessage]) -> list[list[OutboxMessage]]:
    """Rows for one recipient, in the order they were queued, go to one thread, one after the
    other: a resident reads their messages in the order the bot wrote them. Rows to several
    recipients (multicasts) and broadcasts each go on their own."""
    groups: dict[Any, list[OutboxMessage]] = {}
    for row in rows:
        key = (row.channel, row.recipients[0]) if len(row.recipients or ()) == 1 else ("row", row.id)
        groups.setdefault(key, []).append(row)
    return list(groups.values())


class RateLimits:
    """Stay under LINE's per-endpoint rate limits (token buckets, per process).

    Rates come from the configuration, already divided among the worker processes that run at
    once (`LINE_WORKER_PROCESSES`); a 429 that still comes is retried with back-off. A bucket
    starts full (a tenth of a second's calls) and a caller that finds it empty reserves the next
    token and sleeps until it is due: the send threads then take turns at exactly the rate,
    instead of all waking together and polling."""

    def __init__(self, config: Config):
        share = max(1, config.line_worker_processes)
        self._rates = {  # tokens per second, bucket size
            SendMethod.PUSH: (config.line_push_per_second / share, max(1.0, config.line_push_per_second / share / 10)),
            SendMethod.MULTICAST: (config.line_multicast_per_second / share, max(1.0, config.line_multicast_per_second / share / 10)),
            SendMethod.BROADCAST: (config.line_broadcast_per_hour / 3600 / share, 1.0),
        }
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def seconds_per(self, endpoint: str) -> float:
        return 1.0 / self._rates[endpoint][0]

    def take(self, endpoint: str, block: bool = True) -> float:
        """Take one token; wait for it (or, with block=False, return how long to wait, 0 if taken)."""
        rate, burst = self._rates[endpoint]
        with self._lock:
            now = time.monotonic()
            tokens, last = self._state.get(endpoint, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens >= 1:
                self._state[endpoint] = (tokens - 1, now)
                return 0.0
            wait = (1 - tokens) / rate
            # block: the next token is this caller's (the bucket goes below zero, so the callers
            # after it wait their turn); else nothing is taken.
            self._state[endpoint] = (tokens - 1 if block else tokens, now)
        if not block:
            return wait
        time.sleep(wait)
        return 0.0


def backoff(attempts: int, retry_after: float | None = None) -> float:
    delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempts - 1)))
    delay *= random.uniform(0.5, 1.5)  # jitter, so many rows do not come back at once
    if retry_after:
        delay = max(delay, retry_after)
    return delay


def _write_transcript(session: Session, row: OutboxMessage, messages: list[dict[str, Any]], now: datetime) -> None:
    for user_id in row.recipients:
        resident = session.scalar(select(Resident).where(Resident.line_user_id == user_id))
        if resident is None:
            # A demo resident who just deleted their data: they are still "in the chat".
            resident = Resident(line_user_id=user_id, channel=Channel.WEB, following=True)
            session.add(resident)
            session.flush()
        for message in messages:
            session.add(WebChatMessage(resident_id=resident.id, direction=ChatDirection.OUT, payload=message, created_at=now))


def claim(session: Session, limit: int, now: datetime | None = None) -> list[OutboxMessage]:
    """Claim due rows atomically: `FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite the
    immediate transaction already holds the write lock. Rank 0 (urgent notices, one resident's
    messages) first, then the oldest."""
    now = now or utcnow()
    due = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.rank, OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(
        session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()))
            .values(status=OutboxStatus.SENDING, claimed_at=now)
            .returning(OutboxMessage),
            execution_options={"synchronize_session": False},
        )
    )
    rows.sort(key=lambda r: r.id)
    return _drop_unreachable(session, rows, now)


def _drop_unreachable(session: Session, rows: list[OutboxMessage], now: datetime) -> list[OutboxMessage]:
    """Nothing is pushed to a resident who unfollowed or deleted their data: the LINE user ids of
    the claim (pushes and multicasts, up to 100 × 500) are checked `REACHABLE_CHUNK` at a time."""
    checked = [r for r in rows if r.channel == Channel.LINE and r.kind != OutboxKind.BROADCAST and not r.erase_after_send]
    wanted = list({u for r in checked for u in r.recipients if u.startswith("U")})
    reachable: set[str] = set()
    for i in range(0, len(wanted), REACHABLE_CHUNK):  # a few queries per claim, each of bounded size
        reachable |= _following(session, wanted[i:i + REACHABLE_CHUNK])
    keep = []
    for row in rows:
        if row.erase_after_send or row.channel != Channel.LINE or row.kind == OutboxKind.BROADCAST:
            keep.append(row)
            continue
        # Group ids (C…/R…) are not residents; they stay.
        allowed = [u for u in row.recipients if u in reachable or not u.startswith("U")]
        if not allowed:
            row.status = OutboxStatus.CANCELLED
            row.last_error = "no reachable recipient"
            continue
        if len(allowed) != len(row.recipients):
            row.recipients = allowed
        keep.append(row)
    return keep


def _following(session: Session, user_ids: Sequence[str]) -> set[str]:
    """Which of these LINE user ids belong to residents who follow the account. The ids go as one
    parameter (an array on PostgreSQL, a JSON list on SQLite), so the query is the same text
    for any number of them and the database looks each up in the unique index."""
    if not user_ids:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        return set(session.scalars(_following_stmt("postgresql"), {"ids": list(user_ids)}))

    return set(session.scalars(_following_stmt("sqlite"), {"ids": json.dumps(list(user_ids))}))


@lru_cache(maxsize=2)
def _following_stmt(dialect: str):
    # Built once, the ids passed at execution: a statement carrying its ids as a value would be
    # compiled and cached anew for every claim, each copy holding thousands of ids.
    from sqlalchemy import String, any_, bindparam, func, literal_column

    if dialect == "postgresql":
        match = Resident.line_user_id == any_(bindparam("ids", type_=ARRAY(String)))
    else:
        match = Resident.line_user_id.in_(select(literal_column("value")).select_from(func.json_each(bindparam("ids"))))
    return select(Resident.line_user_id).where(match, Resident.following.is_(True))


def warm_up(session: Session) -> None:
    """Compile the statements a claim and its recording use, changing nothing."""
    _following(session, ["U" + "0" * 32])
    session.execute(_sent_stmt(), [{"row_id": 0, "now": utcnow(), "req": None}])


def has_due(session: Session, now: datetime) -> bool:
    return session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now).limit(1)) is not None


def has_stale(session: Session, stale_seconds: int, now: datetime) -> bool:
    return session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at < now - timedelta(seconds=stale_seconds)
    ).limit(1)) is not None


def recover_stale(session: Session, stale_seconds: int, now: datetime | None = None, max_attempts: int = 10) -> int:
    """Rows left "sending" by a process that died go back to the queue. Each time counts as an
    attempt, so a row that keeps killing its sender ends as a dead letter instead of forever."""
    now = now or utcnow()
    stale = (OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at < now - timedelta(seconds=stale_seconds))
    dead = session.execute(
        update(OutboxMessage).where(*stale, OutboxMessage.attempts + 1 >= max_attempts)
        .values(status=OutboxStatus.DEAD, attempts=OutboxMessage.attempts + 1, last_error="sender died while sending, repeatedly")
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    res = session.execute(
        update(OutboxMessage)
        .where(*stale)
        .values(status=OutboxStatus.PENDING, claimed_at=None, next_attempt_at=now, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return (res.rowcount or 0) + dead


def status_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


def dead_letters(session: Session, limit: int = 100) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.DEAD).order_by(OutboxMessage.id.desc()).limit(limit)
        )
    )


def requeue(session: Session, ids: Sequence[int] | None = None, now: datetime | None = None) -> int:
    """Put dead-lettered rows back in the queue (all of them when `ids` is None).

    A row younger than LINE's 24 h retry-key window keeps its key, so a message LINE did accept
    after all is not sent twice; an older one gets a new key (LINE has forgotten the old one).
    """
    now = now or utcnow()
    stmt = select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.DEAD)
    if ids is not None:
        stmt = stmt.where(OutboxMessage.id.in_(list(ids)))
    n = 0
    for row in session.scalars(stmt):
        if now - row.created_at > RETRY_KEY_MAX_AGE:
            row.retry_key = new_retry_key()
            row.created_at = now
        row.status = OutboxStatus.PENDING
        row.attempts = 0
        row.reply_token = None
        row.next_attempt_at = now
        row.claimed_at = None
        n += 1
    session.flush()
    return n


def to_resident(
    session: Session, resident: Resident, replies: Sequence[Reply], *, not_before: datetime | None = None,
    dedupe_key: str | None = None, about: Resident | None = None,
) -> list[OutboxMessage]:
    """Push `replies` (already in the resident's language) to one resident, through the worker.

    Nothing is queued for a resident who unfollowed. `not_before` holds the message back (quiet
    hours). `about`: another resident whose words or name the message carries (their data is
    scrubbed from it if they delete it)."""
    if not resident.following:
        return []
    rows = enqueue(
        session, channel=resident.channel, recipients=[resident.line_user_id], replies=replies,
        resident_id=resident.id, dedupe_key=dedupe_key,
        subject_resident_id=about.id if about is not None and about.id != resident.id else None,
    )
    if not_before is not None:
        for row in rows:
            row.next_attempt_at = not_before
    return rows
