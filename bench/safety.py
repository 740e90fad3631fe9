"""Safety checks (安否確認, issue 20): the question to everyone, the answers, the leaders' list and
「助けが必要」 to the leader, measured against the bot's real processes and a fake LINE API.

    .venv/bin/python bench/safety.py [--residents 100000] [--answers 10000] [--households 2000]
                                     [--help-samples 10] [--database-url URL] [--keep] [--require-target]

What runs (as bench/scheduler.py and bench/webhook.py):

* a fake LINE Messaging API in this process (`tests.fakeline.FakeLine`, calls not recorded; every
  accepted reply / push / multicast is kept with its arrival time, recipients and messages);
* a fresh database (a SQLite file by default; with `--database-url postgresql+psycopg://…/DB`, a
  database of its own on that server, dropped at the end unless `--keep`), brought up with
  `flask --app bot db upgrade` and `flask --app bot areas load`;
* the bot's `worker` (`python -m flask --app bot worker`) and `web` (`gunicorn --config
  gunicorn.conf.py --workers 2 "bot:create_app()"`) processes, as the Procfile starts them, with
  only DATABASE_URL, LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN, LINE_API_BASE_URL (the fake),
  FLASK_SECRET_KEY and PYTHONUNBUFFERED set from the bot's configuration.

Seeded before the processes start (not measured): `--residents` onboarded, following residents
(consent given; locales ja, en, vi in turn; every other one with quiet hours covering the whole
run, 2 hours either side of the start); one association (join code BENCH-SAFETY, in the first
area) of `--households` households in 班 of 100, every 20th a paper household (nobody in LINE),
each other household with 2 members (nicknamed 住民<id>, in the association's area), the first
member of each 班's first household its 班長, resident 1 the association's 会長 (in LINE, no
household), every 50th member registered as needing help (support register, leaders may see it),
and 10 registered helpers in the same area (the mutual-aid registry, notices on).

Targets (issue 20):

(a) `flask --app bot safety start --to all --yes`, run while the worker is up: every resident asked
    within 30 s of the CLI's start (the last multicast accepted by the fake), at ⌈N_lang/500⌉
    multicasts per language; checked: each resident exactly one question, in their language (the
    quiet-hours half too), nothing else sent.
(b) `--answers` residents answer with the button they got (a signed webhook, one postback event
    `a=sf&x=a&k=<check>&v=safe|evacuated|help`, 1 in 20 「助けが必要」, 2 in 20 evacuated), paced
    at `--answers` per `--answer-seconds` (60) over `--concurrency` (8) clients, through the
    gunicorn `web` process, the worker running: all answered within the minute (+1 s), and p99 ≤
    100 ms per webhook (latency counted from when the answer was due, so a server falling behind
    shows); checked: every answer recorded with its status, one reply each. Also shown: (d) under
    this load, from posting each member's 「助けが必要」 to the push to the 会長 naming them.
(c) The leaders' status of the association (`--households` households): `GET
    /console/safety/<id>` for a signed-in 会長 (a console account made with `flask --app bot staff
    create … --role leader --association BENCH-SAFETY`) renders in ≤ 1 s (the slowest of the warm
    samples; the first request per gunicorn worker, shown apart, compiles the templates), and
    `safety.households(...)` alone, in this process.
(d) 「助けが必要」 reaches the 会長 within 5 s: `--help-samples` members (who answered "safe" in
    (b)) tap 「助けが必要」, one at a time; from posting the webhook to the fake accepting the
    push to the 会長 that names them, with the worker running (the slowest sample).

Exit status: 0, 1 if a check failed, 2 with `--require-target` when a target is missed.
`--profile` also profiles (cProfile) the parts that miss their target: the CLI's start, one
answer and one console page through Flask's test client in this process.
"""
from __future__ import annotations

import argparse
import collections
import gc
import http.client
import http.cookiejar
import json
import math
import os
import re
import secrets
import signal
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    BenchDatabase, Server, code_version, compile_catalogs, cpu_times, log, machine_note, pct, sign,
)
from bench.scheduler import (  # noqa: E402
    BOT_ENV, TOKEN, ArrivalFake, BotProcess, bot_env, flask, index_of, log_problems, seed_residents, uid,
)
from tests.fakeline import FakeLine  # noqa: E402

TZ = "Asia/Tokyo"  # the bot's default tz_name (TZ_NAME is not passed)
BATCH = 500
JOIN_CODE = "BENCH-SAFETY"
LEADER_USER = "kaicho"
LEADER_PASSWORD = "bench-" + secrets.token_urlsafe(12)
HAN_SIZE = 100
PAPER_EVERY = 20
PER_HOUSEHOLD = 2
SUPPORT_EVERY = 50
HELPERS = 10
TARGET_ASK_S = 30.0
TARGET_P99_MS = 100.0
TARGET_PAGE_S = 1.0
TARGET_HELP_S = 5.0
QUESTION = "Safety check: are you safe? Please tap one answer."  # the msgid every resident's question carries


HELP_EVERY = 20  # --help-every: 1 answer in this many is 「助けが必要」 (0: none)


def status_of(k: int) -> str:
    """The k-th answer's button: 1 in HELP_EVERY help, 2 in 20 evacuated, the rest safe."""
    if HELP_EVERY and k % HELP_EVERY == 0:
        return "help"
    return "evacuated" if k % 20 in (1, 2) else "safe"


# -- the fake LINE API -------------------------------------------------------------------------

class SafetyFake(ArrivalFake):
    """bench.scheduler's fake (every accepted send with its arrival time), read by position."""

    def mark(self) -> int:
        with self.lock:
            return len(self.got)

    def since(self, start: int) -> list[tuple[float, str, list[str], list[dict]]]:
        with self.lock:
            return list(self.got[start:])

    def recipients_since(self, start: int, kind: str) -> int:
        with self.lock:
            return sum(len(g[2]) for g in self.got[start:] if g[1] == kind)

    def wait_for(self, start: int, pred, timeout: float) -> tuple[float, str, list[str], list[dict]] | None:
        """The first send from index `start` on for which pred(send) holds, waiting up to `timeout`."""
        end = time.monotonic() + timeout
        with self.lock:
            while True:
                for g in self.got[start:]:
                    if pred(g):
                        return g
                start = len(self.got)
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.arrived.wait(min(left, 0.5))


def text_of(messages: list[dict]) -> str:
    m = messages[0] if messages else {}
    return m.get("text") or m.get("altText") or ""


# -- seeding (not measured) --------------------------------------------------------------------

def seed(db: BenchDatabase, args) -> dict:
    """Residents (bench.scheduler.seed_residents: ids 1..N, user uid(id-1), locale by index), half
    with quiet hours around now; the association, its households, members, leaders, support
    register and helpers. Returns what the measurements need."""
    from sqlalchemy import create_engine, insert, text

    from bot.core.models import Association, HelperProfile, Household, Membership, SupportNeed

    n = args.residents
    langs = [x.strip() for x in args.langs.split(",") if x.strip()]
    t0 = time.perf_counter()
    seed_residents(db, n, langs)
    t_res = time.perf_counter() - t0
    now = datetime.now(timezone.utc)
    local = now.astimezone(ZoneInfo(TZ))
    minute = local.hour * 60 + local.minute
    quiet_start, quiet_end = (minute - 120) % 1440, (minute + 120) % 1440
    households = args.households
    paper = [h for h in range(households) if h % PAPER_EVERY == PAPER_EVERY - 1]
    paper_set = set(paper)
    homes = [h for h in range(households) if h % PAPER_EVERY != PAPER_EVERY - 1]
    members_needed = 1 + len(homes) * PER_HOUSEHOLD + HELPERS
    if members_needed > n:
        raise SystemExit(f"--residents {n} is too few for {households} households: need ≥ {members_needed}")
    engine = create_engine(db.url)
    out: dict = {"langs": langs, "quiet": (quiet_start, quiet_end)}
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE resident SET quiet_start = :s, quiet_end = :e WHERE id % 2 = 0"),
                         {"s": quiet_start, "e": quiet_end})
            area_id = conn.execute(text("SELECT id FROM area ORDER BY position, id LIMIT 1")).scalar()
            assoc_id = conn.execute(insert(Association.__table__).values(
                name="ベンチ安否町内会", join_code=JOIN_CODE, read_per="household", area_id=area_id, created_at=now,
            ).returning(Association.__table__.c.id)).scalar_one()
            hid = {}
            for start in range(0, households, 1000):
                rows = [{"association_id": assoc_id, "label": f"{h + 1}番 世帯{h + 1}" + ("（紙）" if h in paper_set else ""),
                         "han": f"{h // HAN_SIZE + 1}班", "paper": h in paper_set, "created_at": now}
                        for h in range(start, min(households, start + 1000))]
                conn.execute(insert(Household.__table__), rows)
            for h_id, label in conn.execute(text("SELECT id, label FROM household WHERE association_id = :a"),
                                            {"a": assoc_id}):
                hid[int(label.split("番")[0]) - 1] = h_id
            # resident id 1: the 会長; ids 2…: two members per household in LINE
            members: list[dict] = [{"resident_id": 1, "association_id": assoc_id, "role": "leader",
                                    "household_id": None, "joined_at": now}]
            member_home: dict[int, int] = {}  # resident id -> household index
            han_leaders: set[str] = set()
            rid = 2
            for h in homes:
                han = f"{h // HAN_SIZE + 1}班"
                for j in range(PER_HOUSEHOLD):
                    role = "han_leader" if j == 0 and han not in han_leaders else "member"
                    if role == "han_leader":
                        han_leaders.add(han)
                    members.append({"resident_id": rid, "association_id": assoc_id, "role": role,
                                    "household_id": hid[h], "joined_at": now})
                    member_home[rid] = h
                    rid += 1
            conn.execute(insert(Membership.__table__), members)
            last_member = rid - 1
            conn.execute(text("UPDATE resident SET nickname = '住民' || CAST(id AS TEXT), area_id = :a "
                              "WHERE id BETWEEN 2 AND :m"), {"a": area_id, "m": last_member})
            conn.execute(text("UPDATE resident SET nickname = '会長', area_id = :a WHERE id = 1"), {"a": area_id})
            conn.execute(insert(SupportNeed.__table__), [
                {"resident_id": r, "needs": ["alone", "mobility"], "note": None, "leaders_may_see": True,
                 "consent_at": now, "created_at": now}
                for r in range(2, last_member + 1, SUPPORT_EVERY)])
            helpers = list(range(last_member + 1, last_member + 1 + HELPERS))
            conn.execute(text("UPDATE resident SET nickname = 'ヘルパー' || CAST(id AS TEXT), area_id = :a "
                              "WHERE id BETWEEN :f AND :l"), {"a": area_id, "f": helpers[0], "l": helpers[-1]})
            conn.execute(insert(HelperProfile.__table__), [
                {"resident_id": r, "categories": [], "skills": None, "nearby": True, "days": "any", "times": "any",
                 "notices": True, "updated_at": now} for r in helpers])
    finally:
        engine.dispose()
    db.after_seed(["resident", "household", "membership", "support_need", "helper_profile", "association"])
    out.update(assoc_id=assoc_id, area_id=area_id, members=last_member - 1, member_home=member_home,
               han_leaders=len(han_leaders), paper=len(paper), helpers=helpers, seed_residents=t_res,
               seed_rest=time.perf_counter() - t0 - t_res)
    return out


# -- webhooks ------------------------------------------------------------------------------------

def postback_delivery(fake: FakeLine, user: str, data: str) -> tuple[bytes, dict[str, str]]:
    ev = {
        "type": "postback", "mode": "active", "timestamp": int(time.time() * 1000),
        "webhookEventId": "01SAFE" + uuid.uuid4().hex.upper(), "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user}, "replyToken": fake.issue_reply_token(user),
        "postback": {"data": data},
    }
    body = json.dumps({"destination": "Ubench", "events": [ev]}, ensure_ascii=False).encode()
    return body, {"Content-Type": "application/json", "X-Line-Signature": sign(body)}


def post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/callback", body, headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def drive_answers(port: int, fake: FakeLine, jobs: list[tuple[int, str, str]], threads: int, rate: float,
                  deadline: float) -> dict:
    """jobs: (k, user, data), in order; answer k is due at start + k/rate and is sent by whichever
    client is free first (LINE's platform delivers webhooks concurrently: one slow request does not
    hold up the answers due after it, as a fixed client per answer would). Its latency counts from
    when it was due (or from when it was sent, if that is earlier), so a server falling behind, or
    all clients busy at once, still shows."""
    queue = collections.deque(jobs)
    lat: list[list[tuple[int, float, float]]] = [[] for _ in range(threads)]
    done: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []
    sent: dict[int, float] = {}  # k -> wall time the webhook was posted
    late = [0] * threads
    lock = threading.Lock()
    barrier = threading.Barrier(threads + 1)
    start = [0.0]

    def client(i: int) -> None:
        barrier.wait()
        while True:
            with lock:
                if not queue:
                    return
                k, user, data = queue.popleft()
            if time.monotonic() > deadline:
                with lock:
                    errors.append("time limit reached")
                return
            due = start[0] + k / rate if rate else None
            if due is not None:
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                elif wait < -0.010:
                    late[i] += 1
            body, headers = postback_delivery(fake, user, data)
            sent[k] = time.time()
            t0 = time.perf_counter()
            try:
                status, payload = post(port, body, headers)
            except Exception as exc:  # noqa: BLE001 - counted as an error
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            t1 = time.perf_counter()
            lat[i].append((k, t1 - (min(due, t0) if due is not None else t0), t1 - t0))
            done[i].append(t1)
            if status != 200:
                with lock:
                    errors.append(f"HTTP {status}: {payload[:200]!r}")

    workers = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    start[0] = time.perf_counter() + 0.05
    barrier.wait()
    for w in workers:
        w.join(max(0.0, deadline - time.monotonic()) + 5)
    seconds = max((x for part in done for x in part), default=start[0]) - start[0]
    return {"latencies": sorted((x for part in lat for x in part), key=lambda x: x[0]), "errors": errors,
            "late": sum(late), "seconds": seconds, "sent": sent}


# -- the console ---------------------------------------------------------------------------------

class Console:
    """A signed-in browser (cookies, CSRF token) on the web process."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> tuple[int, bytes, float]:
        t0 = time.perf_counter()
        with self.opener.open(self.base + path, timeout=60) as resp:
            body = resp.read()
            return resp.status, body, time.perf_counter() - t0

    def login(self, username: str, password: str) -> None:
        _, page, _ = self.get("/console/login")
        m = re.search(rb'name="csrf_token" value="([^"]+)"', page)
        if not m:
            raise RuntimeError("no CSRF token on the login page")
        form = urllib.parse.urlencode({"username": username, "password": password,
                                       "csrf_token": m.group(1).decode(), "next": ""}).encode()
        with self.opener.open(self.base + "/console/login", data=form, timeout=30) as resp:
            resp.read()
            if "/console/login" in resp.geturl():
                raise RuntimeError("console sign-in failed")


# -- the run -------------------------------------------------------------------------------------

class Bench:
    def __init__(self, args, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.fake = SafetyFake(token=TOKEN, record_calls=False).start()
        self.db = BenchDatabase(args.database_url, workdir, prefix="bench_safety")
        self.checks: list[tuple[bool, str]] = []
        self.targets: list[tuple[str, bool, str]] = []
        self.lines: dict[str, list[str]] = collections.defaultdict(list)
        self.f: dict = {}
        self.worker: BotProcess | None = None
        self.web: Server | None = None

    def check(self, ok: bool, line: str) -> bool:
        self.checks.append((bool(ok), line))
        return bool(ok)

    def target(self, name: str, ok: bool, figure: str) -> None:
        self.targets.append((name, bool(ok), figure))

    def say(self, part: str, line: str) -> None:
        self.lines[part].append(line)
        log(f"({part}) {line}")

    def run(self) -> None:
        args = self.args
        try:
            self.db.create()
            self.env = bot_env(self.db.url, self.fake.url)
            flask(["db", "upgrade"], self.env, timeout=300)
            flask(["areas", "load"], self.env)
            self.f["db"] = self.db.describe()
            self.seed = seed(self.db, args)
            s = self.seed
            log(f"seeded {args.residents:,} residents in {s['seed_residents']:.1f} s, the association "
                f"({args.households} households, {s['members']} members) in {s['seed_rest']:.1f} s")
            flask(["staff", "create", LEADER_USER, "--role", "leader", "--association", JOIN_CODE,
                   "--password", LEADER_PASSWORD], self.env)
            self.start_processes()
            self.part_a()
            if self.check_id is not None:
                self.part_b()
                self.part_c()
                self.part_d()
                if args.profile and self.f["a"]["last"] > TARGET_ASK_S:
                    self.profile_cli()
            self.finish()
        finally:
            self.stop()
            self.fake.stop()
            self.db.finish(self.workdir, args.keep)

    def start_processes(self) -> None:
        t0 = time.time()
        self.worker = BotProcess("worker", self.env, self.workdir, False)
        self.worker.start()
        self.web = Server("web", "bot:create_app()", self.env, self.workdir, self.args.web_workers,
                          ["--config", "gunicorn.conf.py"])
        self.web.start()
        self.web.wait_ready(60)
        end = time.monotonic() + 60
        while not self.worker.ready():
            if time.monotonic() > end:
                raise RuntimeError("worker not up after 60 s")
            time.sleep(0.1)
        log(f"worker and web ({self.args.web_workers} gunicorn workers) up in {time.time() - t0:.1f} s")

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.web is not None:
            self.web.stop()

    # (a) ------------------------------------------------------------------------------------
    def part_a(self) -> None:
        from bot.core.i18n import LANGUAGES, t

        n = self.args.residents
        langs = self.seed["langs"]
        eff = [loc if loc in LANGUAGES else "ja" for loc in langs]
        mark = self.fake.mark()
        time.sleep(1.0)  # the worker idle
        t0 = time.time()
        secs, out = flask(["safety", "start", "--to", "all", "--yes"], self.env)
        self.say("a", f"CLI: {out.strip()} (took {secs:.2f} s)")
        m = re.search(r"safety check (\d+) started", out)
        self.check_id = int(m.group(1)) if m else None
        if not self.check(self.check_id is not None, "the CLI started a check"):
            return
        end = time.time() + self.args.time_limit
        while self.fake.recipients_since(mark, "multicast") < n and time.time() < end and self.worker.alive():
            time.sleep(0.05)
        self.wait_outbox_quiet()
        got = self.fake.since(mark)
        asks = [g for g in got if g[1] == "multicast"]
        others = collections.Counter(g[1] for g in got if g[1] != "multicast")
        self.check(not others, f"(a) nothing but multicasts sent: {dict(others) or 'none'}")
        last = (asks[-1][0] - t0) if asks else float("nan")
        first = (asks[0][0] - t0) if asks else float("nan")
        expect_text = {loc: t(loc, QUESTION) for loc in set(eff)}
        counts = bytearray(n)
        wrong = strangers = mixed = 0
        per_lang: collections.Counter = collections.Counter()
        quiet_reached = 0
        for _, _, to, messages in asks:
            body = text_of(messages)
            ls = set()
            for u in to:
                i = index_of(u)
                if i is None or not 0 <= i < n:
                    strangers += 1
                    continue
                if counts[i] < 255:
                    counts[i] += 1
                loc = eff[i % len(eff)]
                ls.add(loc)
                if expect_text[loc] not in body or len(messages) != 1:
                    wrong += 1
                if (i + 1) % 2 == 0:
                    quiet_reached += 1
            if len(ls) != 1:
                mixed += 1
            per_lang[next(iter(ls)) if len(ls) == 1 else "mixed"] += 1
        missing = counts.count(0)
        dupes = n - missing - counts.count(1)
        people = collections.Counter(eff[i % len(eff)] for i in range(n))
        expected = {loc: math.ceil(k / BATCH) for loc, k in sorted(people.items())}
        self.check(missing == 0 and dupes == 0 and strangers == 0,
                   f"(a) every resident asked exactly once: {n - missing:,}/{n:,} reached, duplicates {dupes}, "
                   f"unknown ids {strangers}")
        self.check(wrong == 0, f"(a) each in their language (one message, the question in {', '.join(sorted(expected))}): "
                               f"{sum(len(g[2]) for g in asks) - wrong:,}/{sum(len(g[2]) for g in asks):,}")
        self.check(quiet_reached == n // 2, f"(a) residents in their quiet hours asked at once too: {quiet_reached:,}/{n // 2:,}")
        self.check(mixed == 0, f"(a) each multicast in one language: {len(asks) - mixed}/{len(asks)}")
        calls_ok = dict(per_lang) == expected
        self.check(calls_ok, f"(a) multicasts per language {dict(sorted(per_lang.items()))} = ⌈N_lang/500⌉ {expected}")
        rows = self.db.query("SELECT count(*), count(resident_id) FROM safety_answer WHERE check_id = :c", c=self.check_id)[0]
        self.check(rows[1] == n and rows[0] == n + self.seed["paper"],
                   f"(a) safety_answer rows: {rows[1]:,} residents + {rows[0] - rows[1]} paper households")
        # the buttons, from a question as received
        self.buttons = {}
        if asks:
            for item in (asks[0][3][0].get("quickReply") or {}).get("items", []):
                data = item["action"].get("data", "")
                v = urllib.parse.parse_qs(data).get("v", [""])[0]
                self.buttons[v] = data
        self.check(set(self.buttons) == {"safe", "help", "evacuated"}, f"(a) the question's buttons: {sorted(self.buttons)}")
        self.f["a"] = {"cli": secs, "first": first, "last": last, "calls": len(asks), "per_lang": dict(per_lang)}
        self.say("a", f"{n:,} residents ({', '.join(f'{k} {v:,}' for k, v in sorted(people.items()))}; half in quiet "
                      f"hours): CLI start → first multicast {first:.2f} s, → last {last:.2f} s "
                      f"({len(asks)} multicasts; the CLI's process ran {secs:.2f} s from start to exit, the worker sending "
                      f"from its commit on)")
        self.target(f"(a) {n:,} residents asked ≤ 30 s after the CLI's start", last <= TARGET_ASK_S, f"{last:.2f} s")
        self.target("(a) ⌈N_lang/500⌉ multicasts per language", calls_ok,
                    ", ".join(f"{k} {v}" for k, v in sorted(per_lang.items())))

    def wait_outbox_quiet(self, limit: float = 30.0) -> None:
        end = time.time() + limit
        while time.time() < end:
            left = self.db.query("SELECT count(*) FROM outbox_message WHERE status IN ('pending', 'sending') "
                                 "AND (next_attempt_at IS NULL OR next_attempt_at <= :now)",
                                 now=datetime.now(timezone.utc))[0][0]
            if not left:
                break
            time.sleep(0.2)
        time.sleep(0.5)

    # (b) ------------------------------------------------------------------------------------
    def part_b(self) -> None:
        args = self.args
        n = min(args.answers, args.residents)
        # the association's members first (their households are the leaders' list), then others;
        # the 会長 (resident 1) does not answer: the help notices are for them
        order = list(range(2, args.residents + 1))
        jobs = [(k, uid(rid - 1), self.buttons[status_of(k)]) for k, rid in enumerate(order[:n])]
        self.answered = {uid(rid - 1): status_of(k) for k, rid in enumerate(order[:n])}
        warm = order[n:n + args.warmup]
        if len(warm) < args.warmup:
            log("(b) not enough residents left for a warm-up; skipping it")
        else:
            for rid in warm:
                status, _ = post(self.web.port, *postback_delivery(self.fake, uid(rid - 1), self.buttons["safe"]))
                self.answered[uid(rid - 1)] = "safe"
        self.wait_outbox_quiet()
        mark = self.fake.mark()
        rate = n / args.answer_seconds if args.answer_seconds else 0.0
        cpu0 = self.web.cpu_seconds()
        wcpu0 = self.worker.cpu()
        load0 = os.getloadavg()
        machine0 = cpu_times()
        own0 = os.times()
        # This process holds (a)'s 100,000 questions as received: a full garbage collection here
        # would stall the clients and the fake LINE API together and show up as the bot's latency.
        gc.collect()
        gc.freeze()
        log(f"(b) {n:,} answers at {rate:.1f}/s over {args.concurrency} clients")
        run = drive_answers(self.web.port, self.fake, jobs, args.concurrency, rate,
                            time.monotonic() + args.answer_seconds + args.time_limit)
        web_cpu = self.web.cpu_seconds() - cpu0
        worker_cpu = self.worker.cpu() - wcpu0
        own1 = os.times()
        own_cpu = (own1.user - own0.user) + (own1.system - own0.system)
        machine_b = machine_note(machine0, cpu_times())
        self.wait_outbox_quiet()
        lat = [x for _, x, _ in run["latencies"]]
        service = [x for _, _, x in run["latencies"]]
        by_status = collections.defaultdict(list)
        for k, _, x in run["latencies"]:
            by_status[status_of(k)].append(x)
        p50, p99, worst = pct(lat, 50), pct(lat, 99), max(lat) if lat else float("nan")
        self.check(not run["errors"], f"(b) HTTP errors: {len(run['errors'])}" + (f", e.g. {run['errors'][0]}" if run["errors"] else ""))
        # every answer recorded with its status
        rows = self.db.query("SELECT r.line_user_id, a.status FROM safety_answer a JOIN resident r ON r.id = a.resident_id "
                             "WHERE a.check_id = :c AND a.status IS NOT NULL", c=self.check_id)
        recorded = dict(rows)
        right = sum(1 for u, st in self.answered.items() if recorded.get(u) == st)
        self.check(right == len(self.answered) and len(recorded) == len(self.answered),
                   f"(b) answers recorded with their status: {right:,}/{len(self.answered):,} "
                   f"(rows answered: {len(recorded):,})")
        got = self.fake.since(mark)
        replies = collections.Counter(g[2][0] for g in got if g[1] == "reply")
        mine = {u for _, u, _ in jobs}
        one_reply = sum(1 for u in mine if replies.get(u) == 1)
        self.check(one_reply == len(mine), f"(b) one reply per answer: {one_reply:,}/{len(mine):,}")
        pushes = [g for g in got if g[1] == "push"]
        # 「助けが必要」 under this load: from posting a member's answer to the push to the 会長 naming them
        told_at: dict[int, float] = {}
        for ts, _, to, messages in pushes:
            if uid(0) in to:
                for m in re.finditer(r"住民(\d+)", text_of(messages)):
                    told_at.setdefault(int(m.group(1)), ts)
        under_load = []
        for k, user, _ in jobs:
            rid = index_of(user) + 1
            if status_of(k) == "help" and 2 <= rid <= self.seed["members"] + 1 and k in run["sent"]:
                under_load.append(told_at.get(rid, float("inf")) - run["sent"][k])
        helps = sum(1 for k, _, _ in jobs if status_of(k) == "help")
        self.f["b"] = {"p50": p50, "p99": p99, "max": worst, "seconds": run["seconds"], "late": run["late"]}
        self.say("b", f"{n:,} answers ({', '.join(f'{s} {len(v):,}' for s, v in sorted(by_status.items()))}) in "
                      f"{run['seconds']:.2f} s ({n / run['seconds'] if run['seconds'] else 0:.1f}/s; paced at {rate:.1f}/s, "
                      f"{args.concurrency} clients, {run['late']} sent > 10 ms late); latency from due: p50 "
                      f"{p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {worst * 1000:.1f} ms; per request (from its send): "
                      f"p50 {pct(service, 50) * 1000:.1f} ms, p99 {pct(service, 99) * 1000:.1f} ms")
        for st, xs in sorted(by_status.items()):
            self.say("b", f"  {st}, per request: p50 {pct(xs, 50) * 1000:.1f} ms, p99 {pct(xs, 99) * 1000:.1f} ms, "
                          f"max {max(xs) * 1000:.1f} ms")
        self.say("b", f"web workers' CPU {web_cpu:.1f} s ({web_cpu / max(n, 1) * 1000:.1f} ms per answer), the worker's "
                      f"{worker_cpu:.1f} s (it sent {len(pushes):,} pushes for {helps} 「助けが必要」: leaders and helpers); "
                      f"this process (clients, fake LINE) {own_cpu:.1f} s; load average (1 min) {load0[0]:.2f} → "
                      f"{os.getloadavg()[0]:.2f}; {machine_b}")
        if under_load:
            told = [x for x in under_load if x != float("inf")]
            self.check(len(told) == len(under_load), f"(b) the 会長 told of each member's 「助けが必要」: "
                                                     f"{len(told)}/{len(under_load)}")
            self.f["b"]["help_under_load"] = max(under_load)
            self.say("b", f"(d) under this load: {len(under_load)} members' 「助けが必要」, post → push to the 会長: "
                          f"p50 {pct(under_load, 50):.2f} s, p99 {pct(under_load, 99):.2f} s, max {max(under_load):.2f} s")
        within = run["seconds"] <= args.answer_seconds + 1.0 and right == len(self.answered)
        self.target(f"(b) {n:,} answers recorded within {args.answer_seconds:.0f} s (+1 s)", within,
                    f"{run['seconds']:.2f} s")
        self.target("(b) p99 per webhook ≤ 100 ms", p99 * 1000 <= TARGET_P99_MS, f"{p99 * 1000:.1f} ms")
        if self.args.profile and p99 * 1000 > TARGET_P99_MS:
            self.profile_answer()

    # (c) ------------------------------------------------------------------------------------
    def part_c(self) -> None:
        from bot.core.db import Database
        from bot.core.models import SafetyCheck
        from bot.services import safety

        console = Console(self.web.port)
        console.login(LEADER_USER, LEADER_PASSWORD)
        path = f"/console/safety/{self.check_id}"
        cold, warm = [], []
        size = 0
        for i in range(self.args.page_samples + self.args.web_workers):
            status, body, secs = console.get(path)
            if status != 200:
                self.check(False, f"(c) GET {path}: HTTP {status}")
                return
            size = len(body)
            (cold if i < self.args.web_workers else warm).append(secs)
        html = body.decode("utf-8", "replace")
        listed = html.count("番 世帯")
        self.check(listed == self.args.households, f"(c) the page lists the association's households: "
                                                   f"{listed}/{self.args.households}")
        db = Database(self.db.url)
        times, homes = [], []
        try:
            for _ in range(self.args.page_samples):
                with db.read() as s:
                    check = s.get(SafetyCheck, self.check_id)
                    t0 = time.perf_counter()
                    homes = safety.households(s, check, self.seed["assoc_id"])
                    times.append(time.perf_counter() - t0)
        finally:
            db.dispose()
        self.check(len(homes) == self.args.households, f"(c) safety.households(): {len(homes)} households")
        order = {"help": 0, None: 1, "evacuated": 2, "safe": 3}
        ranks = [order[h.status] for h in homes]
        self.check(ranks == sorted(ranks), f"(c) the most urgent first (needs help, no answer, evacuated, safe): "
                                           f"{collections.Counter(h.status or 'none' for h in homes)}")
        worst = max(warm) if warm else float("nan")
        self.f["c"] = {"page": worst, "households": max(times) if times else float("nan")}
        self.say("c", f"GET {path} as the 会長 ({size / 1024:.0f} KiB of HTML): first request per web worker "
                      f"{', '.join(f'{x * 1000:.0f}' for x in cold)} ms; then {len(warm)} requests p50 "
                      f"{pct(warm, 50) * 1000:.0f} ms, max {worst * 1000:.0f} ms")
        self.say("c", f"safety.households(check, association) alone, in this process: {len(homes)} households, "
                      f"p50 {pct(times, 50) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
        self.target(f"(c) 会長's status page, {self.args.households:,} households, ≤ 1 s", worst <= TARGET_PAGE_S,
                    f"{worst * 1000:.0f} ms")
        self.target("(c) safety.households() alone ≤ 1 s", max(times) <= TARGET_PAGE_S, f"{max(times) * 1000:.0f} ms")
        if self.args.profile and worst > TARGET_PAGE_S:
            self.profile_page()

    # (d) ------------------------------------------------------------------------------------
    def part_d(self) -> None:
        leader = uid(0)
        safe_members = [u for u, st in self.answered.items()
                        if st == "safe" and index_of(u) is not None and 1 <= index_of(u) <= self.seed["members"]]
        samples = safe_members[:: max(1, len(safe_members) // max(1, self.args.help_samples))][:self.args.help_samples]
        waits, posts = [], []
        for u in samples:
            name = f"住民{index_of(u) + 1}"
            self.wait_outbox_quiet(10)
            mark = self.fake.mark()
            t0 = time.time()
            status, _ = post(self.web.port, *postback_delivery(self.fake, u, self.buttons["help"]))
            posts.append(time.time() - t0)
            hit = self.fake.wait_for(mark, lambda g: g[1] == "push" and leader in g[2] and name in text_of(g[3]),
                                     self.args.time_limit)
            if status != 200 or hit is None:
                self.check(False, f"(d) {name}'s 「助けが必要」: HTTP {status}, leader told: {hit is not None}")
                continue
            waits.append(hit[0] - t0)
            time.sleep(0.5)
        self.check(len(waits) == len(samples) and samples != [],
                   f"(d) the 会長 told of each 「助けが必要」: {len(waits)}/{len(samples)}")
        worst = max(waits) if waits else float("nan")
        self.f["d"] = {"max": worst}
        self.say("d", f"{len(waits)} samples, one at a time: webhook answered in p50 {pct(posts, 50) * 1000:.0f} ms; "
                      f"post → push to the 会長 accepted by the fake: p50 {pct(waits, 50):.2f} s, max {worst:.2f} s "
                      f"({', '.join(f'{x:.2f}' for x in waits)})")
        self.target("(d) 「助けが必要」 reaches the 会長 ≤ 5 s", worst <= TARGET_HELP_S, f"{worst:.2f} s (max)")

    # the end --------------------------------------------------------------------------------
    def finish(self) -> None:
        alive = self.worker.alive()
        self.check(alive, "worker still running at the end")
        self.worker.stop()
        problems = log_problems(self.worker.text())
        self.check(not problems, f"worker log: {len(problems)} error line(s)" + (f", e.g. {problems[0]}" if problems else ""))
        web_log = self.web.tail(200_000)
        bad = [x for x in web_log.splitlines() if "Traceback" in x or " ERROR " in x]
        self.check(not bad, f"web log: {len(bad)} error line(s)" + (f", e.g. {bad[0][:200]}" if bad else ""))
        statuses = dict(self.db.query("SELECT status, count(*) FROM outbox_message GROUP BY status"))
        self.check(set(statuses) <= {"sent"}, f"outbox: {statuses}")
        inbox = dict(self.db.query("SELECT status, count(*) FROM inbound_event GROUP BY status"))
        self.check(set(inbox) <= {"done"}, f"inbox: {inbox}")

    # profiles (--profile) --------------------------------------------------------------------
    def in_process_app(self):
        from bot import create_app

        os.environ.update({k: v for k, v in self.env.items() if k.startswith(BOT_ENV) or k == "PYTHONUNBUFFERED"})
        return create_app()

    def profile_cli(self) -> None:
        """The CLI's start once more (a drill, after everything was measured) under cProfile."""
        prof = self.workdir / "cli.prof"
        secs, out = flask(["safety", "start", "--to", "all", "--yes", "--drill"], self.env,
                          prefix=[sys.executable, "-m", "cProfile", "-o", str(prof)])
        self.wait_outbox_quiet(self.args.time_limit)
        self.print_profile(f"(a) the CLI's start under cProfile, a drill after the run ({secs:.1f} s: {out.strip()})",
                           str(prof))

    def profile_page(self) -> None:
        import cProfile

        app = self.in_process_app()
        client = app.test_client()
        with client.session_transaction():
            pass
        page = client.get("/console/login")
        m = re.search(rb'name="csrf_token" value="([^"]+)"', page.data)
        client.post("/console/login", data={"username": LEADER_USER, "password": LEADER_PASSWORD,
                                            "csrf_token": m.group(1).decode() if m else ""})
        client.get(f"/console/safety/{self.check_id}")
        prof = cProfile.Profile()
        prof.enable()
        client.get(f"/console/safety/{self.check_id}")
        prof.disable()
        self.print_profile("(c) the 会長's status page", prof)

    def profile_answer(self) -> None:
        import cProfile

        app = self.in_process_app()
        client = app.test_client()
        # members who answered "safe" in (b): 200 change to evacuated, 20 to 「助けが必要」
        safe = [u for u, st in self.answered.items() if st == "safe" and 1 <= (index_of(u) or 0) <= self.seed["members"]]
        for label, users, v in (("evacuated", safe[-220:-20], "evacuated"), ("help", safe[-20:], "help")):
            prof = cProfile.Profile()
            t0 = time.perf_counter()
            prof.enable()
            for u in users:
                body, headers = postback_delivery(self.fake, u, self.buttons[v])
                client.post("/callback", data=body, headers=headers)
            prof.disable()
            secs = time.perf_counter() - t0
            self.print_profile(f"(b) {len(users)} members' 「{label}」 answers through Flask's test client in this "
                               f"process, one after another ({secs / max(1, len(users)) * 1000:.1f} ms each under "
                               "cProfile)", prof)
            for u in users:
                self.answered[u] = v

    def print_profile(self, title: str, prof) -> None:
        import io
        import pstats

        for key, n in (("cumulative", 30), ("tottime", 12)):
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(key).print_stats(n)
            self.lines["profile"].append(f"--- {title}, by {key} ---")
            self.lines["profile"] += [x for x in buf.getvalue().splitlines()[6:] if x.strip()]


def report(args, b: Bench, wall0: float, machine0, load0) -> int:
    print()
    print(f"safety-check benchmark (issue 20): the bot's worker and web processes, {b.f.get('db', '?')}, "
          f"fake LINE API in the benchmark's process")
    print(f"code: {code_version()}; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}; run took "
          f"{time.time() - wall0:.0f} s; load average (1 min) at the start / end: {load0[0]:.2f} / "
          f"{os.getloadavg()[0]:.2f}; {machine_note(machine0, cpu_times())}")
    s = getattr(b, "seed", None)
    if s:
        print(f"seeded: {args.residents:,} residents ({'/'.join(s['langs'])}; every other one with quiet hours "
              f"{s['quiet'][0] // 60:02d}:{s['quiet'][0] % 60:02d}–{s['quiet'][1] // 60:02d}:{s['quiet'][1] % 60:02d}); "
              f"association {JOIN_CODE}: {args.households:,} households ({s['paper']} on paper), {s['members']:,} members, "
              f"{s['han_leaders']} 班長, a 会長; {HELPERS} helpers nearby")
    for part in ("a", "b", "c", "d"):
        if b.lines.get(part):
            print()
            for line in b.lines[part]:
                print(f"({part}) {line}")
    print()
    all_ok = True
    for ok, line in b.checks:
        print(f"{'ok  ' if ok else 'FAIL'} {line}")
        all_ok = all_ok and ok
    print()
    print(f"{'target':<62}{'figure':<24}result")
    for name, ok, figure in b.targets:
        print(f"{name:<62}{figure:<24}{'PASS' if ok else 'FAIL'}")
    met = bool(b.targets) and all(ok for _, ok, _ in b.targets)
    print()
    print(f"targets: {'ALL MET' if met else 'NOT ALL MET'}; checks: {'all passed' if all_ok else 'FAILED'}")
    if b.lines.get("profile"):
        print()
        print("\n".join(b.lines["profile"]))
    if not all_ok:
        return 1
    if args.require_target and not met:
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--residents", type=int, default=100_000, help="residents asked (default 100000)")
    ap.add_argument("--langs", default="ja,en,vi", help="their locales, in turn (default ja,en,vi)")
    ap.add_argument("--answers", type=int, default=10_000, help="answers through webhooks (default 10000)")
    ap.add_argument("--answer-seconds", type=float, default=60.0,
                    help="spread the answers over this long (default 60; 0: as fast as answered)")
    ap.add_argument("--concurrency", type=int, default=8, help="webhook clients (default 8)")
    ap.add_argument("--warmup", type=int, default=100, help="answers before the measured ones, not measured (default 100)")
    ap.add_argument("--help-every", type=int, default=20,
                    help="1 answer in this many is 「助けが必要」 (default 20; 0: none, to see the others apart)")
    ap.add_argument("--households", type=int, default=2_000, help="households of the association (default 2000)")
    ap.add_argument("--page-samples", type=int, default=10, help="timed console pages and households() calls (default 10)")
    ap.add_argument("--help-samples", type=int, default=10, help="「助けが必要」 samples for (d) (default 10)")
    ap.add_argument("--web-workers", type=int, default=2, help="gunicorn workers, as the Procfile's default (2)")
    ap.add_argument("--time-limit", type=float, default=120.0, help="give up waiting this long in each part (default 120)")
    ap.add_argument("--database-url", metavar="URL",
                    help="default: a fresh SQLite file; postgresql+psycopg://…/DB: a database of its own on that server")
    ap.add_argument("--keep", action="store_true", help="keep the folder (database, logs) and a PostgreSQL database")
    ap.add_argument("--profile", action="store_true", help="profile the parts that miss their target")
    ap.add_argument("--require-target", action="store_true", help="exit 2 when a target is not met")
    args = ap.parse_args(argv)
    global HELP_EVERY
    HELP_EVERY = args.help_every

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    compile_catalogs()
    workdir = Path(tempfile.mkdtemp(prefix="tsunagari-safety-"))
    wall0, machine0, load0 = time.time(), cpu_times(), os.getloadavg()
    bench = Bench(args, workdir)
    try:
        bench.run()
    except BaseException:
        if bench.web is not None:
            log(f"--- web log (tail) ---\n{bench.web.tail()}")
        if bench.worker is not None:
            log(f"--- worker log (tail) ---\n{bench.worker.text()[-3000:]}")
        raise
    return report(args, bench, wall0, machine0, load0)


if __name__ == "__main__":
    sys.exit(main())
