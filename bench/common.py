"""What the benchmarks share: signing deliveries, free ports, running the bot's CLI, a gunicorn
server with its workers' CPU time, and the machine's CPU counters."""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-channel-secret"


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
