"""Property tests (hypothesis) over every conversation step, the card buttons and the city file.

Whatever a resident sends at any step of any flow (random text, forged or stale postback data,
odd date-picker values, photos, stickers), the webhook answers 200, the event is handled (never
the apology for a crash), the resident gets an answer LINE accepts, nothing is logged at ERROR,
and their conversation is either over or at a step of its flow that still renders. A button
from an earlier step is explained and the current question asked again, the state untouched.
Forged card buttons for other residents' things are refused and change nothing. The city area
file loader turns any JSON into a clear `CityFileError` (or a city the bot can show).

Every step gets a fixed hostile corpus (so none is left to chance) and random answers; every
flow is also walked to its end with hostile text in each answer. One small world (five
residents, two associations, help requests in every state, events, sign-ups, a reminder, a
circular, a garbage calendar) is built once for the module; every example restores it row for
row first, so each starts from the same known state. TSUNAGARI_FUZZ_SCALE=10 searches longer.
"""
from __future__ import annotations

import io
import json
import logging
import os
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st

import conversations
from bot import services
from bot.services import circulars, events, garbage, mutual_aid, reminders, safety
from bot import create_app
from bot.core import garbage5374, refs
from bot.delivery import render_line
from bot.core.areas import CityFileError, load_city
from handlers.context import Ctx
from bot.core.db import Base, utcnow
from bot.core.i18n import SUPPORTED_LOCALES
from bot.delivery.inbound import Inbound
from bot.core.models import (
    Area,
    Association,
    Circular,
    ConversationState,
    Event,
    Household,
    InboundEvent,
    Membership,
    OutboxMessage,
    Resident,
    Shelter,
)
from conversations import engine
from handlers import aid as aid_handlers
from handlers import circulars as circ_handlers
from handlers import events as event_handlers
from handlers import menu as menu_handlers
from handlers import reminders as reminder_handlers
from tests import support
from tests.conftest import ROOT, make_config
from tests.fakeline import validate_messages

ME = "U" + "f1" * 16  # onboarded, English, Minato; leader of あさひ町内会
OTHER = "U" + "f2" * 16  # onboarded, English; member of both associations; owns most things
THIRD = "U" + "f3" * 16  # onboarded, Japanese; leader of みなと自治会; helps OTHER
NEWBIE = "U" + "f4" * 16  # followed, not yet onboarded: the one who goes through onboarding
FAR = "U" + "f5" * 16  # onboarded, lives in Kitamachi, far from Minato: ME never sees their requests

STALE = "That button belongs to an earlier message. Here is the current question:"
APOLOGY = "Sorry, something went wrong on our side"

FLOWS = conversations.registry()
STEPS: list[tuple[str, str]] = [(f.name, s) for f in FLOWS.values() for s in f.steps]

_FUZZ = settings(deadline=None, print_blob=True, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])


def fuzz(examples: int) -> settings:
    """`examples` per test; TSUNAGARI_FUZZ_SCALE=10 searches ten times longer (by hand, not in CI)."""
    return settings(_FUZZ, max_examples=max(1, round(examples * float(os.environ.get("TSUNAGARI_FUZZ_SCALE", "1")))))


def user_for(flow: str) -> str:
    return NEWBIE if flow == "onboarding" else ME


# -- the world -------------------------------------------------------------------------------

class World:
    """The app, its parts and the module's world (a plain class: hypothesis prints it short)."""

    def __init__(self, app, ids: dict[str, int], line: support.Line, tmp: Path):
        self.app, self.ids, self.line, self.tmp = app, ids, line, tmp
        self.bot = app.extensions["tsunagari"]
        self.db = self.bot.db
        self.fake = line.fake
        self.snapshot: list[tuple[sa.Table, list[dict]]] = []
        self.plans: dict[str, tuple[dict, list[list[tuple[str, Any]]]]] = {}
        self.options: dict[tuple[str, str], list[engine.Option]] = {}

    def __repr__(self) -> str:
        return f"<the world on {self.db.dialect}>"


def build_world(bot) -> dict[str, int]:
    cfg = bot.config
    now = utcnow()
    ids: dict[str, int] = {}
    with bot.db.session() as s:
        areas = {a.code: a for a in s.scalars(sa.select(Area))}
        asahi = s.scalar(sa.select(Association).where(Association.join_code == "ASAHI-2026"))
        minato = s.scalar(sa.select(Association).where(Association.join_code == "MINATO-2026"))

        def person(uid: str, name: str | None, locale: str = "en", onboarded: bool = True, area: str = "minato"):
            r = Resident(line_user_id=uid, channel="line", nickname=name, locale=locale,
                         area_id=areas[area].id if onboarded else None, following=True, followed_at=now,
                         consent_at=now if onboarded else None, interests=[])
            s.add(r)
            s.flush()
            return r

        me, other, third = person(ME, "Mei"), person(OTHER, "Oto"), person(THIRD, "三郎", "ja")
        newbie = person(NEWBIE, None, onboarded=False)
        far = person(FAR, "Kita", area="kita")
        h1 = Household(association_id=asahi.id, label="1番 Mei", han="1班")
        h2 = Household(association_id=asahi.id, label="2番 Oto", han="2班")
        paper = Household(association_id=asahi.id, label="3番 紙", han="2班", paper=True)
        h3 = Household(association_id=minato.id, label="1番 三郎", han="A班")
        s.add_all([h1, h2, paper, h3])
        s.flush()
        m_me = Membership(resident_id=me.id, association_id=asahi.id, role="leader", household_id=h1.id, joined_at=now)
        m_other = Membership(resident_id=other.id, association_id=asahi.id, role="member", household_id=h2.id, joined_at=now)
        m_other2 = Membership(resident_id=other.id, association_id=minato.id, role="member", joined_at=now)
        m_third = Membership(resident_id=third.id, association_id=minato.id, role="leader", household_id=h3.id, joined_at=now)
        s.add_all([m_me, m_other, m_other2, m_third])
        s.flush()

        def request(who, category, text, when=None):
            return mutual_aid.create_request(s, who, category=category, description=text, when_at=when,
                                             anonymous=False, now=now)

        r1 = request(other, "shopping", "Milk from the shop")  # open: ME may offer
        r2 = request(me, "ride", "A ride to the clinic", now + timedelta(days=2))  # ME <-> OTHER, matched
        o2 = mutual_aid.make_offer(s, other, r2.id, None, now)
        mutual_aid.accept_offer(s, me, o2.id, now)
        r3 = request(me, "garden", "Weeds in the garden")  # ME's own, open
        r4 = request(other, "dog", "Walk my dog on Sunday")  # OTHER's, with THIRD's pending offer
        o4 = mutual_aid.make_offer(s, third, r4.id, "I can", now)
        r5 = request(other, "phone", "Help with my phone")  # OTHER <-> THIRD, matched, one message
        o5 = mutual_aid.make_offer(s, third, r5.id, None, now)
        mutual_aid.accept_offer(s, other, o5.id, now)
        m5, _ = mutual_aid.relay(s, third, r5.id, "On my way", now)
        r6 = request(far, "garden", "Cut the hedge")  # open, but in Kitamachi: not shown to ME

        e1 = Event(title="Tea party", place="Hall", starts_at=now + timedelta(days=3), capacity=20,
                   audience="association", association_id=asahi.id, ask_party_size=True,
                   note_question="Any allergies?", organizer=asahi.name, created_at=now)
        e2 = Event(title="Port clean-up", place="Port", starts_at=now + timedelta(days=4), capacity=10,
                   audience="association", association_id=minato.id, organizer=minato.name,
                   created_by_id=third.id, created_at=now)
        s.add_all([e1, e2])
        s.flush()
        s1 = events.sign_up(s, e1.id, other, party_size=2, note="none", now=now).signup
        s2 = events.sign_up(s, e2.id, other, party_size=1, note=None, now=now).signup
        rule, title = reminders.read("every Tuesday 7:00 burnable garbage", now, cfg.tz_name)
        rem1 = reminders.create(s, other, rule, title, now, cfg)
        c2 = Circular(association_id=minato.id, title="港の清掃", body="日曜9時から", question="attendance",
                      created_by_id=third.id, created_at=now)
        s.add(c2)
        s.flush()
        services.apply(s, circulars.send(s, c2, cfg, now), "test")
        garbage.store(s, garbage5374.load_dir(ROOT / "data" / "garbage" / "demo"), "demo", now)
        garbage.subscribe(s, other, "港町", [], now)
        check, _ = safety.start(s, {"all": True}, now)
        s.flush()
        ids.update(safety_check=check.id)
        shelter = Shelter(common_id="E9990100001201", name="あさひ小学校", address="", hazards=1, lat=35.69, lon=139.75,
                          names={}, is_open=True, opened_at=now, created_at=now)
        s.add(shelter)
        s.flush()
        ids.update(shelter=shelter.id)
        ids.update(me=me.id, other=other.id, third=third.id, newbie=newbie.id, far=far.id, asahi=asahi.id, minato=minato.id,
                   h1=h1.id, h2=h2.id, h3=h3.id, paper=paper.id, m_me=m_me.id, m_other=m_other.id,
                   m_third=m_third.id, r1=r1.id, r2=r2.id, r3=r3.id, r4=r4.id, r5=r5.id, r6=r6.id, o2=o2.id, o4=o4.id,
                   o5=o5.id, m5=m5.id, e1=e1.id, e2=e2.id, s1=s1.id, s2=s2.id, rem1=rem1.id, c2=c2.id)
        # what the buttons drawn for them carry (bot.core.refs): forged taps use real references,
        # so what refuses them is the check of who may do what, not a garbled reference
        for key, obj in dict(h3=h3, r1=r1, r4=r4, r5=r5, r6=r6, o4=o4, o5=o5, m5=m5, e2=e2, s1=s1, s2=s2, rem1=rem1,
                             c2=c2).items():
            ids[f"ref_{key}"] = refs.ref(obj)
    return ids


def plans(i: dict[str, int], tz_name: str) -> dict[str, tuple[dict, list[list[tuple[str, Any]]]]]:
    """Per flow: the data it starts with, and paths (step, answer) that together visit every
    step, as a resident would walk them. A step's plausible data is what the path before it
    collected."""
    rule, title = reminders.read("every Tuesday 7:00 burnable garbage", utcnow(), tz_name)
    soon = (utcnow() + timedelta(days=7)).replace(microsecond=0).isoformat()
    settings_paths = [[("what", what), (what, value)] for what, value in (
        ("language", "en"), ("area", "minato"), ("association", "skip"), ("nickname", "Mei"), ("quiet", "22-7"),
        ("digest", "daily"), ("topics", ["disaster", "health"]))]
    return {
        "onboarding": ({"preferred_locale": "en", "locale": "en", "display_name": "Newbie"},
                       [[("language", "en"), ("area", "minato"), ("association", "skip"), ("nickname", "Nell"),
                         ("consent", "agree")]]),
        "settings": ({"topics": []}, settings_paths),
        "delete_data": ({}, [[("confirm", "keep")]]),
        "ask_help": ({}, [[("category", "garbage"), ("description", "Bins to the corner"), ("when", "any"),
                           ("shown_as", "name"), ("confirm", "post")]]),
        "offer": ({"request_id": i["r1"]}, [[("message", "none")]]),
        "relay": ({"request_id": i["r2"], "to_name": "Oto", "typed": True}, [[("text", "See you at ten"), ("confirm", "send")]]),
        "thanks": ({"request_id": i["r2"], "when": "12/24(木) 10:00"}, [[("early", "done"), ("hours", "60"), ("note", "skip")],
                                                                     [("early", "not_yet")]]),
        "edit_request": ({"request_id": i["r3"]}, [[("what", "description"), ("description", "Weeds, front only")],
                                                   [("what", "when"), ("when", "any")]]),
        "helper_registry": ({}, [[("categories", ["garbage"]), ("skills", "skip"), ("where", "mine"),
                                  ("days", "any"), ("times", "any")]]),
        "event_signup": ({"event_id": i["e1"], "ask_note": "1"}, [[("party", "1"), ("note", "none"), ("confirm", "yes")]]),
        "create_event": ({}, [[("title", "Tea"), ("when", soon), ("place", "Hall"), ("capacity", "none"),
                               ("confirm", "yes")]]),
        "compose_circular": ({}, [[("title", "Clean-up"), ("body", "Sunday 9:00 at the park"), ("link", "none"),
                                   ("photo", "none"), ("question", "choices"), ("choices", ["Yes", "No"]),
                                   ("deadline", "none"), ("audience", "__all"), ("confirm", "send")]]),
        "roster": ({}, [[("what", "household"), ("member", str(i["m_other"])), ("household", "__new"),
                         ("label", "5番 山本"), ("han", "__none")],
                        [("what", "han_leader"), ("member", str(i["m_other"])), ("make", "yes")]]),
        "reminder_new": ({}, [[("what", {"rule": rule.to_json(), "title": title}), ("confirm", "save")]]),
        "garbage": ({}, [[("area", "港町"), ("kinds", ["燃やすごみ"])]]),
        "safety_help": ({"check_id": i["safety_check"]}, [[("note", "歩けません。家にいます")]]),
        "safety_start": ({}, [[("kind", "drill"), ("confirm", "go")]]),
        "safety_shelter": ({"check_id": i["safety_check"], "shelters": [i["shelter"]], "origin": "area"},
                           [[("shelter", "other"), ("place", "親戚の家")], [("shelter", str(i["shelter"]))]]),
        "support_register": ({}, [[("needs", ["alone"]), ("note", "車いすを使っています"), ("who", "leaders"),
                                   ("consent", "agree")]]),
    }


def plausible(w: World, flow: str, step: str) -> dict:
    base, paths = w.plans[flow]
    for path in paths:
        names = [name for name, _ in path]
        if step in names:
            data = json.loads(json.dumps(base))
            for name, value in path[:names.index(step)]:
                data[FLOWS[flow].steps[name].store or name] = value
            return data
    raise AssertionError(f"no path of {flow} visits {step}")


def probe_ctx(w: World, s, user: str) -> Ctx:
    r = s.scalar(sa.select(Resident).where(Resident.line_user_id == user))
    return Ctx(session=s, config=w.bot.config, inbound=Inbound(event_id="probe", kind="message", user_id=user),
               now=utcnow(), resident=r)


def take_snapshot(db) -> list[tuple[sa.Table, list[dict]]]:
    with db.read() as s:
        return [(t, [dict(r) for r in s.execute(sa.select(t)).mappings()]) for t in Base.metadata.sorted_tables]


def restore(w: World) -> None:
    """Every table back to the world as built: the same rows, the same ids."""
    with w.db.session() as s:
        for t in reversed(Base.metadata.sorted_tables):
            s.execute(t.delete())
        for t, rows in w.snapshot:
            if rows:
                s.execute(t.insert(), rows)
    w.fake.reset()


@pytest.fixture(scope="module")
def world(pg_database, fake_line_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    if pg_database:
        url = pg_database
        engine_ = sa.create_engine(url)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine_.begin() as c:
            c.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine_.dispose()
    else:
        url = f"sqlite:///{tmp / 'bot.core.db'}"
        engine_ = sa.create_engine(url)
        Base.metadata.create_all(engine_)
        engine_.dispose()
    fake_line_server.reset()
    app = create_app(make_config(url, fake_line_server))
    app.config["TESTING"] = True
    bot = app.extensions["tsunagari"]
    with bot.db.session() as s:
        load_city(s, ROOT / "data" / "cities" / "demo.json")
    w = World(app, build_world(bot), support.Line(app.test_client(), fake_line_server), tmp)
    w.snapshot = take_snapshot(bot.db)
    w.plans = plans(w.ids, bot.config.tz_name)
    with bot.db.read() as s:
        for flow, step in STEPS:
            ctx = probe_ctx(w, s, user_for(flow))
            w.options[(flow, step)] = engine._options(ctx, FLOWS[flow].steps[step], plausible(w, flow, step))
    yield w
    bot.db.dispose()
    fake_line_server.reset()


# -- driving and checking ----------------------------------------------------------------------

def start_at(w: World, flow: str, step: str, *, page: int | None = None, expired: bool = False) -> None:
    """Put the flow's resident at `step` with the data a resident walking there would have."""
    data = plausible(w, flow, step)
    if page is not None:
        data["_page"] = {step: page}
    now = utcnow()
    with w.db.session() as s:
        rid = s.scalar(sa.select(Resident.id).where(Resident.line_user_id == user_for(flow)))
        s.execute(sa.delete(ConversationState).where(ConversationState.resident_id == rid))
        s.add(ConversationState(resident_id=rid, flow=flow, step=step, data=data, updated_at=now,
                                expires_at=now + (timedelta(minutes=-1) if expired else timedelta(minutes=30))))


def conv_state(w: World, user: str) -> tuple | None:
    with w.db.read() as s:
        row = s.execute(sa.select(ConversationState.flow, ConversationState.step, ConversationState.data,
                                  ConversationState.version)
                        .join(Resident, Resident.id == ConversationState.resident_id)
                        .where(Resident.line_user_id == user)).first()
    return tuple(row) if row else None


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 60, 60)).save(out, "PNG")
    return out.getvalue()


PNG = _png()


def make_event(w: World, user: str, inp: tuple) -> dict:
    kind = inp[0]
    if kind == "text":
        return w.line.text_event(user, inp[1])
    if kind == "postback":
        data = inp[1]
        if KEY in data:
            state = conv_state(w, user)
            data = data.replace(KEY, (state[2] or {}).get(engine.KEY, "") if state else "")
        return w.line.postback_event(user, data, inp[2])
    if kind == "image":
        return w.line.image_event(user, inp[1])
    if kind == "sticker":
        return support.base_event("message", user, w.line.token(user), message={
            "type": "sticker", "id": "5" + support.event_id()[-10:], "packageId": "446", "stickerId": "1988",
            "stickerResourceType": "STATIC", "quoteToken": "q"})
    if kind == "location":
        return support.base_event("message", user, w.line.token(user), message={
            "type": "location", "id": "6" + support.event_id()[-10:], "latitude": 35.68, "longitude": 139.76,
            "title": "<b>home</b>", "address": "'; --"})
    raise AssertionError(kind)


def shown(inp: tuple) -> str:
    """The input, short enough for a failure message."""
    text = repr(inp)
    return text if len(text) <= 200 else text[:120] + f"… ({len(text)} chars)"


def texts_of(messages: list[dict]) -> list[str]:
    return [m.get("text") or m.get("altText") or m.get("type") for m in messages]


def brief(records: list[logging.LogRecord]) -> str:
    """Each error logged: its message, the exception, and the project's frames (file:line)."""
    import traceback

    out = []
    for r in records:
        out.append(f"  {r.levelname} {r.name}: {r.getMessage()}")
        if r.exc_info and r.exc_info[1] is not None:
            exc = r.exc_info[1]
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/.venv/" not in f.filename]
            for f in frames:
                out.append(f"    {Path(f.filename).relative_to(ROOT) if f.filename.startswith(str(ROOT)) else f.filename}"
                           f":{f.lineno} in {f.name}: {f.line}")
            out.append(f"    {type(exc).__module__}.{type(exc).__name__}: {str(exc)[:300]}")
    return "\n".join(out)


def deliver(w: World, caplog, user: str, inp: tuple, where: str) -> list[dict]:
    """Send one event; assert it was handled (not the apology), nothing was logged at ERROR, and
    at least one message LINE accepts reached the resident. Returns the messages they got."""
    caplog.clear()
    before = len(w.fake.messages_to(user))
    ev = make_event(w, user, inp)
    resp = w.line.post([ev])
    got = w.fake.messages_to(user)[before:]
    with w.db.read() as s:
        status = s.scalar(sa.select(InboundEvent.status).where(InboundEvent.webhook_event_id == ev["webhookEventId"]))
        dead = s.execute(sa.select(OutboxMessage.status, OutboxMessage.last_error).where(
            OutboxMessage.status != "cancelled",
            (OutboxMessage.status == "dead") | OutboxMessage.last_error.is_not(None))).all()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    context = f"at {where}, sent {shown(inp)}"
    if resp.status_code != 200:
        raise AssertionError(f"{context}: HTTP {resp.status_code} {resp.data[:200]!r}")
    if status != "done" or errors:
        raise AssertionError(f"{context}: the event ended {status!r} (the resident got: {texts_of(got)}); "
                             f"logged:\n{brief(errors)}")
    if any(APOLOGY in t for t in texts_of(got)):
        raise AssertionError(f"{context}: apology sent: {texts_of(got)}")
    if dead:
        raise AssertionError(f"{context}: a message was not delivered: {[tuple(r) for r in dead]}")
    if not got:
        raise AssertionError(f"{context}: no reply reached the resident (message lost)")
    return got


def rendered(w: World, user: str) -> list[dict] | None:
    """The resident's current question as LINE would get it again (the flow's re-ask), checked
    against LINE's limits; None without a conversation."""
    with w.db.read() as s:
        ctx = probe_ctx(w, s, user)
        state = s.scalar(sa.select(ConversationState).where(ConversationState.resident_id == ctx.resident.id)) \
            if ctx.resident is not None else None
        if state is None:
            return None
        flow = FLOWS[state.flow]
        chosen = (state.data or {}).get(flow.locale_key) if flow.locale_key else None
        if chosen in SUPPORTED_LOCALES:  # as the dispatcher does
            ctx.locale_override = chosen
        ctx.conversation = state
        messages = [m for batch in render_line.render([engine.reask(ctx, flow)]) for m in batch]
    for i in range(0, len(messages), 5):
        problem = validate_messages(messages[i:i + 5])
        assert problem is None, f"the question at {state.flow}.{state.step} breaks LINE's limits: {problem}"
    assert messages[-1].get("quickReply"), f"the question at {state.flow}.{state.step} has no buttons (not even Cancel)"
    return messages


def check_answer(w: World, caplog, user: str, where: str, inp: tuple) -> tuple | None:
    """The whole property for one answer at one step (`where`). Returns the state after it."""
    deliver(w, caplog, user, inp, where)
    state = conv_state(w, user)
    if state is not None:
        f = FLOWS.get(state[0])
        assert f is not None and state[1] in f.steps, f"at {where}, sent {shown(inp)}: left in unknown state {state[:2]}"
        try:
            rendered(w, user)
        except Exception as exc:
            raise AssertionError(f"at {where}, sent {shown(inp)}: the state {state[:2]} left behind no longer "
                                 f"renders: {type(exc).__name__}: {exc}") from exc
    return state


# -- strategies --------------------------------------------------------------------------------

HOSTILE_TEXTS = [
    "", " ", "　\t\n ", "\u200b\u200e", "\x00", "\x07\x1b[31mred\x1b[0m", "\r\n\r\n", "🙂👍🏽🇯🇵‍", "１２３", "１２/２４ １０：００",
    "'; DROP TABLE resident; --", "\" OR 1=1 --", "<script>alert(1)</script>", "&lt;b&gt;&amp;", "{name} {0} %s %(n)d",
    "a" * 5000, "あ" * 5000, "🙂" * 2500, "\n" * 4000 + "x", "1" * 4400, "9" * 400, "1" * 400 + " hours",
    "0001/01/01 00:00", "1/1 0:00", "9999/12/31 23:59", "2/30", "13/45 25:99", "12/24 10:00", "1.5", "0.000001",
    "፩", "٣", "②", "¹", "1e999", "nan", "inf", "-1", "0", "10001", "1,5",
    "https://example.com/" + "a" * 470, "https://a\x00b.jp", "http://", "www.example.com",
    "menu", "cancel", "やめる", "help", "Start", "settings", "delete my data", "ask for help", "circulars 清掃",
    "reminders every Tuesday 7:00 garbage", "every day 25:00 x", "22:00-7:00", "21～8", "More…", "Done", "Skip",
    "港町", "minato", "ASAHI-2026", " asahi - 2026 ", "Yes、No", "a、b、c、d、e、f、g", "燃やすごみ", "本町",
]
HOSTILE_STAMPS = ["0001-01-01T00:00", "0001-01-01", "9999-12-31T23:59", "9999-12-31", "2026-02-30T10:00",
                  "2026-12-24T25:00", "2026-12-24T10:00+09:00", "2026-12-24T10:00Z", "", "T", "now", "10:00",
                  "２０２６-１２-２４T１０:００", "2026-W52-4", "2026-12-24 10:00:00.123456"]
ALL_ACTIONS = {
    "aid": sorted(aid_handlers.ACTIONS), "ev": sorted(event_handlers.ACTIONS), "circ": sorted(circ_handlers.ACTIONS),
    "rem": sorted(reminder_handlers.ACTIONS), "gb": sorted(reminder_handlers.GB_ACTIONS),
}
ID_KEYS = ["r", "o", "m", "i", "e", "s", "c", "h", "p"]
GARBAGE_IDS = ["", " ", "1.0", " 1000001", "１０００００１", "0x10", "1e3", "-0", "٣٣٣٣٣٣٣", "None", "' OR 1=1", "1;2"]

any_char = st.characters(blacklist_categories=("Cs",))
# Ids no row has, within the range of the id columns (PostgreSQL INTEGER), and text that is no id.
def _no_row_has(text: str) -> bool:
    """True unless `text` reads as an id the world's rows have (int() takes " 3", "３" and "٣")."""
    try:
        return not 0 < int(text) < 10**6
    except ValueError:
        return True


random_ids = (st.one_of(st.integers(10**6, 2**31 - 1), st.integers(-(2**31), 0)).map(str) |
              st.sampled_from(GARBAGE_IDS) | st.text(any_char, max_size=8)).filter(_no_row_has)


def world_ids(w: World):
    return st.sampled_from(sorted({str(v) for v in w.ids.values()}))


KEY = "__KEY__"  # stands for the resident's current conversation key until the event is made


def fpb(flow: str, step: str, value: str | None = None) -> str:
    """The postback data of a flow's button as the bot draws it: flow, step, the conversation's
    key and the option's key (`value` None: a date picker's, which has no option)."""
    fields = {"f": flow, "s": step, "k": KEY}
    if value is not None:
        fields["o"] = engine.option_key(value)
    return urlencode(fields)


def texts(w: World, flow: str, step: str):
    typed = sorted({o.text(loc) for o in w.options[(flow, step)] for loc in ("en", "ja")} |
                   {o.value for o in w.options[(flow, step)]})
    return st.one_of(
        st.sampled_from(HOSTILE_TEXTS),
        st.text(any_char, max_size=80),
        st.text(st.characters(whitelist_categories=("Nd", "No", "Nl")), min_size=1, max_size=12),
        st.builds(lambda unit, n: (unit * n)[:5000], st.text(any_char, min_size=1, max_size=4), st.integers(1, 5000)),
        st.sampled_from(typed) if typed else st.just("ok"),
    )


def local_now(w: World) -> datetime:
    return utcnow().astimezone(ZoneInfo(w.bot.config.tz_name))


def picker_params(now_local: datetime):
    stamp = st.one_of(
        st.sampled_from(HOSTILE_STAMPS),
        st.datetimes().map(lambda d: d.isoformat(timespec="minutes")),
        st.integers(-3 * 24 * 60, 120 * 24 * 60).map(
            lambda m: (now_local + timedelta(minutes=m)).replace(tzinfo=None).isoformat(timespec="minutes")),
        st.text(any_char, max_size=25),
    )
    return st.one_of(
        stamp.map(lambda v: {"datetime": v}), stamp.map(lambda v: {"date": v[:10]}), stamp.map(lambda v: {"time": v[-5:]}),
        st.dictionaries(st.text(any_char, max_size=10), st.text(any_char, max_size=25), max_size=3),
    )


def card_buttons(ids):
    actions = sorted({a for acts in ALL_ACTIONS.values() for a in acts}) + ["", "nope"]
    return st.builds(lambda a, x, extra: urlencode({"a": a, "x": x, **extra}),
                     st.sampled_from(sorted(ALL_ACTIONS) + ["zzz", ""]), st.sampled_from(actions),
                     st.dictionaries(st.sampled_from(ID_KEYS + ["k", "v", "sure"]), ids, max_size=3))


def postbacks(w: World, flow: str, step: str):
    here = [o.value for o in w.options[(flow, step)]] + [engine.MORE, engine.DONE, ""]
    values = st.sampled_from(here) | st.text(any_char, max_size=30)
    ids = world_ids(w) | random_ids
    data = st.one_of(
        values.map(lambda v: fpb(flow, step, v)),  # this very question
        st.just(fpb(flow, step)),
        values.map(lambda v: urlencode({"f": flow, "s": step, "o": engine.option_key(v)})),  # another conversation's
        st.builds(lambda fs, v: fpb(fs[0], fs[1], v), st.sampled_from(STEPS), values),
        st.builds(lambda f, s, v: urlencode({"f": f, "s": s, "v": v}), st.text(any_char, max_size=12),
                  st.text(any_char, max_size=12), st.text(any_char, max_size=12)),
        card_buttons(ids),
        st.sampled_from([i.key for i in menu_handlers.items()] + ["", "zzz"]).map(lambda v: urlencode({"a": "menu", "v": v})),
        st.sampled_from(["a=cancel", "a=show_menu", "a=help", "a=menu", "f=", "&&&", "=", "f=%FF&s=%00",
                         "a=aid&x=ask", "a=ev&x=create", "a=rem&x=new", "a=gb&x=set", "x" * 301,
                         urlencode({"f": flow, "s": step, "k": "x" * 300})]),
        st.text(any_char, max_size=320),
    )
    params = st.none() | st.none() | st.none() | picker_params(local_now(w))
    return st.tuples(st.just("postback"), data, params)


def pickers(w: World, flow: str, step: str):
    """A date/time picker's answer: the step's own data and whatever params."""
    data = st.sampled_from([fpb(flow, step), fpb(flow, step, "any")])
    return st.tuples(st.just("postback"), data, picker_params(local_now(w)))


def media():
    return st.one_of(
        st.just(("image", PNG)),
        st.tuples(st.just("image"), st.binary(max_size=200)),
        st.tuples(st.just("image"), st.none()),
        st.just(("sticker",)), st.just(("location",)),
    )


def answers(w: World, flow: str, step: str):
    return st.one_of(texts(w, flow, step).map(lambda t: ("text", t)), postbacks(w, flow, step),
                     pickers(w, flow, step), media())


# -- 1. every step, whatever the answer ----------------------------------------------------------

def sweep_inputs(flow: str, step: str) -> list[tuple[str, tuple]]:
    """A hostile corpus every step gets, so no step is left to chance (blank text, stickers and odd
    picker values come from the random tests below)."""
    return [
        ("mixed", ("text", "🙂 <b>x</b> '; DROP TABLE resident;-- \x07\u200b ＡＢＣ１２３")),
        ("long", ("text", "あ🙂" * 1666)),
        ("many-digits", ("text", "1" * 4400)),
        ("year-one", ("text", "0001/01/01 00:00")),
        ("non-decimal-digit", ("text", "፩")),
        ("schedule-with-controls", ("text", "every day 7:00 \x00\x07<b>bins</b>'; --")),
        ("bogus-value", ("postback", fpb(flow, step, "⚡' OR 1=1"), None)),
        ("no-value", ("postback", fpb(flow, step), None)),
        ("picker-year-one", ("postback", fpb(flow, step), {"datetime": "0001-01-01T00:00"})),
        ("not-a-photo", ("image", b"\x89PNG\r\n\x1a\nnot really")),
        ("photo", ("image", PNG)),
    ]


@pytest.mark.parametrize("where", STEPS, ids=[f"{f}.{s}" for f, s in STEPS])
def test_every_step_survives_a_hostile_corpus(world, caplog, where):
    """Each input of the corpus at this step. An input the step refused leaves the state as it
    was, so the next one starts from the same state; otherwise the world is restored first."""
    flow, step = where
    user = user_for(flow)
    failures = []
    restore(world)
    start_at(world, flow, step)
    start = conv_state(world, user)
    for label, inp in sweep_inputs(flow, step):
        try:
            state = check_answer(world, caplog, user, f"{flow}.{step}", inp)
        except AssertionError as exc:
            failures.append(f"[{label}] {exc}")
            state = None
        if state is None or state[:3] != start[:3]:
            restore(world)
            start_at(world, flow, step)
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


@fuzz(60)
@given(where=st.sampled_from(STEPS), page=st.none() | st.integers(-5, 60), expired=st.integers(0, 9), data=st.data())
def test_any_answer_at_any_step(world, caplog, where, page, expired, data):
    """One random answer (text, forged postback, picker value, photo, sticker) at a random step,
    sometimes on a later page of its choices, sometimes after the conversation timed out."""
    flow, step = where
    inp = data.draw(answers(world, flow, step), label="answer")
    restore(world)
    start_at(world, flow, step, page=page, expired=expired == 0)
    check_answer(world, caplog, user_for(flow), f"{flow}.{step}", inp)


@fuzz(30)
@given(where=st.sampled_from(STEPS), data=st.data())
def test_a_run_of_random_answers_never_corrupts_the_state(world, caplog, where, data):
    """Several answers in a row (valid taps mixed with noise), so flows reach later steps and
    their ends from every starting point."""
    flow, step = where
    restore(world)
    start_at(world, flow, step)
    user = user_for(flow)
    for _ in range(data.draw(st.integers(2, 4), label="answers")):
        state = conv_state(world, user)
        f, s = (state[0], state[1]) if state and state[0] in FLOWS else (flow, step)
        opts = [o.value for o in world.options.get((f, s), [])]
        valid = st.sampled_from(opts).map(lambda v: ("postback", fpb(f, s, v), None)) \
            if opts else st.nothing()
        inp = data.draw(valid | valid | answers(world, f, s), label=f"answer at {f}.{s}")
        check_answer(world, caplog, user, f"{f}.{s} (from {flow}.{step})", inp)


HOSTILE_LINE = "every Tuesday 7:00 \x00\x07\u202e<b>'; DROP TABLE resident;--</b> 🙂"
# Typed answers a step takes, in the forms residents type them, some with hostile characters.
HOSTILE_TYPED = {
    ("onboarding", "association"): " asahi - 2026 ",
    ("settings", "association"): "ｍｉｎａｔｏ－２０２６",
    ("settings", "quiet"): "２２：３０〜６：００",
    ("thanks", "hours"): "１．５時間",
    ("event_signup", "party"): "３人",
    ("create_event", "capacity"): "１２人",
    ("garbage", "area"): "港",
    ("compose_circular", "link"): "https://example.jp/?q=\x00\x07",
    ("compose_circular", "choices"): "はい\x00、<b>いいえ</b>、\x07",
}


def fallback(w: World, flow: str, step: str, value: Any) -> list[tuple]:
    """How a resident would answer `step` with `value` (the plausible answer) when the hostile
    line was refused: a tap, a date from the picker, taps then “Done”, or typing it."""
    options = {o.value for o in w.options[(flow, step)]}
    st_ = FLOWS[flow].steps[step]
    if st_.collect:
        return [("postback", fpb(flow, step, v), None) for v in value] + \
               [("postback", fpb(flow, step, engine.DONE), None)]
    if isinstance(value, str) and value in options:
        return [("postback", fpb(flow, step, value), None)]
    if st_.date_mode:
        soon = (local_now(w) + timedelta(days=5)).replace(tzinfo=None).isoformat(timespec="minutes")
        return [("postback", fpb(flow, step), {"datetime": soon})]
    if step == "photo":
        return [("image", PNG)]
    return [("text", "、".join(value) if isinstance(value, list) else str(value))]


PATH_CASES = [(flow, p) for flow, (_, paths) in plans(defaultdict(int), "Asia/Tokyo").items() for p in range(len(paths))]


@pytest.mark.parametrize("flow,p", PATH_CASES, ids=[f"{f}-{p}" for f, p in PATH_CASES])
def test_every_flow_finishes_with_hostile_text_in_every_answer(world, caplog, flow, p):
    """Walk each path of the flow to its end, typing a hostile line (NUL, control and bidi
    characters, HTML, SQL, emoji) at every step before answering it properly: what each step
    keeps, and what `on_finish` stores and sends, must survive it."""
    user = user_for(flow)
    path = world.plans[flow][1][p]
    values = dict(path)
    restore(world)
    start_at(world, flow, path[0][0])
    failures: list[str] = []
    state = conv_state(world, user)
    for _ in range(len(path) + 2):
        if state is None or state[0] != flow:
            break
        step = state[1]
        typed = [("text", HOSTILE_TYPED[(flow, step)])] if (flow, step) in HOSTILE_TYPED else []
        for inp in [("text", HOSTILE_LINE)] + typed + fallback(world, flow, step, values[step]):
            try:
                check_answer(world, caplog, user, f"{flow}.{step}", inp)
            except AssertionError as exc:
                failures.append(str(exc))
            new = conv_state(world, user)
            if new is None or new[:2] != state[:2]:
                break  # answered: on to the next step
        else:
            break  # even the proper answer was not taken: stuck (said below)
        state = conv_state(world, user)
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
    assert state is None or state[0] != flow, f"{flow} did not finish: stuck at {state[:2]}"


# -- 2. stale buttons ------------------------------------------------------------------------------

def stale_cases() -> list[tuple[str, int, int]]:
    """(flow, path, position) of every step that has an earlier step on its path."""
    out = []
    for flow, (_, paths) in plans(defaultdict(int), "Asia/Tokyo").items():
        for p, path in enumerate(paths):
            for k in range(1, len(path)):
                out.append((flow, p, k))
    return out


STALE_CASES = stale_cases()


@fuzz(50)
@given(case=st.sampled_from(STALE_CASES), data=st.data())
def test_a_button_from_an_earlier_step_is_explained_and_the_question_asked_again(world, caplog, case, data):
    """A tap on a button of a step already answered (any of its values, or a forged one; for a
    date step, any picker value): explained, the current question asked again, nothing kept."""
    flow, p, k = case
    path = world.plans[flow][1][p]
    current = path[k][0]
    earlier, answered = path[data.draw(st.integers(0, k - 1), label="earlier")]
    values = [o.value for o in world.options[(flow, earlier)]] + ([answered] if isinstance(answered, str) else [])
    value = data.draw(st.sampled_from(values) | st.text(any_char, max_size=20) if values else st.text(any_char, max_size=20),
                      label="value")
    params = None
    if FLOWS[flow].steps[earlier].date_mode:
        params = data.draw(st.none() | picker_params(local_now(world)),
                           label="params")
    pb = fpb(flow, earlier) if params else fpb(flow, earlier, value)
    user = user_for(flow)
    restore(world)
    start_at(world, flow, current)
    before = conv_state(world, user)
    got = deliver(world, caplog, user, ("postback", pb, params), f"{flow}.{current} (button of {earlier})")
    assert got[0].get("text") == STALE, f"{flow}.{current}: {pb!r} was not explained as stale: {texts_of(got)}"
    assert conv_state(world, user) == before, f"{flow}.{current}: the stale button {pb!r} changed the state"
    assert got[1:] == rendered(world, user), f"{flow}.{current}: what followed the explanation is not the current question"


# -- 3. forged card buttons ------------------------------------------------------------------------

def others_buttons(i: dict[str, int]) -> list[dict[str, str]]:
    """Buttons on cards of other residents' things: none is ME's to press."""
    out: list[dict[str, str]] = []
    for r in ("r1", "r4", "r5", "r6"):
        out += [{"a": "aid", "x": "cancel", "r": i["ref_" + r]}, {"a": "aid", "x": "cancel", "r": i["ref_" + r], "sure": "1"},
                {"a": "aid", "x": "edit", "r": i["ref_" + r]}, {"a": "aid", "x": "done", "r": i["ref_" + r]}]
    out += [{"a": "aid", "x": x, "r": i["ref_r5"], **extra} for x, extra in
            (("msg", {}), ("happened", {"v": "yes"}), ("happened", {"v": "no"}))]
    out += [{"a": "aid", "x": x, "o": i["ref_" + o]} for x in ("accept", "decline", "block") for o in ("o4", "o5")]
    out += [{"a": "aid", "x": "block", "m": i["ref_m5"]}, {"a": "aid", "x": "report", "k": "relay", "i": i["ref_m5"]}]
    out += [{"a": "ev", "x": "cancel", "s": i["ref_" + s], "sure": "1"} for s in ("s1", "s2")]
    out += [{"a": "ev", "x": "cancel", "s": i["ref_s1"]}]
    out += [{"a": "ev", "x": x, "e": i["ref_e2"]} for x in ("att", "detail", "join")]
    out += [{"a": "circ", "x": x, "c": i["ref_c2"]} for x in ("read", "ans", "full", "remind", "paper")]
    out += [{"a": "circ", "x": "av", "c": i["ref_c2"], "v": v} for v in ("0", "1", "-1")]
    out += [{"a": "circ", "x": "pmark", "c": i["ref_c2"], "h": i["ref_h3"]}]
    out += [{"a": "rem", "x": "del", "r": i["ref_rem1"]}]
    return out


# Buttons a resident was never shown: a request matched between two others, and an open one
# far from where they live (browsing shows only their area and its neighbours).
UNSEEN = {
    "report a request matched between others": lambda i: {"a": "aid", "x": "report", "k": "request", "i": i["ref_r5"]},
    "report a request in a far area": lambda i: {"a": "aid", "x": "report", "k": "request", "i": i["ref_r6"]},
    "offer help on a request in a far area": lambda i: {"a": "aid", "x": "offer", "r": i["ref_r6"]},
}


ID_ACTIONS = [("aid", x, k) for x, k in (("offer", "r"), ("accept", "o"), ("decline", "o"), ("msg", "r"), ("report", "i"),
                                         ("block", "o"), ("block", "m"), ("cancel", "r"), ("edit", "r"), ("done", "r"),
                                         ("happened", "r"))] + \
             [("ev", x, k) for x, k in (("detail", "e"), ("join", "e"), ("cancel", "s"), ("att", "e"))] + \
             [("circ", x, "c") for x in ("read", "ans", "av", "full", "remind", "paper", "pmark")] + [("rem", "del", "r")]


def everything(w: World) -> dict[str, dict[tuple, dict[str, str]]]:
    """All rows but the inbox, the outbox and the rate counters (what a refused button must not
    change), by table and primary key."""
    out = {}
    with w.db.read() as s:
        for t in Base.metadata.sorted_tables:
            if t.name in ("inbound_event", "outbox_message"):
                continue
            cols = [c for c in t.columns if c.name not in ("rate_window", "rate_count")]
            pk = [c.name for c in t.primary_key.columns]
            out[t.name] = {tuple(row[k] for k in pk): {c.name: repr(row[c.name]) for c in cols}
                           for row in s.execute(sa.select(*cols)).mappings()}
    return out


def diff(before: dict, after: dict) -> str:
    """What changed, e.g. `help_request#5 report_count 0 -> 1; +conversation_state#1`."""
    lines = []
    for name, rows in before.items():
        now = after[name]
        for key in sorted(rows.keys() - now.keys()):
            lines.append(f"-{name}#{','.join(map(str, key))}")
        for key in sorted(now.keys() - rows.keys()):
            lines.append(f"+{name}#{','.join(map(str, key))} {now[key]}")
        for key in sorted(rows.keys() & now.keys()):
            changed = [f"{c} {rows[key][c]} -> {now[key][c]}" for c in rows[key] if rows[key][c] != now[key][c]]
            if changed:
                lines.append(f"{name}#{','.join(map(str, key))} " + ", ".join(changed))
    return "; ".join(lines)


def press_forged(w: World, caplog, button: dict[str, str], where: tuple[str, str] | None = None) -> None:
    """ME presses `button` (in the middle of the conversation `where`, if any): it must be
    answered, and change nothing at all."""
    restore(w)
    if where is not None:
        start_at(w, *where)
    before = everything(w)
    got = deliver(w, caplog, ME, ("postback", urlencode(button), None), "a card button")
    changed = diff(before, everything(w))
    assert not changed, f"the forged button {button} changed: {changed} (ME got {texts_of(got)})"


ME_STEPS = [s for s in STEPS if s[0] != "onboarding"]


def test_buttons_for_other_residents_things_are_refused_and_change_nothing(world, caplog):
    """Every button of a card about another resident's request, offer, message, sign-up,
    circular or reminder, pressed by ME (every other one in the middle of a conversation)."""
    failures = []
    for n, button in enumerate(others_buttons(world.ids)):
        try:
            press_forged(world, caplog, button, ME_STEPS[n * 7 % len(ME_STEPS)] if n % 2 else None)
        except AssertionError as exc:
            failures.append(str(exc))
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


@pytest.mark.parametrize("label", sorted(UNSEEN))
def test_buttons_for_requests_never_shown_are_refused(world, caplog, label):
    press_forged(world, caplog, UNSEEN[label](world.ids))


@fuzz(50)
@given(action=st.sampled_from(ID_ACTIONS), value=random_ids, extra=st.dictionaries(
    st.sampled_from(["k", "v", "sure", "h", "p", "c"]), st.sampled_from(["1", "0", "-1", "relay", "request", "yes", ""]),
    max_size=2), data=st.data())
def test_buttons_with_random_ids_are_refused_and_change_nothing(world, caplog, action, value, extra, data):
    feature, x, key = action
    where = data.draw(st.none() | st.sampled_from(ME_STEPS), label="ME's conversation")
    press_forged(world, caplog, {**extra, "a": feature, "x": x, key: value}, where)


@pytest.mark.parametrize("action", ID_ACTIONS, ids=["-".join(a) for a in ID_ACTIONS])
def test_buttons_with_ids_beyond_the_id_columns_are_refused_and_change_nothing(world, caplog, action):
    """An id past PostgreSQL's INTEGER (32 bits), and one past SQLite's (64 bits)."""
    feature, x, key = action
    failures = []
    for value in (2**31, 2**63):
        try:
            press_forged(world, caplog, {"a": feature, "x": x, key: str(value), **({"k": "request"} if x == "report" else {})})
        except AssertionError as exc:
            failures.append(str(exc))
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


# -- 4. outside input: the signed webhook body, the city file -----------------------------------------

@fuzz(40)
@given(body=st.binary(max_size=300) | st.text(any_char, max_size=300).map(str.encode))
def test_signed_random_bytes_are_refused_not_crashed_on(world, caplog, body):
    """tests/test_webhook_fuzz.py sends random bytes unsigned and random JSON signed; this signs
    random bytes and text, so they get past the signature check."""
    caplog.clear()
    resp = world.line.post([], body=body)
    assert resp.status_code in (200, 400), resp.data
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], brief(caplog.records)


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(any_char, max_size=12)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) |
                           st.dictionaries(st.text(any_char, max_size=8), inner, max_size=3), max_leaves=8)
codes = st.sampled_from(["minato", "asahi-1", "x", "", "ＡＢ", "a" * 33]) | st.text(any_char, max_size=40)
area_docs = st.fixed_dictionaries({}, optional={
    "code": codes | json_values,
    "names": st.dictionaries(st.sampled_from(["ja", "en", "ko", "x"]), st.text(any_char, max_size=30) | json_scalars,
                             max_size=3) | json_values,
    "neighbours": st.lists(codes, max_size=3) | json_values,
})
assoc_docs = st.fixed_dictionaries({}, optional={
    "name": st.text(any_char, max_size=120) | json_scalars, "join_code": codes | json_scalars, "area": codes | json_scalars,
}) | json_values
city_docs = st.fixed_dictionaries({}, optional={
    "areas": st.lists(area_docs, max_size=4) | json_values,
    "associations": st.lists(assoc_docs, max_size=3) | json_values,
    "city": json_values,
})


@fuzz(80)
@given(doc=city_docs | json_values, raw=st.none() | st.binary(max_size=60))
def test_any_city_file_loads_or_gives_a_clear_error(world, doc, raw):
    """`flask areas load` takes a file from the city: whatever is in it, the loader answers with
    a CityFileError the CLI prints, or loads a city every screen can show (area names are text in
    every language, so the onboarding question renders within LINE's limits)."""
    path = world.tmp / "city.json"
    path.write_bytes(raw if raw is not None else json.dumps(doc, ensure_ascii=False).encode())
    s = world.db.Session()
    try:
        try:
            load_city(s, path)
        except CityFileError:
            return
        flow = FLOWS["onboarding"]
        ctx = probe_ctx(world, s, NEWBIE)
        for loc in SUPPORTED_LOCALES:
            reply = engine.render_step(ctx, flow, "area", {"locale": loc})
            for batch in render_line.render([reply]):
                assert validate_messages(batch) is None, (loc, batch)
        for a in s.scalars(sa.select(Association)):
            assert isinstance(a.name, str) and isinstance(a.join_code, str)
    finally:
        s.rollback()
        s.close()


BAD_CITY_FILES = {
    "a list": [],
    "null": None,
    "neighbours a number": {"areas": [{"code": "a", "names": {"ja": "あ"}, "neighbours": 5}]},
    "neighbours nested": {"areas": [{"code": "a", "names": {"ja": "あ"}, "neighbours": [["a"]]}]},
    "a name not text": {"areas": [{"code": "a", "names": {"ja": "あ", "en": 5}}]},
    "an empty name": {"areas": [{"code": "a", "names": {"ja": ""}}]},
    "a code too long": {"areas": [{"code": "a" * 33, "names": {"ja": "あ"}}]},
    "associations a number": {"areas": [{"code": "a", "names": {"ja": "あ"}}], "associations": 5},
    "an association a string": {"areas": [{"code": "a", "names": {"ja": "あ"}}], "associations": ["x"]},
    "no join code": {"areas": [{"code": "a", "names": {"ja": "あ"}}], "associations": [{"name": "n"}]},
    "no association name": {"areas": [{"code": "a", "names": {"ja": "あ"}}], "associations": [{"join_code": "J"}]},
    "a join code a number": {"areas": [{"code": "a", "names": {"ja": "あ"}}], "associations": [{"name": "n", "join_code": 5}]},
    "an association's area a list": {"areas": [{"code": "a", "names": {"ja": "あ"}}],
                                     "associations": [{"name": "n", "join_code": "J", "area": ["a"]}]},
}


@pytest.mark.parametrize("doc", BAD_CITY_FILES.values(), ids=BAD_CITY_FILES.keys())
def test_malformed_city_files_are_refused_with_a_clear_error(world, doc):
    """What the property test above found, kept as plain cases."""
    path = world.tmp / "bad-city.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    s = world.db.Session()
    try:
        with pytest.raises(CityFileError):
            load_city(s, path)
    finally:
        s.rollback()
        s.close()
