"""Test helpers: signed LINE webhook deliveries, and a database for each test (SQLite by
default; PostgreSQL when TSUNAGARI_TEST_DATABASE_URL names one)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

SECRET = "test-channel-secret"
_seq = itertools.count(1)


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def event_id() -> str:
    return "01TEST" + uuid.uuid4().hex[:20].upper()


def base_event(kind: str, user_id: str | None, reply_token: str | None = None, **extra: Any) -> dict:
    ev: dict[str, Any] = {
        "type": kind,
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "webhookEventId": event_id(),
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user_id},
    }
    if reply_token:
        ev["replyToken"] = reply_token
    ev.update(extra)
    return ev


class Line:
    """Sends signed webhook deliveries to the app and reads what the fake LINE API got."""

    def __init__(self, client, fake):
        self.client = client
        self.fake = fake

    def post(self, events: list[dict], secret: str = SECRET, body: bytes | None = None, headers=None):
        raw = body if body is not None else self.body(events)
        h = {"X-Line-Signature": sign(raw, secret), "Content-Type": "application/json"}
        h.update(headers or {})
        return self.client.post("/callback", data=raw, headers=h)

    @staticmethod
    def body(events: list[dict]) -> bytes:
        """A delivery's body, as LINE sends it."""
        return json.dumps({"destination": "Ubot", "events": events}).encode()

    def say_body(self, user: str, text: str) -> bytes:
        """The body of a delivery of one typed message (to send some other way than `post`)."""
        return self.body([self.text_event(user, text)])

    def token(self, owner: str) -> str:
        return self.fake.issue_reply_token(owner)

    def text_event(self, user: str, text: str) -> dict:
        return base_event(
            "message", user, self.token(user),
            message={"type": "text", "id": str(next(_seq)), "text": text, "quoteToken": "q"},
        )

    def image_event(self, user: str, content: bytes | None) -> dict:
        """A photo from `user`; the fake LINE API serves `content` for it (None: it is gone)."""
        message_id = str(10**15 + next(_seq))
        if content is not None:
            self.fake.contents[message_id] = content
        return base_event("message", user, self.token(user),
                          message={"type": "image", "id": message_id, "contentProvider": {"type": "line"},
                                   "quoteToken": "q"})

    def send_image(self, user: str, content: bytes | None):
        resp = self.post([self.image_event(user, content)])
        assert resp.status_code == 200, resp.data
        return resp

    def postback_event(self, user: str, data: str, params: dict | None = None) -> dict:
        pb: dict[str, Any] = {"data": data}
        if params:
            pb["params"] = params
        return base_event("postback", user, self.token(user), postback=pb)

    def follow_event(self, user: str, unblocked: bool = False) -> dict:
        return base_event("follow", user, self.token(user), follow={"isUnblocked": unblocked})

    def unfollow_event(self, user: str) -> dict:
        return base_event("unfollow", user)

    def say(self, user: str, text: str):
        resp = self.post([self.text_event(user, text)])
        assert resp.status_code == 200, resp.data
        return resp

    def tap(self, user: str, label: str):
        """Tap a quick reply of the last message the user got."""
        action = self.fake.quick_action(user, label)
        resp = self.post([self.postback_event(user, action["data"])])
        assert resp.status_code == 200, resp.data
        return resp

    def follow(self, user: str, unblocked: bool = False):
        resp = self.post([self.follow_event(user, unblocked)])
        assert resp.status_code == 200, resp.data
        return resp

    def unfollow(self, user: str):
        resp = self.post([self.unfollow_event(user)])
        assert resp.status_code == 200, resp.data
        return resp

    def last_text(self, user: str) -> str:
        return self.fake.texts_to(user)[-1]


# -- databases -------------------------------------------------------------------------------

def postgres_admin_url() -> str | None:
    return os.environ.get("TSUNAGARI_TEST_DATABASE_URL") or None


def postgres_reachable(url: str) -> bool:
    try:
        eng = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(sa.text("SELECT 1"))
        eng.dispose()
        return True
    except Exception:
        return False


def create_pg_database(admin_url: str) -> str:
    """A fresh database for this test session, so runs never see each other's rows."""
    name = "tsunagari_t_" + uuid.uuid4().hex[:10]
    eng = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    eng = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


def run_worker(bot) -> None:
    """Let the worker send everything due, as passes of `flask --app bot worker` would."""
    from bot.delivery import worker
    while worker.run_once(bot):
        pass


def card(fake, user: str) -> dict:
    """The last card (flex bubble; the first of a carousel) the fake LINE API got for `user`."""
    msg = [m for m in fake.messages_to(user) if m["type"] == "flex"][-1]
    c = msg["contents"]
    return c["contents"][0] if c.get("type") == "carousel" else c


def buttons(bubble: dict) -> dict[str, str]:
    """label -> postback data of a bubble's footer buttons."""
    return {b["action"]["label"]: b["action"]["data"] for b in bubble.get("footer", {}).get("contents", [])}


def ref_of(db, model, ident: int) -> str:
    """The reference a button drawn now would carry for that record (bot.core.refs), for tests that
    write postback data by hand."""
    from bot.core import refs
    with db.session() as s:
        return refs.ref(s.get(model, ident))


def add_resident(db, user: str, name: str = "Taro", locale: str = "en", area: str | None = "minato",
                 association: str | None = None) -> None:
    """A resident who has joined, as the onboarding flow leaves them (locale, area, nickname,
    consent, the association, the rich menu of their language queued), written through the
    same services without the five webhooks. Tests of onboarding itself use `joined_http`."""
    from bot import services
    from bot.core.db import utcnow
    from bot.core.models import Area, Association
    from bot.services import residents, richmenu

    now = utcnow()
    with db.session() as s:
        r = residents.get_or_create(s, user, "line", now, locale)
        r.locale = locale
        r.area_id = s.scalar(sa.select(Area.id).where(Area.code == area)) if area else None
        r.nickname = name
        r.consent_at = now
        if association:
            assoc = s.scalar(sa.select(Association).where(Association.join_code == association))
            residents.join_association(s, r, assoc.id, now)
        s.flush()
        if locale != "ja":
            services.apply(s, richmenu.link_later(s, r), "test")


class Gunicorn:
    """The app under gunicorn (sync workers, as in production) on a test's database and fake LINE
    API: `Gunicorn(tmp_path, db_url, fake, REPLY_RECORD_MS="0").start()`, then `post(body)`,
    `stop()` (SIGTERM: a normal exit) or `kill()` (SIGKILL: the process dies)."""

    ROOT = Path(__file__).resolve().parent.parent

    def __init__(self, tmp_path: Path, db_url: str, fake, workers: int = 2, **env: str):
        from tests.conftest import TEST_SECRET_KEY

        self.tmp_path = tmp_path
        self.workers = workers
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "DATABASE_URL", "FLASK_"))}
        self.env.update(LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN=fake.token, LINE_API_BASE_URL=fake.url,
                        DATABASE_URL=db_url, FLASK_SECRET_KEY=TEST_SECRET_KEY, **env)
        self.port = 0
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Gunicorn":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        conf = self.tmp_path / "gunicorn.conf.py"
        conf.write_text("")  # not the project's: no dictionary to load first
        self.log = self.tmp_path / "gunicorn.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(conf), "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}",
             "--chdir", str(self.ROOT), "bot:create_app()"],
            env=self.env, cwd=self.tmp_path, stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"),
            start_new_session=True,
        )
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise AssertionError("gunicorn did not start: " + self.log.read_text()[-2000:])

    def post(self, body: bytes, **headers: str) -> tuple[int, bytes, http.client.HTTPResponse]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("POST", "/callback", body=body,
                     headers={"X-Line-Signature": sign(body), "Content-Type": "application/json", **headers})
        resp = conn.getresponse()
        return resp.status, resp.read(), resp

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the arbiter and its workers at once
            self.proc.wait(15)
