"""Where one webhook event's time goes: the same onboarding cycle as `bench/webhook.py`, in one
process (no gunicorn, no client threads), under cProfile, against the fake LINE API.

    .venv/bin/python bench/webhook_profile.py [--events 2000] [--residents 200] [--top 25]
                                              [--database-url postgresql+psycopg://…/DB]

Prints the wall time per event, then the time per event by part of the path (inclusive time of
the functions that make up each part), then the functions with the most time of their own.
The parts:

- parse: the signature check and the SDK's parsing (`bot.delivery.inbound`);
- record: the events written to the inbox and committed (`Bot.record`);
- handle: the claim, the resident and their conversation loaded, the step, the reply queued in
  the outbox and committed (`Bot.process`), of which `dispatch` is the bot's own work;
- record + handle: a delivery of one event (every delivery here) is recorded in the transaction
  that handles it (`Bot.record_and_process`): record and handle then show 0;
- send: the reply sent through the SDK and recorded (`Sender.deliver` and what it calls).

`--parts` measures, without a profiler, the CPU time of the request's thread spent inside each of a
list of functions (inclusive, per event; `PARTS_PLAIN`): a profiler's cost per call inflates the
parts made of many small calls (SQLAlchemy's), this does not.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import secrets
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakeline import FakeLine  # noqa: E402

from bench.common import SECRET, BenchDatabase, log, run_cli, user_id  # noqa: E402
from bench.webhook import CYCLE, FIRST_STEP, follow_delivery, text_delivery  # noqa: E402

PARTS = {  # part -> (file suffix, function name) whose inclusive time is the part's
    "parse": ("bot/delivery/inbound.py", "parse_delivery"),
    "record": ("bot/delivery/pipeline.py", "record"),
    "handle": ("bot/delivery/pipeline.py", "process"),
    "record + handle": ("bot/delivery/pipeline.py", "record_and_process"),
    "dispatch (in handle)": ("handlers/dispatcher.py", "dispatch"),
    "send": ("bot/delivery/outbox.py", "deliver"),
}

# (module, qualified name) of the functions `--parts` times; nested ones are included in their callers
PARTS_PLAIN = (
    ("bot.delivery.inbound", "parse_delivery"),
    ("bot.delivery.pipeline", "Bot.record_and_process"),
    ("bot.core.db", "Database.session"),
    ("handlers.dispatcher", "dispatch"),
    ("handlers.dispatcher", "_over_limit"),
    ("handlers", "route"),
    ("bot.core.areas", "active_area_names"),
    ("handlers.basics", "continue_conversation"),
    ("bot.core.understand", "cancels"),
    ("conversations.engine", "takes_as_option"),
    ("conversations.engine", "handle"),
    ("conversations.engine", "render_step"),
    ("conversations.engine", "_save"),
    ("bot.delivery.outbox", "enqueue"),
    ("bot.delivery.renderers", "render"),
    ("bot.delivery.outbox", "_insert_claimed"),
    ("sqlalchemy.orm.session", "Session.commit"),
    ("sqlalchemy.orm.session", "Session.close"),
    ("sqlalchemy.orm.session", "Session.execute"),
    ("sqlalchemy.engine.base", "Connection.execute"),
    ("sqlalchemy.engine.default", "DefaultDialect.do_execute"),
    ("sqlalchemy.engine.default", "DefaultDialect.do_commit"),
    ("sqlalchemy.orm.session", "SessionTransaction.commit"),
    ("bot.web.webhook", "FastPath.__call__"),
    ("flask.app", "Flask.wsgi_app"),
    ("flask.app", "Flask.full_dispatch_request"),
    ("flask.app", "Flask.preprocess_request"),
    ("flask.app", "Flask.process_response"),
    ("bot.delivery.pipeline", "Bot.handle_delivery"),
    ("bot.delivery.outbox", "Sender.deliver"),
    ("bot.delivery.line_client", "LineClient.reply"),
    ("bot.delivery.outbox", "Sender._record_retrying"),
    ("bot.delivery.outbox", "Unrecorded.write"),
)


HELD = "WriterLock held (CPU)"
HELD_WALL = "WriterLock held (wall)"


def _time_parts(spent: dict[str, list[float]]) -> None:
    """Wrap each of PARTS_PLAIN (everywhere a module holds it by name) to add up the calling
    thread's CPU time inside it. Re-entrant calls count once."""
    import importlib
    import functools

    for modname, qual in PARTS_PLAIN:
        owner = importlib.import_module(modname)
        *path, name = qual.split(".")
        for part in path:
            owner = getattr(owner, part)
        fn = getattr(owner, name)
        depth = [0]

        def wrap(fn=fn, key=qual, depth=depth):
            @functools.wraps(fn)
            def timed(*a, **kw):
                if depth[0]:
                    return fn(*a, **kw)
                depth[0] += 1
                c0 = time.thread_time()
                try:
                    return fn(*a, **kw)
                finally:
                    depth[0] -= 1
                    spent[key][0] += time.thread_time() - c0
                    spent[key][1] += 1
            return timed

        timed = wrap()
        if path:
            setattr(owner, name, timed)
        else:
            for mod in list(sys.modules.values()):
                if getattr(mod, name, None) is fn:
                    setattr(mod, name, timed)

    # The time SQLite's writer lock is held (the other workers queue for it meanwhile).
    from contextlib import contextmanager

    from bot.core.db import WriterLock

    hold = WriterLock.hold

    @contextmanager
    def held(self):
        with hold(self):
            outer = not self.nested
            c0, w0 = time.thread_time(), time.perf_counter()
            try:
                yield
            finally:
                if outer:
                    spent[HELD][0] += time.thread_time() - c0
                    spent[HELD][1] += 1
                    spent[HELD_WALL][0] += time.perf_counter() - w0
                    spent[HELD_WALL][1] += 1

    WriterLock.hold = held  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--residents", type=int, default=200)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--database-url")
    ap.add_argument("--dump", metavar="FILE", help="also write the profile there (read it with pstats)")
    ap.add_argument("--parts", action="store_true",
                    help="no profiler: the CPU time per event inside each of PARTS_PLAIN")
    ap.add_argument("--plain", action="store_true",
                    help="no profiler: the wall time per event only (to compare two versions of the code)")
    args = ap.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="tsunagari-profile-"))
    db = BenchDatabase(args.database_url, workdir)
    fake = FakeLine(token="bench-access-token", record_calls=False).start()
    try:
        db.create()
        env = {"DATABASE_URL": db.url, "PYTHONUNBUFFERED": "1"}
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "DATABASE_URL", "FLASK_"))}
        run_cli(["db", "upgrade"], {**base_env, **env})
        run_cli(["areas", "load"], {**base_env, **env})
        os.environ.update(env, LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN=fake.token,
                          LINE_API_BASE_URL=fake.url, FLASK_SECRET_KEY=secrets.token_urlsafe(48))
        spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
        if args.parts:
            _time_parts(spent)
        from bot import create_app

        app = create_app()
        from bot.core import heap, understand

        understand.warm()  # as gunicorn's post_worker_init does (gunicorn.conf.py)
        heap.freeze_startup()
        client = app.test_client()
        users = [user_id("profile", i) for i in range(args.residents)]
        for u in users:
            fake.profiles[u] = {"displayName": "Bench", "language": "en"}
            body, headers = follow_delivery(fake, u)
            assert client.post("/callback", data=body, headers=headers).status_code == 200
        pos = {u: FIRST_STEP for u in users}

        def one(i: int) -> None:
            u = users[i % len(users)]
            text = CYCLE[pos[u]][0]
            pos[u] = (pos[u] + 1) % len(CYCLE)
            body, headers = text_delivery(fake, u, text)
            r = client.post("/callback", data=body, headers=headers)
            assert r.status_code == 200, r.status_code

        for i in range(min(300, args.events)):  # warm-up, not profiled
            one(i)
        n = args.events
        if args.plain or args.parts:
            spent.clear()
            t0, c0 = time.perf_counter(), time.thread_time()
            for i in range(n):
                one(i)
            wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
            print(f"\n{n} events in {wall:.2f} s: {wall / n * 1000:.3f} ms per event, of which the bot's thread's "
                  f"CPU {cpu / n * 1000:.3f} ms (the fake LINE API's threads not counted) "
                  f"({'PostgreSQL' if args.database_url else 'SQLite'}, one process, no profiler)")
            if args.parts:
                print(f"\n{'function (inclusive)':<34} {'ms/event':>9} {'calls/event':>12}")
                for qual in [q for _, q in PARTS_PLAIN] + ([HELD, HELD_WALL] if not args.database_url else []):
                    total, calls = spent.get(qual, (0.0, 0))
                    print(f"{qual:<34} {total / n * 1000:>9.3f} {calls / n:>12.2f}")
            return 0
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        for i in range(n):
            one(i)
        prof.disable()
        wall = time.perf_counter() - t0
        print(f"\n{n} events in {wall:.2f} s: {wall / n * 1000:.2f} ms per event "
              f"({'PostgreSQL' if args.database_url else 'SQLite'}, one process, profiled: cProfile adds to every call)\n")
        stats = pstats.Stats(prof)
        if args.dump:
            stats.dump_stats(args.dump)
        raw = stats.stats  # type: ignore[attr-defined]
        total = sum(tt for (_, _, _), (_, _, tt, _, _) in raw.items())
        print(f"{'part':<22} {'ms/event':>9} {'share':>6}")
        for part, (suffix, name) in PARTS.items():
            ct = sum(v[3] for (file, _, func), v in raw.items() if file.endswith(suffix) and func == name)
            print(f"{part:<22} {ct / n * 1000:>9.3f} {ct / total:>6.0%}")
        print(f"{'(all, profiled)':<22} {total / n * 1000:>9.3f}")
        print()
        stats.sort_stats("tottime").print_stats(args.top)
        return 0
    finally:
        fake.stop()
        db.drop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
