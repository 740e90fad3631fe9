"""The local web chat's API: the same dispatcher, answers in the transcript, pushes too."""
from __future__ import annotations

import base64
import io
import re
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import func, select

from bot.cli import demo
from bot.cli.demo import seed
from bot.core import timefmt
from bot.core.db import utcnow
from bot.core.i18n import t
from bot.core.models import ConversationState, Media, Resident, WebChatMessage
from bot.core.replies import DateQuestion, Text, to_dict
from bot.delivery import outbox, worker
from bot.web import chat_dates, webchat
from handlers.circulars import COMPOSE


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


# -- new residents, history, photos, stickers, locations, deletion, dates (issue 21) -------------

@pytest.fixture
def events_seen(bot):
    """Every Inbound the dispatcher is handed, as LINE's webhook would hand it."""
    seen = []
    original = bot.dispatch

    def spy(s, config, ev, now):
        seen.append(ev)
        return original(s, config, ev, now)

    bot.dispatch = spy
    yield seen
    bot.dispatch = original


def png(size=(40, 30)) -> str:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def test_new_resident_slots_up_to_the_cap(chat, db):
    made = [chat.post("/chat/api/new", json={}) for _ in range(demo.MAX_NEW - 1)]
    assert [r.status_code for r in made] == [200] * (demo.MAX_NEW - 1)
    assert made[0].get_json() == {"id": "web-demo-new-2", "label": t("ja", webchat.UI["new_resident"])}
    refused = chat.post("/chat/api/new", json={})
    assert refused.status_code == 409 and "20" in refused.get_json()["error"]
    assert chat.post("/chat/api/new", data="x").status_code == 415
    # a new slot has not joined: following it starts onboarding, as adding the bot in LINE does
    r = chat.send(resident="web-demo-new-2", follow=True)
    assert r.get_json()["messages"][-1]["payload"]["kind"] == "question"
    assert "web-demo-new-20" in chat.get("/chat").get_data(as_text=True)


def test_opening_a_resident_shows_their_latest_history(chat, db):
    chat.send(resident="web-demo-hanako", text="メニュー")
    chat.send(resident="web-demo-hanako", text="やめる")
    data = chat.get("/chat/api/messages?resident=web-demo-hanako&after=0").get_json()
    shown = [m["payload"].get("text") for m in data["messages"] if m["direction"] == "in"]
    assert shown == ["メニュー", "やめる"] and data["joined"] is True
    # a long transcript opens on its latest messages, oldest first
    with db.session() as s:
        rid = s.scalar(select(Resident.id).where(Resident.line_user_id == "web-demo-alex"))
        s.add_all(WebChatMessage(resident_id=rid, direction="in", payload={"kind": "in", "text": f"m{n}"})
                  for n in range(webchat.HISTORY + 30))
    msgs = chat.get("/chat/api/messages?resident=web-demo-alex&after=0").get_json()["messages"]
    assert len(msgs) == webchat.HISTORY and msgs[-1]["payload"]["text"] == f"m{webchat.HISTORY + 29}"
    assert [m["id"] for m in msgs] == sorted(m["id"] for m in msgs)


def test_a_sticker_reaches_the_dispatcher_as_lines_would(chat, events_seen):
    r = chat.send(resident="web-demo-hanako", sticker="thanks")
    (ev,) = events_seen
    assert (ev.kind, ev.message_type, ev.channel, ev.user_id) == ("message", "sticker", "web", "web-demo-hanako")
    msgs = r.get_json()["messages"]
    assert msgs[0]["payload"] == {"kind": "in", "sticker": "🙇", "text": "ありがとう"}
    # the answer LINE's sticker gets (the media route), in はなこ's language
    assert texts(r)[0] == t("ja", "Thank you! I can only read text messages. Please choose from the menu or type a word.")
    assert texts(r)[0] != t("en", "Thank you! I can only read text messages. Please choose from the menu or type a word.")
    assert chat.send(resident="web-demo-hanako", sticker="nope").status_code == 400
    assert len(events_seen) == 1


def test_a_location_reaches_the_dispatcher_and_finds_open_shelters(chat, db, events_seen):
    with db.session() as s:
        demo.seed_shelters(s, utcnow())
    r = chat.send(resident="web-demo-alex", location={"name": "Asahi school", "lat": 35.6915, "lon": 139.75})
    (ev,) = events_seen
    assert (ev.kind, ev.message_type, ev.latitude, ev.longitude) == ("message", "location", 35.6915, 139.75)
    assert r.get_json()["messages"][0]["payload"]["location"] == {"name": "Asahi school", "lat": 35.6915, "lon": 139.75}
    answer = texts(r)[-1]
    assert answer.startswith("Open shelters nearest the place you sent:") and "あさひ小学校" not in answer
    bad = chat.send(resident="web-demo-alex", location={"lat": 91, "lon": 0})
    assert bad.status_code == 400 and bad.get_json()["error"] == t("ja", webchat.UI["place_bad"]) != webchat.UI["place_bad"]
    assert chat.send(resident="web-demo-alex", location={"lat": "x", "lon": 0}).status_code == 400
    assert len(events_seen) == 1


def test_a_photo_outside_a_photo_step_is_only_told(chat, db, events_seen):
    r = chat.post("/chat/api/photo", json={"resident": "web-demo-hanako", "data": png()})
    (ev,) = events_seen
    assert (ev.kind, ev.message_type, ev.media_token) == ("message", "image", None) and ev.message_id
    assert r.get_json()["messages"][0]["payload"]["photo"] is None  # not downloaded, as LINE's are not
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Media)) == 0
    assert chat.post("/chat/api/photo", json={"resident": "web-demo-hanako", "data": "not base64!"}).status_code == 400
    assert chat.post("/chat/api/photo", data="x").status_code == 415


def test_a_photo_at_the_circulars_photo_step_is_stored_and_taken(chat, db, events_seen):
    with db.session() as s:
        demo.seed(s)
    who = "web-demo-kaicho"
    chat.send(resident=who, text=t("ja", COMPOSE).split("|")[0])
    chat.send(resident=who, text="防災倉庫の点検")
    r = chat.send(resident=who, text="倉庫の中身を確認します。")
    no_link = r.get_json()["messages"][-1]["payload"]["choices"][0]
    chat.send(resident=who, postback={"data": no_link["data"], "display": no_link["label"]})
    assert _step(db, who) == ("compose_circular", "photo")
    r = chat.post("/chat/api/photo", json={"resident": who, "data": png((2000, 1000))})
    assert events_seen[-1].message_type == "image" and events_seen[-1].media_token
    (shown,) = [m["payload"]["photo"] for m in r.get_json()["messages"] if "photo" in m["payload"]]
    assert shown == f"/m/{events_seen[-1].media_token}/preview.jpg" and chat.get(shown).status_code == 200
    assert _step(db, who) == ("compose_circular", "question")
    with db.session() as s:
        assert s.scalar(select(Media.width)) == 1600  # re-encoded as LINE's are


def _step(db, user_id):
    with db.session() as s:
        r = s.scalar(select(Resident).where(Resident.line_user_id == user_id))
        st = s.scalar(select(ConversationState).where(ConversationState.resident_id == r.id))
        return (st.flow, st.step) if st else None


def test_deleting_my_data_is_confirmed_and_the_transcript_goes(chat, db):
    chat.send(resident="web-demo-alex", text="hello there")
    r = chat.send(resident="web-demo-alex", text="delete my data")
    yes = r.get_json()["messages"][-1]["payload"]["choices"][0]
    r = chat.send(resident="web-demo-alex", postback={"data": yes["data"], "display": yes["label"]}, after=999999)
    data = r.get_json()
    assert data["deleted"] is True and data["label"] == t("ja", webchat.UI["new_resident"])
    # only the goodbye is left in the chat, whatever `after` the page sent
    assert [m["payload"]["text"][:26] for m in data["messages"]] == ["Your data has been deleted"]
    with db.session() as s:
        r = s.scalar(select(Resident).where(Resident.line_user_id == "web-demo-alex"))
        assert not r.onboarded and r.nickname is None
        assert len(s.scalars(select(WebChatMessage).where(WebChatMessage.resident_id == r.id)).all()) == 1
    after = chat.get("/chat/api/messages?resident=web-demo-alex&after=0").get_json()
    assert after["joined"] is False and len(after["messages"]) == 1


def test_a_resident_gone_entirely_does_not_break_the_page(chat, db):
    with db.session() as s:
        s.delete(s.scalar(select(Resident).where(Resident.line_user_id == "web-demo-alex")))
    assert chat.get("/chat/api/messages?resident=web-demo-alex&after=0").get_json() == \
        {"messages": [], "joined": False, "gone": True}


def test_date_questions_come_with_dates_written_in_the_residents_language(chat, db):
    with db.session() as s:
        s.scalar(select(Resident).where(Resident.line_user_id == "web-demo-alex")).locale = "en"
    chat.send(resident="web-demo-hanako", text=t("ja", COMPOSE).split("|")[0])  # not a leader: no date here
    question = DateQuestion(text="When?", mode="datetime", data="f=x&s=y&k=z", label="Choose date and time")
    with db.session() as s:
        for user in ("web-demo-alex", "web-demo-hanako"):
            rid = s.scalar(select(Resident.id).where(Resident.line_user_id == user))
            s.add(WebChatMessage(resident_id=rid, direction="out", payload=to_dict(question)))
    today = utcnow().astimezone(ZoneInfo("Asia/Tokyo")).date()
    for user, expected_day, expected_time in (("web-demo-alex", timefmt.show_day(today, "en"), "10:00 AM"),
                                              ("web-demo-hanako", timefmt.show_day(today, "ja"), "10:00")):
        msgs = chat.get(f"/chat/api/messages?resident={user}&after=0").get_json()["messages"]
        picker = msgs[-1]["payload"]["picker"]
        assert picker["dates"][0] == [today.isoformat(), expected_day]
        assert len(picker["dates"]) == chat_dates.DAYS and picker["date"] == today.isoformat()
        assert dict(picker["times"])["10:00"] == expected_time and picker["time"] == "10:00"
    assert re.fullmatch(r"\d{1,2}/\d{1,2}\(.\)", timefmt.show_day(today, "ja"))
    assert re.fullmatch(r"[A-Z][a-z]{2}, [A-Z][a-z]{2} \d{1,2}", timefmt.show_day(today, "en"))
