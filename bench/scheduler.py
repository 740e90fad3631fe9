"""The clock and the worker, as the Procfile runs them, against a fake LINE API: how soon what falls
due reaches LINE, how many calls an announcement costs, and how much memory the two processes take.

    .venv/bin/python bench/scheduler.py [--scenario reminders|announcement|million|all]
                                        [--database-url URL] [--workers N] [--keep] [--require-target]

What runs:

* a fake LINE Messaging API in this process (`tests.fakeline.FakeLine`, calls not recorded; every
  accepted push / multicast / broadcast is kept with its arrival time, its recipients and its
  messages, and checked at the end);
* for each scenario, a fresh database (by default a SQLite file; with `--database-url
  postgresql+psycopg://…/DB`, a database of its own, `bench_sched_<random>`, created next to DB
  with AUTOCOMMIT and dropped at the end unless `--keep`), brought up with
  `flask --app bot db upgrade`;
* the bot's own `clock` and `worker` processes, started as the Procfile starts them
  (`python -m flask --app bot clock` / `worker`), with only DATABASE_URL, LINE_CHANNEL_SECRET,
  LINE_CHANNEL_ACCESS_TOKEN, LINE_API_BASE_URL (the fake) and PYTHONUNBUFFERED=1 set from the bot's
  configuration (every other variable the bot reads is removed from their environment, so the
  defaults apply: 8 send threads, LINE's rate limits with margin); `--workers N` starts N worker
  processes with LINE_WORKER_PROCESSES=N, so that together they keep to the rate limits.

Scenarios (each on its own fresh database; `all` runs the three in turn):

* **reminders**: 10,000 onboarded residents (no quiet hours, half ja, half en), seeded before the
  processes start; once both are up, 10,000 personal reminders with distinct titles (so they
  cannot share a multicast: one push each), a daily rule at the due time's local HH:MM, all with
  `next_fire_at` = T, T = the processes' launch + `--lead` (20 s), so both are up and idle when
  it comes. Target (a): the last one reaches the fake ≤ 7 s after T (issue 22; the floor at
  1,500 pushes/s is 6.7 s).
* **announcement**: 1,000 residents (half ja, half en, no quiet hours); once both processes are up,
  `flask --app bot announce --text … --translation en=… --at <T, local time, to the second>`
  (the CLI, as the staff would), T = the moment both are up + `--lead` (15 s). Target (b): it leaves ≤ 2 s after
  T (read strictly: the last of its calls reaches the fake by then; the first is shown too).
* **million**: 1,000,000 residents, split evenly over `--million-langs` (default ja,en,vi), no
  quiet hours, seeded before the processes start (SQLite: `sqlite3.executemany` in one
  transaction; PostgreSQL: COPY, then ANALYZE resident), then the same CLI announcement to all,
  due at T = the moment both are up + `--million-lead` (60 s: the CLI first counts the audience,
  a full read of the million), translated into each seeded language there is a text for here (en, vi). Target (c):
  ⌈N_lang/500⌉ multicasts per language, all sent ≤ 15 s after T (issue 22; the floor at 150
  multicasts/s is 13.3 s). A locale the bot does not
  speak (`bot.core.i18n.LANGUAGES`) is counted as ja by `announcements.members()`; the expected calls
  are computed per language as the bot sees them, and the report names any such locale.

Target (d), in every scenario: the clock's and the worker's peak RSS over their whole life
(VmHWM from /proc/<pid>/status) ≤ 150 MB each (decimal MB, the stricter reading). VmHWM is read
at T and started again there (/proc/<pid>/clear_refs), then read at the end, before they are
stopped: the report shows the start-up's peak and the work's peak apart; the target takes the
higher.

Reported: seconds from T to the first and the last call accepted by the fake (and for
reminders p50 / p99 of arrival − T per recipient), the clock's own log lines (when it queued:
"due: …", "announcement N: … residents, … LINE calls by …") as seconds after T, the calls by kind
and per language, the CPU seconds the clock and the worker used from T to the end, and the
machine's load. On SQLite, a probe in this process opens a write transaction through the bot's
own `Database` every 0.2 s, from just before the work is set up (the reminders written, the
announce CLI started) until the deliveries are in, as a webhook request would: how long it waits
for the write lock is what a resident writing to the bot meanwhile would wait.

Checks: every resident reached exactly once with the right message (the title of their
reminder; the announcement in their language), nothing else sent, every outbox row `sent`, both
processes alive and their logs free of errors, the announcement created before T, the reminders
moved to their next day. Exit status: 0, 1 if a check failed, 2 with `--require-target` when a
target is missed.

`--profile` runs both processes under cProfile (the timings are then not the figures to quote) and
prints their hot spots.
"""
from __future__ import annotations

import argparse
import collections
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import BenchDatabase, code_version, compile_catalogs, cpu_times, log, machine_note, pct  # noqa: E402,E501
from tests.fakeline import FakeLine  # noqa: E402

TZ = "Asia/Tokyo"  # the bot's default tz_name (TZ_NAME is not passed)
BATCH = 500  # LINE's multicast limit
MB = 1000 * 1000
TARGET_REMINDERS_S = 7.0  # issue 22 (10 s before it)
TARGET_ANNOUNCEMENT_S = 2.0
TARGET_MILLION_S = 15.0  # issue 22 (30 s before it)
TARGET_RSS = 150 * MB
SEND_PATHS = {"/v2/bot/message/push", "/v2/bot/message/multicast", "/v2/bot/message/broadcast",
              "/v2/bot/message/reply"}
# Prefixes of what the bot reads from the environment; every other name bot/core/config.py reads is
# found in its source (bot_env), so that none leaks in from the shell running the benchmark.
BOT_ENV = ("LINE_", "DATABASE_", "FLASK_", "WEBCHAT")
SECRET = "bench-channel-secret"
TOKEN = "bench-access-token"

ANN_JA = "【お知らせ】12月20日（日）9時から市民センターで防災訓練を行います。"
ANN_EN = "Notice: a disaster drill at the civic centre on Sunday 20 December from 9:00."
ANN_VI = "Thông báo: diễn tập phòng chống thiên tai tại trung tâm văn hoá vào Chủ nhật 20/12, từ 9:00."
ANN_TEXTS = {"ja": ANN_JA, "en": ANN_EN, "vi": ANN_VI}  # a language not here gets the Japanese (with a note)


def uid(i: int) -> str:
    """Resident i's LINE user id ("U" + 32 hex digits, as LINE's): the index can be read back."""
    return "U" + format(i, "032x")


def index_of(user: str) -> int | None:
    try:
        return int(user[1:], 16) if user.startswith("U") and len(user) == 33 else None
    except ValueError:
        return None


def title_of(i: int) -> str:
    return f"予定 No.{i:05d}"


# -- helpers -----------------------------------------------------------------------------------



def bot_env(db_url: str, line_url: str) -> dict[str, str]:
    names = set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', (ROOT / "bot" / "core" / "config.py").read_text()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(BOT_ENV) and k not in names}
    env.update(DATABASE_URL=db_url, LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
               LINE_API_BASE_URL=line_url, PYTHONUNBUFFERED="1",
               FLASK_SECRET_KEY=secrets.token_urlsafe(48))  # with LINE configured, a weak key is refused
    return env


def flask(args: list[str], env: dict[str, str], timeout: float = 600, prefix: list[str] | None = None
          ) -> tuple[float, str]:
    t = time.perf_counter()
    res = subprocess.run([*(prefix or [sys.executable]), "-m", "flask", "--app", "bot", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}")
    return time.perf_counter() - t, res.stdout






def effective_locale(loc: str) -> str:
    from bot.core.i18n import LANGUAGES

    return loc if loc in LANGUAGES else "ja"  # as bot.services.announcements.members() reads it


# -- the fake LINE API -------------------------------------------------------------------------

class ArrivalFake(FakeLine):
    """Keeps (arrival time, kind, recipients, messages) of every accepted send; nothing else.
    `arrived` is notified at each one (bench/safety.py waits on it)."""

    def __post_init__(self):
        super().__post_init__()
        self.got: list[tuple[float, str, list[str], list[dict]]] = []
        self.arrived = threading.Condition(self.lock)

    def handle(self, method, path, headers, body, *rest, **kw):
        out = super().handle(method, path, headers, body, *rest, **kw)
        if out[0] == 200 and path in SEND_PATHS:
            now = time.time()
            with self.lock:
                for d in self.deliveries:
                    self.got.append((now, d.kind, d.to, d.messages))
                self.deliveries.clear()
                self.arrived.notify_all()
        return out

    def take(self) -> list[tuple[float, str, list[str], list[dict]]]:
        with self.lock:
            out, self.got = self.got, []
            self.accepted_keys.clear()
        return out

    def recipients(self) -> int:
        with self.lock:
            return sum(len(to) for _, _, to, _ in self.got)


def make_fake():
    return ArrivalFake(token=TOKEN, record_calls=False).start()


# -- the clock and the worker ------------------------------------------------------------------

class BotProcess:
    """`python -m flask --app bot clock|worker`, its log in the scenario's folder."""

    READY = {"clock": "clock started", "worker": "worker started"}

    def __init__(self, name: str, env: dict[str, str], workdir: Path, profile: bool, command: str | None = None):
        self.name = name  # clock, worker, worker2, …
        self.command = command or name
        self.env = env
        self.log_path = workdir / f"{name}.log"
        self.prof_path = workdir / f"{name}.prof" if profile else None
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        pre = [sys.executable, "-m", "cProfile", "-o", str(self.prof_path)] if self.prof_path else [sys.executable]
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen([*pre, "-m", "flask", "--app", "bot", self.command], cwd=ROOT, env=self.env,
                                     stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True)

    def text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.text()[-3000:]}")
        return self.READY[self.command] in self.text()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def status(self) -> dict[str, int]:
        """VmHWM and VmRSS in bytes."""
        out = {}
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0]) * 1024
        return out

    def reset_peak(self) -> bool:
        """Start VmHWM again from the current RSS (Linux ≥ 4.0: "5" > /proc/<pid>/clear_refs), so
        that the peak of the work from T on can be told from the peak of the start-up."""
        assert self.proc is not None
        try:
            Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def cpu(self) -> float:
        assert self.proc is not None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # both stop cleanly on it (and cProfile writes its file)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # the session this script started for it
                except ProcessLookupError:
                    pass
                proc.wait(5)
        self.log_file.close()


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (\w+) ([\w.]+): (.*)$")


def log_events(text: str, pattern: str) -> list[tuple[float, str]]:
    """(epoch seconds, message) of the log lines whose message matches `pattern`. The processes
    log in local time, as this script reads it (same TZ)."""
    out = []
    rx = re.compile(pattern)
    for line in text.splitlines():
        m = LOG_LINE.match(line)
        if m and rx.search(m.group(4)):
            out.append((datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp(), m.group(4)))
    return out


def log_problems(text: str) -> list[str]:
    """Errors, and the warnings that mean work was lost or blocked (APScheduler could not read its
    job store, SQLite's busy timeout ran out). A skipped or late run of the 1-second job is not
    one: it is counted apart."""
    bad = []
    for line in text.splitlines():
        m = LOG_LINE.match(line)
        if ((m and m.group(2) in ("ERROR", "CRITICAL")) or line.startswith("Traceback") or "pass failed" in line
                or "database is locked" in line or "Error getting due jobs" in line):
            bad.append(line.strip()[:200])
    return bad


# -- seeding (not measured) --------------------------------------------------------------------

RESIDENT_COLUMNS = ("id", "line_user_id", "channel", "nickname", "locale", "area_id", "following", "followed_at",
                    "unfollowed_at", "consent_at", "quiet_start", "quiet_end", "digest", "interests", "created_at")


def check_resident_columns() -> None:
    from bot.core.models import Resident

    extra = [c.name for c in Resident.__table__.columns
             if c.name not in RESIDENT_COLUMNS and not c.nullable and c.default is None and c.server_default is None]
    if extra:
        raise RuntimeError(f"resident has required columns the seeding does not fill: {extra}")


def seed_residents(db: BenchDatabase, n: int, langs: list[str]) -> float:
    """n onboarded, following residents, ids 1..n, user id uid(i-1), locale langs[i % len],
    no quiet hours, no digest. Returns the seconds it took."""
    check_resident_columns()
    t = time.perf_counter()
    now = datetime.now(timezone.utc)
    chunk = 20_000
    if db.is_sqlite:
        import sqlite3

        stamp = now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores it
        conn = sqlite3.connect(str(db.path), isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("BEGIN IMMEDIATE")
            sql = (f"INSERT INTO resident ({', '.join(RESIDENT_COLUMNS)}) VALUES ({', '.join('?' * len(RESIDENT_COLUMNS))})")
            for start in range(0, n, chunk):
                conn.executemany(sql, [
                    (i + 1, uid(i), "line", None, langs[i % len(langs)], None, 1, stamp, None, stamp, None, None, 0,
                     "[]", stamp)
                    for i in range(start, min(n, start + chunk))])
            conn.execute("COMMIT")
        finally:
            conn.close()
    else:
        import psycopg
        from sqlalchemy.engine import make_url

        conninfo = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo) as conn:
            with conn.cursor() as cur:
                with cur.copy(f"COPY resident ({', '.join(RESIDENT_COLUMNS)}) FROM STDIN") as copy:
                    for i in range(n):
                        copy.write_row((i + 1, uid(i), "line", None, langs[i % len(langs)], None, True, now, None,
                                        now, None, None, False, "[]", now))
                cur.execute("SELECT setval(pg_get_serial_sequence('resident', 'id'), (SELECT max(id) FROM resident))")
            conn.commit()
            # The planner's statistics for the table just filled, as a running database has them
            # (only this one: an outbox ANALYZEd while empty would be planned as tiny).
            conn.autocommit = True
            conn.execute("ANALYZE resident")
    return time.perf_counter() - t


def seed_reminders(db_url: str, n: int, due: datetime) -> float:
    """One reminder per resident 1..n, distinct titles, daily at due's local HH:MM, next_fire_at
    = due. Written through the bot's own Database (its SQLite writer lock, immediate transaction)."""
    from sqlalchemy import insert

    from bot.core.db import Database
    from bot.core.models import Reminder
    from bot.core.recurrence import Rule

    t = time.perf_counter()
    local = due.astimezone(ZoneInfo(TZ))
    rule = Rule("daily", local.time().replace(second=0, microsecond=0)).to_json()
    now = datetime.now(timezone.utc)
    db = Database(db_url)
    try:
        with db.session() as s:
            s.execute(insert(Reminder.__table__), [
                {"resident_id": i + 1, "title": title_of(i), "rule": rule, "next_fire_at": due, "created_at": now}
                for i in range(n)])
    finally:
        db.dispose()
    return time.perf_counter() - t


# -- one scenario ------------------------------------------------------------------------------

class Scenario:
    def __init__(self, name: str, args, fake, workdir: Path):
        self.name = name
        self.args = args
        self.fake = fake
        self.workdir = workdir / name
        self.workdir.mkdir()
        self.db = BenchDatabase(args.database_url, self.workdir, prefix="bench_sched")
        self.procs: list[BotProcess] = []
        self.notes: list[str] = []
        self.checks: list[tuple[bool, str]] = []
        self.figures: dict = {}

    def note(self, line: str) -> None:
        self.notes.append(line)

    def check(self, ok: bool, line: str) -> None:
        self.checks.append((bool(ok), line))

    # the common course: database, processes, T, wait, measure, stop -----------------------
    def run(self) -> None:
        try:
            self.db.create()
            self.env = bot_env(self.db.url, self.fake.url)
            self.env["LINE_WORKER_PROCESSES"] = str(max(1, self.args.workers))  # the rate shared among them
            flask(["db", "upgrade"], self.env, timeout=300)
            self.db_desc = self.db.describe()
            self.fake.take()
            self.body()
        finally:
            for p in self.procs:
                p.stop()
            if self.args.keep:
                log(f"[{self.name}] kept {self.workdir}" + ("" if self.db.is_sqlite else f" and {self.db.shown}"))
            else:
                self.db.drop()

    def start_processes(self) -> float:
        launch = time.time()
        workers = max(1, self.args.workers)
        self.procs = [BotProcess("clock", self.env, self.workdir, bool(self.args.profile))] + [
            BotProcess("worker" if i == 0 else f"worker{i + 1}", self.env, self.workdir, bool(self.args.profile), "worker")
            for i in range(workers)]
        for p in self.procs:
            p.start()
        end = time.monotonic() + 60
        while not all(p.ready() for p in self.procs):
            if time.monotonic() > end:
                raise RuntimeError(f"[{self.name}] clock/worker not up after 60 s")
            time.sleep(0.1)
        self.figures["startup"] = time.time() - launch
        log(f"[{self.name}] clock and {len(self.procs) - 1} worker(s) up in {self.figures['startup']:.1f} s")
        return launch

    def wait_until(self, when: float) -> None:
        while time.time() < when:
            time.sleep(min(0.05, max(0.0, when - time.time())))

    def wait_deliveries(self, expected: int, due: float, limit: float) -> None:
        """Until the fake has `expected` recipients, then until the outbox is quiet."""
        end = due + limit
        while self.fake.recipients() < expected and time.time() < end:
            if not all(p.alive() for p in self.procs):
                break
            time.sleep(0.05)
        self.stop_probe()
        # nothing more should come: the worker records its last batch, and nothing is pending
        quiet_end = time.time() + 30
        while time.time() < quiet_end:
            open_rows = self.db.query("SELECT count(*) FROM outbox_message WHERE status IN ('pending', 'sending') "
                                      "AND next_attempt_at <= :now", now=datetime.now(timezone.utc))[0][0]
            if not open_rows:
                break
            time.sleep(0.2)
        time.sleep(1.0)

    def finish(self, due: float) -> list[tuple[float, str, list[str], list[dict]]]:
        """Memory and CPU of both processes, then the deliveries; checks common to all scenarios."""
        for p in self.procs:
            alive = p.alive()
            self.check(alive, f"{p.name} still running at the end")
            if alive:
                st = p.status()
                self.figures[f"{p.name}_hwm_after"] = st.get("VmHWM", 0)
                # the peak over the process's life: the start-up's or the work's, whichever is higher
                self.figures[f"{p.name}_hwm"] = max(st.get("VmHWM", 0), self.figures.get(f"{p.name}_hwm_before", 0))
                self.figures[f"{p.name}_rss"] = st.get("VmRSS", 0)
                self.figures[f"{p.name}_cpu"] = p.cpu() - self.figures.get(f"{p.name}_cpu_at_due", 0.0)
        for p in self.procs:
            p.stop()
        for p in self.procs:
            problems = log_problems(p.text())
            self.check(not problems, f"{p.name} log: {len(problems)} error line(s)" + (f", e.g. {problems[0]}" if problems else ""))
        statuses = dict(self.db.query("SELECT status, count(*) FROM outbox_message GROUP BY status"))
        self.figures["outbox"] = statuses
        self.check(set(statuses) <= {"sent"}, f"outbox: {statuses}")
        got = self.fake.take()
        got.sort(key=lambda g: g[0])
        self.figures["calls"] = collections.Counter(k for _, k, _, _ in got)
        if got:
            self.figures["first"] = got[0][0] - due
            self.figures["last"] = got[-1][0] - due
        else:
            self.figures["first"] = self.figures["last"] = float("nan")
        clock_text = self.procs[0].text()
        self.figures["clock_log"] = [(ts - due, msg) for ts, msg in log_events(
            clock_text, r"^(due: |announcement \d+: )") if ts >= due - 5]
        self.figures["missed_due_runs"] = len(log_events(clock_text, r'(?i)job "due_job'))
        return got

    def start_probe(self, due: float) -> None:
        """SQLite: from before the work is set up (the reminders written, the announce CLI run)
        until the deliveries are in, another writer (as a webhook request would be) opens a write
        transaction through the bot's own Database every 0.2 s; how long it waits for the write
        lock is recorded."""
        import threading

        self.probe_waits: list[tuple[float, float]] = []
        self.probe_stop = threading.Event()
        if not self.db.is_sqlite:
            self.probe_thread = None
            return

        def probe() -> None:
            from sqlalchemy import text

            from bot.core.db import Database

            pdb = Database(self.db.url)
            try:
                while not self.probe_stop.is_set():
                    t0 = time.perf_counter()
                    with pdb.session() as s:
                        s.execute(text("SELECT 1"))
                    self.probe_waits.append((time.time() - due, time.perf_counter() - t0))
                    self.probe_stop.wait(0.2)
            finally:
                pdb.dispose()

        self.probe_thread = threading.Thread(target=probe, daemon=True)
        self.probe_thread.start()

    def stop_probe(self) -> None:
        self.probe_stop.set()
        if self.probe_thread is not None:
            self.probe_thread.join(60)
            waits = [w for _, w in self.probe_waits]
            if waits:
                worst = max(self.probe_waits, key=lambda x: x[1])
                self.figures["probe"] = (len(waits), pct(waits, 50), worst[1], worst[0],
                                         sum(1 for w in waits if w > 1.0))

    def sample_cpu_at(self, due: float) -> None:
        self.wait_until(due)
        for p in self.procs:
            self.figures[f"{p.name}_cpu_at_due"] = p.cpu()
            if p.alive():
                st = p.status()
                self.figures[f"{p.name}_rss_at_due"] = st.get("VmRSS", 0)
                self.figures[f"{p.name}_hwm_before"] = st.get("VmHWM", 0)
                self.figures[f"{p.name}_hwm_reset"] = p.reset_peak()

    def exactly_once(self, got, n: int, ok_message) -> list[float]:
        """Each resident 0..n-1 once, with the right message; arrival − due per recipient."""
        counts = bytearray(n)
        strangers = wrong = 0
        arrivals = []
        for ts, _kind, to, messages in got:
            for u in to:
                i = index_of(u)
                if i is None or not 0 <= i < n:
                    strangers += 1
                    continue
                if counts[i] < 255:
                    counts[i] += 1
                if not ok_message(i, messages):
                    wrong += 1
                arrivals.append(ts)
        missing = counts.count(0)
        dupes = n - missing - counts.count(1)
        self.check(missing == 0 and dupes == 0 and strangers == 0,
                   f"every resident exactly once: {n - missing}/{n} reached, duplicates {dupes}, unknown ids {strangers}")
        self.check(wrong == 0, f"right message for each recipient: {sum(len(g[2]) for g in got) - wrong}/"
                               f"{sum(len(g[2]) for g in got)}")
        return arrivals

    def body(self) -> None:
        raise NotImplementedError


class Reminders(Scenario):
    def body(self) -> None:
        n = self.args.reminders
        langs = ["ja", "en"]
        self.figures["seed"] = seed_residents(self.db, n, langs)
        log(f"[reminders] seeded {n} residents in {self.figures['seed']:.1f} s")
        launch = self.start_processes()
        due_ts = float(math.ceil(launch + (self.args.lead or 20.0)))
        if due_ts - time.time() < 5:
            due_ts = float(math.ceil(time.time() + 5))
            self.note("the processes were slow to start: T moved to 5 s after they were up")
        due = datetime.fromtimestamp(due_ts, timezone.utc)
        self.start_probe(due_ts)
        self.figures["seed_reminders"] = seed_reminders(self.db.url, n, due)
        self.figures["due"] = due
        log(f"[reminders] {n} reminders due at {due.astimezone(ZoneInfo(TZ)):%H:%M:%S} local "
            f"({due_ts - time.time():.1f} s from now; written in {self.figures['seed_reminders']:.2f} s)")
        self.sample_cpu_at(due_ts)
        self.wait_deliveries(n, due_ts, self.args.time_limit)
        got = self.finish(due_ts)

        def ok(i: int, messages: list[dict]) -> bool:
            text = messages[0].get("text", "") if messages else ""
            return title_of(i) in text and len(messages) == 1

        arrivals = self.exactly_once(got, n, ok)
        lat = [a - due_ts for a in arrivals]
        self.figures["p50"], self.figures["p99"] = pct(lat, 50), pct(lat, 99)
        calls = self.figures["calls"]
        self.check(set(calls) <= {"push"} and calls.get("push") == n,
                   f"one push per reminder (distinct titles): {dict(calls)}")
        left = self.db.query("SELECT count(*), min(next_fire_at) FROM reminder WHERE next_fire_at > :d",
                             d=due + timedelta(hours=23))[0]
        self.check(left[0] == n, f"every reminder moved to its next day: {left[0]}/{n}")
        self.figures["target"] = [(f"(a) {n:,} reminders due together: last sent ≤ {TARGET_REMINDERS_S:g} s after T",
                                   self.figures["last"] <= TARGET_REMINDERS_S, f"{self.figures['last']:.2f} s")]

    def describe(self) -> list[str]:
        f = self.figures
        return [
            f"{self.args.reminders} residents (ja/en, no quiet hours), {self.args.reminders} daily reminders with "
            f"distinct titles, all due at T = {f['due'].astimezone(ZoneInfo(TZ)):%H:%M:%S} local "
            f"(seeding: residents {f['seed']:.1f} s, reminders {f['seed_reminders']:.2f} s; processes up in {f['startup']:.1f} s)",
            f"T → first push at the fake: {f['first']:.2f} s; T → last: {f['last']:.2f} s; "
            f"arrival − T per recipient: p50 {f['p50']:.2f} s, p99 {f['p99']:.2f} s",
        ]


class Announcement(Scenario):
    def __init__(self, name, args, fake, workdir, residents: int, langs: list[str], lead: float):
        """T = the moment the clock and the worker are both up + `lead`."""
        super().__init__(name, args, fake, workdir)
        self.residents = residents
        self.langs = langs
        self.lead = lead

    def body(self) -> None:
        n = self.residents
        self.figures["seed"] = seed_residents(self.db, n, self.langs)
        log(f"[{self.name}] seeded {n} residents ({'/'.join(self.langs)}) in {self.figures['seed']:.1f} s")
        self.start_processes()
        # From the moment both are up: the CLI needs a few seconds (the million: half a minute) first.
        due_ts = float(math.ceil(time.time() + self.lead))
        due = datetime.fromtimestamp(due_ts, timezone.utc)
        self.figures["due"] = due
        at = due.astimezone(ZoneInfo(TZ)).strftime("%Y-%m-%dT%H:%M:%S")
        log(f"[{self.name}] flask --app bot announce … --at {at} ({due_ts - time.time():.1f} s from now)")
        translations = [x for loc in dict.fromkeys(self.langs) if loc != "ja" and loc in ANN_TEXTS
                        for x in ("--translation", f"{loc}={ANN_TEXTS[loc]}")]
        self.start_probe(due_ts)
        secs, out = flask(["announce", "--text", ANN_JA, *translations, "--at", at], self.env)
        left = due_ts - time.time()
        self.figures["cli"] = secs
        self.figures["cli_out"] = out.strip().splitlines()
        self.check(left > 0, f"announcement created {left:.1f} s before T (the CLI took {secs:.1f} s)")
        log(f"[{self.name}] CLI took {secs:.1f} s; T in {left:.1f} s")
        self.sample_cpu_at(due_ts)
        self.wait_deliveries(n, due_ts, self.args.time_limit)
        got = self.finish(due_ts)

        eff = [effective_locale(loc) for loc in self.langs]

        def ok(i: int, messages: list[dict]) -> bool:
            text = messages[0].get("text", "") if messages else ""
            return text.startswith(ANN_TEXTS.get(eff[i % len(eff)], ANN_JA))

        self.exactly_once(got, n, ok)
        # calls per language, as the bot sees the languages; each call one language
        per_lang: collections.Counter = collections.Counter()
        mixed = 0
        for _, kind, to, _ in got:
            ls = {eff[index_of(u) % len(eff)] for u in to if index_of(u) is not None}
            if len(ls) != 1:
                mixed += 1
            per_lang[next(iter(ls)) if len(ls) == 1 else "mixed"] += 1
        people = collections.Counter(eff[i % len(eff)] for i in range(n))
        expected = {loc: math.ceil(k / BATCH) for loc, k in sorted(people.items())}
        self.figures["per_lang"] = dict(sorted(per_lang.items()))
        self.figures["expected"] = expected
        self.figures["seeded"] = dict(sorted(collections.Counter(self.langs[i % len(self.langs)] for i in range(n)).items()))
        calls = self.figures["calls"]
        self.check(set(calls) <= {"multicast"}, f"multicasts only (no broadcast, push or reply): {dict(calls)}")
        self.check(mixed == 0, f"each multicast in one language: {sum(per_lang.values()) - mixed}/{sum(per_lang.values())}")
        calls_ok = dict(per_lang) == expected
        self.check(calls_ok, f"calls per language {self.figures['per_lang']} = ⌈N_lang/500⌉ {expected}")
        runs = self.db.query("SELECT status, method, recipients, calls FROM announcement_run")
        self.figures["runs"] = runs
        self.check(len(runs) == 1 and runs[0][0] == "queued" and runs[0][2] == n and runs[0][3] == sum(expected.values()),
                   f"announcement_run: {runs}")
        last = self.figures["last"]
        if self.name == "million":
            self.figures["target"] = [
                (f"(c) {n:,} residents: ⌈N/500⌉ calls per language", calls_ok,
                 ", ".join(f"{k} {v}" for k, v in self.figures["per_lang"].items())),
                (f"(c) {n:,} residents: all sent ≤ {TARGET_MILLION_S:g} s after T", last <= TARGET_MILLION_S, f"{last:.2f} s"),
            ]
        else:
            self.figures["target"] = [("(b) announcement leaves ≤ 2 s after T (its last call)",
                                       last <= TARGET_ANNOUNCEMENT_S, f"{last:.2f} s (first {self.figures['first']:.2f} s)")]

    def describe(self) -> list[str]:
        f = self.figures
        merged = [loc for loc in self.langs if effective_locale(loc) != loc]
        translated = ", ".join(sorted(set(self.langs) & set(ANN_TEXTS) - {"ja"}))
        lines = [
            f"{self.residents} residents ({', '.join(f'{k} {v}' for k, v in f['seeded'].items())}; no quiet hours), "
            f"one announcement to all (ja, translated: {translated or 'none'}) "
            f"due at T = {f['due'].astimezone(ZoneInfo(TZ)):%H:%M:%S} local "
            f"(seeding {f['seed']:.1f} s; processes up in {f['startup']:.1f} s; the announce CLI took {f['cli']:.1f} s)",
        ]
        if merged:
            lines.append(f"not a language the bot speaks: {', '.join(merged)}; those residents are sent the ja message "
                         "(bot.services.announcements.members() maps unknown locales to ja)")
        lines += [f"CLI: {line}" for line in f["cli_out"]]
        lines.append(f"T → first multicast at the fake: {f['first']:.2f} s; T → last: {f['last']:.2f} s; "
                     f"{sum(f['calls'].values())} calls in {f['last'] - f['first']:.2f} s between the first and the last")
        lines.append(f"calls per language (as the bot sees them): {f['per_lang']}; expected ⌈N_lang/500⌉: {f['expected']}")
        return lines


# -- main ----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", choices=("reminders", "announcement", "million", "all"), default="all")
    ap.add_argument("--reminders", type=int, default=10_000, help="residents and reminders (default 10000)")
    ap.add_argument("--announcement-residents", type=int, default=1_000, help="default 1000")
    ap.add_argument("--million", type=int, default=1_000_000, help="residents of the big announcement (default 1000000)")
    ap.add_argument("--million-langs", default="ja,en,vi", help="their locales, split evenly (default ja,en,vi)")
    ap.add_argument("--lead", type=float, default=None,
                    help="reminders: T = the processes' launch + this (default 20 s); announcement: T = the moment "
                         "both are up + this (default 15 s)")
    ap.add_argument("--million-lead", type=float, default=60.0,
                    help="the same for the million (default 60 s: the CLI reads the whole audience first)")
    ap.add_argument("--time-limit", type=float, default=300.0, help="give up waiting this long after T (default 300)")
    ap.add_argument("--database-url", metavar="URL",
                    help="default: a fresh SQLite file per scenario; postgresql+psycopg://…/DB: a database of its own "
                         "per scenario (bench_sched_<random>) on that server, dropped at the end unless --keep")
    ap.add_argument("--keep", action="store_true", help="keep the folder (databases, logs) and PostgreSQL databases")
    ap.add_argument("--workers", type=int, default=1,
                    help="worker processes (default 1); they share LINE's rate limits (LINE_WORKER_PROCESSES=N)")
    ap.add_argument("--profile", action="store_true", help="run the clock and the worker under cProfile")
    ap.add_argument("--profile-lines", type=int, default=25)
    ap.add_argument("--require-target", action="store_true", help="exit 2 when a target is not met")
    args = ap.parse_args(argv)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` cleans up
    compile_catalogs()
    if args.workers > 1 and not args.database_url:
        log(f"{args.workers} workers on SQLite: they take turns at its single writer lock")
    workdir = Path(tempfile.mkdtemp(prefix="tsunagari-sched-"))
    fake = make_fake()
    names = ["reminders", "announcement", "million"] if args.scenario == "all" else [args.scenario]
    done: list[Scenario] = []
    load0, machine0, wall0 = os.getloadavg(), cpu_times(), time.time()
    args.code_at_start = code_version()
    try:
        for name in names:
            if name == "reminders":
                sc: Scenario = Reminders(name, args, fake, workdir)
            elif name == "announcement":
                sc = Announcement(name, args, fake, workdir, args.announcement_residents, ["ja", "en"],
                                  args.lead or 15.0)
            else:
                langs = [x.strip() for x in args.million_langs.split(",") if x.strip()]
                sc = Announcement(name, args, fake, workdir, args.million, langs, args.million_lead)
            log(f"[{name}] start ({'SQLite' if sc.db.is_sqlite else sc.db.shown})")
            sc.load = os.getloadavg()
            sc.run()
            sc.load_after = os.getloadavg()
            done.append(sc)
        status = report(args, done, load0, machine0, wall0)
        if args.profile:
            for sc in done:
                for p in sc.procs:
                    if p.prof_path and p.prof_path.exists():
                        print_profile(f"{sc.name}: {p.name}", p.prof_path, args.profile_lines)
    finally:
        fake.stop()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return status


def report(args, done: list[Scenario], load0, machine0, wall0) -> int:
    db_desc = done[0].db_desc if done else "?"
    print()
    print(f"scheduler benchmark: the bot's clock and worker processes (python -m flask --app bot clock / worker), "
          f"{db_desc}, fake LINE API in the benchmark's process")
    code = code_version()
    if code != args.code_at_start:
        code = f"{args.code_at_start} at the start, {code} at the end"
    print(f"code: {code}; {os.cpu_count()} CPUs; run took {time.time() - wall0:.0f} s; "
          f"load average (1 min) at the start / end: {load0[0]:.2f} / {os.getloadavg()[0]:.2f}; "
          f"{machine_note(machine0, cpu_times())}")
    targets: list[tuple[str, bool, str]] = []
    all_ok = True
    for sc in done:
        f = sc.figures
        print()
        print(f"== {sc.name} == (load average 1 min before / after: {sc.load[0]:.2f} / {sc.load_after[0]:.2f})")
        for line in sc.describe() + sc.notes:
            print(line)
        print(f"calls by kind: {dict(f['calls'])}")
        clock_lines = f.get("clock_log") or []
        for rel, msg in clock_lines[:6]:
            print(f"  clock log at T{rel:+.2f} s: {msg}")
        if len(clock_lines) > 6:
            print(f"  … {len(clock_lines) - 6} more clock 'due' lines, the last at T{clock_lines[-1][0]:+.2f} s")
        if f.get("probe"):
            k, p50, worst, _, over = f["probe"]
            waits = sorted((a - w, w) for a, w in getattr(sc, "probe_waits", []) if w > 1.0)
            print(f"another writer (a probe transaction through bot.db every 0.2 s from before the set-up, as a webhook "
                  f"request would be) waited for SQLite's write lock: p50 {p50 * 1000:.0f} ms, max {worst:.2f} s, "
                  f"{over} of {k} waited > 1 s" + "".join(f"; {w:.2f} s from T{a:+.1f} s" for a, w in waits[:4]))
        if f.get("missed_due_runs"):
            print(f"  clock: {f['missed_due_runs']} runs of the 1-second 'due' job skipped (one was still running) or "
                  "missed (APScheduler's log)")
        print("process   peak RSS, whole life     peak up to T   peak from T    RSS at T   RSS at end   CPU s from T")
        for p in [proc.name for proc in sc.procs]:
            hwm = f.get(f"{p}_hwm", 0)
            after = f"{f.get(f'{p}_hwm_after', 0) / 2**20:6.1f} MiB" if f.get(f"{p}_hwm_reset") else "   (n/a)  "
            print(f"{p:<8}  {hwm / 2**20:6.1f} MiB = {hwm / MB:6.1f} MB  {f.get(f'{p}_hwm_before', 0) / 2**20:6.1f} MiB     "
                  f"{after}     {f.get(f'{p}_rss_at_due', 0) / 2**20:6.1f} MiB  {f.get(f'{p}_rss', 0) / 2**20:6.1f} MiB   "
                  f"{f.get(f'{p}_cpu', float('nan')):6.1f}")
            targets.append((f"(d) {sc.name}: {p} peak RSS ≤ 150 MB", 0 < hwm <= TARGET_RSS, f"{hwm / MB:.1f} MB"))
        print()
        for ok, line in sc.checks:
            print(f"[{sc.name}] {'ok  ' if ok else 'FAIL'} {line}")
            all_ok = all_ok and ok
        targets = f.get("target", []) + targets
    print()
    print("target                                                        figure                 met")
    order = sorted(targets, key=lambda x: x[0])
    for name, ok, figure in order:
        print(f"{name:<62}{figure:<23}{'yes' if ok else 'NO'}")
    met = all(ok for _, ok, _ in targets)
    print()
    print(f"targets: {'ALL MET' if met else 'NOT ALL MET'}; checks: {'all passed' if all_ok else 'FAILED'}")
    if args.profile:
        print("(run under cProfile: the seconds above are inflated by the profiler)")
    if not all_ok:
        return 1
    if args.require_target and not met:
        return 2
    return 0


def print_profile(title: str, path: Path, lines: int) -> None:
    import io
    import pstats

    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(str(path), stream=buf).strip_dirs().sort_stats(key).print_stats(lines)
        print(f"\n--- {title} profile, by {key} ---")
        print("\n".join(buf.getvalue().splitlines()[6:]))


if __name__ == "__main__":
    sys.exit(main())
