"""Webhook throughput and latency: the full bot against the minimal echo bot, same load, same run.

    .venv/bin/python bench/webhook.py [--events N] [--concurrency C] [--residents R]

What runs:

* a fake LINE Messaging API in this process (`tests.fakeline.FakeLine`), which checks reply
  tokens like LINE does: every event carries a token it issued, used once;
* the full bot, `gunicorn -w 2 "bot:create_app()"`, on a fresh SQLite file brought up with
  `flask --app bot db upgrade` and `flask --app bot areas load`;
* the baseline, `gunicorn -w 2 "bench.baseline_echo:create_app()"`: SDK parse, echo reply,
  nothing stored;
* the durable echo, `gunicorn -w 2 "bench.durable_echo:create_app()"`: SDK parse, the event
  recorded under its `webhookEventId` and committed, the echo reply, the reply recorded and
  committed (stdlib sqlite3 in WAL with `synchronous=NORMAL`, or psycopg on PostgreSQL): the
  floor any bot that must not lose or repeat an answer pays. The target is measured against it.

`--database-url postgresql…://…/DB` runs the full bot and the durable echo on PostgreSQL (each on
a fresh database of its own on that server, dropped afterwards) instead of SQLite files.

The load: N signed webhook deliveries per server, one text event each (unique
`webhookEventId`, fresh reply token, `X-Line-Signature` = base64 HMAC-SHA256 of the body),
sent by C client threads, one connection per request (gunicorn's sync workers close it
anyway). Each thread owns a share of the residents, so one resident's messages arrive in
order, never two at once; the residents' messages are interleaved.

Every measured event is a conversation step. Before measuring, each resident follows the bot
(which starts onboarding at the language step). Each resident's messages then cycle through

    English → Atlantis → Minato-machi → Skip → Hanako → I do not agree → hello → English …

i.e. choose a language (advance), name an unknown area (invalid: the same step is asked
again, expiry refreshed), name a real area (advance), skip the join code, give a nickname,
decline the privacy notice (the flow finishes and the conversation row is deleted), and say
something while not onboarded (onboarding starts again: a new conversation row). Each one
records the event in the inbox, claims it, loads the resident and their conversation, runs the
step, writes the reply to the outbox, commits, replies through the SDK to the fake LINE API,
and records the send.

The baseline gets the same load from residents of its own (same number, same texts in the same
order), and echoes the text. Both servers get a warm-up that is not measured. The measured events
go in `--rounds` slices, the servers taking turns, so background load on the machine weighs on
both alike. Reported per server: events/s, p50/p99/max latency as the clients saw it, and the CPU
time its gunicorn workers used per event (from /proc).

After the run it checks that the fake LINE API got exactly one reply per measured event (and no
push), that each resident's last reply is the one its last message calls for, and, for the full
bot, that every inbox row is done and every outbox row sent, and for the durable echo that every
event was recorded and its reply marked sent. Exit status: 0, or 1 if a check failed, or 2 with
`--require-target` when the target (full bot ≥ 0.5 × the durable echo's events/s, p99 ≤ 100 ms)
is missed.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakeline import FakeLine  # noqa: E402

from bench.common import SECRET, BenchDatabase, Server, log, run_cli, sign, user_id  # noqa: E402,F401

# One onboarding cycle, as typed text, with what the first message of each reply must contain.
CYCLE: tuple[tuple[str, str], ...] = (
    ("hello", "Welcome to Tsunagari"),  # not onboarded, no conversation: onboarding starts
    ("English", "Which area do you live in"),  # language chosen: advance to the area step
    ("Atlantis", "We could not find that area"),  # invalid: the area step is asked again
    ("Minato-machi", "join code"),  # area chosen: advance to the association step
    ("Skip", "What name should your neighbours see"),  # advance to the nickname step
    ("Hanako", "Last step: privacy"),  # nickname given: advance to consent
    ("I do not agree", "We have not saved anything"),  # the flow finishes, nothing kept
)
FIRST_STEP = 1  # after the follow event, the resident is at the language step: "English"

TARGET_RATIO = 0.5  # of the durable echo's events/s (issue 22)
TARGET_P99_MS = 100.0


# -- helpers ---------------------------------------------------------------------------------


_msg_seq = iter(range(1, 10**12))


def base_event(fake: FakeLine, kind: str, user: str, **extra) -> dict:
    ev = {
        "type": kind,
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "webhookEventId": "01BENCH" + uuid.uuid4().hex.upper(),
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user},
        "replyToken": fake.issue_reply_token(user),
    }
    ev.update(extra)
    return ev


def delivery(events: list[dict]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"destination": "Ubench", "events": events}, ensure_ascii=False).encode()
    return body, {"Content-Type": "application/json", "X-Line-Signature": sign(body)}


def text_delivery(fake: FakeLine, user: str, text: str) -> tuple[bytes, dict[str, str]]:
    msg = {"type": "text", "id": str(next(_msg_seq)), "text": text, "quoteToken": "q"}
    return delivery([base_event(fake, "message", user, message=msg)])


def follow_delivery(fake: FakeLine, user: str) -> tuple[bytes, dict[str, str]]:
    return delivery([base_event(fake, "follow", user, follow={"isUnblocked": False})])


@dataclass
class Plan:
    """Per client thread, the deliveries it sends in order; and what each resident said last."""

    per_thread: list[list[tuple[bytes, dict[str, str]]]]
    last_step: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.per_thread)


def text_plan(fake: FakeLine, users: list[str], events: int, threads: int, start: dict[str, int]) -> Plan:
    """`events` text messages spread over `users` (round-robin), each user's messages following
    the onboarding cycle from position `start[user]`; a user always belongs to one thread."""
    counts = {u: events // len(users) + (1 if i < events % len(users) else 0) for i, u in enumerate(users)}
    per_thread: list[list[tuple[bytes, dict[str, str]]]] = [[] for _ in range(threads)]
    step = dict(start)
    last: dict[str, int] = {}
    rounds = max(counts.values())
    for j in range(rounds):
        for i, u in enumerate(users):
            if j >= counts[u]:
                continue
            pos = step[u] % len(CYCLE)
            per_thread[i % threads].append(text_delivery(fake, u, CYCLE[pos][0]))
            last[u] = pos
            step[u] = pos + 1
    start.update(step)
    return Plan(per_thread, last)


def follow_plan(fake: FakeLine, users: list[str], threads: int) -> Plan:
    per_thread: list[list[tuple[bytes, dict[str, str]]]] = [[] for _ in range(threads)]
    for i, u in enumerate(users):
        per_thread[i % threads].append(follow_delivery(fake, u))
    return Plan(per_thread)


# -- driving ---------------------------------------------------------------------------------

@dataclass
class Run:
    events: int
    seconds: float
    latencies: list[float]  # seconds, one per request that got an answer
    errors: list[str]
    cpu: float = 0.0  # CPU seconds the server's workers used meanwhile

    @classmethod
    def merge(cls, runs: list["Run"]) -> "Run":
        return cls(
            sum(r.events for r in runs),
            sum(r.seconds for r in runs),
            [x for r in runs for x in r.latencies],
            [e for r in runs for e in r.errors],
            sum(r.cpu for r in runs),
        )

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))
        return xs[k] * 1000


def drive(port: int, plan: Plan, deadline: float) -> Run:
    threads = len(plan.per_thread)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads + 1)

    def client(idx: int) -> None:
        mine = latencies[idx]
        barrier.wait()
        for body, headers in plan.per_thread[idx]:
            if time.monotonic() > deadline:
                with lock:
                    errors.append("time limit reached")
                return
            t0 = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("POST", "/callback", body, headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
            except Exception as exc:  # noqa: BLE001 - reported, counted as an error
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            mine.append(time.perf_counter() - t0)
            if resp.status != 200:
                with lock:
                    errors.append(f"HTTP {resp.status}: {data[:200]!r}")

    workers = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join(max(0.0, deadline - time.monotonic()) + 5)
    seconds = time.perf_counter() - t0
    if any(w.is_alive() for w in workers):
        errors.append("client threads still running at the time limit")
    return Run(plan.size, seconds, [x for part in latencies for x in part], errors)


# -- servers ---------------------------------------------------------------------------------


# -- checks ----------------------------------------------------------------------------------

def reply_text(message: dict) -> str:
    return message.get("text") or message.get("altText") or ""


def count_kind(fake: FakeLine, since: int, kind: str) -> int:
    with fake.lock:
        return sum(1 for d in fake.deliveries[since:] if d.kind == kind)


def _query(url: str, sql: str) -> list[tuple]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def db_summary(url: str) -> dict[str, dict[str, int]]:
    out = {}
    for table in ("inbound_event", "outbox_message"):
        out[table] = dict(_query(url, f"SELECT status, count(*) FROM {table} GROUP BY status"))
    out["conversation_state"] = {"rows": _query(url, "SELECT count(*) FROM conversation_state")[0][0]}
    return out


def echo_summary(url: str) -> tuple[int, int]:
    """(events recorded, replies marked sent) in the durable echo's table."""
    return tuple(_query(url, "SELECT count(*), coalesce(sum(replied), 0) FROM echo_event")[0])  # type: ignore[return-value]


# -- main ------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=3000, help="measured events per server (default 3000)")
    ap.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    ap.add_argument("--residents", type=int, default=600, help="residents taking part (default 600)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="measure in this many slices, the servers taking turns (default 3)")
    ap.add_argument("--warmup", type=int, default=300, help="warm-up events per server, not measured (default 300)")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers for both servers (default 2)")
    ap.add_argument("--gunicorn-arg", action="append", default=[], metavar="ARG",
                    help="an extra gunicorn argument for both servers (repeatable)")
    ap.add_argument("--time-limit", type=float, default=300.0, help="give up after this many seconds (default 300)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (database, server logs)")
    ap.add_argument("--require-target", action="store_true", help="exit 2 when the target is not met")
    ap.add_argument("--database-url", help="postgresql+psycopg://…/DB: run the bot and the durable echo on "
                                           "PostgreSQL (fresh databases on that server), not SQLite")
    args = ap.parse_args(argv)
    if args.events < 1 or args.concurrency < 1 or args.residents < args.concurrency or not 1 <= args.rounds <= args.events:
        ap.error("need events ≥ 1, concurrency ≥ 1, residents ≥ concurrency and 1 ≤ rounds ≤ events")

    deadline = time.monotonic() + args.time_limit
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the servers

    from bot.core.i18n import missing_compiled_catalogs

    if missing_compiled_catalogs():  # as the test suite does: .mo files are built, not committed
        subprocess.run([sys.executable, str(ROOT / "scripts" / "i18n.py"), "compile"], check=True,
                       stdout=subprocess.DEVNULL, cwd=ROOT)

    workdir = Path(tempfile.mkdtemp(prefix="tsunagari-bench-"))
    db = BenchDatabase(args.database_url, workdir)
    echo_db = BenchDatabase(args.database_url, workdir, prefix="tsunagari_echo") if args.database_url else None
    fake = FakeLine(token="bench-access-token", record_calls=False).start()
    servers: list[Server] = []
    status = 1
    try:
        db.create()
        echo_url = f"sqlite:///{workdir / 'echo.db'}"
        if echo_db is not None:
            echo_db.create()
            echo_url = echo_db.url
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "DATABASE_URL", "FLASK_", "WEBCHAT"))}
        env.update(DATABASE_URL=db.url, PYTHONUNBUFFERED="1")
        run_cli(["db", "upgrade"], env)
        run_cli(["areas", "load"], env)
        env.update(LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN=fake.token, LINE_API_BASE_URL=fake.url,
                   FLASK_SECRET_KEY=secrets.token_urlsafe(48))  # with LINE configured, a weak key is refused
        echo_env = {**env, "DURABLE_ECHO_DB": echo_url.replace("sqlite:///", "") if echo_db is None else echo_url}

        full = Server("full", "bot:create_app()", env, workdir, args.workers, args.gunicorn_arg)
        base = Server("baseline", "bench.baseline_echo:create_app()", env, workdir, args.workers, args.gunicorn_arg)
        durable = Server("durable", "bench.durable_echo:create_app()", echo_env, workdir, args.workers, args.gunicorn_arg)
        servers = [full, base, durable]
        for s in servers:
            s.start()
        for s in servers:
            s.wait_ready()
        log(f"servers up: full bot on :{full.port}, baseline on :{base.port}, durable echo on :{durable.port} "
            f"({args.workers} workers each, {'PostgreSQL' if args.database_url else 'SQLite'})")

        C = args.concurrency
        users = {}
        for name in ("full", "baseline", "durable"):
            users[name] = [user_id(name, i) for i in range(args.residents)]
            users[name + "-warm"] = [
                user_id(name + "-warm", i) for i in range(max(C, min(args.residents, args.warmup // len(CYCLE) or 1)))
            ]
        for group in users.values():
            for u in group:
                fake.profiles[u] = {"displayName": "Bench", "language": "en"}
        pos = {u: FIRST_STEP for group in users.values() for u in group}
        servers_by_name = {"full": full, "baseline": base, "durable": durable}

        # Not measured: the full bot's residents follow it (onboarding starts), then both servers
        # get a warm-up of text events from residents of their own.
        followers = users["full"] + users["full-warm"]
        log(f"full bot: {len(followers)} residents follow (onboarding starts) - not measured")
        setup = drive(full.port, follow_plan(fake, followers, C), deadline)
        if setup.errors:
            raise RuntimeError(f"follow phase failed: {setup.errors[:3]}")
        for name, server in servers_by_name.items():
            warm = drive(server.port, text_plan(fake, users[name + "-warm"], args.warmup, C, pos), deadline)
            if warm.errors:
                raise RuntimeError(f"{name} warm-up failed: {warm.errors[:3]}")

        # Measured: the events in `rounds` slices, the servers taking turns (F B, B F, F B …), so
        # that whatever else the machine is doing weighs on both alike.
        since = len(fake.deliveries)
        loadavg_before = os.getloadavg()
        runs: dict[str, list[Run]] = {"full": [], "baseline": [], "durable": []}
        last_step: dict[str, dict[str, int]] = {"full": {}, "baseline": {}, "durable": {}}
        slices = [args.events // args.rounds + (1 if r < args.events % args.rounds else 0) for r in range(args.rounds)]
        turns = (("full", "baseline", "durable"), ("durable", "full", "baseline"), ("baseline", "durable", "full"))
        for r, n in enumerate(slices):
            order = turns[r % len(turns)]
            for name in order:
                plan = text_plan(fake, users[name], n, C, pos)
                log(f"round {r + 1}/{args.rounds}: {name}, {plan.size} events, {C} clients")
                cpu0 = servers_by_name[name].cpu_seconds()
                run = drive(servers_by_name[name].port, plan, deadline)
                run.cpu = servers_by_name[name].cpu_seconds() - cpu0
                runs[name].append(run)
                last_step[name].update(plan.last_step)
                if run.errors:
                    raise RuntimeError(f"{name}: {len(run.errors)} errors, e.g. {run.errors[:3]}")
        loadavg_after = os.getloadavg()
        results = {name: Run.merge(rs) for name, rs in runs.items()}

        checks: dict[str, list[str]] = {}
        pushes = count_kind(fake, since, "push")
        checks["full"] = check(fake, since, users["full"], last_step["full"], results["full"],
                               expect=lambda p: CYCLE[p][1])
        checks["baseline"] = check(fake, since, users["baseline"], last_step["baseline"], results["baseline"],
                                   expect=lambda p: CYCLE[p][0], exact=True)
        checks["durable"] = check(fake, since, users["durable"], last_step["durable"], results["durable"],
                                  expect=lambda p: CYCLE[p][0], exact=True)
        recorded, replied = echo_summary(echo_url)
        echo_events = results["durable"].events + args.warmup
        echo_ok = recorded == replied >= echo_events
        checks["durable"].append(f"{'ok  ' if echo_ok else 'FAIL'} durable echo's table: {recorded} events recorded, "
                                 f"{replied} replies marked sent (at least {echo_events} expected)")
        end = time.monotonic() + 5  # the last replies' sends are recorded within REPLY_RECORD_MS (0.2 s)
        while True:
            summary = db_summary(db.url)
            if set(summary["outbox_message"]) == {"sent"} or time.monotonic() > end:
                break
            time.sleep(0.1)
        inbox, outbox_rows = summary["inbound_event"], summary["outbox_message"]
        db_ok = set(inbox) == {"done"} and set(outbox_rows) == {"sent"}
        checks["full"].append(
            f"{'ok  ' if db_ok else 'FAIL'} database: inbox {inbox}, outbox {outbox_rows}, "
            f"open conversations {summary['conversation_state']['rows']}"
        )
        checks["both"] = [f"{'ok  ' if pushes == 0 else 'FAIL'} pushes (every answer should be a reply): {pushes}"]
        batches = measure_batches(full.port, fake, BATCHES, deadline)
        got = sum(1 for u in batches.users if fake.messages_to(u))
        checks["full"].append(f"{'ok  ' if got == len(batches.users) else 'FAIL'} 20-event deliveries: "
                              f"{got}/{len(batches.users)} new residents answered")
        load_note = (f"load average (1 min) before/after the measured rounds: "
                     f"{loadavg_before[0]:.2f} / {loadavg_after[0]:.2f} on {os.cpu_count()} CPUs")
        status = report(args, results, runs, checks, load_note, batches)
    except BaseException:
        for s in servers:
            log(f"--- {s.name} server log (tail) ---\n{s.tail()}")
        raise
    finally:
        for s in servers:
            s.stop()
        fake.stop()
        if not args.keep:
            db.drop()
            if echo_db is not None:
                echo_db.drop()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return status


BATCHES = 30


@dataclass
class Batches:
    latencies: list[float]
    users: list[str]


def measure_batches(port: int, fake: FakeLine, n: int, deadline: float) -> Batches:
    """One client sends `n` deliveries of 20 follow events each, one after another, and times
    each until the webhook answers (all 20 recorded, handled and replied to by then)."""
    latencies, users = [], []
    for b in range(n):
        if time.monotonic() > deadline:
            raise RuntimeError("time limit reached in the 20-event deliveries")
        batch = [user_id(f"batch-{b}", i) for i in range(20)]
        for u in batch:
            fake.profiles[u] = {"displayName": "Bench", "language": "ja"}
        body, headers = delivery([base_event(fake, "follow", u, follow={"isUnblocked": False}) for u in batch])
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/callback", body, headers)
        resp = conn.getresponse()
        resp.read()
        conn.close()
        latencies.append(time.perf_counter() - t0)
        if resp.status != 200:
            raise RuntimeError(f"20-event delivery answered {resp.status}")
        users.extend(batch)
    return Batches(latencies, users)


def check(fake: FakeLine, since: int, users: list[str], last_step: dict[str, int], run: Run, expect,
          exact: bool = False) -> list[str]:
    lines = []
    mine = set(users)
    with fake.lock:
        replies = [d for d in fake.deliveries[since:] if d.kind == "reply" and d.to and d.to[0] in mine]
    good = len(replies) == run.events
    lines.append(f"{'ok  ' if good else 'FAIL'} replies received by the fake LINE API: {len(replies)} "
                 f"for {run.events} events")
    last: dict[str, dict] = {}
    for d in replies:
        if d.messages:
            last[d.to[0]] = d.messages[0]
    wrong = []
    for u, p in last_step.items():
        text = reply_text(last.get(u, {}))
        want = expect(p)
        if (text != want) if exact else (want not in text):
            wrong.append((u, want, text[:60]))
    lines.append(f"{'ok  ' if not wrong else 'FAIL'} last reply as expected for "
                 f"{len(last_step) - len(wrong)}/{len(last_step)} residents"
                 + (f" (e.g. {wrong[0]})" if wrong else ""))
    lines.append(f"{'ok  ' if not run.errors else 'FAIL'} HTTP errors: {len(run.errors)}"
                 + (f" (e.g. {run.errors[0]})" if run.errors else ""))
    return lines


def report(args, results: dict[str, Run], runs: dict[str, list[Run]], checks: dict[str, list[str]],
           load_note: str, batches: "Batches") -> int:
    full, base, durable = results["full"], results["baseline"], results["durable"]
    ratio = full.rate / durable.rate if durable.rate else 0.0
    ratio_echo = full.rate / base.rate if base.rate else 0.0
    print()
    print(f"webhook benchmark: {args.events} events per server, {args.concurrency} clients, "
          f"{args.residents} residents, {args.rounds} rounds, gunicorn {args.workers} sync workers, "
          f"{'PostgreSQL' if args.database_url else 'SQLite'}")
    print()
    print(f"{'server':<13} {'events':>7} {'seconds':>8} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}"
          f" {'CPU ms/event':>13}")
    for name, r in (("full bot", full), ("durable echo", durable), ("echo", base)):
        print(f"{name:<13} {r.events:>7} {r.seconds:>8.2f} {r.rate:>9.1f} {r.pct(50):>7.1f} {r.pct(99):>7.1f} "
              f"{max(r.latencies) * 1000 if r.latencies else float('nan'):>7.1f} {r.cpu / r.events * 1000:>13.2f}")
    for name, label in (("full", "full bot"), ("durable", "durable echo"), ("baseline", "echo")):
        print(f"{label} events/s by round: " + ", ".join(f"{r.rate:.1f}" for r in runs[name]))
    print(load_note)
    lat = sorted(batches.latencies)
    print(f"full bot, deliveries of 20 follow events each (new residents, profile lookup, onboarding starts): "
          f"{len(lat)} deliveries, p50 {lat[len(lat) // 2] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms "
          f"(LINE waits 2,000 ms)")
    print()
    all_checks_ok = all(line.startswith("ok") for lines in checks.values() for line in lines)
    for name, lines in checks.items():
        for line in lines:
            print(f"[{name}] {line}")
    print()
    ratio_ok = ratio >= TARGET_RATIO
    p99_ok = full.pct(99) <= TARGET_P99_MS
    print(f"throughput ratio (full / durable echo): {ratio:.2f}  (target ≥ {TARGET_RATIO}: {'met' if ratio_ok else 'NOT met'})")
    print(f"throughput ratio (full / echo that stores nothing): {ratio_echo:.2f}; durable / echo: "
          f"{durable.rate / base.rate if base.rate else 0.0:.2f}")
    for name, r in (("full bot", full), ("durable echo", durable), ("echo", base)):
        if r.cpu:
            print(f"worker CPU per event, {name}: {r.cpu / r.events * 1000:.2f} ms")
    print(f"full bot p99: {full.pct(99):.1f} ms  (target ≤ {TARGET_P99_MS:.0f} ms: {'met' if p99_ok else 'NOT met'})")
    print(f"target: {'MET' if ratio_ok and p99_ok else 'NOT MET'}; checks: {'all passed' if all_checks_ok else 'FAILED'}")
    if not all_checks_ok:
        return 1
    if args.require_target and not (ratio_ok and p99_ok):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
