"""What the benchmarks share: signing deliveries, free ports, running the bot's CLI, a gunicorn
server with its workers' CPU time, the machine's CPU counters, and a fresh database per run
(a SQLite file, or a PostgreSQL database of its own)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-channel-secret"


def vm_rss_kib() -> int:
    """This process's resident memory (Linux /proc), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user_id(kind: str, i: int) -> str:
    return "U" + hashlib.md5(f"bench-{kind}-{i}".encode()).hexdigest()


class Server:
    def __init__(self, name: str, app: str, env: dict[str, str], workdir: Path, workers: int, extra: list[str]):
        self.name = name
        self.app = app
        self.env = env
        self.log_path = workdir / f"{name}.log"
        self.workers = workers
        self.extra = extra
        self.port = 0
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.port = free_port()
        cmd = [
            sys.executable, "-m", "gunicorn",
            "--workers", str(self.workers),
            "--bind", f"127.0.0.1:{self.port}",
            "--log-level", "warning",
            *self.extra,
            self.app,
        ]
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        assert self.proc is not None
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited ({self.proc.returncode}); see {self.tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                resp.read()
                conn.close()
                if resp.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: not healthy after {timeout:.0f} s; {self.tail()}")

    def tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        pids = []
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    stat = Path(entry.path, "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    pids.append(int(entry.name))
        return pids

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the workers (Linux /proc)."""
        total = 0
        for pid in self.worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # gunicorn's graceful stop, which also stops its workers
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the group this script started
            except ProcessLookupError:
                pass
            proc.wait(5)
        self.log_file.close()


def run_cli(args: list[str], env: dict[str, str]) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "bot", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    if res.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}")
    log(f"flask {' '.join(args)}: {res.stdout.strip().splitlines()[-1] if res.stdout.strip() else 'ok'}")


def cpu_times() -> list[int]:
    """The machine's CPU time counters (/proc/stat, all CPUs), for busy and steal shares."""
    try:
        return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except OSError:
        return [0] * 8


def machine_note(before: list[int], after: list[int]) -> str:
    d = [b - a for a, b in zip(before, after)]
    total = sum(d) or 1
    idle = d[3] + d[4]
    return f"machine CPU over the run: busy {100 * (total - idle) / total:.0f} %, steal {100 * d[7] / total:.1f} %"


class BenchDatabase:
    """A fresh database for one run.

    * `url` None (the default): a new SQLite file, `bench.db` in the run's folder, which goes with
      the folder.
    * `sqlite:///PATH`: a new SQLite file at PATH (refused if it exists); left in place.
    * `postgresql…://…/DB`: connects to DB (AUTOCOMMIT), creates a database of its own,
      `tsunagari_bench_<random>`, on the same server, and points the bot at it; `drop()` removes it
      (unless the run is asked to keep it). DB itself is not touched.

    `url` is what the bot gets (`DATABASE_URL`, password included); `shown` hides the password.
    """

    def __init__(self, url: str | None, workdir: Path, prefix: str = "tsunagari_bench"):
        from sqlalchemy.engine import make_url

        self.admin_url = None
        self.name: str | None = None
        self.owned_file: Path | None = None
        if not url:
            self.owned_file = workdir / "bench.db"
            parsed = make_url(f"sqlite:///{self.owned_file}")
        else:
            parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            path = parsed.database or ""
            if not path or path == ":memory:":
                raise ValueError("a SQLite URL must name a file (the server and the script share it)")
            if Path(path).exists():
                raise ValueError(f"{path} exists; the benchmark needs a fresh database")
            self.path: Path | None = Path(path).resolve()  # the server runs in the repository's folder
            parsed = parsed.set(database=str(self.path))
        elif self.dialect == "postgresql":
            self.path = None
            self.admin_url = parsed
            self.name = f"{prefix}_{secrets.token_hex(4)}"
            parsed = parsed.set(database=self.name)
        else:
            raise ValueError(f"unsupported database {self.dialect!r}: give a sqlite:/// or postgresql URL")
        self._parsed = parsed
        self.url = parsed.render_as_string(hide_password=False)
        self.shown = parsed.render_as_string(hide_password=True)
        self.created = False

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def create(self) -> None:
        """Create the PostgreSQL database (a SQLite file comes with `flask db upgrade`)."""
        if self.admin_url is None:
            self.created = True
            return
        from sqlalchemy import create_engine

        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        finally:
            engine.dispose()
        self.created = True
        log(f"created database {self.name} on {self.admin_url.render_as_string(hide_password=True)}")

    def drop(self) -> None:
        if self.admin_url is None or not self.created:
            return
        from sqlalchemy import create_engine

        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            engine.dispose()
        self.created = False
        log(f"dropped database {self.name}")

    def finish(self, workdir: Path, keep: bool) -> None:
        """At the end of a run: keep the folder and the database (--keep), or remove both."""
        if keep:
            log(f"kept {workdir}" + ("" if self.is_sqlite else f" and the database {self.shown}"))
            return
        try:
            self.drop()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def after_seed(self, tables: list[str]) -> None:
        """PostgreSQL: the planner's statistics for the tables just filled in bulk, as a running
        database would have them (this server may run without autovacuum).

        Only those: a table ANALYZEd while empty is planned as the tiny table it was, and psycopg
        prepares a statement on its 5th run, after which PostgreSQL may keep a generic plan (a
        sequential scan of the inbox or outbox) for the life of the connection while the table
        grows under the run. Tables never analyzed are planned as at least 10 pages, which picks
        the indexes, as the statistics of a database in use would."""
        if self.dialect != "postgresql" or not tables:
            return
        from sqlalchemy import create_engine

        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE " + ", ".join(f'"{t}"' for t in tables))
        finally:
            engine.dispose()

    def scans(self, tables: list[str]) -> dict[str, tuple[int, int, int]]:
        """PostgreSQL: (sequential scans, rows they read, index scans) so far per table, from
        pg_stat_user_tables (statistics are flushed within about a second)."""
        if self.is_sqlite:
            return {}
        rows = self.query("SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0) FROM pg_stat_user_tables "
                          "WHERE relname = ANY(:t)", t=list(tables))
        return {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows}

    def describe(self) -> str:
        """The database, for the report: "SQLite 3.40.1" or "PostgreSQL 15.20 (…)"."""
        if self.is_sqlite:
            import sqlite3

            return f"SQLite {sqlite3.sqlite_version}"
        from sqlalchemy import create_engine

        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                version = conn.exec_driver_sql("SHOW server_version").scalar()
                sync = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
                fsync = conn.exec_driver_sql("SHOW fsync").scalar()
        finally:
            engine.dispose()
        return (f"PostgreSQL {str(version).split()[0]} (synchronous_commit {sync}, fsync {fsync}; "
                f"database {self.name})")

    def backend_cpu(self) -> dict[int, float] | None:
        """PostgreSQL on this machine: CPU seconds (user + system) so far of each server process
        connected to this database (the bot's pooled connections), by pid, from /proc; None for
        SQLite, or when the server's processes are not visible here."""
        if self.is_sqlite:
            return None
        pids = [pid for (pid,) in self.query(
            "SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()", d=self.name)]
        out = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return out if out or not pids else None

    def query(self, sql: str, **params) -> list[tuple]:
        """Rows of one read-only query, on either database (for the checks)."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(sql), params).all()]
        finally:
            engine.dispose()


def compile_catalogs() -> None:
    """Build the .mo files if missing, as the test suite does (they are built, not committed)."""
    from bot.core.i18n import missing_compiled_catalogs

    if missing_compiled_catalogs():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "i18n.py"), "compile"], check=True,
                       stdout=subprocess.DEVNULL, cwd=ROOT)


def code_version() -> str:
    """The commit measured, and whether the bot's code had uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "bot", "handlers", "conversations", "scheduler",
                                "migrations"], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not head:
        return "unknown (not a git checkout)"
    return f"commit {head}" + (f" with uncommitted changes in the bot's code ({len(dirty.splitlines())} files)"
                               if dirty else " (the bot's code as committed)")


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (nan for no values)."""
    import math

    if not values:
        return float("nan")
    values = sorted(values)
    return values[max(0, min(len(values) - 1, math.ceil(p / 100 * len(values)) - 1))]
