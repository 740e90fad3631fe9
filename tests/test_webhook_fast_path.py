"""LINE's deliveries take a fast path around Flask's request machinery (`bot.web.webhook.FastPath`):
the same answers, headers and logs as the Flask route, and Flask still answers what the fast
path does not take (a chunked body, one too large, other paths)."""
from __future__ import annotations

import http.client
import logging
from io import BytesIO

import pytest
from sqlalchemy import func, select, text

from bot.core.models import InboundEvent, OutboxMessage
from tests import support

USER = "U" + "f" * 32


def _replies(fake_line, user: str) -> list:
    return [d for d in fake_line.deliveries if d.kind == "reply" and user in d.to]


def _count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_delivery_skips_flasks_hooks_and_a_chunked_one_goes_through_flask(app, line, fake_line, db):
    seen = []
    app.before_request(lambda: seen.append("flask"))
    body = line.say_body(USER, "hello")
    resp = line.post([], body=body)
    assert resp.status_code == 200 and resp.get_data() == b"OK"
    assert seen == []  # answered before Flask
    assert _replies(fake_line, USER)  # and answered in full: recorded, handled, replied

    # No Content-Length (chunked): Flask's route reads it, and answers the same.
    chunked = line.say_body(USER, "hello again")
    resp = line.client.post("/callback", input_stream=BytesIO(chunked),
                            headers={"X-Line-Signature": support.sign(chunked), "Content-Type": "application/json"},
                            environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""})
    assert resp.status_code == 200 and resp.get_data() == b"OK"
    assert seen == ["flask"]
    assert _count(db, InboundEvent) == 2 and len(_replies(fake_line, USER)) == 2


def test_the_fast_path_answers_with_flasks_security_headers(app, line, client):
    fast = line.post([], body=line.say_body(USER, "hello"))
    flask = client.get("/healthz")  # the after-request hook's headers, for a path that is not kept from caches
    for name in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"):
        assert fast.headers[name] == flask.headers[name], name
    assert "Cache-Control" not in fast.headers and "Strict-Transport-Security" not in fast.headers
    assert fast.headers["Content-Type"] == "text/html; charset=utf-8"


def test_behind_a_trusted_proxy_on_https_the_fast_path_sends_hsts(app_factory, fake_line):
    app = app_factory(trusted_proxies=1, public_base_url="https://bot.example.jp")
    line = support.Line(app.test_client(), fake_line)
    resp = line.post([], body=line.say_body(USER, "hello"), headers={"X-Forwarded-Proto": "https"})
    assert resp.status_code == 200
    assert resp.headers["Strict-Transport-Security"] == app.test_client().get(
        "/healthz", headers={"X-Forwarded-Proto": "https"}).headers["Strict-Transport-Security"]
    assert "https://bot.example.jp" in resp.headers["Content-Security-Policy"]  # the photos' origin, as Flask's


def test_refusals_on_the_fast_path(line, db, app):
    body = line.say_body(USER, "hello")
    assert line.post([], body=body, headers={"X-Line-Signature": support.sign(b"other")}).status_code == 400
    assert line.post([], body=b"{not json").status_code == 400
    big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    assert line.post([], body=big).status_code == 413  # Flask's answer
    short = line.client.post("/callback", input_stream=BytesIO(body[:-5]), headers={"X-Line-Signature": support.sign(body)},
                             environ_overrides={"CONTENT_LENGTH": str(len(body))})
    assert short.status_code == 400  # the sender went away half-way: nothing read, nothing recorded
    assert _count(db, InboundEvent) == 0


def test_an_error_on_the_fast_path_is_a_logged_500_and_raises_when_testing(app, line, db, caplog):
    with db.engine.begin() as conn:  # the inbox gone: the event can be neither handled nor recorded
        conn.execute(text("ALTER TABLE inbound_event RENAME TO inbound_event_away"))
    try:
        with pytest.raises(Exception):
            line.post([line.text_event(USER, "hello")])  # TESTING: raised, as Flask does
        app.config["TESTING"] = False
        with caplog.at_level(logging.ERROR):
            resp = line.post([line.text_event(USER, "hello")])
        assert resp.status_code == 500  # LINE will deliver it again
        assert any(r.getMessage() == "Exception on /callback [POST]" and r.exc_info for r in caplog.records)
    finally:
        db.dispose()
        with db.engine.begin() as conn:  # (PostgreSQL: the next test's database is this one, emptied)
            conn.execute(text("ALTER TABLE inbound_event_away RENAME TO inbound_event"))


# -- under gunicorn ----------------------------------------------------------------------------------

def test_under_gunicorn_a_delivery_is_answered_and_a_chunked_one_too(app, db_url, fake_line, line, db, tmp_path):
    server = support.Gunicorn(tmp_path, db_url, fake_line, REPLY_RECORD_MS="0").start()
    try:
        users = ["U" + c * 32 for c in "0123456789"]
        for user in users:  # ten residents, each their own connection and event
            status, data, resp = server.post(line.say_body(user, "hello"))
            assert (status, data) == (200, b"OK")
            assert resp.getheader("X-Content-Type-Options") == "nosniff"
        # A chunked body: gunicorn gives it to Flask's route, which reads it to the end.
        body = line.say_body(USER, "hello")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("POST", "/callback", body=iter([body[:40], body[40:]]), encode_chunked=True,
                     headers={"X-Line-Signature": support.sign(body), "Content-Type": "application/json",
                              "Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"OK")
    finally:
        server.stop()
    for user in users + [USER]:
        assert len(_replies(fake_line, user)) == 1, user  # each answered once, by reply
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(InboundEvent)) == 11
        assert set(s.scalars(select(OutboxMessage.status))) == {"sent"}
