"""Safe by default with residents' data (issue 15, part B): CSV exports that cannot run as
formulas, an access log without keys or queries, old (replayed) webhook events refused, a
circular counted as read only when someone reads it, a deleted resident scrubbed from other
residents' messages and from SQLite's files, and the smaller boundaries (.ics, garbage import
redirects, LINE user IDs)."""
from __future__ import annotations

import csv
import functools
import http.server
import io
import json
import logging
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from bot.core import csvout
from bot.core.db import Base, utcnow
from bot.core.models import (Association, CircularRecipient, Event, HelpRequest, Household, InboundEvent, Membership,
                        OutboxMessage, Resident)
from tests import support
from tests.console_support import sign_in
from tests.support import base_event, buttons, card, run_worker

ROOT = Path(__file__).resolve().parent.parent
FORMULA = '=HYPERLINK("//e.x")'  # fits a nickname (20 characters)
BROWSER = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Mobile/15E148 Safari Line/14.0.0")
LINE_PREVIEW = "facebookexternalhit/1.1;line-poker/1.0"

MEMBER = "U" + "5a" * 16
NEIGHBOUR = "U" + "5b" * 16
LEAVER = "U" + "5c" * 16


def rows_of(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the BOM
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def formula_cells(rows: list[list[str]]) -> list[str]:
    """Cells a spreadsheet would run."""
    return [c for row in rows for c in row if c[:1] in ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")]


def members_of_asahi(db, nicknames: dict[str, str]) -> int:
    """Residents (user -> nickname), in ASAHI-2026, one household each. Returns the association id."""
    with db.session() as s:
        a = s.scalar(select(Association).where(Association.join_code == "ASAHI-2026"))
        for i, (user, nick) in enumerate(nicknames.items()):
            r = s.scalar(select(Resident).where(Resident.line_user_id == user))
            if r is None:
                r = Resident(line_user_id=user, channel="line", nickname=nick, locale="ja", following=True,
                             consent_at=utcnow())
                s.add(r)
                s.flush()
            h = Household(association_id=a.id, label=f"{i + 1}番", han="1班")
            s.add(h)
            s.flush()
            s.add(Membership(resident_id=r.id, association_id=a.id, household_id=h.id, role="member"))
        return a.id


def send_circular(runner, *extra) -> int:
    result = runner.invoke(args=["circulars", "send", "--association", "ASAHI-2026", "--title", "清掃のお知らせ",
                                 "--body", "日曜9時から清掃します。", *extra])
    assert result.exit_code == 0, result.output
    return int(result.output.split()[1])


# -- 2. one CSV writer, no formulas ----------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("=1+2", "'=1+2"), ("+81 90", "'+81 90"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), ("＝1+1", "'＝1+1"), ("花子", "花子"), ("a=b", "a=b"), ("", ""), (None, ""), (3, 3), (-2, -2),
])
def test_a_cell_a_spreadsheet_would_run_is_text(value, expected):
    assert csvout.cell(value) == expected


def test_every_csv_the_project_writes_goes_through_csvout():
    offenders = []
    for folder in ("bot", "handlers", "conversations", "scheduler", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "csvout.py":
                continue
            if re.search(r"csv\.(writer|DictWriter)\(", path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_circular_status_csv_in_the_console_and_the_cli_runs_no_formula(accounts, tmp_path):
    app = accounts
    db = app.extensions["tsunagari"].db
    runner = app.test_cli_runner()
    members_of_asahi(db, {MEMBER: FORMULA, NEIGHBOUR: "@evil"})
    cid = send_circular(runner, "--question", "choices:はい,いいえ")
    with db.session() as s:  # answers as residents could type them in other ways
        for row in s.scalars(select(CircularRecipient).where(CircularRecipient.circular_id == cid)):
            row.answer = "+cmd|' /C calc'!A0"
    c = app.test_client()
    assert sign_in(c, "tanaka").status_code == 302
    r = c.get(f"/console/circulars/{cid}/csv")
    assert r.status_code == 200
    console_rows = rows_of(r.data)
    out = tmp_path / "status.csv"
    result = runner.invoke(args=["circulars", "status", str(cid), "--csv", str(out)])
    assert result.exit_code == 0, result.output
    cli_rows = rows_of(out.read_bytes())
    for rows in (console_rows, cli_rows):
        assert rows[0] == ["世帯", "班", "表示名", "既読", "回答", "紙"]
        assert formula_cells(rows) == []
        cells = [c for row in rows for c in row]
        assert "'" + FORMULA in cells and "'@evil" in cells and "'+cmd|' /C calc'!A0" in cells


def test_event_attendees_csv_from_the_cli_and_the_console_runs_no_formula(accounts, tmp_path):
    from bot.services import events
    app = accounts
    db = app.extensions["tsunagari"].db
    aid = members_of_asahi(db, {MEMBER: FORMULA, NEIGHBOUR: "-1+1"})
    with db.session() as s:
        ev = Event(title="芋煮会", place="河川敷", starts_at=utcnow() + timedelta(days=5), capacity=None,
                   audience="association", association_id=aid, created_at=utcnow())
        s.add(ev)
        s.flush()
        event_id = ev.id
        for user, note in ((MEMBER, "@SUM(1+1)*cmd|' /C calc'!A0"), (NEIGHBOUR, "＝1+1")):
            r = s.scalar(select(Resident).where(Resident.line_user_id == user))
            events.sign_up(s, event_id, r, party_size=2, note=note, now=utcnow())
    out = tmp_path / "attendees.csv"
    result = app.test_cli_runner().invoke(args=["events", "attendees", str(event_id), "--csv", str(out)])
    assert result.exit_code == 0, result.output
    cli_rows = rows_of(out.read_bytes())
    assert cli_rows[0] == ["表示名", "人数", "状態", "回答"]
    c = app.test_client()
    assert sign_in(c, "tanaka").status_code == 302
    console_rows = rows_of(c.get(f"/console/events/{event_id}/attendees.csv").data)
    for rows in (cli_rows, console_rows):
        assert formula_cells(rows) == []
        cells = [c for row in rows for c in row]
        assert "'" + FORMULA in cells and "'-1+1" in cells and "'＝1+1" in cells
        assert "'@SUM(1+1)*cmd|' /C calc'!A0" in cells and "2" in cells  # numbers stay numbers


# -- 7. the access log ---------------------------------------------------------------------------

@pytest.mark.parametrize("uri,expected", [
    ("/c/AbCdEfGhIjKlMnOpQrStUvWxYz012", "/c/[token]"),
    ("/c/AbCdEfGhIjKlMnOpQrStUvWxYz012?utm=line", "/c/[token]?[redacted]"),
    ("/console/link/q1w2e3r4t5y6u7i8o9p0-_", "/console/link/[token]"),
    ("/m/ZyXwVuTsRqPoNmLkJiHgFe.jpg", "/m/[token].jpg"),
    ("/m/ZyXwVuTsRqPoNmLkJiHgFe/preview.jpg", "/m/[token]/preview.jpg"),
    ("/console/residents?q=%E8%8A%B1%E5%AD%90", "/console/residents?[redacted]"),
    ("https://bot.example.jp/console/residents?q=hanako", "https://bot.example.jp/console/residents?[redacted]"),
    ("/some/new/path/abcdefghijklmnopqrstuvwxyz0123", "/some/new/path/[token]"),
    ("/callback", "/callback"), ("/healthz", "/healthz"), ("/static/console.css", "/static/console.css"),
    ("/console/circulars/12/csv", "/console/circulars/12/csv"), ("-", "-"),
])
def test_redacted_paths_keep_their_shape_without_keys_or_queries(uri, expected):
    from bot.web.accesslog import redact

    assert redact(uri) == expected


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _procfile_web() -> str:
    for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("web:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no web process in the Procfile")


def test_real_gunicorn_with_the_procfile_logs_no_token_or_query(tmp_path):
    db_file = tmp_path / "web.db"
    engine = sa.create_engine(f"sqlite:///{db_file}")
    Base.metadata.create_all(engine)
    engine.dispose()
    port = _free_port()
    env = dict(os.environ, WEB_CONCURRENCY="1", HOST="127.0.0.1", PORT=str(port),
               DATABASE_URL=f"sqlite:///{db_file}", FLASK_SECRET_KEY="k" * 48, WEBCHAT_ENABLED="0",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    for name in ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "PUBLIC_BASE_URL"):
        env.pop(name, None)
    log = tmp_path / "web.log"
    secrets = {"circular": "Circ0Token1Secret2abcdefgh", "link": "Link0Token1Secret2abcdefgh",
               "photo": "Photo0Token1Secret2abcdef", "query": "hanako-secret", "referer": "Ref0Token1Secret2abcdefg"}
    with log.open("wb") as out:
        # The Procfile's web command, as honcho runs it (a shell expands ${PORT} and the rest).
        proc = subprocess.Popen(["bash", "-c", "exec " + _procfile_web()], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(150):
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=1).read()
                    break
                except OSError:
                    if proc.poll() is not None:
                        break
                    time.sleep(0.1)
            else:
                pytest.fail("gunicorn did not start")
            assert proc.poll() is None, log.read_text(errors="replace")
            for path in (f"/c/{secrets['circular']}", f"/console/link/{secrets['link']}",
                         f"/m/{secrets['photo']}.jpg", f"/console/residents?q={secrets['query']}",
                         f"/healthz?who={secrets['query']}"):
                req = urllib.request.Request(base + path, headers={
                    "Referer": f"{base}/c/{secrets['referer']}?q={secrets['query']}", "User-Agent": BROWSER})
                try:
                    urllib.request.urlopen(req, timeout=5).read()
                except urllib.error.HTTPError:
                    pass  # 404s and redirects to sign in are logged all the same
            time.sleep(0.5)
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=10)
    text = log.read_text(encoding="utf-8", errors="replace")
    access = [x for x in text.splitlines() if '"GET ' in x]
    assert len(access) >= 5, text
    assert any('"GET /c/[token] HTTP/1.1" 404' in x for x in access), text
    assert any("/console/link/[token]" in x for x in access) and any("/m/[token].jpg" in x for x in access)
    assert any("/console/residents?[redacted]" in x for x in access)
    for secret in secrets.values():
        assert secret not in text
    assert "?q=" not in text and "?who=" not in text


def test_an_unhandled_error_logs_the_redacted_path(app, caplog):
    with app.test_request_context("/c/Secret0Token1abcdefghijk?q=hanako"):
        try:
            raise RuntimeError("a bug")
        except RuntimeError:
            app.log_exception(sys.exc_info())
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/c/[token]" in logged and "Secret0Token1" not in logged and "hanako" not in logged


# -- 8. replays ------------------------------------------------------------------------------------

def count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def aged(ev: dict, seconds: float) -> dict:
    return dict(ev, timestamp=int((time.time() - seconds) * 1000))


def test_an_event_older_than_the_window_gets_no_reply_and_changes_nothing(line, db, fake_line, clock, caplog):
    caplog.set_level(logging.INFO)
    old = aged(line.text_event(MEMBER, "hello"), 3601)
    follow = aged(line.follow_event(MEMBER), 2 * 86400)
    assert line.post([old, follow]).status_code == 200
    assert fake_line.deliveries == []
    assert count(db, InboundEvent) == 0 and count(db, Resident) == 0 and count(db, OutboxMessage) == 0
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "refused" in logged and "WEBHOOK_MAX_EVENT_AGE_SECONDS" in logged
    assert MEMBER not in logged and "hello" not in logged
    # a redelivery inside the window is handled as before
    late = aged(line.follow_event(MEMBER), 1800)
    late["deliveryContext"] = {"isRedelivery": True}
    assert line.post([late]).status_code == 200
    assert len(fake_line.deliveries) == 1


def test_a_delivery_replayed_after_the_inbox_was_tidied_is_not_handled_again(line, db, bot, fake_line, clock):
    from scheduler.housekeeping import tidy

    body = json.dumps({"destination": "Ubot", "events": [line.follow_event(MEMBER)]}).encode()
    assert line.post([], body=body).status_code == 200
    assert len(fake_line.deliveries) == 1
    clock.shift(timedelta(days=8))
    with db.session() as s:
        assert tidy(s, utcnow(), 180, bot.config.webhook_max_event_age_seconds)["inbox"] == 1
    assert line.post([], body=body).status_code == 200  # the same signed bytes, captured
    assert len(fake_line.deliveries) == 1
    assert count(db, InboundEvent) == 0


def test_the_window_is_configurable_and_the_inbox_outlives_it(app_factory, fake_line, db, clock):
    from bot.core.config import Config
    from scheduler.housekeeping import tidy

    assert Config.from_env({"WEBHOOK_MAX_EVENT_AGE_SECONDS": "600"}).webhook_max_event_age_seconds == 600
    assert Config.from_env({}).webhook_max_event_age_seconds == 3600
    ten_days = 10 * 86400
    app = app_factory(webhook_max_event_age_seconds=ten_days)
    line = support.Line(app.test_client(), fake_line)
    body = json.dumps({"destination": "Ubot", "events": [aged(line.follow_event(MEMBER), 2 * 86400)]}).encode()
    assert line.post([], body=body).status_code == 200
    assert len(fake_line.deliveries) == 1  # two days old: within this window
    clock.shift(timedelta(days=9))
    with db.session() as s:  # the row stays while the event could still be accepted
        assert tidy(s, utcnow(), 180, ten_days)["inbox"] == 0
    assert line.post([], body=body).status_code == 200
    assert len(fake_line.deliveries) == 1
    clock.shift(timedelta(days=3))
    with db.session() as s:
        assert tidy(s, utcnow(), 180, ten_days)["inbox"] == 1
    assert line.post([], body=body).status_code == 200  # now past the window: refused
    assert len(fake_line.deliveries) == 1


# -- 9. read marks -----------------------------------------------------------------------------------

@pytest.fixture
def circular_token(app, db, runner, clock):
    members_of_asahi(db, {MEMBER: "花子"})
    cid = send_circular(runner)
    with db.session() as s:
        return s.scalar(select(CircularRecipient.token).where(CircularRecipient.circular_id == cid,
                                                              CircularRecipient.resident_id.is_not(None)))


def read_at(db, token):
    with db.session() as s:
        return s.scalar(select(CircularRecipient.read_at).where(CircularRecipient.token == token))


def test_fetching_the_circular_page_does_not_mark_it_read(client, db, circular_token):
    for ua in (BROWSER, LINE_PREVIEW, "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", None):
        headers = {"User-Agent": ua} if ua else {}
        page = client.get(f"/c/{circular_token}", headers=headers)
        assert page.status_code == 200
        assert client.head(f"/c/{circular_token}", headers=headers).status_code == 200
    assert read_at(db, circular_token) is None
    html = page.get_data(as_text=True)
    assert "清掃のお知らせ" in html and "日曜9時から清掃します。" in html
    assert f'<form class="mark" id="mark-read" method="post" action="/c/{circular_token}">' in html
    assert "読みました" in html and 'id="read-note" role="status" hidden' in html
    # the script is a file (a Content-Security-Policy forbids inline scripts), and it posts back
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/circular.js" defer>']
    js = client.get("/static/circular.js")
    assert js.status_code == 200 and 'method: "POST"' in js.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"


def test_the_read_button_marks_it_read(client, db, circular_token):
    r = client.post(f"/c/{circular_token}", data={"how": "button"},
                    headers={"User-Agent": BROWSER, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/c/{circular_token}")
    assert read_at(db, circular_token) is not None
    html = client.get(f"/c/{circular_token}", headers={"User-Agent": BROWSER}).get_data(as_text=True)
    assert 'id="read-note" role="status">' in html and "mark-read" not in html and "<script" not in html


def test_a_browser_that_shows_the_page_marks_it_read(client, db, circular_token):
    r = client.post(f"/c/{circular_token}", data={"how": "view"}, headers={"User-Agent": BROWSER})
    assert r.status_code == 204
    assert read_at(db, circular_token) is not None


def test_previewers_and_other_sites_cannot_mark_it_read(client, db, circular_token):
    for ua in (LINE_PREVIEW, "WhatsApp/2.23.20.0", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
               "curl/8.5.0", None):
        headers = {"User-Agent": ua} if ua else {"User-Agent": ""}
        assert client.post(f"/c/{circular_token}", data={"how": "view"}, headers=headers).status_code == 204
    r = client.post(f"/c/{circular_token}", data={"how": "button"},
                    headers={"User-Agent": BROWSER, "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    assert read_at(db, circular_token) is None
    assert client.post("/c/not-a-real-token-at-all-000", headers={"User-Agent": BROWSER}).status_code == 404


# -- 10. a deleted resident lingers nowhere ------------------------------------------------------------

LEAVER_NAME = "Zq9Yolanda"
LEAVER_WORDS = "秘密の合言葉 Zq9 relay words"
OFFER_WORDS = "Zq9 offer note: I can come at 9"
REQUEST_WORDS = "秘密の依頼: 棚を運んでください"


def _needles() -> list[bytes]:
    out = []
    for text in (LEAVER, LEAVER_NAME, "秘密の合言葉", "Zq9 offer note", "秘密の依頼"):
        out += [text.encode("utf-8"), json.dumps(text)[1:-1].encode("ascii")]
    return sorted(set(out))


def _mentions(db, needles: list[str]) -> list[str]:
    found = []
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                text = json.dumps([str(v) for v in row], ensure_ascii=False)
                found += [f"{table.name}: {n}" for n in needles if n in text]
    return found


def test_deleting_my_data_scrubs_my_name_and_words_from_my_neighbours_messages(line, fake_line, bot, db, joined, clock,
                                                                               is_postgres, db_url):
    from tests.test_mutual_aid import ask, card_buttons, last_flex, press

    joined(NEIGHBOUR, name="Nina")
    joined(LEAVER, name=LEAVER_NAME)
    ask(line, fake_line, user=NEIGHBOUR, text="Carry a table to the hall")
    # the leaver asks too; the neighbour, browsing, is shown it (a reply: their name and words)
    ask(line, fake_line, user=LEAVER, text=REQUEST_WORDS)
    line.say(NEIGHBOUR, "offer help")
    assert "秘密の依頼" in json.dumps(fake_line.messages_to(NEIGHBOUR)[-1], ensure_ascii=False)
    # the leaver offers with a note; the neighbour gets the offer card (sent) and accepts
    line.say(LEAVER, "offer help")
    press(line, LEAVER, card_buttons(last_flex(fake_line, LEAVER))["I can help"])
    line.say(LEAVER, OFFER_WORDS)
    run_worker(bot)
    press(line, NEIGHBOUR, card_buttons(last_flex(fake_line, NEIGHBOUR))["Yes, please"])
    run_worker(bot)
    # the leaver writes; the message to the neighbour is queued, not yet sent
    press(line, LEAVER, card_buttons(last_flex(fake_line, LEAVER))["Message Nina"])
    line.say(LEAVER, LEAVER_WORDS)
    with db.session() as s:
        leaver_id = s.scalar(select(Resident.id).where(Resident.line_user_id == LEAVER))
        queued = s.scalar(select(OutboxMessage).where(OutboxMessage.subject_resident_id == leaver_id,
                                                      OutboxMessage.status == "pending"))
        assert queued is not None and LEAVER_WORDS in json.dumps(queued.payload, ensure_ascii=False)
        queued_id = queued.id
    assert _mentions(db, [LEAVER_NAME, "秘密の合言葉", "Zq9 offer note", "秘密の依頼"])  # in the neighbour's messages
    before = len(fake_line.messages_to(NEIGHBOUR))

    line.say(LEAVER, "delete my data")
    line.tap(LEAVER, "Yes, delete")
    run_worker(bot)
    assert len(fake_line.messages_to(NEIGHBOUR)) == before + 1  # told the helper is gone; the message is not
    assert LEAVER_WORDS not in json.dumps(fake_line.messages_to(NEIGHBOUR)[-1], ensure_ascii=False)
    with db.session() as s:
        row = s.get(OutboxMessage, queued_id)
        assert (row.status, row.payload, row.subject_resident_id) == ("cancelled", [], None)
    assert _mentions(db, [LEAVER, LEAVER_NAME, "秘密の合言葉", "Zq9 offer note", "秘密の依頼"]) == []
    with db.session() as s:  # the neighbour's own request stays
        assert s.scalar(select(HelpRequest.description)) == "Carry a table to the hall"

    if is_postgres:
        return
    # SQLite: the bytes are gone from the database file and from its WAL, not only from the rows
    path = Path(db_url[len("sqlite:///"):])
    files = [path, Path(str(path) + "-wal")]
    for f in files:
        raw = f.read_bytes() if f.exists() else b""
        assert [n for n in _needles() if n in raw] == [], f.name
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1


def test_a_deletion_stays_in_the_wal_until_the_checkpoint_truncates_it(tmp_path):
    """Why the checkpoint: even with secure_delete, SQLite's WAL keeps the page as it was."""
    from bot.core.db import Database

    path = tmp_path / "wal.db"
    db = Database(f"sqlite:///{path}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    with db.session() as s:
        s.execute(sa.text("CREATE TABLE t (x TEXT)"))
        s.execute(sa.text("INSERT INTO t VALUES (:x)"), {"x": LEAVER_NAME})
    with db.session() as s:
        s.execute(sa.text("DELETE FROM t"))
    wal = Path(str(path) + "-wal")
    assert LEAVER_NAME.encode() in wal.read_bytes()
    assert db.checkpoint() is True
    assert wal.read_bytes() == b"" and LEAVER_NAME.encode() not in path.read_bytes()
    db.dispose()


# -- 11. the smaller ones ----------------------------------------------------------------------------

def test_ics_has_no_bare_cr_or_control_characters():
    from bot.core.ics import event_ics

    ev = Event(id=7, title="餅つき\rBEGIN:VALARM\x0b", place="公民館\r\nATTACH:http://evil\x00\x1b[31m",
               description="一行目\n二行目\u2028三\x85四", starts_at=utcnow(), ends_at=None, status="scheduled")
    ics = event_ics(ev, host="bot\r\nX:1")
    lines = ics.split("\r\n")
    assert lines[-1] == "" and all("\r" not in x and "\n" not in x for x in lines)
    assert not [ch for ch in ics.replace("\r\n", "") if ord(ch) < 32 or 0x7f <= ord(ch) <= 0x9f]
    props = [x.split(":", 1)[0].split(";")[0] for x in lines[:-1] if not x.startswith(" ")]
    assert "BEGIN:VALARM" not in props and "ATTACH" not in props and "X" not in props
    assert props.count("BEGIN") == 2 and props.count("SUMMARY") == 1
    unfolded = ics.replace("\r\n ", "")
    assert "SUMMARY:餅つき\\nBEGIN:VALARM\r\n" in unfolded  # a bare CR is an escaped line break
    assert "LOCATION:公民館\\nATTACH:http://evil[31m\r\n" in unfolded
    assert "DESCRIPTION:一行目\\n二行目\\n三\\n四\r\n" in unfolded


class _Redirect(http.server.SimpleHTTPRequestHandler):
    target = ""

    def do_GET(self):
        if self.path.startswith("/moved/"):
            self.send_response(302)
            self.send_header("Location", self.target + self.path[len("/moved"):])
            self.end_headers()
        else:
            super().do_GET()

    def log_message(self, format, *args):  # noqa: A002
        pass


@pytest.fixture
def two_hosts():
    """A city's server (on 127.0.0.1) and another host (reached as localhost)."""
    data = ROOT / "tests" / "data" / "5374"
    seen: list[str] = []

    class Other(_Redirect):
        def do_GET(self):
            seen.append(self.path)
            super().do_GET()

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Other, directory=str(data)))
    city = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Redirect, directory=str(data)))
    for server in (other, city):
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield city, other, seen
    for server in (other, city):
        server.shutdown()
        server.server_close()


def test_garbage_import_follows_redirects_only_within_the_host_given(two_hosts, app, runner):
    from bot.core.garbage5374 import CalendarError, load_url

    city, other, seen = two_hosts
    city_url = f"http://127.0.0.1:{city.server_address[1]}"
    _Redirect.target = city_url  # on the same host: followed
    assert load_url(city_url + "/moved").areas
    _Redirect.target = f"http://localhost:{other.server_address[1]}"  # another host
    with pytest.raises(CalendarError, match="redirects to .*another host"):
        load_url(city_url + "/moved")
    _Redirect.target = f"http://127.0.0.1:{other.server_address[1]}"  # same address, another port
    with pytest.raises(CalendarError, match="another host"):
        load_url(city_url + "/moved")
    _Redirect.target = "file:///etc"
    with pytest.raises(CalendarError, match="another host or scheme"):
        load_url(city_url + "/moved")
    _Redirect.target = f"http://localhost:{other.server_address[1]}"
    result = runner.invoke(args=["garbage", "import", "--url", city_url + "/moved"])
    assert result.exit_code != 0 and "only redirects within the host given are followed" in result.output
    assert seen == []  # the other host was never asked


@pytest.mark.parametrize("user_id", ["U" + "a" * 5000, "U" + "a" * 31, "U" + "A" * 32, "Uxyz", "web-demo-new",
                                     "U" + "a" * 32 + "\n"])
def test_events_with_a_user_id_line_does_not_give_are_ignored(line, db, fake_line, caplog, user_id):
    caplog.set_level(logging.INFO)
    bad = [line.follow_event(user_id), line.text_event(user_id, "hello")]
    good = line.follow_event(MEMBER)
    assert line.post([*bad, good]).status_code == 200
    with db.session() as s:
        assert list(s.scalars(select(Resident.line_user_id))) == [MEMBER]
        assert s.scalar(select(func.count()).select_from(InboundEvent)) == 1
    assert [d.to for d in fake_line.deliveries] == [[MEMBER]]
    if user_id:
        assert user_id not in "\n".join(r.getMessage() for r in caplog.records)


def test_a_group_event_with_a_malformed_group_id_is_ignored(line, db, fake_line):
    ev = base_event("join", None)
    ev["source"] = {"type": "group", "groupId": "C" + "1" * 5000}
    ev["replyToken"] = line.token("C" + "1" * 5000)
    assert line.post([ev]).status_code == 200
    assert fake_line.deliveries == [] and count(db, InboundEvent) == 0


def test_the_web_chat_takes_only_its_own_resident_ids(app_factory, db):
    app = app_factory(webchat_enabled=True)
    client = app.test_client()
    for resident in ("x" * 5001, "U" + "f" * 32, "web-demo-new\n"):
        assert client.post("/chat/api/send", json={"resident": resident, "text": "hi"}).status_code == 404
    assert count(db, Resident) == 0
