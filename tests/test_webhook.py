"""The webhook contract: signatures, the inbox, event types, sizes, health."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from bot.core.models import InboundEvent, OutboxMessage, Resident
from tests import support
from tests.support import base_event

USER = "U" + "b" * 32


def count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Line-Signature": "bm90IGEgc2lnbmF0dXJl"},
        {"X-Line-Signature": ""},
        {"X-Line-Signature": support.sign(b"other body")},
    ],
    ids=["wrong", "empty", "for-another-body"],
)
def test_bad_signature_is_400_and_changes_nothing(line, db, fake_line, headers):
    body = json.dumps({"destination": "U", "events": [line.text_event(USER, "hello")]}).encode()
    resp = line.client.post("/callback", data=body, headers=headers)
    assert resp.status_code == 400
    assert count(db, InboundEvent) == 0
    assert count(db, Resident) == 0
    assert fake_line.deliveries == []


def test_missing_signature_is_400(line, db):
    body = json.dumps({"destination": "U", "events": [line.text_event(USER, "hello")]}).encode()
    resp = line.client.post("/callback", data=body)
    assert resp.status_code == 400
    assert count(db, InboundEvent) == 0


def test_signature_made_with_another_channels_secret_is_400(line, db):
    resp = line.post([line.text_event(USER, "hello")], secret="someone-elses-secret")
    assert resp.status_code == 400
    assert count(db, InboundEvent) == 0


def test_verify_request_with_no_events_is_200(line, db):
    resp = line.post([])
    assert resp.status_code == 200
    assert count(db, InboundEvent) == 0


@pytest.mark.parametrize(
    "body",
    [b"not json", b"{}", b'{"events": 5}', b'{"events": [{"no": "type"}]}', b"\xff\xfe\x00", b"[]"],
    ids=["not-json", "no-events", "events-not-list", "event-without-type", "not-utf8", "array"],
)
def test_malformed_body_with_valid_signature_is_400_never_500(line, db, body):
    resp = line.post([], body=body)
    assert resp.status_code == 400
    assert count(db, InboundEvent) == 0


def test_event_without_webhook_event_id_is_refused(line, db):
    ev = line.text_event(USER, "hi")
    del ev["webhookEventId"]
    assert line.post([ev]).status_code == 400


def test_oversized_body_is_413(line, db, app):
    big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    resp = line.post([], body=big)
    assert resp.status_code == 413
    assert count(db, InboundEvent) == 0


def test_unknown_event_types_are_accepted_and_recorded(line, db, fake_line):
    unknown = base_event("somethingNew", USER, extra_field={"a": 1})
    beacon = base_event("beacon", USER, line.token(USER), beacon={"hwid": "d41d8cd98f", "type": "enter"})
    resp = line.post([unknown, beacon])
    assert resp.status_code == 200
    with db.session() as s:
        types = sorted(s.scalars(select(InboundEvent.event_type)))
    assert types == ["other:beacon", "other:somethingNew"]


def test_standby_events_get_no_answer(line, db, fake_line):
    ev = line.text_event(USER, "hello")
    ev["mode"] = "standby"
    assert line.post([ev]).status_code == 200
    assert fake_line.deliveries == []
    assert count(db, OutboxMessage) == 0


def test_redelivered_event_is_handled_exactly_once(line, db, fake_line):
    ev = line.follow_event(USER)
    assert line.post([ev]).status_code == 200
    ev2 = dict(ev, deliveryContext={"isRedelivery": True})
    assert line.post([ev2]).status_code == 200
    assert line.post([ev, ev2]).status_code == 200
    assert len(fake_line.deliveries) == 1
    assert count(db, InboundEvent) == 1
    assert count(db, OutboxMessage) == 1


def test_redelivery_to_another_instance_sharing_the_database_is_handled_once(app_factory, fake_line, db):
    # Two app instances (two hosts) with one database: the inbox's unique id decides.
    first = support.Line(app_factory().test_client(), fake_line)
    second = support.Line(app_factory().test_client(), fake_line)
    ev = first.follow_event(USER)
    assert first.post([ev]).status_code == 200
    assert second.post([dict(ev, deliveryContext={"isRedelivery": True})]).status_code == 200
    assert len(fake_line.deliveries) == 1


def test_twenty_events_in_one_delivery_are_all_answered(line, db, fake_line):
    users = [f"U{i:032d}" for i in range(20)]
    resp = line.post([line.follow_event(u) for u in users])
    assert resp.status_code == 200
    assert count(db, InboundEvent) == 20
    assert {d.to[0] for d in fake_line.deliveries} == set(users)
    assert all(d.kind == "reply" for d in fake_line.deliveries)


def test_events_of_one_delivery_are_handled_in_order(line, fake_line, db):
    # follow, then the answer to the first question, in one delivery
    follow = line.follow_event(USER)
    answer = line.text_event(USER, "English")
    assert line.post([follow, answer]).status_code == 200
    assert "Which area" in line.last_text(USER)


def test_group_join_explains_one_to_one_chat(line, fake_line, db):
    ev = base_event("join", None)
    ev["source"] = {"type": "group", "groupId": "C" + "1" * 32}
    ev["replyToken"] = line.token("C" + "1" * 32)
    assert line.post([ev]).status_code == 200
    text = line.last_text("C" + "1" * 32)
    assert "1対1" in text and "one-to-one" in text
    # a message in the group afterwards gets no answer, and no resident is created for it
    msg = base_event("message", "U" + "9" * 32, line.token("C" + "1" * 32),
                     message={"type": "text", "id": "1", "text": "hello", "quoteToken": "q"})
    msg["source"] = {"type": "group", "groupId": "C" + "1" * 32, "userId": "U" + "9" * 32}
    assert line.post([msg]).status_code == 200
    assert len(fake_line.deliveries) == 1
    assert count(db, Resident) == 0


def test_healthz_is_200_when_database_usable(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json()["database"] == "ok"


def test_healthz_is_503_when_database_unusable(app_factory, tmp_path):
    # A database without the schema (never migrated) is not usable.
    app = app_factory(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert app.test_client().get("/healthz").status_code == 503
    app2 = app_factory(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert app2.test_client().get("/healthz").status_code == 503


def test_webhook_without_a_configured_channel_says_so(app_factory):
    app = app_factory(line_channel_secret=None, line_channel_access_token=None)
    resp = app.test_client().post("/callback", data=b"{}", headers={"X-Line-Signature": "x"})
    assert resp.status_code == 503


def test_a_bug_in_a_handler_still_gets_the_resident_an_apology(line, fake_line, db, joined, monkeypatch):
    import handlers

    joined(USER)

    def broken(ctx):
        raise KeyError("a bug")

    monkeypatch.setattr(handlers, "ROUTES", (handlers.Route("broken", lambda ctx: True, broken),) + handlers.ROUTES)
    resp = line.say(USER, "menu")
    assert resp.status_code == 200
    assert line.last_text(USER) == "Sorry, something went wrong on our side. Please try again in a moment."
    with db.session() as s:
        statuses = list(s.scalars(select(InboundEvent.status).order_by(InboundEvent.id.desc()).limit(1)))
    assert statuses == ["failed"]
