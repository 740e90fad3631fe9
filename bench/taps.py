"""「読んだ」 taps: members confirming a circular they got, through the real webhook.

    .venv/bin/python bench/taps.py [--taps 10000] [--concurrency 4] [--rate 0] [--database-url URL]

What runs:

* a fake LINE Messaging API in this process (`tests.fakeline.FakeLine`), which issues the reply
  tokens and takes each one once, like LINE;
* the bot, `gunicorn -w 2 "bot:create_app()"` (sync workers, as the Procfile and
  `bench/webhook.py`), on a fresh database brought up with `flask --app bot db upgrade`: by
  default a SQLite file; with `--database-url postgresql+psycopg://…/DB`, a database of its own
  (`tsunagari_bench_<random>`, created next to DB, dropped at the end unless `--keep`);
* set-up, not measured: one association, `--taps` + `--warmup` residents (onboarded,
  following, locales split over `--langs`), all members of it (SQLAlchemy Core
  `executemany`; on PostgreSQL the tables filled are then ANALYZEd, see
  `BenchDatabase.after_seed`); two circulars already sent (`sent_at` set, recipient rows inserted directly,
  as `circulars.send` writes them): a warm-up one to the `--warmup` members, and the measured
  one to the `--taps` members.

The load: every measured member taps 「読んだ」 ("I have read it") on the measured circular
once: one signed webhook delivery per tap (one postback event, data `a=circ&x=read&c=<id>`,
unique `webhookEventId`, a reply token issued by the fake LINE API), sent by `--concurrency`
client threads, one connection per request (gunicorn's sync workers close it anyway). Each
request records the event, loads the member and their recipient row, sets `read_at` once,
writes the reply to the outbox, commits, replies through the SDK to the fake LINE API, and
records the send. The warm-up members tap the warm-up circular first (not measured).

`--rate R` (taps per second over all clients, 0 = as fast as the server answers) paces the
taps: tap k is due at start + k/R and a client waits for it; the latency of a paced tap is
counted from when it was due, so a server that falls behind is not hidden by clients that
wait for it. `--rate 167` is 10,000 taps spread over one minute.

Reported: taps/s (overall and per tenth of the run), total seconds, per-request latency
p50/p99/max as the clients saw it, the CPU time the gunicorn workers and this process (clients
and fake LINE API) used per tap (on PostgreSQL also its backends serving the bot's connections,
when the server runs on this machine), and the machine's busy and steal shares over the run (/proc). Checks: no HTTP error; exactly `--taps`
recipients of the measured circular have `read_at`, none is left unread; the fake LINE API got
exactly one reply per tap, to the right member, saying the first-time thank-you in their
language; no push; every inbox row `done`, every outbox row `sent`.

`--profile` runs the same taps in this process instead, through Flask's test client, one after
another: half without the profiler (time per tap, and the time spent inside each of the three
write transactions, i.e. on SQLite holding its write lock), half under cProfile (the hot spots).

Target (the issue): 10,000 taps within a minute, p99 ≤ 100 ms. Exit status: 0, 1 if a check
failed, 2 with `--require-target` when the target is missed.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fanout import bench_env, log, run_cli, seed  # noqa: E402
from tests.fakeline import FakeLine  # noqa: E402

from bench.common import (  # noqa: E402,F401
    SECRET, BenchDatabase, Server, code_version, compile_catalogs, cpu_times, machine_note, sign,
)
TARGET_SECONDS = 60.0
TARGET_TAPS = 10_000
TARGET_P99_MS = 100.0
THANKS = "Thank you. We have noted that you read it."


# -- helpers (as in bench/webhook.py) --------------------------------------------------------


def tap_delivery(fake: FakeLine, user: str, circular_id: int) -> tuple[bytes, dict[str, str]]:
    ev = {
        "type": "postback",
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "webhookEventId": "01TAPS" + uuid.uuid4().hex.upper(),
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user},
        "replyToken": fake.issue_reply_token(user),
        "postback": {"data": f"a=circ&x=read&c={circular_id}"},
    }
    body = json.dumps({"destination": "Ubench", "events": [ev]}, ensure_ascii=False).encode()
    return body, {"Content-Type": "application/json", "X-Line-Signature": sign(body)}


@dataclass
class Run:
    taps: int
    seconds: float
    latencies: list[float]  # seconds, one per request that got an answer
    errors: list[str]
    late: int = 0  # paced taps a client sent more than 10 ms after they were due
    cpu: float = 0.0  # CPU seconds the server's workers used meanwhile
    own_cpu: float = 0.0  # CPU seconds this process (clients + fake LINE API) used meanwhile
    db_cpu: float | None = None  # CPU seconds PostgreSQL's backends for the bot used meanwhile (None: SQLite)
    done_at: list[float] | None = None  # seconds from the start when each answer came, sorted

    @property
    def rate(self) -> float:
        return self.taps / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))
        return xs[k] * 1000


def drive(port: int, per_thread: list[list[tuple[int, bytes, dict[str, str]]]], deadline: float,
          rate: float = 0.0) -> Run:
    """Each thread sends its (global index, body, headers) in order; with `rate`, tap k waits
    until start + k/rate and its latency counts from then."""
    threads = len(per_thread)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []
    late = [0] * threads
    finished: list[list[float]] = [[] for _ in range(threads)]
    lock = threading.Lock()
    barrier = threading.Barrier(threads + 1)
    start = [0.0]

    def client(idx: int) -> None:
        mine = latencies[idx]
        barrier.wait()
        for k, body, headers in per_thread[idx]:
            if time.monotonic() > deadline:
                with lock:
                    errors.append("time limit reached")
                return
            due = None
            if rate:
                due = start[0] + k / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                elif wait < -0.010:
                    late[idx] += 1
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
            t1 = time.perf_counter()
            mine.append(t1 - (min(due, t0) if due is not None else t0))
            finished[idx].append(t1)
            if resp.status != 200:
                with lock:
                    errors.append(f"HTTP {resp.status}: {data[:200]!r}")

    workers = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    start[0] = time.perf_counter()
    barrier.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join(max(0.0, deadline - time.monotonic()) + 5)
    seconds = time.perf_counter() - t0
    if any(w.is_alive() for w in workers):
        errors.append("client threads still running at the time limit")
    return Run(sum(len(p) for p in per_thread), seconds, [x for part in latencies for x in part], errors,
               late=sum(late), done_at=sorted(x - t0 for part in finished for x in part))


def own_cpu_seconds() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def rates_by_tenth(run: Run) -> list[float]:
    """Taps per second in each tenth of the run (by answers), to show whether it slows down."""
    xs = run.done_at or []
    if len(xs) < 10:
        return []
    out, prev_t, prev_i = [], 0.0, 0
    for j in range(1, 11):
        i = len(xs) * j // 10
        t = xs[i - 1]
        out.append((i - prev_i) / (t - prev_t) if t > prev_t else float("nan"))
        prev_t, prev_i = t, i
    return out


# -- set-up (not measured) -------------------------------------------------------------------

def add_sent_circular(db_url: str, association_id: int, first_resident: int, count: int, title: str) -> int:
    """A circular already sent to residents first_resident … first_resident+count-1: the
    circular row with `sent_at`, and one recipient row each (with its page token)."""
    from sqlalchemy import create_engine, insert

    from bot.core.db import utcnow
    from bot.core.models import Circular, CircularRecipient

    engine = create_engine(db_url)
    now = utcnow()
    with engine.begin() as conn:
        cid = conn.execute(
            insert(Circular.__table__).values(
                association_id=association_id, han=None, title=title, body="本文", link_url=None, translations={},
                question="none", choices=[], public_answers=False, deadline=None, remind_days_before=1,
                created_at=now, sent_at=now,
            ).returning(Circular.__table__.c.id)
        ).scalar_one()
        for start in range(0, count, 10_000):
            conn.execute(insert(CircularRecipient.__table__), [
                {"circular_id": cid, "resident_id": first_resident + i, "household_id": None,
                 "token": secrets.token_urlsafe(24), "read_at": None, "answer": None, "answered_at": None,
                 "marked_by_leader": False}
                for i in range(start, min(count, start + 10_000))
            ])
    engine.dispose()
    return cid


def plan(fake: FakeLine, users: list[str], circular_id: int, threads: int):
    per_thread: list[list[tuple[int, bytes, dict[str, str]]]] = [[] for _ in range(threads)]
    for k, u in enumerate(users):
        body, headers = tap_delivery(fake, u, circular_id)
        per_thread[k % threads].append((k, body, headers))
    return per_thread


# -- main ------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--taps", type=int, default=TARGET_TAPS, help="measured taps, one per member (default 10000)")
    ap.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="taps per second over all clients; 0 = as fast as answered (default 0)")
    ap.add_argument("--langs", default="ja,en", help="members' locales, split evenly (default ja,en)")
    ap.add_argument("--warmup", type=int, default=200, help="warm-up taps on another circular, not measured (default 200)")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    ap.add_argument("--app", default="bot:create_app()",
                    help="the WSGI app gunicorn serves (default bot:create_app(); for trying a variant)")
    ap.add_argument("--gunicorn-arg", action="append", default=[], metavar="ARG",
                    help="an extra gunicorn argument (repeatable)")
    ap.add_argument("--time-limit", type=float, default=300.0, help="give up after this many seconds (default 300)")
    ap.add_argument("--database-url", metavar="URL",
                    help="default: a fresh SQLite file; postgresql+psycopg://…/DB: a database of its own is created "
                         "on that server (tsunagari_bench_<random>) and dropped at the end unless --keep")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (database, server log) "
                                                        "and a PostgreSQL database")
    ap.add_argument("--profile", action="store_true",
                    help="instead of gunicorn: run the taps in this process through Flask's test client under "
                         "cProfile (one client, after the warm-up) and print the hot spots")
    ap.add_argument("--profile-lines", type=int, default=40, help="lines of the profile to print (default 40)")
    ap.add_argument("--require-target", action="store_true", help="exit 2 when the target is not met")
    args = ap.parse_args(argv)
    langs = [x.strip() for x in args.langs.split(",") if x.strip()]
    if args.taps < 1 or args.concurrency < 1 or args.warmup < 0 or args.rate < 0 or not langs:
        ap.error("need taps ≥ 1, concurrency ≥ 1, warmup ≥ 0, rate ≥ 0 and a language")

    deadline = time.monotonic() + args.time_limit
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the server

    compile_catalogs()
    workdir = Path(tempfile.mkdtemp(prefix="tsunagari-taps-"))
    try:
        db = BenchDatabase(args.database_url, workdir)
    except ValueError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        ap.error(str(exc))
    db_url = db.url
    fake = FakeLine(token="bench-access-token", record_calls=False).start()
    server: Server | None = None
    status = 1
    try:
        db.create()
        env = bench_env(db_url)
        run_cli(["db", "upgrade"], env)
        members = args.taps + args.warmup
        t = time.perf_counter()
        assoc_id, people = seed(db_url, members, langs, kind="taps")
        measured_cid = add_sent_circular(db_url, assoc_id, 1, args.taps, "町内一斉清掃のお知らせ")
        warm_cid = add_sent_circular(db_url, assoc_id, 1 + args.taps, args.warmup, "ウォームアップ") if args.warmup else 0
        db.after_seed(["association", "resident", "membership", "circular", "circular_recipient"])
        log(f"seeded {members} members, circular {measured_cid} sent to {args.taps}"
            + (f", warm-up circular {warm_cid} to {args.warmup}" if args.warmup else "")
            + f" in {time.perf_counter() - t:.1f} s (not measured)")
        env.update(LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN=fake.token, LINE_API_BASE_URL=fake.url,
                   FLASK_SECRET_KEY=secrets.token_urlsafe(48))  # with LINE configured, a weak key is refused
        if args.profile:
            return profile_in_process(args, fake, db, people, measured_cid, warm_cid, workdir)

        server = Server("bot", args.app, env, workdir, args.workers, args.gunicorn_arg)
        server.start()
        server.wait_ready()
        log(f"server up on :{server.port} ({args.workers} sync workers)")
        C = args.concurrency
        tappers = [u for u, _ in people[:args.taps]]
        if args.warmup:
            warm = drive(server.port, plan(fake, [u for u, _ in people[args.taps:]], warm_cid, C), deadline)
            if warm.errors:
                raise RuntimeError(f"warm-up failed: {warm.errors[:3]}")
            log(f"warm-up: {warm.taps} taps in {warm.seconds:.1f} s")

        work = plan(fake, tappers, measured_cid, C)
        since = len(fake.deliveries)
        loadavg_before = os.getloadavg()
        log(f"measured: {args.taps} taps, {C} clients" + (f", paced at {args.rate:g}/s" if args.rate else ""))
        db0 = db.backend_cpu()
        cpu0, own0, machine0 = server.cpu_seconds(), own_cpu_seconds(), cpu_times()
        run = drive(server.port, work, deadline, args.rate)
        run.cpu, run.own_cpu = server.cpu_seconds() - cpu0, own_cpu_seconds() - own0
        db1 = db.backend_cpu()
        if db0 is not None and db1 is not None:  # a backend that started meanwhile counts from zero
            run.db_cpu = sum(max(0.0, c - db0.get(pid, 0.0)) for pid, c in db1.items())
        machine = machine_note(machine0, cpu_times())
        loadavg_after = os.getloadavg()

        checks = verify(fake, since, people[:args.taps], run, db, measured_cid)
        load_note = (f"load average (1 min) before/after the measured taps: "
                     f"{loadavg_before[0]:.2f} / {loadavg_after[0]:.2f} on {os.cpu_count()} CPUs; {machine}")
        if not db.is_sqlite:  # the plans PostgreSQL used, once the workers' backends have exited and reported
            server.stop()
            time.sleep(1.0)
            scans = db.scans(["inbound_event", "outbox_message", "circular_recipient", "resident"])
            load_note += ("\nPostgreSQL table scans over the whole run, warm-up included (sequential scans / rows "
                          "they read / index scans): " + "; ".join(f"{t} {a} / {b} / {c}" for t, (a, b, c)
                                                                   in sorted(scans.items())))
        status = report(args, run, checks, load_note, db.describe())
    except BaseException:
        if server is not None:
            log(f"--- server log (tail) ---\n{server.tail()}")
        raise
    finally:
        if server is not None:
            server.stop()
        fake.stop()
        db.finish(workdir, args.keep)
    return status


def profile_in_process(args, fake: FakeLine, db: BenchDatabase, people, measured_cid: int, warm_cid: int,
                       workdir: Path) -> int:
    """The same taps, one after another, through the Flask test client, under cProfile; also the
    time spent holding the database's write lock (`Database.session()`), per tap."""
    import cProfile
    import io
    import pstats

    from bot import create_app
    from bot.core.config import Config

    app = create_app(Config(database_url=db.url, line_channel_secret=SECRET, line_channel_access_token=fake.token,
                            line_api_base_url=fake.url, secret_key=secrets.token_urlsafe(48)))
    bot = app.extensions["tsunagari"]
    held = [0.0, 0]
    original = bot.db.session.__func__

    from contextlib import contextmanager

    by_site: dict[str, float] = {}

    @contextmanager
    def timed_session(self):
        caller = sys._getframe().f_back.f_back.f_code.co_name  # past contextlib's __enter__
        t0 = time.perf_counter()
        with original(self) as s:
            yield s
        dt = time.perf_counter() - t0
        held[0] += dt
        held[1] += 1
        by_site[caller] = by_site.get(caller, 0.0) + dt

    bot.db.session = timed_session.__get__(bot.db)
    client = app.test_client()

    def tap(users, cid):
        for u in users:
            body, headers = tap_delivery(fake, u, cid)
            resp = client.post("/callback", data=body, headers=headers)
            if resp.status_code != 200:
                raise RuntimeError(f"HTTP {resp.status_code}")

    tap([u for u, _ in people[args.taps:]], warm_cid)
    users = [u for u, _ in people[:args.taps]]
    half = len(users) // 2
    # First half without the profiler: the real time per tap and the share of it inside transactions.
    held[:] = [0.0, 0]
    by_site.clear()
    t0 = time.perf_counter()
    tap(users[:half], measured_cid)
    plain, plain_held, plain_tx = time.perf_counter() - t0, held[0], held[1]
    plain_sites = dict(by_site)
    held[:] = [0.0, 0]
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    tap(users[half:], measured_cid)
    prof.disable()
    seconds = time.perf_counter() - t0
    n = len(users) - half
    path = workdir / "taps.prof"
    prof.dump_stats(path)
    print()
    if half:
        print(f"in-process, no profiler: {half} taps one after another (Flask test client): "
              f"{plain / half * 1000:.2f} ms per tap, of which {plain_held / half * 1000:.2f} ms inside "
              f"{plain_tx / half:.1f} transactions{' (SQLite write lock held)' if db.is_sqlite else ''}: "
              + ", ".join(f"{site}() {t / half * 1000:.2f} ms" for site, t in plain_sites.items()))
    print(f"in-process, cProfile on: {n} taps: {seconds / n * 1000:.2f} ms per tap, of which "
          f"{held[0] / n * 1000:.2f} ms inside {held[1] / n:.1f} transactions")
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(str(path), stream=buf).strip_dirs().sort_stats(key).print_stats(args.profile_lines)
        print(f"\n--- profile, by {key} ---")
        print("\n".join(buf.getvalue().splitlines()[6:]))
    return 0


def verify(fake: FakeLine, since: int, tappers: list[tuple[str, str]], run: Run, db: BenchDatabase,
           circular_id: int) -> list[tuple[bool, str]]:
    from bot.core.i18n import t

    want = {loc: t(loc, THANKS) for _, loc in tappers}
    locale_of = dict(tappers)
    with fake.lock:
        new = fake.deliveries[since:]
        replies = [d for d in new if d.kind == "reply"]
        pushes = sum(1 for d in new if d.kind in ("push", "multicast"))
    per_user: dict[str, int] = {}
    wrong = []
    for d in replies:
        u = d.to[0] if d.to else None
        per_user[u] = per_user.get(u, 0) + 1
        text = (d.messages[0].get("text") if d.messages else "") or ""
        if u not in locale_of or text != want[locale_of[u]]:
            wrong.append((u, text[:60]))
    once = sum(1 for u, _ in tappers if per_user.get(u) == 1)
    read, unread = db.query(
        "SELECT count(read_at), count(*) - count(read_at) FROM circular_recipient WHERE circular_id = :c",
        c=circular_id)[0]
    inbox = dict(db.query("SELECT status, count(*) FROM inbound_event GROUP BY status"))
    outbox_rows = dict(db.query("SELECT status, count(*) FROM outbox_message GROUP BY status"))
    n = len(tappers)
    return [
        (not run.errors, f"HTTP errors: {len(run.errors)}" + (f" (e.g. {run.errors[0]})" if run.errors else "")),
        (read == n and unread == 0, f"recipients of the measured circular with read_at: {read} of {n} (unread {unread})"),
        (len(replies) == n and once == n, f"replies received by the fake LINE API: {len(replies)} for {n} taps; "
                                          f"members answered exactly once: {once}/{n}"),
        (not wrong, f"first-time thank-you in the member's language: {len(replies) - len(wrong)}/{len(replies)}"
                    + (f" (e.g. {wrong[0]})" if wrong else "")),
        (pushes == 0, f"pushes/multicasts (every answer should be a reply): {pushes}"),
        (set(inbox) == {"done"} and set(outbox_rows) == {"sent"}, f"database: inbox {inbox}, outbox {outbox_rows}"),
    ]


def report(args, run: Run, checks: list[tuple[bool, str]], load_note: str, database: str) -> int:
    mode = f"paced at {args.rate:g} taps/s" if args.rate else "as fast as answered"
    print()
    print(f"「読んだ」 taps benchmark: {args.taps} taps (one per member), {args.concurrency} clients, {mode}, "
          f"gunicorn {args.workers} sync workers, {database}")
    print()
    print(f"{'taps':>7} {'seconds':>8} {'taps/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'CPU ms/tap':>11}")
    print(f"{run.taps:>7} {run.seconds:>8.2f} {run.rate:>8.1f} {run.pct(50):>7.1f} {run.pct(99):>7.1f} "
          f"{max(run.latencies) * 1000 if run.latencies else float('nan'):>7.1f} {run.cpu / run.taps * 1000:>11.2f}")
    print("taps/s by tenth of the run: " + ", ".join(f"{r:.0f}" for r in rates_by_tenth(run)))
    print(f"CPU per tap: gunicorn workers {run.cpu / run.taps * 1000:.2f} ms, this process (clients + fake LINE API) "
          f"{run.own_cpu / run.taps * 1000:.2f} ms; CPU busy {(run.cpu + run.own_cpu) / run.seconds:.2f} of "
          f"{os.cpu_count()} CPUs")
    if run.db_cpu is not None:
        print(f"PostgreSQL backends of the bot's connections: {run.db_cpu / run.taps * 1000:.2f} ms CPU per tap; "
              f"workers + this process + backends busy {(run.cpu + run.own_cpu + run.db_cpu) / run.seconds:.2f} "
              f"of {os.cpu_count()} CPUs")
    if args.rate:
        print(f"paced taps sent more than 10 ms after they were due: {run.late} "
              f"(latency counts from when each tap was due)")
    print(load_note)
    print(f"code: {code_version()}")
    print()
    for ok, line in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {line}")
    all_ok = all(ok for ok, _ in checks)
    print()
    per_10k = TARGET_TAPS / run.rate if run.rate else float("inf")
    fit = per_10k <= TARGET_SECONDS
    p99_ok = run.pct(99) <= TARGET_P99_MS
    if args.rate:
        fit_line = (f"{run.taps} taps paced at {args.rate:g}/s took {run.seconds:.1f} s; "
                    f"the server kept up: {'yes' if run.late == 0 else f'no ({run.late} late)'}")
        if args.rate * TARGET_SECONDS < TARGET_TAPS:
            fit_line += f" (note: {args.rate:g}/s is fewer than {TARGET_TAPS} taps a minute)"
        fit = fit and run.late == 0
    else:
        fit_line = f"{run.taps} taps took {run.seconds:.1f} s at {run.rate:.1f} taps/s"
    print(fit_line)
    print(f"10,000 taps at this rate: {per_10k:.1f} s  (target ≤ {TARGET_SECONDS:.0f} s: {'met' if fit else 'NOT met'})")
    print(f"p99: {run.pct(99):.1f} ms  (target ≤ {TARGET_P99_MS:.0f} ms: {'met' if p99_ok else 'NOT met'})")
    print(f"target: {'MET' if fit and p99_ok else 'NOT MET'}; checks: {'all passed' if all_ok else 'FAILED'}")
    if not all_ok:
        return 1
    if args.require_target and not (fit and p99_ok):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
