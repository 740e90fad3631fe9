"""The local web chat's API: the same dispatcher, answers in the transcript, pushes too."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.delivery import outbox, worker
from bot.cli.demo import seed
from bot.core.models import Resident
from bot.core.replies import Text


@pytest.fixture
def chat(app, db):
    with db.session() as s:
        seed(s)
    c = app.test_client()

    def send(resident="web-demo-new", **body):
        return c.post("/chat/api/send", json={"resident": resident, **body})

    c.send = send
    return c


def texts(resp):
    return [m["payload"].get("text") for m in resp.get_json()["messages"] if m["direction"] == "out"]


def test_page_lists_demo_residents_in_japanese_by_default(chat):
    html = chat.get("/chat").get_data(as_text=True)
    assert "つながり — ボットを試す" in html
    assert "web-demo-hanako" in html and "はなこ" in html
    assert "Tsunagari — try the bot" in chat.get("/chat?lang=en").get_data(as_text=True)


def test_chat_drives_onboarding_like_line(chat, db):
    r = chat.send(follow=True)
    first = r.get_json()["messages"][-1]["payload"]
    assert first["kind"] == "question"
    english = next(c for c in first["choices"] if c["label"] == "English")
    r = chat.send(postback={"data": english["data"], "display": "English"}, after=0)
    msgs = r.get_json()["messages"]
    assert msgs[-2] == {**msgs[-2], "direction": "in"} and msgs[-2]["payload"]["text"] == "English"
    assert "Which area" in msgs[-1]["payload"]["text"]
    chat.send(text="Minato-machi")
    chat.send(text="Skip")
    chat.send(text="Demo")
    r = chat.send(text="I agree")
    assert any("Thank you, Demo!" in (t or "") for t in texts(r))
    with db.session() as s:
        assert s.scalar(select(Resident).where(Resident.line_user_id == "web-demo-new")).onboarded


def test_messages_endpoint_returns_only_newer_ones(chat):
    r = chat.send(resident="web-demo-alex", text="menu")
    last = r.get_json()["messages"][-1]["id"]
    newer = chat.get(f"/chat/api/messages?resident=web-demo-alex&after={last}").get_json()
    assert newer["messages"] == [] and newer["joined"] is True


def test_pushes_reach_the_chat_through_the_worker(chat, bot, db):
    with db.session() as s:
        rid = s.scalar(select(Resident.id).where(Resident.line_user_id == "web-demo-hanako"))
        outbox.enqueue(s, channel="web", recipients=["web-demo-hanako"], replies=[Text("回覧板が届きました")], resident_id=rid)
    worker.run_once(bot)
    data = chat.get("/chat/api/messages?resident=web-demo-hanako&after=0").get_json()
    assert [m["payload"]["text"] for m in data["messages"]] == ["回覧板が届きました"]


def test_only_demo_residents_can_be_used(chat, db):
    with db.session() as s:
        s.add(Resident(line_user_id="U" + "f" * 32, channel="line"))
    assert chat.send(resident="U" + "f" * 32, text="hi").status_code == 404
    assert chat.send(resident="nobody", text="hi").status_code == 404


def test_bad_requests_are_refused_politely(chat):
    assert chat.post("/chat/api/send", data="text=hi").status_code == 415
    r = chat.send(text="x" * 5001)
    assert r.status_code == 400 and "5,000" in r.get_json()["error"]
    assert chat.send(postback={"data": 5}).status_code == 400
    assert chat.send().status_code == 400


def test_chat_is_off_when_a_line_channel_is_configured(app_factory):
    app = app_factory(webchat_enabled=None)  # a channel is configured in tests
    assert app.test_client().get("/chat").status_code == 404


def test_chat_is_on_by_default_without_a_line_channel(app_factory):
    app = app_factory(webchat_enabled=None, line_channel_secret=None, line_channel_access_token=None)
    assert app.test_client().get("/chat").status_code == 200
