"""Load and soak: the whole bot, as the Procfile runs it, under mixed traffic with faults injected;
nothing may be lost and nothing sent twice.

    .venv/bin/python bench/soak.py [--minutes 30] [--database-url URL] [--rate 20] [--seed N]
                                   [--residents 2000] [--clients 16] [--keep]

What runs (all real processes, all pointed at one fake LINE Messaging API in this script's
process, `tests.fakeline.FakeLine` with a few additions below):

* web: `gunicorn --workers 2 "bot:create_app()"` (sync workers, as the Procfile);
* worker: two `python -m flask --app bot worker` processes (LINE_WORKER_PROCESSES=2, so each
  takes half of LINE's rate limits);
* clock: one `python -m flask --app bot clock`;
* the database: by default a fresh PostgreSQL database of its own (`tsunagari_soak_<random>`,
  created on postgresql+psycopg://postgres@127.0.0.1:5432/test, dropped at the end unless
  `--keep`); `--database-url sqlite` for a fresh SQLite file; any other URL as in the other
  benchmarks (`bench.common.BenchDatabase`). Only DATABASE_URL, LINE_CHANNEL_SECRET,
  LINE_CHANNEL_ACCESS_TOKEN, LINE_API_BASE_URL, LINE_WORKER_PROCESSES=2 and PYTHONUNBUFFERED are
  set from the bot's configuration; every other variable it reads is removed, so the defaults
  apply (time zone Asia/Tokyo, 10 attempts per outbox row, rows left "sending" taken back after
  120 s, events left pending retried after 30 s, 30 events per resident per minute).

Set-up (not measured): `flask --app bot db upgrade`, `flask --app bot areas load`, then (SQLAlchemy
Core) `--residents` onboarded, following residents (consent given, no quiet hours, no digest,
locales ja ×5 : en ×2 : vi : ko : pt_BR, areas round-robin), a LINE profile each in the fake;
one association (join code SOAK-ASSOC) whose first 400 residents are members, in 160 households
of 2–3 over 8 班, plus 20 paper households; resident 0 is its 会長. The last 5 % are the "churn"
residents (they follow and unfollow); the 50 before them the "reminder" residents (they make
reminders in LINE, nothing else); everyone else is "stable" (never unfollows).

Traffic for `--minutes`:

* signed webhook deliveries (one event each, unique webhookEventId, a reply token issued by the
  fake) at `--rate` events/s on average (Poisson arrivals), sent by `--clients` threads; one
  resident never has two deliveries in flight. The mix: texts (メニュー/menu, ヘルプ/help, イベント,
  参加予定, 回覧板, 回覧板 清掃, リマインダー, ごみの日, ありがとうの記録, わたしのお願い, 手伝う, はじめる, やめる,
  こんにちは), menu taps (postbacks a=menu&v=…), buttons from an old flow (stale postbacks),
  circular taps on circulars the member really got (「読みました」 mostly, also 全文, 回答 and an
  answer), photos, stickers, locations, follow/unfollow of the churn residents (at least 150 s
  apart per resident), follows of brand-new users (onboarding starts), event types the bot does
  not know (somethingNew, beacon, videoPlayComplete), a group's join and a text in a group, and
  redeliveries of earlier events (same event, `deliveryContext.isRedelivery` true). A delivery
  that is not answered 200 (or gets no answer) is redelivered as LINE does, isRedelivery true,
  after 2, 4, 8, 16, 32 and 60 s, then given up;
* every minute: a circular to the association (alternately `flask --app bot circulars send` and
  the domain call `circulars.send` from this process; every third with an attendance question,
  every other with an English translation); an announcement (`flask --app bot announce`, in turn:
  to all now with an English translation, to all `--at` a minute ahead, urgent `--urgent --yes`,
  to `lang:en`, to `association:SOAK-ASSOC`, and to all again with exactly the text of an earlier
  one, a legitimate repeat); a batch of 15 personal reminders written into the database, due
  45–65 s later (titles shared by three residents each, so some go as multicasts); and a reminder
  made in LINE by a reminder resident (「リマインダー M/D HH:MM SOAK-Wn」 about two minutes ahead,
  then the 「保存」 tap).

Faults, one every 2–3 minutes (for runs shorter than 10 minutes: spread so each kind comes at
least once), the kinds in shuffled rounds:

* line500: the fake LINE API answers 500 to every 5th send call (replies included) for 30 s;
* line429: the next 20–60 send calls get 429 with Retry-After 1–10 s;
* kill_worker: SIGKILL the second worker process, start a new one 1–5 s later (the first worker
  is never killed, so its memory over the whole run can be read);
* kill_worker_busy: the same, but in the middle of the worker's LINE calls: LINE's multicast slowed to
  1.5 s a call, worker-1 paused (SIGSTOP) so that the calls are worker-2's, an announcement to all
  queued; when a multicast is in flight, worker-2 is SIGKILLed, then worker-1 resumed (SIGCONT)
  and a new worker-2 started. The calls it had made are accepted by LINE but not recorded by
  the bot: the rows are taken back after 120 s and sent again with the same retry key (LINE: 409,
  counted as sent);
* kill_clock: SIGKILL the clock, start a new one 1–5 s later (retried while the old one's
  advisory lock is still held);
* kill_web (not in the issue's list; added because it exercises the inbox's recovery): SIGKILL
  the newer gunicorn web worker in the middle of the traffic (gunicorn starts another; the older
  one lives through the run, for its memory figures); the requests it
  was serving get no answer and are redelivered, and an event it had recorded but not handled is
  handled by a worker process after 30 s;
* db_restart (PostgreSQL only): `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE
  datname = '<bench db>' AND pid <> pg_backend_pid()`: every connection of the bot (web, workers,
  clock, and this script's own) is cut, as a server restart cuts them. It stands in for a restart
  because the PostgreSQL server on this machine is shared: restarting it would break other
  people's work. What it does not cover: the server being unreachable for a while (new
  connections refused) and the loss of unflushed WAL; with synchronous_commit on, a committed
  transaction survives a real restart, so the bot sees the same thing: its open transactions
  fail and its pooled connections are dead.

At the end: the traffic stops (deliveries still being redelivered finish first), then the
script waits (at most 10 minutes) until everything due has come due, the inbox has no pending
event and the outbox no pending or sending row; then it stops the processes and checks.

How "expected", "lost" and "duplicated" are counted. Everything the fake LINE API accepted is
recorded (kind, recipients, reply token or X-Line-Retry-Key, and what identifies the message).
A push or multicast is tied to its outbox row by its retry key (each row has its own, reused on
every retry); a row that carries a reply token is the answer to the event with that token, sent
as a push because the reply failed. So every accepted send is either an ANSWER to one webhook
event or a NOTICE. Nothing else is taken from the database to decide what is expected, except
whether a staff command took effect (an announcement or circular exists), whether an event was
received (its inbox row) and why an answer was not pushed (its row cancelled).

* Answers. An event warrants exactly one answer (one reply, or the push that replaces it) when
  it is a message or postback from a following resident, a follow, or a group's join; it
  warrants none when it is an unfollow, an event type the bot does not know, a text in a group,
  or a redelivery of an event already received (LINE's retries after a failure and the
  deliberate redeliveries: the original's answer is the only one). Among the events the bot
  received (inbox row, whatever its status: a failed event is answered with an apology):
  LOST = warranted but never answered; DUPLICATED = answered more than once (by reply token:
  a second handling of the same event would push its answer again). An answer to a churn
  resident that was cancelled because the resident unfollowed before it could be pushed is
  legitimate and shown apart. Events LINE gave up on (never answered 200 after 7 tries) and
  never received warrant nothing.
* Notices, per (recipient, message): an announcement is told apart by a token in its text
  (SOAK-An, in every translation), a circular notice by its id (in the 「読みました」 button's
  postback data), a reminder by its title (SOAK-Rb-g seeded, SOAK-Wn made in LINE). Expected:
  each announcement once to each resident of its audience (all following residents who joined;
  `lang:en`; the association's members) — two announcements with the same text are expected
  twice; each circular once to each member; each seeded reminder once to its resident; a reminder
  made in LINE once, when its resident was told 「保存しました」. Churn residents may or may not be
  in an audience at the moment it is read (they unfollow and follow), so for them a notice is
  expected at most once. LOST = expected (exactly once) but not delivered; DUPLICATED = delivered
  more often than expected; UNEXPECTED = delivered to someone outside the audience.

The checks are themselves checked: they are run a second time on the recorded sends with one
reply and one circular multicast removed and one announcement multicast doubled, and must find
exactly that much more lost and duplicated.

Also reported: webhook latency as LINE would see it (from when each delivery was due to its
answer; p50/p99/max overall, during faults — a fault's window plus its recovery — and outside
them), the RSS of the web, worker and clock processes at the start, the middle and the end of the
load, the outbox and inbox at the end, dead letters (expected 0: a row is dead-lettered after 10
failed attempts with back-off 2 s, 4 s, … capped at 15 minutes, about 17 minutes in all, or at
once on an error LINE will not accept on retry; every fault here is far shorter), errors in the
processes' logs, the faults with their times, and the machine's CPU. Exit status: 0 when nothing
was lost or duplicated, the queues drained and no row was dead-lettered; 1 otherwise.
"""
from __future__ import annotations

import argparse
import collections
import copy
import hashlib
import heapq
import http.client
import itertools
import json
import math
import os
import queue
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    SECRET, BenchDatabase, Server, code_version, compile_catalogs, cpu_times, log, machine_note, pct, sign, user_id,
)
from tests.fakeline import FakeLine  # noqa: E402

TZ = "Asia/Tokyo"  # the bot's default (TZ_NAME is not passed)
TOKEN = "bench-access-token"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ASSOC_CODE = "SOAK-ASSOC"
LOCALES = ("ja", "ja", "ja", "ja", "ja", "en", "en", "vi", "ko", "pt_BR")  # resident i: LOCALES[i % 10]
REPLY_TOKEN_TTL = 60.0  # the fake refuses a reply token used later than this, as LINE does
REDELIVERY_DELAYS = (2, 4, 8, 16, 32, 60)  # LINE-style redelivery of an unanswered delivery
CHURN_GAP = 150.0  # seconds at least between two follow/unfollow events of one churn resident
DRAIN_LIMIT = 600.0
SEND_PATHS = {"/v2/bot/message/reply": "reply", "/v2/bot/message/push": "push",
              "/v2/bot/message/multicast": "multicast", "/v2/bot/message/broadcast": "broadcast"}
NOTICE_RX = re.compile(r"SOAK-[ARW]\d+(?:-\d+)?")
CIRC_RX = re.compile(r"a=circ&x=read&c=(\d+)")
MB = 1024 * 1024

TEXTS = ("メニュー", "menu", "ヘルプ", "help", "使い方", "イベント", "参加予定", "回覧板", "回覧板 清掃", "リマインダー",
         "ごみの日", "ありがとうの記録", "わたしのお願い", "手伝う", "はじめる", "やめる", "こんにちは", "天気はどう？")
MENU_KEYS = ("events", "my_events", "circulars", "reminders", "garbage", "help", "record", "mine", "offer")
STALE = ("f=onboarding&s=language&v=en", "f=reminder_new&s=confirm&v=save", "f=settings&s=what&v=quiet",
         "a=circ&x=read&c=999999", "a=ev&x=join&e=424242")


# -- the fake LINE API -------------------------------------------------------------------------

@dataclass
class Rec:
    """One send the fake accepted."""
    t: float
    kind: str  # reply | push | multicast | broadcast
    to: tuple[str, ...]
    token: str | None  # reply token (replies)
    key: str | None  # X-Line-Retry-Key (push, multicast, broadcast)
    notices: frozenset[str]  # SOAK-A… / SOAK-R… / SOAK-W… found in the messages
    circs: frozenset[int]  # circular ids of 「読みました」 buttons in the messages
    texts: tuple[str, ...]  # text / altText of each message, shortened


def make_fake() -> "FakeLine":
    class SoakFake(FakeLine):
        """Keeps a compact record of every accepted send (not the messages), expires reply tokens
        after REPLY_TOKEN_TTL, counts injected failures and 409s, and can stop failing."""

        def __post_init__(self):
            super().__post_init__()
            self.recs: list[Rec] = []
            self.by_user: dict[str, list[int]] = collections.defaultdict(list)
            self.issued: dict[str, float] = {}
            self.injected: collections.Counter = collections.Counter()
            self.conflicts = 0
            self.expired = 0
            self.circ_got: list[tuple[str, int]] = []  # (member, circular) from notices
            self.multicasts_in_flight = 0
            self.multicast_delay = 0.0  # seconds each multicast takes (kill_worker_busy)

        def issue_reply_token(self, owner: str) -> str:
            tok = super().issue_reply_token(owner)
            self.issued[tok] = time.time()
            return tok

        def stop_failing(self) -> None:
            with self.lock:
                self._fail_every = None

        def clear_failures(self) -> None:
            with self.lock:
                self._fail_every = None
                self._fail_queue.clear()

        def pending_failures(self) -> int:
            with self.lock:
                return len(self._fail_queue)

        def _injected(self):
            out = super()._injected()
            if out:
                with self.lock:
                    self.injected[out[0]] += 1
            return out

        def handle(self, method, path, headers, body, raw=b""):
            kind = SEND_PATHS.get(path)
            if kind == "multicast":
                with self.lock:
                    self.multicasts_in_flight += 1
                try:
                    if self.multicast_delay:
                        time.sleep(self.multicast_delay)
                    return self._handle(kind, method, path, headers, body, raw)
                finally:
                    with self.lock:
                        self.multicasts_in_flight -= 1
            return self._handle(kind, method, path, headers, body, raw)

        def _handle(self, kind, method, path, headers, body, raw):
            if kind == "reply" and isinstance(body, dict):
                tok = body.get("replyToken")
                issued = self.issued.get(tok)
                if issued is not None and time.time() - issued > REPLY_TOKEN_TTL:
                    with self.lock:
                        if tok not in self.used_tokens:
                            self.used_tokens.add(tok)
                            self.expired += 1
            status, extra, payload = super().handle(method, path, headers, body, raw)
            if status == 409:
                with self.lock:
                    self.conflicts += 1
            if kind and status == 200:
                rid = extra.get("x-line-request-id")
                now = time.time()
                with self.lock:
                    d = None
                    for i in range(len(self.deliveries) - 1, -1, -1):
                        if self.deliveries[i].request_id == rid:
                            d = self.deliveries.pop(i)
                            break
                    if d is not None:
                        blob = json.dumps(d.messages, ensure_ascii=False)
                        texts = tuple((m.get("text") or m.get("altText") or m.get("type", ""))[:200]
                                      for m in d.messages)
                        rec = Rec(now, d.kind, tuple(d.to), body.get("replyToken") if kind == "reply" else None,
                                  d.retry_key, frozenset(NOTICE_RX.findall(blob)),
                                  frozenset(int(c) for c in CIRC_RX.findall(blob)), texts)
                        idx = len(self.recs)
                        self.recs.append(rec)
                        for u in rec.to:
                            self.by_user[u].append(idx)
                        if kind in ("push", "multicast") and rec.circs:
                            for u in rec.to:
                                for c in rec.circs:
                                    self.circ_got.append((u, c))
            return status, extra, payload

        def texts_since(self, user: str, since: float) -> list[tuple[float, str]]:
            with self.lock:
                return [(self.recs[i].t, x) for i in self.by_user.get(user, []) if self.recs[i].t >= since
                        for x in self.recs[i].texts]

    fake = SoakFake(token=TOKEN, record_calls=False).start()
    server = fake.server
    default = server.handle_error

    def handle_error(request, client_address):  # a killed worker's socket: not worth a traceback
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            default(request, client_address)

    server.handle_error = handle_error
    return fake


# -- the processes -----------------------------------------------------------------------------

def bot_env(db_url: str, line_url: str) -> dict[str, str]:
    names = set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', (ROOT / "bot" / "config.py").read_text()))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LINE_", "DATABASE_", "FLASK_", "WEBCHAT")) and k not in names}
    env.update(DATABASE_URL=db_url, LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
               LINE_API_BASE_URL=line_url, LINE_WORKER_PROCESSES="2", PYTHONUNBUFFERED="1",
               FLASK_SECRET_KEY=secrets.token_urlsafe(48))  # with LINE configured, a weak key is refused
    return env


def rss_of(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class BotProc:
    """One slot of `flask --app bot worker|clock`; each start is a new instance with its own log."""

    READY = {"worker": "worker started", "clock": "clock started"}

    def __init__(self, slot: str, command: str, env: dict[str, str], workdir: Path):
        self.slot, self.command, self.env, self.workdir = slot, command, env, workdir
        self.proc: subprocess.Popen | None = None
        self.instances: list[dict] = []  # pid, started, ended, how, log
        self.killed = 0
        self.unexpected: list[str] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        path = self.workdir / f"{self.slot}-{len(self.instances)}.log"
        fh = open(path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "bot", self.command], cwd=ROOT,
                                     env=self.env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        fh.close()
        self.instances.append({"pid": self.proc.pid, "started": time.time(), "ended": None, "how": "",
                               "log": path})

    def log_text(self, inst: dict | None = None) -> str:
        inst = inst or self.instances[-1]
        try:
            return inst["log"].read_text(errors="replace")
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 90.0) -> bool:
        """True once the log says it started; False if it exited (e.g. a clock finding the lock
        still held)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.READY[self.command] in self.log_text():
                return True
            if self.proc is not None and self.proc.poll() is not None:
                self.instances[-1].update(ended=time.time(), how=f"exited {self.proc.returncode} at start")
                return False
            time.sleep(0.1)
        raise RuntimeError(f"{self.slot}: not ready after {timeout:.0f} s:\n{self.log_text()[-2000:]}")

    def start_ready(self, tries: int = 30) -> None:
        for _ in range(tries):
            self.start()
            if self.wait_ready():
                return
            time.sleep(2.0)
        raise RuntimeError(f"{self.slot}: could not start:\n{self.log_text()[-2000:]}")

    def kill(self) -> int:
        with self.lock:
            assert self.proc is not None
            pid = self.proc.pid
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
            self.instances[-1].update(ended=time.time(), how="SIGKILL (fault)")
            self.killed += 1
            return pid

    def check_alive(self) -> None:
        """A supervisor's job: an instance that died on its own is recorded and replaced."""
        with self.lock:
            if self.proc is not None and self.proc.poll() is not None and self.instances[-1]["ended"] is None:
                code = self.proc.returncode
                self.instances[-1].update(ended=time.time(), how=f"exited on its own ({code})")
                self.unexpected.append(f"{self.slot} pid {self.proc.pid} exited on its own with {code}")
                log(f"{self.slot}: exited on its own ({code}); starting a new one")
                self.start_ready()

    def rss(self) -> tuple[int, int]:
        if self.proc is None or self.proc.poll() is not None:
            return 0, 0
        return self.proc.pid, rss_of(self.proc.pid)

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the session this script started for it
            except ProcessLookupError:
                pass
            proc.wait(5)
        self.instances[-1].update(ended=time.time(), how="stopped at the end")


def log_problems(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback"):
            out.append(line.strip()[:240])
    return out


def flask_cli(args: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    res = subprocess.run([sys.executable, "-m", "flask", "--app", "bot", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=timeout)
    return res.returncode, (res.stdout + res.stderr).strip()


# -- set-up --------------------------------------------------------------------------------------

@dataclass
class People:
    users: list[str]
    locale: dict[str, str]
    stable: list[str]  # never unfollow (includes the members and the reminder residents)
    members: list[str]
    churn: list[str]
    rempool: list[str]  # make reminders in LINE, nothing else
    chatty: list[str]  # stable minus the reminder residents: the webhook traffic's residents

    @classmethod
    def make(cls, n: int) -> "People":
        users = [user_id("soak", i) for i in range(n)]
        locale = {u: LOCALES[i % 10] for i, u in enumerate(users)}
        n_churn = max(10, n // 20)
        n_members = min(400, n // 5)
        churn = users[n - n_churn:]
        rem_range = range(max(n_members, n - n_churn - 50), n - n_churn)
        rempool = [users[i] for i in rem_range if LOCALES[i % 10] == "ja"]
        stable = users[:n - n_churn]
        chatty = [u for u in stable if u not in set(rempool)]
        return cls(users, locale, stable, users[:n_members], churn, rempool, chatty)


def seed(db: BenchDatabase, people: People) -> int:
    """Residents, the association, households and memberships (SQLAlchemy Core). Returns the
    association's id."""
    from sqlalchemy import create_engine, insert, select

    from bot.core.db import utcnow
    from bot.core.models import Area, Association, Household, Membership, Resident

    engine = create_engine(db.url)
    now = utcnow()
    try:
        with engine.begin() as conn:
            areas = [r[0] for r in conn.execute(select(Area.id).order_by(Area.id))] or [None]
            assoc_id = conn.execute(insert(Association.__table__).values(
                name="ソーク町内会", join_code=ASSOC_CODE, read_per="household", area_id=areas[0], created_at=now,
            ).returning(Association.__table__.c.id)).scalar_one()
            n_households = max(1, len(people.members) * 2 // 5)
            hh_rows = [{"association_id": assoc_id, "label": f"{h + 1}番", "han": f"{h % 8 + 1}班", "paper": False,
                        "created_at": now} for h in range(n_households)]
            hh_rows += [{"association_id": assoc_id, "label": f"紙{j + 1}", "han": f"{j % 8 + 1}班", "paper": True,
                         "created_at": now} for j in range(20)]
            hh_ids = [r[0] for r in conn.execute(insert(Household.__table__).returning(
                Household.__table__.c.id, sort_by_parameter_order=True),
                                                 hh_rows)][:n_households]
            first = 1 + (conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM resident").scalar() or 0)
            conn.execute(insert(Resident.__table__), [
                {"id": first + i, "line_user_id": u, "channel": "line", "nickname": f"住民{i}",
                 "locale": people.locale[u], "area_id": areas[i % len(areas)], "following": True, "followed_at": now,
                 "unfollowed_at": None, "consent_at": now, "quiet_start": None, "quiet_end": None, "digest": False,
                 "interests": [], "rate_count": 0, "created_at": now}
                for i, u in enumerate(people.users)])
            conn.execute(insert(Membership.__table__), [
                {"resident_id": first + i, "association_id": assoc_id, "role": "leader" if i == 0 else "member",
                 "household_id": hh_ids[i * n_households // len(people.members)], "joined_at": now}
                for i in range(len(people.members))])
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('resident', 'id'), "
                                     "(SELECT max(id) FROM resident))")
    finally:
        engine.dispose()
    db.after_seed(["resident", "membership", "household", "association"])
    return assoc_id


# -- webhook traffic -----------------------------------------------------------------------------

@dataclass
class Ev:
    eid: str
    cat: str
    user: str | None
    owner: str | None  # who its answer goes to (the user, or the group)
    token: str | None
    body: dict
    warrants: bool
    created: float
    accepted_at: float | None = None
    tries: int = 0
    gave_up: bool = False


@dataclass
class Sample:
    due: float
    start: float
    end: float
    status: int | None  # None: no answer (connection error, time-out)
    cat: str
    redelivery: bool


def event_dict(kind: str, source: dict, token: str | None, **extra) -> dict:
    ev = {"type": kind, "mode": "active", "timestamp": int(time.time() * 1000),
          "webhookEventId": "01SOAK" + uuid.uuid4().hex.upper(),
          "deliveryContext": {"isRedelivery": False}, "source": source}
    if token:
        ev["replyToken"] = token
    ev.update(extra)
    return ev


class Traffic:
    def __init__(self, fake, port: int, people: People, rate: float, clients: int, rng: random.Random):
        self.fake, self.port, self.people, self.rate, self.rng = fake, port, people, rate, rng
        self.q: queue.Queue = queue.Queue()
        self.heap: list = []
        self.seq = itertools.count()
        self.lock = threading.Lock()
        self.busy: set[str] = set()
        self.events: dict[str, Ev] = {}
        self.done: list[Ev] = []  # accepted originals, for deliberate redeliveries
        self.samples: list[Sample] = []
        self.inflight = 0
        self.churn_state = {u: [True, -1e9] for u in people.churn}  # following?, last toggle
        self.unfollows: dict[str, list[float]] = collections.defaultdict(list)
        self.new_users = itertools.count()
        self.msg_ids = itertools.count(10**12)
        self.deliberate = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.client, daemon=True, name=f"client-{i}") for i in range(clients)]

    # -- building events ------------------------------------------------------------------
    def _user_event(self, cat: str, user: str, kind: str, warrants: bool, token: bool = True, **extra) -> Ev:
        tok = self.fake.issue_reply_token(user) if token else None
        body = event_dict(kind, {"type": "user", "userId": user}, tok, **extra)
        return Ev(body["webhookEventId"], cat, user, user, tok, body, warrants, time.time())

    def _pick(self, pool: list[str]) -> str | None:
        for _ in range(8):
            u = self.rng.choice(pool)
            if u not in self.busy:
                return u
        return None

    def make_event(self) -> Ev | None:
        r = self.rng.random() * 100
        rng = self.rng
        if r < 4:  # a deliberate redelivery of an earlier event
            with self.lock:
                if not self.done:
                    return None
                orig = self.done[-rng.randint(1, min(3000, len(self.done)))]
            if orig.user and orig.user in self.busy:
                return None
            return orig  # sent with isRedelivery true (see schedule)
        if r < 9:  # a churn resident follows or unfollows
            now = time.time()
            for _ in range(8):
                u = rng.choice(self.people.churn)
                following, last = self.churn_state[u]
                if u not in self.busy and now - last >= CHURN_GAP:
                    self.churn_state[u] = [not following, now]
                    if following:
                        self.unfollows[u].append(now)
                        return self._user_event("unfollow", u, "unfollow", False, token=False)
                    return self._user_event("follow (churn)", u, "follow", True, follow={"isUnblocked": True})
            return None
        if r < 11:  # a brand-new user follows: onboarding starts
            u = user_id("soak-new", next(self.new_users))
            if rng.random() < 0.5:
                self.fake.profiles[u] = {"displayName": "新しい人", "language": rng.choice(["ja", "en", "vi"])}
            return self._user_event("follow (new)", u, "follow", True, follow={"isUnblocked": False})
        if r < 12:  # a group
            gid = "C" + hashlib.md5(f"soak-group-{rng.randint(0, 30)}".encode()).hexdigest()
            if rng.random() < 0.5:
                tok = self.fake.issue_reply_token(gid)
                body = event_dict("join", {"type": "group", "groupId": gid}, tok)
                return Ev(body["webhookEventId"], "group join", None, gid, tok, body, True, time.time())
            u = rng.choice(self.people.chatty)
            tok = self.fake.issue_reply_token(gid)
            body = event_dict("message", {"type": "group", "groupId": gid, "userId": u}, tok,
                              message={"type": "text", "id": str(next(self.msg_ids)), "text": "こんにちは",
                                       "quoteToken": "q"})
            return Ev(body["webhookEventId"], "group text", None, gid, tok, body, False, time.time())
        u = self._pick(self.people.chatty)
        if u is None:
            return None
        if r < 15:  # event types the bot does not know
            kind = rng.choice(["somethingNew", "beacon", "videoPlayComplete"])
            extra = {"somethingNew": {"extraField": {"a": 1}},
                     "beacon": {"beacon": {"hwid": "d41d8cd98f", "type": "enter"}},
                     "videoPlayComplete": {"videoPlayComplete": {"trackingId": "soak"}}}[kind]
            return self._user_event(f"unknown ({kind})", u, kind, False, token=kind != "somethingNew", **extra)
        if r < 24:  # photos, stickers, locations
            mid = str(next(self.msg_ids))
            msg = rng.choice([
                {"type": "image", "id": mid, "contentProvider": {"type": "line"}, "quoteToken": "q"},
                {"type": "sticker", "id": mid, "packageId": "446", "stickerId": "1988", "stickerResourceType": "STATIC",
                 "quoteToken": "q"},
                {"type": "location", "id": mid, "latitude": 35.0, "longitude": 139.0, "address": "市民センター"},
            ])
            return self._user_event(f"message ({msg['type']})", u, "message", True, message=msg)
        if r < 40:  # circular taps by members who got one
            with self.fake.lock:
                got = self.fake.circ_got[-3000:]
            if got:
                for _ in range(8):
                    m, cid = rng.choice(got)
                    if m not in self.busy:
                        x = rng.choices(["read", "full", "ans", "av"], [70, 10, 10, 10])[0]
                        data = f"a=circ&x={x}&c={cid}" + (f"&v={rng.randint(0, 2)}" if x == "av" else "")
                        return self._user_event(f"postback (circular {x})", m, "postback", True,
                                                postback={"data": data})
        if r < 55:
            data = (f"a=menu&v={rng.choice(MENU_KEYS)}" if rng.random() < 0.9 else "a=show_menu")
            return self._user_event("postback (menu)", u, "postback", True, postback={"data": data})
        if r < 58:
            return self._user_event("postback (old button)", u, "postback", True, postback={"data": rng.choice(STALE)})
        text = rng.choice(TEXTS)
        return self._user_event("text", u, "message", True,
                                message={"type": "text", "id": str(next(self.msg_ids)), "text": text, "quoteToken": "q"})

    # -- sending ----------------------------------------------------------------------------
    def schedule(self, ev: Ev, due: float, redelivery: bool, deliberate: bool = False) -> None:
        with self.lock:
            if ev.user:
                self.busy.add(ev.user)
            self.inflight += 1
            if not deliberate and not redelivery:
                self.events[ev.eid] = ev
        self.q.put((ev, due, redelivery, deliberate))

    def post(self, ev: Ev, redelivery: bool) -> int | None:
        body = copy.deepcopy(ev.body)
        body["deliveryContext"]["isRedelivery"] = redelivery
        raw = json.dumps({"destination": "Usoak", "events": [body]}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "X-Line-Signature": sign(raw)}
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            conn.request("POST", "/callback", raw, headers)
            resp = conn.getresponse()
            resp.read()
            conn.close()
            return resp.status
        except Exception:  # noqa: BLE001 - no answer: LINE redelivers
            return None

    def client(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                return
            ev, due, redelivery, deliberate = item
            start = time.time()
            status = self.post(ev, redelivery)
            end = time.time()
            retry_at = None
            with self.lock:
                self.samples.append(Sample(due, start, end, status, ev.cat, redelivery))
                ev.tries += 1
                if status == 200:
                    if ev.accepted_at is None:
                        ev.accepted_at = end
                        if not deliberate:
                            self.done.append(ev)
                elif not deliberate:
                    n = ev.tries - 1
                    if n < len(REDELIVERY_DELAYS):
                        retry_at = end + REDELIVERY_DELAYS[n]
                    else:
                        ev.gave_up = True
                if retry_at is not None:
                    heapq.heappush(self.heap, (retry_at, next(self.seq), ev))
                else:
                    self.inflight -= 1
                    if ev.user:
                        self.busy.discard(ev.user)

    def run(self, until: float) -> None:
        for t in self.threads:
            t.start()
        due = time.time()
        while not self.stop.is_set():
            due += self.rng.expovariate(self.rate)
            while True:
                now = time.time()
                self._release_retries(now)
                if now >= due or self.stop.is_set():
                    break
                time.sleep(min(0.02, due - now))
            if due >= until:
                break
            for _ in range(5):
                ev = self.make_event()
                if ev is None:
                    continue
                if ev.eid in self.events and ev.accepted_at is not None:  # a deliberate redelivery
                    self.deliberate += 1
                    self.schedule(ev, due, redelivery=True, deliberate=True)
                else:
                    self.schedule(ev, due, redelivery=False)
                break

    def _release_retries(self, now: float) -> None:
        while True:
            with self.lock:
                if not self.heap or self.heap[0][0] > now:
                    return
                _, _, ev = heapq.heappop(self.heap)
                self.inflight -= 1  # schedule() counts it again
            self.schedule(ev, now, redelivery=True)

    def finish(self, limit: float = 240.0) -> None:
        """After the load: let redeliveries run out, then stop the clients."""
        end = time.time() + limit
        while time.time() < end:
            self._release_retries(time.time())
            with self.lock:
                if self.inflight == 0:
                    break
            time.sleep(0.1)
        for _ in self.threads:
            self.q.put(None)
        for t in self.threads:
            t.join(35)

    def send_now(self, ev: Ev) -> None:
        """For the reminder thread: one event, redelivered until answered (or given up)."""
        self.schedule(ev, time.time(), redelivery=False)


# -- staff and scheduled work --------------------------------------------------------------------

@dataclass
class Ann:
    n: int
    token: str
    variant: str
    text: str
    audience: str  # all | lang:en | association
    ok: bool = False
    out: str = ""
    due: float = 0.0


@dataclass
class Circ:
    n: int
    title: str
    how: str  # cli | domain
    question: str
    cid: int | None = None
    out: str = ""


@dataclass
class RemBatch:
    b: int
    due: float
    items: list[tuple[str, str]]  # (user, title)
    ok: bool = False


@dataclass
class WRem:
    n: int
    user: str
    title: str
    due: float
    text_sent: float = 0.0
    tap_sent: float = 0.0
    saved_at: float | None = None
    note: str = ""


class Ops:
    """Every minute: a circular, an announcement, a batch of reminders, a reminder made in LINE."""

    VARIANTS = ("now, all, +en", "at +60 s, all", "urgent, all", "now, lang:en", "now, association", "repeat of an earlier text")

    def __init__(self, env, bot, assoc_id: int, people: People, traffic: Traffic, fake, rng: random.Random):
        self.env, self.bot, self.assoc_id, self.people, self.traffic, self.fake, self.rng = \
            env, bot, assoc_id, people, traffic, fake, rng
        self.anns: list[Ann] = []
        self.circs: list[Circ] = []
        self.batches: list[RemBatch] = []
        self.wrems: list[WRem] = []
        self.errors: list[str] = []
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.tr_path: Path | None = None

    def spawn(self, fn, *args) -> None:
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        self.threads.append(t)

    def run(self, start: float, until: float, workdir: Path) -> None:
        self.tr_path = workdir / "circular-en.json"
        minute = 0
        while not self.stop.is_set():
            base = start + 5 + 60 * minute
            if base >= until - 20:
                break
            for offset, fn in ((0, self.circular), (20, self.announcement), (35, self.reminder_batch),
                               (45, self.reminder_in_line)):
                at = base + offset
                if at >= until - 10:
                    break
                while time.time() < at and not self.stop.is_set():
                    time.sleep(0.1)
                if self.stop.is_set():
                    break
                self.spawn(fn, minute)
            minute += 1

    def join(self, timeout: float = 300) -> None:
        end = time.time() + timeout
        for t in self.threads:
            t.join(max(0.1, end - time.time()))

    # -- circulars ---------------------------------------------------------------------------
    def circular(self, n: int) -> None:
        question = "attendance" if n % 3 == 2 else "none"
        how = "cli" if n % 2 == 0 else "domain"
        for attempt in range(4):
            title = f"SOAK-C{n}-{attempt} 町内清掃のお知らせ"
            c = Circ(n, title, how, question)
            with self.lock:
                self.circs.append(c)
            body = "12月7日（日）9時から公園と道路の清掃を行います。軍手とごみ袋は町内会で用意します。"
            try:
                if how == "cli":
                    args = ["circulars", "send", "--association", ASSOC_CODE, "--title", title, "--body", body,
                            "--question", question]
                    if n % 4 < 2:
                        assert self.tr_path is not None
                        self.tr_path.write_text(json.dumps({"en": {"title": f"SOAK-C{n} Clean-up",
                                                                   "body": "Sunday 7 December, 9:00."}}))
                        args += ["--translations", str(self.tr_path)]
                    code, out = flask_cli(args, self.env)
                    c.out = out
                    m = re.search(r"circular (\d+) to", out)
                    if code == 0 and m:
                        c.cid = int(m.group(1))
                        return
                    self.errors.append(f"circular {n} (CLI) attempt {attempt}: exit {code}: {out[-300:]}")
                else:
                    from bot import services
                    from bot.services import circulars
                    from bot.core.db import utcnow
                    from bot.core.models import Circular

                    with self.bot.db.session() as s:
                        circ = Circular(association_id=self.assoc_id, title=title, body=body, translations={},
                                        question=question, choices=[], public_answers=False, created_at=utcnow())
                        s.add(circ)
                        s.flush()
                        sent = services.apply(s, circulars.send(s, circ, self.bot.config, utcnow()), "bench").facts
                        cid = circ.id
                    c.cid, c.out = cid, str(sent)
                    return
            except Exception as exc:  # noqa: BLE001 - e.g. the database fault: try again
                self.errors.append(f"circular {n} ({how}) attempt {attempt}: {type(exc).__name__}: {exc}"[:300])
            time.sleep(3)

    # -- announcements -----------------------------------------------------------------------
    def announcement(self, n: int) -> None:
        variant = self.VARIANTS[n % len(self.VARIANTS)]
        repeat_of = None
        if variant.startswith("repeat"):
            with self.lock:
                earlier = [a for a in self.anns if a.ok and a.audience == "all" and a.variant.startswith("now")]
            repeat_of = earlier[-1] if earlier else None
            if repeat_of is None:
                variant = self.VARIANTS[0]
        for attempt in range(4):
            token = f"SOAK-A{n}" if attempt == 0 else f"SOAK-A{n}-{attempt}"
            if repeat_of is not None:
                token, text = repeat_of.token, repeat_of.text
            else:
                text = f"【{token}】12月20日（日）9時から市民センターで防災訓練を行います。"
            audience = {"now, lang:en": "lang:en", "now, association": "association"}.get(variant, "all")
            a = Ann(n, token, variant, text, audience, due=time.time())
            args = ["announce", "--text", text]
            if variant == "now, all, +en" or repeat_of is not None:
                args += ["--translation", f"en=[{token}] Disaster drill at the civic centre, Sunday 20 December 9:00."]
            if variant.startswith("at"):
                a.due = time.time() + 60
                at = datetime.fromtimestamp(a.due, ZoneInfo(TZ)).strftime("%Y-%m-%dT%H:%M:%S")
                args += ["--at", at]
            if variant.startswith("urgent"):
                args += ["--urgent", "--yes"]
            if audience == "lang:en":
                args += ["--to", "lang:en"]
            if audience == "association":
                args += ["--to", f"association:{ASSOC_CODE}"]
            try:
                code, out = flask_cli(args, self.env)
            except subprocess.TimeoutExpired:
                code, out = -1, "time-out"
            a.out = out
            a.ok = code == 0 and "scheduled" in out
            with self.lock:
                self.anns.append(a)
            if a.ok:
                return
            self.errors.append(f"announcement {n} attempt {attempt}: exit {code}: {out[-300:]}")
            time.sleep(3)

    # -- reminders ---------------------------------------------------------------------------
    def reminder_batch(self, b: int) -> None:
        from sqlalchemy import insert, select

        from bot.core.db import utcnow
        from bot.core.models import Reminder, Resident
        from bot.core.recurrence import Rule

        due = time.time() + 45 + self.rng.uniform(0, 20)
        due_dt = datetime.fromtimestamp(due, timezone.utc)
        local = due_dt.astimezone(ZoneInfo(TZ))
        rule = Rule("daily", local.time().replace(second=0, microsecond=0)).to_json()
        users = self.rng.sample(self.people.chatty, 15)
        items = [(u, f"SOAK-R{b}-{j % 5}") for j, u in enumerate(users)]
        batch = RemBatch(b, due, items)
        with self.lock:
            self.batches.append(batch)
        for attempt in range(4):
            try:
                with self.bot.db.session() as s:
                    ids = dict(s.execute(select(Resident.line_user_id, Resident.id)
                                         .where(Resident.line_user_id.in_(users))).all())
                    s.execute(insert(Reminder.__table__), [
                        {"resident_id": ids[u], "title": title, "rule": rule, "next_fire_at": due_dt,
                         "created_at": utcnow()} for u, title in items])
                batch.ok = True
                return
            except Exception as exc:  # noqa: BLE001
                self.errors.append(f"reminder batch {b} attempt {attempt}: {type(exc).__name__}: {exc}"[:300])
                time.sleep(2)

    def reminder_in_line(self, n: int) -> None:
        """A reminder resident writes a reminder in one line, then taps 保存 on the check."""
        from bot.core.i18n import t

        user = self.people.rempool[n % len(self.people.rempool)]
        with self.traffic.lock:
            if user in self.traffic.busy:
                return
        if any(w.user == user and not w.saved_at for w in self.wrems):
            # An earlier try of this resident's was left at the check: leave that flow first.
            ev0 = self.traffic._user_event("text (reminder)", user, "message", True,
                                           message={"type": "text", "id": str(next(self.traffic.msg_ids)),
                                                    "text": "やめる", "quoteToken": "q"})
            sent0 = time.time()
            self.traffic.send_now(ev0)
            self._wait_for(user, sent0, lambda x: True, 90)
            while user in self.traffic.busy:
                time.sleep(0.1)
        due = math.ceil((time.time() + 120) / 60) * 60
        local = datetime.fromtimestamp(due, ZoneInfo(TZ))
        title = f"SOAK-W{n}"
        w = WRem(n, user, title, float(due))
        with self.lock:
            self.wrems.append(w)
        text = f"リマインダー {local.month}/{local.day} {local.hour}:{local.minute:02d} {title}"
        ev = self.traffic._user_event("text (reminder)", user, "message", True,
                                      message={"type": "text", "id": str(next(self.traffic.msg_ids)), "text": text,
                                               "quoteToken": "q"})
        w.text_sent = time.time()
        self.traffic.send_now(ev)
        if not self._wait_for(user, w.text_sent, lambda x: title in x, 90):
            w.note = "no check question came"
            return
        ev2 = self.traffic._user_event("postback (reminder save)", user, "postback", True,
                                       postback={"data": "f=reminder_new&s=confirm&v=save"})
        w.tap_sent = time.time()
        self.traffic.send_now(ev2)
        saved = t(self.people.locale[user], "Saved. See or delete your reminders with “Reminders”.")
        got = self._wait_for(user, w.tap_sent, lambda x: x.startswith(saved), 90)
        w.saved_at = got
        if not got:
            w.note = "no 保存しました came within 90 s"

    def _wait_for(self, user: str, since: float, pred, timeout: float) -> float | None:
        end = time.time() + timeout
        while time.time() < end:
            for ts, x in self.fake.texts_since(user, since):
                if pred(x):
                    return ts
            time.sleep(0.2)
        return None


# -- faults ------------------------------------------------------------------------------------

@dataclass
class Fault:
    kind: str
    start: float
    end: float = 0.0
    detail: str = ""


class Faults:
    def __init__(self, fake, db: BenchDatabase, procs: dict[str, BotProc], rng: random.Random):
        self.fake, self.db, self.procs, self.rng = fake, db, procs, rng
        self.done: list[Fault] = []
        self.stop = threading.Event()
        self.kinds = ["line500", "line429", "kill_worker", "kill_worker_busy", "kill_clock", "kill_web"] \
            + ([] if db.is_sqlite else ["db_restart"])
        self.ops: Ops | None = None
        self.extra_anns = itertools.count()
        self.web: Server | None = None
        self.memory: Memory | None = None

    def plan(self, start: float, until: float, minutes: float) -> list[tuple[float, str]]:
        out = []
        t = start
        if minutes >= 10:
            gaps = lambda: self.rng.uniform(120, 180)  # noqa: E731
        else:
            g = max(15.0, (until - start - 45) / (len(self.kinds) + 1))
            gaps = lambda: g  # noqa: E731
        order: list[str] = []
        while True:
            t += gaps()
            if t > until - 45:
                break
            if not order:
                order = self.kinds[:]
                self.rng.shuffle(order)
            out.append((t, order.pop()))
        return out

    def run(self, plan: list[tuple[float, str]]) -> None:
        for at, kind in plan:
            while time.time() < at:
                if self.stop.wait(min(0.5, max(0.0, at - time.time()))):
                    return
            f = Fault(kind, time.time())
            try:
                getattr(self, kind)(f)
            except Exception as exc:  # noqa: BLE001 - recorded in the report
                f.detail += f" (fault failed: {type(exc).__name__}: {exc})"
            f.end = f.end or time.time()
            self.done.append(f)
            log(f"fault {kind}: {f.detail} ({f.end - f.start:.0f} s)")

    def line500(self, f: Fault) -> None:
        self.fake.fail_every(5, 500)
        f.detail = "LINE answers 500 to every 5th send call for 30 s"
        self.stop.wait(30)
        self.fake.stop_failing()

    def line429(self, f: Fault) -> None:
        n, ra = self.rng.randint(20, 60), self.rng.choice([1, 2, 5, 10])
        self.fake.fail_next(429, n, retry_after=ra)
        end = time.time() + 90
        while self.fake.pending_failures() and time.time() < end and not self.stop.is_set():
            time.sleep(0.2)
        left = self.fake.pending_failures()
        if left:
            self.fake.clear_failures()
        f.detail = f"the next {n} send calls answered 429 with Retry-After {ra} s" + (f" ({left} unused)" if left else "")

    def kill_worker(self, f: Fault) -> None:
        p = self.procs["worker-2"]
        pid = p.kill()
        pause = self.rng.uniform(1, 5)
        time.sleep(pause)
        p.start_ready()
        f.detail = f"SIGKILL worker-2 (pid {pid}); a new one started {pause:.1f} s later and was ready after " \
                   f"{time.time() - f.start:.1f} s"

    def kill_worker_busy(self, f: Fault) -> None:
        """The worker killed in the middle of its LINE calls: LINE's multicast slowed to 1.5 s a call, worker-1
        paused (SIGSTOP) so that the calls are worker-2's, an announcement to all queued (it is one
        of Ops' announcements, with its own token, and expected like them); when a multicast is in
        flight, worker-2 is SIGKILLed. The calls already made are accepted by the fake but never
        recorded by the bot: the rows stay "sending", are taken back after 120 s and sent again with
        the same retry key, which the fake answers with 409 (counted as sent)."""
        assert self.ops is not None
        p1, p2 = self.procs["worker-1"], self.procs["worker-2"]
        self.fake.multicast_delay = 1.5
        assert p1.proc is not None
        os.kill(p1.proc.pid, signal.SIGSTOP)
        killed = None
        try:
            n = 1002 + 6 * next(self.extra_anns)  # variant 0: to all, now
            th = threading.Thread(target=self.ops.announcement, args=(n,), daemon=True)
            th.start()
            end = time.time() + 60
            while time.time() < end and not self.stop.is_set():
                with self.fake.lock:
                    busy = self.fake.multicasts_in_flight
                if busy:
                    time.sleep(0.5)
                    killed = p2.kill()
                    break
                time.sleep(0.02)
        finally:
            self.fake.multicast_delay = 0.0
            os.kill(p1.proc.pid, signal.SIGCONT)
        if killed is None:
            f.detail = "no multicast came within 60 s; nothing killed"
            return
        pause = self.rng.uniform(1, 5)
        time.sleep(pause)
        p2.start_ready()
        th.join(120)
        f.detail = (f"LINE's multicast slowed to 1.5 s a call, worker-1 paused, announcement SOAK-A{n} queued; SIGKILL worker-2 "
                    f"(pid {killed}) with multicasts in flight; a new one {pause:.1f} s later")

    def kill_clock(self, f: Fault) -> None:
        p = self.procs["clock"]
        pid = p.kill()
        pause = self.rng.uniform(1, 5)
        time.sleep(pause)
        before = len(p.instances)
        p.start_ready()
        f.detail = f"SIGKILL clock (pid {pid}); a new one started {pause:.1f} s later, ready after " \
                   f"{time.time() - f.start:.1f} s ({len(p.instances) - before} start(s))"

    def kill_web(self, f: Fault) -> None:
        """Not in the issue's list, added: a web worker dies in the middle of the traffic (gunicorn
        starts another). LINE gets no answer and redelivers; an event it had recorded but not handled
        is handled by the worker after 30 s."""
        assert self.web is not None and self.memory is not None
        pids = self.web.worker_pids()
        pid = self.memory.newest_web_worker()  # the oldest one lives through the run (its memory)
        os.kill(pid, signal.SIGKILL)
        end = time.time() + 30
        while time.time() < end and len(set(self.web.worker_pids()) - {pid}) < len(pids):
            time.sleep(0.2)
        f.detail = f"SIGKILL gunicorn web worker pid {pid}; gunicorn had a new one after {time.time() - f.start:.1f} s"

    def db_restart(self, f: Fault) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.db.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                n = conn.execute(text("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE datname = :d AND pid <> pg_backend_pid()) t"), {"d": self.db.name}).scalar()
        finally:
            engine.dispose()
        f.detail = f"pg_terminate_backend on all {n} connections to {self.db.name}"


FAULT_TAIL = {"line500": 10.0, "line429": 10.0, "kill_worker": 10.0, "kill_clock": 10.0, "db_restart": 15.0,
              "kill_web": 35.0, "kill_worker_busy": 10.0}


# -- memory ------------------------------------------------------------------------------------

class Memory:
    """RSS of every process, every 10 s, by pid (a restarted process is a new pid); also the
    supervisor that replaces a worker or clock that died on its own."""

    def __init__(self, web: Server, procs: dict[str, BotProc]):
        self.web, self.procs = web, procs
        self.hist: dict[int, list[tuple[float, int]]] = collections.defaultdict(list)
        self.slot: dict[int, str] = {}
        self.last: dict[str, list[int]] = {}
        self.stop = threading.Event()

    def sample(self) -> None:
        now = time.time()
        assert self.web.proc is not None
        found: list[tuple[str, int]] = [("web master", self.web.proc.pid)]
        found += [("web worker", pid) for pid in self.web.worker_pids()]
        found += [(name, p.rss()[0]) for name, p in self.procs.items()]
        last: dict[str, list[int]] = collections.defaultdict(list)
        for name, pid in found:
            rss = rss_of(pid) if pid else 0
            if rss:
                self.hist[pid].append((now, rss))
                self.slot[pid] = name
                last[name].append(pid)
        self.last = dict(last)

    def run(self, every: float = 10.0) -> None:
        while not self.stop.wait(every):
            for p in self.procs.values():
                try:
                    p.check_alive()
                except Exception as exc:  # noqa: BLE001
                    log(f"supervisor: {exc}")
            self.sample()

    def rows(self, t0: float, t1: float) -> list[tuple[str, int, float, int, int | None, int, float]]:
        """Per process running at the end: (slot, pid, first seen, RSS once settled — 20 s after it
        was first seen and not before the load's first minute —, RSS at the middle of the load if it
        ran then, RSS at the end, minutes between the two)."""
        out = []
        mid = (t0 + t1) / 2
        for name in ("web master", "web worker", "worker-1", "worker-2", "clock"):
            for pid in sorted(self.last.get(name, [])):
                h = self.hist[pid]
                first = h[0][0]
                settle = max(first + 20, min(t0 + 60, (t0 + t1) / 2))
                s0 = next(((t, r) for t, r in h if t >= settle), h[-1])
                near = min(h, key=lambda x: abs(x[0] - mid))
                rm = near[1] if abs(near[0] - mid) < 30 and near[0] >= s0[0] else None
                out.append((name, pid, first, s0[1], rm, h[-1][1], (h[-1][0] - s0[0]) / 60))
        return out

    def newest_web_worker(self) -> int:
        pids = self.web.worker_pids()
        return max(pids, key=lambda pid: (self.hist[pid][0][0] if self.hist.get(pid) else float("inf"), pid))


# -- checks and report ---------------------------------------------------------------------------





def drain(db: BenchDatabase, ops: Ops, limit: float) -> tuple[float, str]:
    """Wait until everything due has come due and the queues are empty."""
    t0 = time.time()
    last_due = max([a.due for a in ops.anns if a.ok] + [b.due for b in ops.batches if b.ok]
                   + [w.due for w in ops.wrems if w.saved_at] + [t0])
    state = ""
    while time.time() - t0 < limit:
        inbox = db.query("SELECT count(*) FROM inbound_event WHERE status = 'pending'")[0][0]
        out = db.query("SELECT count(*) FROM outbox_message WHERE status IN ('pending', 'sending')")[0][0]
        due_left = db.query("SELECT count(*) FROM announcement WHERE status = 'scheduled' AND next_fire_at <= :n",
                            n=datetime.now(timezone.utc))[0][0]
        state = f"inbox pending {inbox}, outbox pending/sending {out}, announcements due and not sent {due_left}"
        if inbox == 0 and out == 0 and due_left == 0 and time.time() > last_due + 5:
            time.sleep(2.0)
            return time.time() - t0, state
        time.sleep(2.0)
    return time.time() - t0, "NOT DRAINED: " + state


@dataclass
class Tally:
    expected: int = 0
    delivered: int = 0
    lost: int = 0
    dup: int = 0
    unexpected: int = 0
    optional: int = 0  # at-most-once expectations (churn)
    optional_got: int = 0
    examples: list[str] = field(default_factory=list)


def analyse(fake, db: BenchDatabase, traffic: Traffic, ops: Ops, people: People, recs: list[Rec] | None = None) -> dict:
    rows = {}
    for rid, tok, key, source, dedupe, status, err, attempts in db.query(
            "SELECT id, reply_token, retry_key, source, dedupe_key, status, last_error, attempts FROM outbox_message"):
        rows[key] = (rid, tok, source, dedupe, status, err, attempts)
    rows_by_token: dict[str, list] = collections.defaultdict(list)
    for key, r in rows.items():
        if r[1]:
            rows_by_token[r[1]].append(r)
    inbox = {eid: (status, attempts) for eid, status, attempts in
             db.query("SELECT webhook_event_id, status, attempts FROM inbound_event")}
    events = traffic.events
    by_token = {ev.token: ev for ev in events.values() if ev.token}

    answers: collections.Counter = collections.Counter()
    notice: collections.Counter = collections.Counter()
    other_notices: collections.Counter = collections.Counter()
    unattributed: list[str] = []
    per_key: collections.Counter = collections.Counter()
    kinds: collections.Counter = collections.Counter()
    recipients = 0
    broadcasts = 0
    if recs is None:
        with fake.lock:
            recs = list(fake.recs)
    for rec in recs:
        kinds[rec.kind] += 1
        recipients += len(rec.to)
        if rec.kind == "reply":
            ev = by_token.get(rec.token)
            if ev is None:
                unattributed.append(f"reply with unknown token to {rec.to}")
            else:
                answers[ev.eid] += 1
            continue
        if rec.key:
            per_key[rec.key] += 1
        row = rows.get(rec.key)
        if rec.kind == "broadcast":
            broadcasts += 1
        if row is None:
            unattributed.append(f"{rec.kind} with retry key {rec.key} not in the outbox: {rec.texts[:1]}")
            continue
        if row[1]:  # an answer pushed because its reply failed
            ev = by_token.get(row[1])
            if ev is None:
                unattributed.append(f"push for unknown reply token (row {row[0]})")
            else:
                answers[ev.eid] += 1
            continue
        idents = set(rec.notices)
        dedupe = row[3] or ""
        if dedupe.startswith("circ:") and ":remind:" not in dedupe:
            idents |= {f"C{c}" for c in rec.circs}
        if not idents:
            other_notices[row[2] or dedupe.split(":")[0] or "-"] += 1
            continue
        for u in rec.to:
            for ident in idents:
                notice[(u, ident)] += 1
    same_row_twice = sum(1 for k, n in per_key.items() if n > 1)

    # -- answers ----------------------------------------------------------------------------
    ans = Tally()
    legit_cancelled = 0
    never_received = gave_up = 0
    not_warranted_answered = collections.Counter()
    lost_examples: list[str] = []
    by_cat: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0, 0])  # sent, received, answered, lost, dup
    for ev in events.values():
        st = inbox.get(ev.eid)
        n = answers.get(ev.eid, 0)
        c = by_cat[ev.cat]
        c[0] += 1
        if ev.gave_up:
            gave_up += 1
        if st is None:
            never_received += 1
            if n:
                not_warranted_answered["never received"] += n
            continue
        c[1] += 1
        if not ev.warrants:
            if n:
                not_warranted_answered[ev.cat] += n
            continue
        ans.expected += 1
        ans.delivered += min(n, 1)
        c[2] += min(n, 1)
        if n == 0:
            rs = rows_by_token.get(ev.token or "", [])
            later_unfollow = ev.user in people.churn and any(t > ev.created for t in traffic.unfollows.get(ev.user, []))
            if later_unfollow and rs and all(r[4] == "cancelled" for r in rs):
                legit_cancelled += 1
                continue
            ans.lost += 1
            c[3] += 1
            lost_examples.append(f"{ev.cat} {ev.eid} to {ev.owner}: inbox {st}, outbox rows "
                                 f"{[(r[0], r[4], r[5]) for r in rs]}, tries {ev.tries}")
        elif n > 1:
            ans.dup += n - 1
            c[4] += n - 1
            ans.examples.append(f"{ev.cat} {ev.eid} answered {n} times; rows "
                                f"{[(r[0], r[4], r[6]) for r in rows_by_token.get(ev.token or '', [])]}")
    ans.examples = lost_examples[:5] + ans.examples[:5]

    # -- notices: what was expected ------------------------------------------------------------
    stable = set(people.stable)
    churn = set(people.churn)
    en = {u for u in people.users if people.locale[u] == "en"}
    expected: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])  # (min, max)
    cat_of: dict[str, str] = {}
    created_anns = db.query("SELECT id, text FROM announcement")
    created_tokens = collections.Counter()
    for _aid, text in created_anns:
        m = NOTICE_RX.search(text or "")
        if m:
            created_tokens[m.group(0)] += 1
    audience_of = {a.token: a.audience for a in ops.anns}
    member_set = set(people.members)
    for token, count in created_tokens.items():
        aud = audience_of.get(token, "all")
        for u in people.users:
            if aud == "lang:en" and u not in en:
                continue
            if aud == "association" and u not in member_set:
                continue
            e = expected[(u, token)]
            if u in stable:
                e[0] += count
            e[1] += count
        cat_of[token] = "announcements"
    members = people.members
    created_circs = {title.split()[0]: cid for cid, title in db.query("SELECT id, title FROM circular")}
    for title_token, cid in created_circs.items():
        if not title_token.startswith("SOAK-C"):
            continue
        for u in members:
            expected[(u, f"C{cid}")] = [1, 1]
        cat_of[f"C{cid}"] = "circular notices"
    # Seeded reminders: as written (daily ones stay in the table after firing).
    for title, uid in db.query("SELECT r.title, p.line_user_id FROM reminder r JOIN resident p ON p.id = r.resident_id "
                               "WHERE r.title LIKE 'SOAK-R%'"):
        e = expected[(uid, title)]
        e[0] += 1
        e[1] += 1
        cat_of[title] = "reminders (seeded)"
    for w in ops.wrems:
        told = None
        from bot.core.i18n import t
        saved = t(people.locale[w.user], "Saved. See or delete your reminders with “Reminders”.")
        for ts, x in fake.texts_since(w.user, w.tap_sent or w.text_sent or 0):
            if x.startswith(saved):
                told = ts
                break
        w.saved_at = w.saved_at or told
        expected[(w.user, w.title)] = [1, 1] if told else [0, 1]
        cat_of[w.title] = "reminders (made in LINE)"

    cats = {c: Tally() for c in ("announcements", "circular notices", "reminders (seeded)", "reminders (made in LINE)")}
    unknown_notices = 0
    for key in set(expected) | set(notice):
        u, ident = key
        lo, hi = expected.get(key, (0, 0))
        got = notice.get(key, 0)
        cat = cat_of.get(ident)
        if cat is None:
            cat = ("announcements" if ident.startswith("SOAK-A") else "circular notices" if ident.startswith("C")
                   else "reminders (seeded)" if ident.startswith("SOAK-R") else "reminders (made in LINE)")
            if got:
                unknown_notices += got
        tl = cats[cat]
        tl.expected += lo
        tl.delivered += got
        if hi > lo:
            tl.optional += hi - lo
            tl.optional_got += min(got, hi) - min(got, lo)
        if got < lo:
            tl.lost += lo - got
            if len(tl.examples) < 5:
                tl.examples.append(f"LOST {ident} to {u} ({'churn' if u in churn else 'stable'}): expected {lo}, got {got}")
        elif got > hi:
            if hi == 0:
                tl.unexpected += got
                if len(tl.examples) < 5:
                    tl.examples.append(f"UNEXPECTED {ident} to {u}: got {got}")
            else:
                tl.dup += got - hi
                if len(tl.examples) < 5:
                    tl.examples.append(f"DUPLICATED {ident} to {u}: expected {hi}, got {got}")
    return {
        "answers": ans, "cats": cats, "legit_cancelled": legit_cancelled, "never_received": never_received,
        "gave_up": gave_up, "not_warranted_answered": dict(not_warranted_answered), "by_cat": by_cat,
        "other_notices": dict(other_notices), "unattributed": unattributed, "same_row_twice": same_row_twice,
        "kinds": dict(kinds), "recipients": recipients, "broadcasts": broadcasts, "inbox": inbox,
        "created_anns": len(created_anns), "created_circs": len([t for t in created_circs if t.startswith("SOAK-C")]),
        "unknown_notices": unknown_notices, "rows": rows,
    }


def totals(a: dict) -> tuple[int, int]:
    tls = [a["answers"], *a["cats"].values()]
    return sum(t.lost for t in tls), sum(t.dup for t in tls)


def self_test(fake, db: BenchDatabase, traffic: Traffic, ops: Ops, people: People, real: dict) -> str:
    """The checks run again on the sends with three changes made on purpose: one answer (a reply)
    dropped, one circular multicast dropped, one announcement multicast accepted twice. They must
    find exactly that much more lost and duplicated."""
    with fake.lock:
        recs = list(fake.recs)
    rows = real["rows"]
    reply = next((i for i, r in enumerate(recs) if r.kind == "reply"
                  and (ev := next((e for e in traffic.events.values() if e.token == r.token), None)) is not None
                  and ev.warrants), None)
    circ = next((i for i, r in enumerate(recs) if r.kind == "multicast" and r.circs
                 and (rows.get(r.key) or (0, 0, 0, ""))[3].startswith("circ:")), None)
    ann = next((i for i, r in enumerate(recs) if r.kind == "multicast" and any(n.startswith("SOAK-A") for n in r.notices)),
               None)
    if reply is None or circ is None or ann is None:
        return "self-test of the checks: skipped (no reply, circular multicast or announcement multicast to change)"
    want_lost = 1 + len(recs[circ].to)
    want_dup = len(recs[ann].to)
    changed = [r for i, r in enumerate(recs) if i not in (reply, circ)] + [recs[ann]]
    lost0, dup0 = totals(real)
    lost1, dup1 = totals(analyse(fake, db, traffic, ops, people, changed))
    ok = (lost1 - lost0, dup1 - dup0) == (want_lost, want_dup)
    return (f"self-test of the checks: {'ok' if ok else 'FAILED'}: with one reply and one circular multicast "
            f"({len(recs[circ].to)} members) dropped and one announcement multicast ({len(recs[ann].to)} recipients) "
            f"accepted twice, they find lost +{lost1 - lost0} (should be +{want_lost}) and duplicated "
            f"+{dup1 - dup0} (should be +{want_dup})")


def report(args, ctx: dict) -> int:
    a = ctx["analysis"]
    traffic: Traffic = ctx["traffic"]
    ops: Ops = ctx["ops"]
    faults: Faults = ctx["faults"]
    mem: Memory = ctx["memory"]
    t0, t1 = ctx["load_start"], ctx["load_end"]
    P = print
    P()
    P(f"soak test: {args.minutes:g} min of mixed traffic with faults; {ctx['db_desc']}")
    P("processes: gunicorn 2 sync workers (web), 2 × `flask --app bot worker` (LINE_WORKER_PROCESSES=2), "
      "`flask --app bot clock`; fake LINE API, load and checks in the bench's own process")
    code_end = code_version()
    code = ctx["code"] + ("" if code_end == ctx["code"] else f" at the start; {code_end} at the end (processes "
                                                           "restarted by the faults load the files as they are then)")
    P(f"code: {code}; {os.cpu_count()} CPUs; {ctx['machine']}; load average (1 min) at the start / "
      f"end of the load: {ctx['load0'][0]:.2f} / {ctx['load1'][0]:.2f}")
    P(f"seed {args.seed}; {args.residents} residents ({len(ctx['people'].members)} in the association, "
      f"{len(ctx['people'].churn)} churn, {len(ctx['people'].rempool)} making reminders in LINE); set-up "
      f"{ctx['setup_s']:.0f} s (not measured)")
    P()
    samples = traffic.samples
    originals = list(traffic.events.values())
    P("== webhook traffic ==")
    statuses = collections.Counter("no answer" if s.status is None else s.status for s in samples)
    redeliv = sum(1 for s in samples if s.redelivery)
    P(f"events sent: {len(originals)} ({len(originals) / (t1 - t0):.1f}/s) in {len(samples)} deliveries: "
      f"{len(samples) - redeliv - traffic.deliberate} first deliveries, "
      f"{redeliv - traffic.deliberate} LINE-style redeliveries after no 200, {traffic.deliberate} deliberate "
      f"redeliveries of answered events")
    P(f"deliveries answered: {dict(sorted(statuses.items(), key=str))}")
    accepted = sum(1 for e in originals if e.accepted_at)
    inbox = a["inbox"]
    st = collections.Counter(inbox[e.eid][0] if e.eid in inbox else "never recorded" for e in originals)
    P(f"events answered 200 (at least once): {accepted}; LINE gave up on: {a['gave_up']}; in the inbox: "
      f"{dict(st)}")
    P(f"{'kind of event':<34}{'sent':>7}{'received':>10}{'answer due':>11}{'lost':>6}{'dup':>5}")
    for cat, (sent, rec, answered, lost, dup) in sorted(a["by_cat"].items()):
        warr = next((e.warrants for e in originals if e.cat == cat), False)
        P(f"{cat:<34}{sent:>7}{rec:>10}{(str(rec) if warr else '-'):>11}{lost:>6}{dup:>5}")
    P(f"answers to events that warrant none (should be 0): {a['not_warranted_answered'] or 0}")
    P()
    P("== staff and scheduled work ==")
    ok_anns = [x for x in ops.anns if x.ok]
    P(f"announcements: {len(ok_anns)} created by the CLI ("
      + ", ".join(f"{v}: {sum(1 for x in ok_anns if x.variant == v)}" for v in Ops.VARIANTS)
      + f"); in the database: {a['created_anns']}; failed CLI runs: {sum(1 for x in ops.anns if not x.ok)}")
    ok_c = [c for c in ops.circs if c.cid]
    P(f"circulars: {len(ok_c)} sent (CLI {sum(1 for c in ok_c if c.how == 'cli')}, domain call "
      f"{sum(1 for c in ok_c if c.how == 'domain')}); in the database: {a['created_circs']}")
    P(f"reminders written into the database: {sum(len(b.items) for b in ops.batches if b.ok)} in "
      f"{sum(1 for b in ops.batches if b.ok)} batches; made in LINE: {len(ops.wrems)} tried, "
      f"{sum(1 for w in ops.wrems if w.saved_at)} told 「保存しました」"
      + (f" (not: {'; '.join(sorted(set(w.note for w in ops.wrems if w.note)))})" if any(w.note for w in ops.wrems) else ""))
    if ops.errors:
        P(f"staff commands that failed and were tried again ({len(ops.errors)}):")
        for e in ops.errors[:8]:
            P(f"  {e}")
    P()
    P("== faults ==")
    for f in faults.done:
        P(f"  +{f.start - t0:6.0f} s  {f.kind:<12} {f.detail}")
    P()
    P("== messages ==")
    P(f"sends accepted by the fake LINE API: {a['kinds']}, {a['recipients']} recipient-messages; 409 for a retry key "
      f"already accepted: {ctx['fake'].conflicts}; injected failures: {dict(ctx['fake'].injected)}; reply tokens "
      f"expired (> {REPLY_TOKEN_TTL:.0f} s) when used: {ctx['fake'].expired}")
    P(f"{'':<28}{'expected':>9}{'delivered':>10}{'LOST':>6}{'DUPLICATED':>11}{'unexpected':>11}"
      f"{'  at most once (got)':>21}")
    ans = a["answers"]
    rows = [("answers to events", ans)] + list(a["cats"].items())
    total_lost = total_dup = 0
    for name, tl in rows:
        P(f"{name:<28}{tl.expected:>9}{tl.delivered:>10}{tl.lost:>6}{tl.dup:>11}{tl.unexpected:>11}"
          f"{(f'{tl.optional} ({tl.optional_got})' if tl.optional else '-'):>21}")
        total_lost += tl.lost
        total_dup += tl.dup
    P(f"answers cancelled because the churn resident unfollowed first (legitimate): {a['legit_cancelled']}")
    P(f"other pushes (not an answer, not an announcement, circular or reminder): {a['other_notices'] or 0}; "
      f"sends that match no outbox row: {len(a['unattributed'])}; outbox rows accepted twice: {a['same_row_twice']}; "
      f"broadcasts: {a['broadcasts']}")
    for name, tl in rows:
        for ex in tl.examples:
            P(f"  [{name}] {ex}")
    for ex in a["unattributed"][:5]:
        P(f"  [unattributed] {ex}")
    P(f"LOST: {total_lost} (must be 0)   DUPLICATED: {total_dup} (must be 0)   unexpected: "
      f"{sum(tl.unexpected for _, tl in rows)}")
    P(ctx["selftest"])
    P()
    P("== webhook latency (ms, from when each delivery was due until its answer; time-outs counted at 30 s) ==")
    windows = [(f.start, f.end + FAULT_TAIL.get(f.kind, 10), f.kind) for f in faults.done]

    def in_fault(s: Sample) -> str | None:
        for a0, a1, kind in windows:
            if a0 <= s.start <= a1:
                return kind
        return None

    groups: dict[str, list[float]] = collections.defaultdict(list)
    for s in samples:
        ms = (s.end - s.due) * 1000
        groups["all"].append(ms)
        k = in_fault(s)
        groups["during faults" if k else "outside faults"].append(ms)
        if k:
            groups[f"  during {k}"].append(ms)
    P(f"{'':<24}{'deliveries':>11}{'p50':>8}{'p99':>9}{'max':>9}")
    for name in ["all", "outside faults", "during faults"] + sorted(k for k in groups if k.startswith("  ")):
        xs = groups.get(name, [])
        if xs:
            P(f"{name:<24}{len(xs):>11}{pct(xs, 50):>8.0f}{pct(xs, 99):>9.0f}{max(xs):>9.0f}")
    P()
    P("== memory (RSS, MiB; the processes running at the end) ==")
    P(f"{'process':<12}{'pid':>8}{'started':>10}{'RSS start':>11}{'middle':>8}{'end':>8}{'growth':>8}  over")
    for name, pid, first, r0, rm, r1, minutes in mem.rows(t0, t1):
        started = "before" if first <= t0 + 1 else f"+{first - t0:.0f} s"
        P(f"{name:<12}{pid:>8}{started:>10}{r0 / MB:>11.1f}{(f'{rm / MB:.1f}' if rm else '-'):>8}{r1 / MB:>8.1f}"
          f"{(r1 - r0) / MB:>+8.1f}  {minutes:.1f} min")
    for name, p in ctx["procs"].items():
        last = p.instances[-1]
        life = (ctx["final_rss_t"] - last["started"]) / 60
        peak = max((r for pid, h in mem.hist.items() if mem.slot.get(pid) == name for _, r in h), default=0)
        P(f"  {name}: {len(p.instances)} instance(s), {p.killed} killed by the faults, the last one lived "
          f"{life:.1f} min; highest RSS of any instance {peak / MB:.1f} MiB; exits not caused by the bench: "
          f"{p.unexpected or 'none'}")
    P()
    P("== at the end ==")
    P(f"drain: {ctx['drain'][1]} after {ctx['drain'][0]:.0f} s")
    P(f"outbox: {ctx['outbox']}; inbox: {ctx['inbox_status']}")
    dead = ctx["dead"]
    P(f"dead letters: {len(dead)}" + (":" if dead else " (must be 0: every fault is much shorter than the ~17 min "
                                                        "retry window)"))
    for d in dead[:10]:
        P(f"  row {d[0]} attempts {d[1]} source {d[2]}: {d[3]}")
    for name, probs in ctx["log_problems"].items():
        if probs:
            P(f"{name} log: {len(probs)} error line(s), e.g. {probs[0]}")
        else:
            P(f"{name} log: no error lines")
    P()
    checks = [
        (total_lost == 0, f"lost: {total_lost}"),
        (total_dup == 0, f"duplicated: {total_dup}"),
        (not ctx["drain"][1].startswith("NOT"), "outbox and inbox drained"),
        (len(dead) == 0, f"dead letters: {len(dead)}"),
        (sum(a["not_warranted_answered"].values()) == 0 and sum(tl.unexpected for _, tl in rows) == 0,
         "nothing unexpected sent"),
        (not a["unattributed"], "every send ties to an outbox row or a reply token"),
        (not ctx["selftest"].startswith("self-test of the checks: FAILED"), "the checks find a planted loss and duplicate"),
    ]
    for ok, line in checks:
        P(f"{'ok  ' if ok else 'FAIL'} {line}")
    all_ok = all(ok for ok, _ in checks)
    P(f"verdict: {'PASS' if all_ok else 'FAIL'} (targets: lost 0, duplicated 0)")
    return 0 if all_ok else 1


# -- main --------------------------------------------------------------------------------------



def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="minutes of load (default 30)")
    ap.add_argument("--database-url", default=DEFAULT_PG, metavar="URL",
                    help=f"default: a fresh database of its own on {DEFAULT_PG}; 'sqlite': a fresh SQLite file")
    ap.add_argument("--rate", type=float, default=20.0, help="webhook events per second (default 20)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--residents", type=int, default=2000, help="seeded residents (default 2000)")
    ap.add_argument("--clients", type=int, default=16, help="client threads sending webhooks (default 16)")
    ap.add_argument("--keep", action="store_true", help="keep the folder (logs, SQLite) and the PostgreSQL database")
    args = ap.parse_args(argv)
    if args.minutes <= 0 or args.rate <= 0 or args.residents < 200:
        ap.error("need minutes > 0, rate > 0, residents ≥ 200")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops everything

    compile_catalogs()
    workdir = Path(tempfile.mkdtemp(prefix="tsunagari-soak-"))
    url = None if args.database_url in ("sqlite", "") else args.database_url
    db = BenchDatabase(url, workdir, prefix="tsunagari_soak")
    rng = random.Random(args.seed)
    fake = make_fake()
    web: Server | None = None
    procs: dict[str, BotProc] = {}
    status = 1
    setup0 = time.time()
    try:
        db.create()
        env = bot_env(db.url, fake.url)
        for cmd in (["db", "upgrade"], ["areas", "load"]):
            code, out = flask_cli(cmd, env, timeout=300)
            if code:
                raise RuntimeError(f"flask {' '.join(cmd)}: {out}")
        people = People.make(args.residents)
        assoc_id = seed(db, people)
        for u in people.users:
            fake.profiles[u] = {"displayName": "住民", "language": people.locale[u]}
        log(f"seeded {len(people.users)} residents, association {assoc_id} with {len(people.members)} members "
            f"({'SQLite' if db.is_sqlite else db.shown})")
        db_desc = db.describe()

        web = Server("web", "bot:create_app()", env, workdir, 2, [])
        web.start()
        procs = {"worker-1": BotProc("worker-1", "worker", env, workdir),
                 "worker-2": BotProc("worker-2", "worker", env, workdir),
                 "clock": BotProc("clock", "clock", env, workdir)}
        for p in procs.values():
            p.start_ready()
        web.wait_ready(60)
        log(f"web on :{web.port}, 2 workers and the clock up")

        from bot.app import make_bot
        from bot.core.config import Config

        bot = make_bot(Config(database_url=db.url, line_channel_secret=SECRET, line_channel_access_token=TOKEN,
                              line_api_base_url=fake.url))
        traffic = Traffic(fake, web.port, people, args.rate, args.clients, rng)
        ops = Ops(env, bot, assoc_id, people, traffic, fake, random.Random(args.seed + 1))
        faults = Faults(fake, db, procs, random.Random(args.seed + 2))
        faults.web = web
        mem = Memory(web, procs)
        faults.memory = mem
        faults.ops = ops
        setup_s = time.time() - setup0
        code = code_version()

        load0, machine0 = os.getloadavg(), cpu_times()
        t0 = time.time()
        t1 = t0 + args.minutes * 60
        mem.sample()
        plan = faults.plan(t0, t1, args.minutes)
        log(f"load for {args.minutes:g} min at {args.rate:g} events/s; faults planned: "
            + ", ".join(f"+{at - t0:.0f}s {k}" for at, k in plan))
        threads = [threading.Thread(target=ops.run, args=(t0, t1, workdir), daemon=True),
                   threading.Thread(target=faults.run, args=(plan,), daemon=True),
                   threading.Thread(target=mem.run, daemon=True)]
        for th in threads:
            th.start()
        last_note = t0
        gen = threading.Thread(target=traffic.run, args=(t1,), daemon=True)
        gen.start()
        while gen.is_alive():
            gen.join(5)
            if time.time() - last_note >= 60:
                last_note = time.time()
                with fake.lock:
                    n = len(fake.recs)
                log(f"+{last_note - t0:.0f} s: {len(traffic.events)} events, {len(traffic.samples)} deliveries, "
                    f"{n} sends accepted by the fake")
        load1 = os.getloadavg()
        log("load over: waiting for staff commands and redeliveries to finish")
        ops.stop.set()
        ops.join()
        traffic.finish()
        faults.stop.set()
        threads[1].join(60)
        fake.clear_failures()
        log("waiting for the outbox and the inbox to drain")
        drained = drain(db, ops, DRAIN_LIMIT)
        log(f"drain: {drained[1]} ({drained[0]:.0f} s)")
        mem.stop.set()
        threads[2].join(30)
        mem.sample()
        final_t = time.time()
        machine = machine_note(machine0, cpu_times())
        for p in procs.values():
            p.stop()
        web.stop()
        bot.db.dispose()
        time.sleep(1.0)

        outbox = dict(db.query("SELECT status, count(*) FROM outbox_message GROUP BY status"))
        inbox_status = dict(db.query("SELECT status, count(*) FROM inbound_event GROUP BY status"))
        dead = db.query("SELECT id, attempts, source, last_error FROM outbox_message WHERE status = 'dead' ORDER BY id")
        problems = {name: [x for inst in p.instances for x in log_problems(p.log_text(inst))]
                    for name, p in procs.items()}
        problems["web"] = log_problems(web.log_path.read_text(errors="replace"))
        analysis = analyse(fake, db, traffic, ops, people)
        selftest = self_test(fake, db, traffic, ops, people, analysis)
        ctx = dict(analysis=analysis, traffic=traffic, ops=ops, faults=faults, memory=mem, load_start=t0, load_end=t1,
                   db_desc=db_desc, machine=machine, load0=load0, load1=load1, people=people, setup_s=setup_s,
                   fake=fake, final_rss_t=final_t, procs=procs, drain=drained, outbox=outbox,
                   inbox_status=inbox_status, dead=dead, log_problems=problems, selftest=selftest, code=code)
        status = report(args, ctx)
    except BaseException:
        if web is not None:
            log(f"--- web log (tail) ---\n{web.tail()}")
        for name, p in procs.items():
            if p.instances:
                log(f"--- {name} log (tail) ---\n{p.log_text()[-1500:]}")
        raise
    finally:
        for p in procs.values():
            try:
                p.stop()
            except Exception:  # noqa: BLE001
                pass
        if web is not None:
            web.stop()
        fake.stop()
        db.finish(workdir, args.keep)
    return status


if __name__ == "__main__":
    sys.exit(main())
