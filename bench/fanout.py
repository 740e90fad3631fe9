"""Circular fan-out: one circular to N members, delivered through the outbox to a fake LINE API.

    .venv/bin/python bench/fanout.py [--members 100000] [--langs ja,en] [--batch 100] [--threads 1]
                                     [--database-url URL] [--keep]

What runs:

* a fake LINE Messaging API in this process (`tests.fakeline.FakeLine`, calls not recorded to
  save memory; every accepted multicast is kept with its recipients);
* set-up, not measured: a fresh database brought up with `flask --app bot db upgrade` (by
  default a SQLite file; with `--database-url postgresql+psycopg://…/DB`, a database of its own,
  `tsunagari_bench_<random>`, created next to DB and dropped at the end unless `--keep`), one
  association and N residents (channel "line", following, consent given, LINE ids "U" + 32
  hex, locales split evenly over `--langs`), each a member of the association, inserted with
  SQLAlchemy Core `executemany` in chunks (on PostgreSQL, then the resident id sequence is moved
  past the ids given and the tables filled are ANALYZEd, see `BenchDatabase.after_seed`);
* the measured part, in a child process, so that its peak RSS is the bot's own and not the
  fake's: it builds the bot as a worker would (`bot.app.make_bot(Config(...))`), then in one
  `bot.db.session()` transaction creates the circular (Japanese, an English translation, a
  deadline, an attendance question) and calls `circulars.send` (recipient rows for every member,
  one outbox row per 500 members per language), commits, and drains the outbox with
  `worker.run_once(bot, batch=--batch)` until a pass finds nothing. With `--threads T` > 1, T
  threads each run that loop at once, as T worker processes would (`flask --app bot worker`,
  the Procfile's `worker`); the default is one worker, as the Procfile runs.

Reported: seconds from the start of `send` to the last multicast the fake LINE API accepted
(wall clock of both processes), split into send + commit and delivery; the child's peak RSS
(`getrusage(RUSAGE_SELF).ru_maxrss`), its RSS once the bot was built, before sending, and the
highest RSS sampled (every 5 ms) during send + commit and during delivery; the
API calls the fake got against ⌈n/500⌉ per language. Checks: every member got exactly one
notice (recipients counted over all multicasts, no duplicates, each multicast one language, the
right one for its recipients), no push or reply, N recipient rows, every outbox row `sent`.

Target (the issue): ≤ 5 s and ≤ 200 MB for 100,000 members; API calls = ⌈N/500⌉ × language
variants (read per language: Σ ⌈N_lang/500⌉, which is what one notice per language in
multicasts of 500 gives). Exit status: 0, 1 if a check failed, 2 with `--require-target` when
the target is missed. `--profile` runs the child under cProfile and prints its hot spots (the
timings are then not the figures to quote).
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402,F401
    BenchDatabase, code_version, compile_catalogs, cpu_times, log, machine_note, run_cli, user_id, vm_rss_kib,
)

TARGET_SECONDS = 5.0
TARGET_RSS_BYTES = 200 * 1000 * 1000  # 200 MB (decimal: the stricter reading of "200 MB")
BATCH = 500  # LINE's multicast limit
CHUNK = 10_000  # rows per executemany in the set-up

CIRCULAR_TITLE = "町内一斉清掃のお知らせ"
CIRCULAR_BODY = "12月7日（日）9時から、公園と道路の清掃を行います。軍手とごみ袋は町内会で用意します。"
TRANSLATIONS = {"en": {"title": "Neighbourhood clean-up",
                       "body": "Sunday 7 December from 9:00: we clean the park and the streets. "
                               "Gloves and bags are provided by the association."}}


# -- helpers (as in bench/webhook.py) --------------------------------------------------------




def bench_env(db: Path | str) -> dict[str, str]:
    """The environment for the bot's CLI and server: `db` is a SQLite file or a database URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "DATABASE_URL", "FLASK_", "WEBCHAT"))}
    env.update(DATABASE_URL=db if isinstance(db, str) else f"sqlite:///{db}", PYTHONUNBUFFERED="1")
    return env




# -- set-up (not measured) -------------------------------------------------------------------

def seed(db_url: str, members: int, langs: list[str], kind: str = "fanout",
         join_code: str = "BENCH-ASSOC") -> tuple[int, list[tuple[str, str]]]:
    """One association and `members` onboarded, following residents, each a member of it.
    Returns the association id and (LINE user id, locale) per member, in id order."""
    from sqlalchemy import create_engine, insert

    from bot.core.db import utcnow
    from bot.core.models import Association, Membership, Resident

    engine = create_engine(db_url)
    now = utcnow()
    people = [(user_id(kind, i), langs[i % len(langs)]) for i in range(members)]
    with engine.begin() as conn:
        assoc_id = conn.execute(
            insert(Association.__table__).values(name="ベンチ町内会", join_code=join_code, read_per="household",
                                                 created_at=now).returning(Association.__table__.c.id)
        ).scalar_one()
        first = 1 + (conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM resident").scalar() or 0)
        for start in range(0, members, CHUNK):
            part = range(start, min(members, start + CHUNK))
            conn.execute(insert(Resident.__table__), [
                {"id": first + i, "line_user_id": people[i][0], "channel": "line", "nickname": None,
                 "locale": people[i][1], "area_id": None, "following": True, "followed_at": now,
                 "unfollowed_at": None, "consent_at": now, "quiet_start": 21 * 60, "quiet_end": 8 * 60,
                 "created_at": now}
                for i in part
            ])
            conn.execute(insert(Membership.__table__), [
                {"resident_id": first + i, "association_id": assoc_id, "role": "member", "household_id": None,
                 "joined_at": now}
                for i in part
            ])
        if conn.dialect.name == "postgresql":  # the ids were given: move the sequence past them
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('resident', 'id'), "
                                 "(SELECT max(id) FROM resident))")
    engine.dispose()
    return assoc_id, people


# -- the measured part (child process) -------------------------------------------------------


def child(spec: dict) -> dict:
    import resource
    from datetime import timedelta

    from bot import services
    from bot.services import circulars

    from bot.delivery import worker
    from bot.app import make_bot
    from bot.core.config import Config
    from bot.core.db import utcnow
    from bot.core.models import Circular

    cfg = Config(database_url=spec["database_url"], line_channel_access_token=spec["token"],
                 line_api_base_url=spec["line_url"], line_channel_secret="x")
    bot = make_bot(cfg)
    rss_built = vm_rss_kib()
    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()

    # The RSS, sampled every 5 ms, to tell which phase holds the peak (ru_maxrss gives only the peak).
    phase = ["send"]
    peaks = {"send": 0, "drain": 0}
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            r = vm_rss_kib()
            if r > peaks[phase[0]]:
                peaks[phase[0]] = r
            sampling.wait(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    wall0 = time.time()
    t0 = time.perf_counter()
    with bot.db.session() as s:
        now = utcnow()
        circ = Circular(association_id=spec["association_id"], title=CIRCULAR_TITLE, body=CIRCULAR_BODY,
                        translations=TRANSLATIONS, question="attendance", created_at=now,
                        deadline=now.replace(microsecond=0) + timedelta(days=5))
        s.add(circ)
        s.flush()
        sent = services.apply(s, circulars.send(s, circ, bot.config, now), "bench").facts
        t_send = time.perf_counter()
    t_commit = time.perf_counter()
    rss_sent = vm_rss_kib()
    phase[0] = "drain"

    passes = collections.Counter()
    errors: list[str] = []

    def drain(idx: int) -> None:
        try:
            while True:
                n = worker.run_once(bot, batch=spec["batch"])
                passes[idx] += 1
                if not n:
                    return
        except Exception as exc:  # noqa: BLE001 - reported
            errors.append(f"{type(exc).__name__}: {exc}")

    if spec["threads"] == 1:
        drain(0)  # in this thread, so that --profile sees it
    else:
        threads = [threading.Thread(target=drain, args=(i,)) for i in range(spec["threads"])]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    t_end = time.perf_counter()
    wall_end = time.time()
    sampling.set()
    sampler.join()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(spec["profile"])
    return {
        "send": sent,
        "wall_start": wall0,
        "wall_end": wall_end,
        "seconds_send": t_send - t0,
        "seconds_commit": t_commit - t_send,
        "seconds_drain": t_end - t_commit,
        "seconds_total": t_end - t0,
        "passes": sum(passes.values()),
        "errors": errors,
        "rss_built_kib": rss_built,
        "rss_after_send_kib": rss_sent,
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "sampled_peak_kib": peaks,
    }


# -- the fake LINE API, with the time of the last accepted multicast ------------------------

def make_fake():
    from tests.fakeline import FakeLine

    class TimedFake(FakeLine):
        last_accept_wall: float = 0.0

        def handle(self, method, path, headers, body, *rest):  # *rest: whatever else FakeLine passes on
            out = super().handle(method, path, headers, body, *rest)
            if out[0] == 200 and path == "/v2/bot/message/multicast":
                self.last_accept_wall = time.time()
            return out

    return TimedFake(token="bench-access-token", record_calls=False)


# -- main ------------------------------------------------------------------------------------

def expected_calls(people: list[tuple[str, str]]) -> dict[str, int]:
    per = collections.Counter(loc for _, loc in people)
    return {loc: math.ceil(n / BATCH) for loc, n in sorted(per.items())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=100_000, help="members of the association (default 100000)")
    ap.add_argument("--langs", default="ja,en", help="locales, split evenly over the members (default ja,en)")
    ap.add_argument("--batch", type=int, default=100, help="outbox rows claimed per worker pass (default 100, as run_once)")
    ap.add_argument("--threads", type=int, default=1, help="worker loops draining at once in the child (default 1)")
    ap.add_argument("--time-limit", type=float, default=300.0, help="give up after this many seconds (default 300)")
    ap.add_argument("--profile", action="store_true", help="run the child under cProfile and print its hot spots")
    ap.add_argument("--profile-lines", type=int, default=30, help="lines of the profile to print (default 30)")
    ap.add_argument("--database-url", metavar="URL",
                    help="default: a fresh SQLite file; postgresql+psycopg://…/DB: a database of its own is created "
                         "on that server (tsunagari_bench_<random>) and dropped at the end unless --keep")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (database, profile) "
                                                        "and a PostgreSQL database")
    ap.add_argument("--require-target", action="store_true", help="exit 2 when the target is not met")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:  # the measured process
        print(json.dumps(child(json.loads(args.child))), flush=True)
        return 0

    langs = [x.strip() for x in args.langs.split(",") if x.strip()]
    if args.members < 1 or not langs or args.batch < 1 or args.threads < 1:
        ap.error("need members ≥ 1, at least one language, batch ≥ 1, threads ≥ 1")
    deadline = time.monotonic() + args.time_limit
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` cleans up

    compile_catalogs()
    workdir = Path(tempfile.mkdtemp(prefix="tsunagari-fanout-"))
    try:
        db = BenchDatabase(args.database_url, workdir)
    except ValueError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        ap.error(str(exc))
    fake = make_fake().start()
    proc: subprocess.Popen | None = None
    status = 1
    try:
        db.create()
        env = bench_env(db.url)
        run_cli(["db", "upgrade"], env)
        t = time.perf_counter()
        assoc_id, people = seed(db.url, args.members, langs)
        db.after_seed(["association", "resident", "membership"])
        log(f"seeded 1 association, {args.members} residents and memberships in {time.perf_counter() - t:.1f} s "
            f"(not measured)")

        spec = {
            "database_url": db.url, "token": fake.token, "line_url": fake.url,
            "association_id": assoc_id, "batch": args.batch, "threads": args.threads,
            "profile": str(workdir / "fanout.prof") if args.profile else None,
        }
        loadavg_before, machine0 = os.getloadavg(), cpu_times()
        log(f"child: send + drain ({args.threads} worker loop(s), batch {args.batch})")
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        try:
            out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise RuntimeError("time limit reached while the child was sending") from None
        loadavg_after, machine = os.getloadavg(), machine_note(machine0, cpu_times())
        if proc.returncode != 0:
            raise RuntimeError(f"child failed with status {proc.returncode}")
        res = json.loads(out.strip().splitlines()[-1])
        status = report(args, langs, people, res, fake, db, loadavg_before, loadavg_after, machine)
        if args.profile:
            print_profile(spec["profile"], args.profile_lines)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        fake.stop()
        db.finish(workdir, args.keep)
    return status


def report(args, langs, people, res, fake, db: BenchDatabase, loadavg_before, loadavg_after, machine: str) -> int:
    locale_of = dict(people)
    exp = expected_calls(people)
    exp_total = sum(exp.values())
    issue_formula = math.ceil(len(people) / BATCH) * len(langs)
    with fake.lock:
        multicasts = [d for d in fake.deliveries if d.kind == "multicast"]
        others = collections.Counter(d.kind for d in fake.deliveries if d.kind != "multicast")
    got = collections.Counter()
    wrong_lang = 0
    per_lang_calls = collections.Counter()
    titles = {loc: (TRANSLATIONS.get(loc, {}).get("title") or CIRCULAR_TITLE) for loc in langs}
    for d in multicasts:
        got.update(d.to)
        locs = {locale_of.get(u) for u in d.to}
        loc = next(iter(locs)) if len(locs) == 1 else None
        per_lang_calls[loc] += 1
        if loc is None or titles.get(loc, CIRCULAR_TITLE) not in json.dumps(d.messages, ensure_ascii=False):
            wrong_lang += 1
    missing = sum(1 for u, _ in people if got[u] == 0)
    dupes = sum(1 for u, n in got.items() if n > 1)
    strangers = sum(1 for u in got if u not in locale_of)
    outbox_rows = dict(db.query("SELECT status, count(*) FROM outbox_message GROUP BY status"))
    recipients = db.query("SELECT count(*) FROM circular_recipient")[0][0]

    total_fake = fake.last_accept_wall - res["wall_start"] if fake.last_accept_wall else float("nan")
    delivery = fake.last_accept_wall - res["wall_start"] - res["seconds_send"] - res["seconds_commit"]
    peak = res["maxrss_kib"] * 1024
    members = len(people)
    print()
    print(f"fan-out benchmark: 1 circular to {members} members ({', '.join(f'{l} {n}' for l, n in sorted(collections.Counter(x for _, x in people).items()))}), "
          f"{db.describe()}, {args.threads} worker loop(s), claim batch {args.batch}")
    print()
    print(f"API calls (multicast) seen by the fake: {len(multicasts)}  "
          f"(expected Σ⌈n_lang/500⌉ = {exp_total}: " + ", ".join(f"{l} {n}" for l, n in exp.items())
          + f"; the issue's ⌈N/500⌉ × languages = {issue_formula})")
    print(f"other API calls: {dict(others) or 'none'}")
    print(f"seconds from the start of send to the last multicast accepted: {total_fake:.2f}")
    print(f"  send (recipients + outbox rows, in one transaction): {res['seconds_send']:.2f}")
    print(f"  commit: {res['seconds_commit']:.2f}")
    print(f"  delivery (worker: claim, send, record) until the last accepted: {delivery:.2f}"
          f"  (until the worker's last pass ended: {res['seconds_drain']:.2f}, {res['passes']} passes)")
    print(f"child peak RSS (ru_maxrss): {peak / 2**20:.1f} MiB = {peak / 1e6:.1f} MB  "
          f"(after building the bot: {res['rss_built_kib'] / 1024:.1f} MiB; right after the send: "
          f"{res['rss_after_send_kib'] / 1024:.1f} MiB)")
    print(f"  sampled every 5 ms, highest RSS during send + commit: {res['sampled_peak_kib']['send'] / 1024:.1f} MiB, "
          f"during delivery: {res['sampled_peak_kib']['drain'] / 1024:.1f} MiB")
    print(f"send() returned {res['send']}")
    print(f"code: {code_version()}")
    print(f"load average (1 min) before/after: {loadavg_before[0]:.2f} / {loadavg_after[0]:.2f} on {os.cpu_count()} CPUs; {machine}")
    print()
    checks = [
        (len(multicasts) == exp_total, f"multicasts: {len(multicasts)} for {exp_total} expected "
                                       f"(per language: {dict(sorted((str(k), v) for k, v in per_lang_calls.items()))})"),
        (missing == 0 and dupes == 0 and strangers == 0 and sum(got.values()) == members,
         f"every member exactly one notice: {sum(got.values())} recipients over the multicasts, "
         f"{members - missing}/{members} members reached, duplicates {dupes}, unknown ids {strangers}"),
        (wrong_lang == 0, f"each multicast one language, in its recipients' language: {len(multicasts) - wrong_lang}/{len(multicasts)}"),
        (not others, f"no push or reply: {dict(others) or 'none'}"),
        (recipients == members, f"circular_recipient rows: {recipients}"),
        (set(outbox_rows) == {"sent"} and outbox_rows.get("sent") == exp_total, f"outbox: {outbox_rows}"),
        (not res["errors"], f"worker errors: {len(res['errors'])}" + (f" (e.g. {res['errors'][0]})" if res["errors"] else "")),
    ]
    for ok, line in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {line}")
    all_ok = all(ok for ok, _ in checks)
    print()
    secs_ok = total_fake <= TARGET_SECONDS
    rss_ok = peak <= TARGET_RSS_BYTES
    calls_ok = len(multicasts) == exp_total
    print(f"seconds until all sent: {total_fake:.2f}  (target ≤ {TARGET_SECONDS:.0f} s: {'met' if secs_ok else 'NOT met'})")
    print(f"peak RSS: {peak / 1e6:.1f} MB  (target ≤ 200 MB: {'met' if rss_ok else 'NOT met'})")
    print(f"API calls: {len(multicasts)}  (target Σ⌈n_lang/500⌉ = {exp_total}: {'met' if calls_ok else 'NOT met'})")
    if members != 100_000:
        print(f"(the target is stated for 100,000 members; this run had {members})")
    met = secs_ok and rss_ok and calls_ok
    print(f"target: {'MET' if met else 'NOT MET'}; checks: {'all passed' if all_ok else 'FAILED'}")
    if args.profile:
        print("(run under cProfile: the seconds above are inflated by the profiler)")
    if not all_ok:
        return 1
    if args.require_target and not met:
        return 2
    return 0


def print_profile(path: str, lines: int) -> None:
    import io
    import pstats

    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        st = pstats.Stats(path, stream=buf)
        st.strip_dirs().sort_stats(key).print_stats(lines)
        print(f"\n--- child profile, by {key} ---")
        print("\n".join(buf.getvalue().splitlines()[6:]))


if __name__ == "__main__":
    sys.exit(main())
