"""A tap acts only on what the resident was shown (issue 14).

Ids are never reused; every button names its record with a reference checked when tapped; no
data goes into postback data; a choice that left the city's data is asked again."""
from __future__ import annotations

import ast
import json
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.core import refs
from bot.core.db import Base
from bot.core.models import (
    Block, Event, GarbageSubscription, HelpOffer, HelpRequest, Reminder, Resident, Signup,
)
from conversations import engine
from scheduler import clock as clock_mod
from tests import support
from tests.fakeline import _actions
from tests.support import run_worker
from tests.test_circulars import LEADER, MEMBER_JA, assoc  # noqa: F401  (a fixture)
from tests.test_circulars import send as circ_send
from tests.test_mutual_aid import ask, card_buttons, last_flex, press

ROOT = Path(__file__).resolve().parent.parent
HANAKO = "U" + "1a" * 16
B = "U" + "2b" * 16
C = "U" + "3c" * 16
D = "U" + "4d" * 16


@pytest.fixture
def clock(time_machine):
    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)  # a Tuesday
    return time_machine


def _integer_pk_tables(conn) -> dict[str, str]:
    out = {}
    for name, sql in conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'"):
        if name in ("alembic_version", "sqlite_sequence", "apscheduler_jobs"):
            continue
        pk = [c for c in sa.inspect(conn).get_columns(name) if c.get("primary_key")]
        if len(pk) == 1 and isinstance(pk[0]["type"], sa.Integer):
            out[name] = sql
    return out


# -- 1. ids are never reused -------------------------------------------------------------------

def test_every_table_of_the_models_is_autoincrement_on_sqlite(tmp_path):
    engine_ = sa.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    Base.metadata.create_all(engine_)
    with engine_.connect() as conn:
        tables = _integer_pk_tables(conn)
        assert {t.name for t in Base.metadata.sorted_tables if t.name != "rich_menu"} <= set(tables)
        plain = sorted(name for name, sql in tables.items() if "AUTOINCREMENT" not in sql.upper())
        assert plain == [], f"tables that would reuse ids after a delete: {plain}"
    engine_.dispose()


def test_migrations_make_every_table_autoincrement_and_keep_rows_and_children(app_factory, tmp_path):
    """An existing database (at 0013, with rows) is rebuilt table by table: the rows, and the
    rows of child tables (ON DELETE CASCADE), are all still there; ids then only grow."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = app_factory(database_url=url)
    cli = app.test_cli_runner()
    assert cli.invoke(args=["db", "upgrade", "0013"]).exit_code == 0
    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.exec_driver_sql("INSERT INTO area (id, code, names, neighbours, position, active) VALUES (1, 'a', '{}', '[]', 0, 1)")
        for rid in (1, 2, 3):
            c.exec_driver_sql(
                "INSERT INTO resident (id, line_user_id, channel, locale, following, interests, rate_count, digest, created_at)"
                f" VALUES ({rid}, 'U{rid:032d}', 'line', 'ja', 1, '[]', 0, 0, '2026-12-01 00:00:00')")
        c.exec_driver_sql(
            "INSERT INTO help_request (id, requester_id, category, description, area_id, anonymous, status, report_count,"
            " created_at, closes_at) VALUES (5, 1, 'dog', 'walk', 1, 0, 'open', 0, '2026-12-01 00:00:00', '2026-12-09 00:00:00')")
        c.exec_driver_sql("INSERT INTO help_offer (id, request_id, helper_id, status, created_at)"
                          " VALUES (7, 5, 2, 'pending', '2026-12-01 01:00:00')")
        c.exec_driver_sql("DELETE FROM resident WHERE id = 3")  # the highest id is free again
    assert cli.invoke(args=["db", "upgrade"]).exit_code == 0
    with eng.begin() as c:
        tables = _integer_pk_tables(c)
        assert tables and all("AUTOINCREMENT" in sql.upper() for sql in tables.values())
        assert c.exec_driver_sql("SELECT count(*) FROM help_offer").scalar() == 1  # no cascade ran
        assert c.exec_driver_sql("SELECT version FROM help_request WHERE id = 5").scalar() == 1
        assert c.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        c.exec_driver_sql("DELETE FROM help_offer WHERE id = 7")
        c.exec_driver_sql("INSERT INTO help_offer (request_id, helper_id, status, created_at)"
                          " VALUES (5, 2, 'pending', '2026-12-01 02:00:00')")
        assert c.exec_driver_sql("SELECT max(id) FROM help_offer").scalar() == 8  # not 7 again
    eng.dispose()
    app.extensions["tsunagari"].db.dispose()


def test_a_deleted_row_id_is_not_given_to_the_next_row(db, is_postgres):
    with db.session() as s:
        ids = []
        for n in range(3):
            r = Resident(line_user_id=f"U{n:032d}", locale="ja")
            s.add(r)
            s.flush()
            ids.append(r.id)
        s.delete(s.get(Resident, ids[-1]))
    with db.session() as s:
        r = Resident(line_user_id="U" + "9" * 32, locale="ja")
        s.add(r)
        s.flush()
        assert r.id > ids[-1]


# -- 2. the reported case, end to end ------------------------------------------------------------

def test_an_old_card_for_a_deleted_request_never_reaches_a_newer_one(line, fake_line, bot, db, joined, clock):
    """はなこ saw B's request; B deleted their data; C posted a request; はなこ taps the old card:
    C gets nothing, nothing is recorded, はなこ is told the request is gone and shown the menu."""
    joined(HANAKO, name="はなこ", locale_label="日本語")
    joined(B, name="Bee")
    joined(C, name="Cee")
    ask(line, fake_line, user=B, text="Please help me set up my phone")
    line.say(HANAKO, "手伝う")
    old = card_buttons(last_flex(fake_line, HANAKO))["手伝います"]
    with db.session() as s:
        b_request = s.scalar(select(HelpRequest.id))
    line.say(B, "delete my data")
    line.tap(B, "Yes, delete")
    ask(line, fake_line, user=C, text="Could someone walk my dog on Saturday?")
    run_worker(bot)
    before = len(fake_line.messages_to(C))
    press(line, HANAKO, old)
    run_worker(bot)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(HelpOffer)) == 0
        assert s.scalar(select(HelpRequest.id)) != b_request  # ids are not reused either
        assert s.get(Resident, 1) is None or s.get(Resident, 1).line_user_id != C
    assert fake_line.texts_to(HANAKO)[-2] == "このお願いはもう受け付けていません。何も変更していません。"
    assert fake_line.texts_to(HANAKO)[-1] == "何をしますか？"
    assert len(fake_line.messages_to(C)) == before
    # and the conversation a tap would have started was not started: typing goes nowhere near C
    line.say(HANAKO, "行けます")
    run_worker(bot)
    assert len(fake_line.messages_to(C)) == before


# -- 3. delete → create → stale tap, for every kind of button ------------------------------------

def _b_asks_and_c_offers(line, fake_line, bot, joined):
    from tests.test_mutual_aid import offer

    for user, name in ((B, "Bee"), (C, "Cee"), (D, "Dee")):
        joined(user, name=name)
    ask(line, fake_line, user=B)
    offer(line, fake_line, C)
    run_worker(bot)


def test_stale_offer_buttons_act_on_no_newer_offer(line, fake_line, bot, db, joined, clock):
    from tests.test_mutual_aid import offer

    _b_asks_and_c_offers(line, fake_line, bot, joined)
    old = card_buttons(last_flex(fake_line, B))
    line.say(C, "delete my data")  # the offer goes with C's data
    line.tap(C, "Yes, delete")
    offer(line, fake_line, D)
    run_worker(bot)
    for label in ("Yes, please", "Not this time", "Block this person"):
        press(line, B, old[label])
        assert fake_line.texts_to(B)[-2] == "This offer is no longer open, so nothing was done."
    with db.session() as s:
        assert s.scalar(select(HelpOffer.status)) == "pending"  # D's offer: untouched
        assert s.scalar(select(HelpRequest.status)) == "open"
        assert s.scalar(select(func.count()).select_from(Block)) == 0


def test_stale_relay_buttons_and_request_buttons_after_the_other_side_left(line, fake_line, bot, db, joined, clock):
    from tests.test_mutual_aid import offer

    _b_asks_and_c_offers(line, fake_line, bot, joined)
    press(line, B, card_buttons(last_flex(fake_line, B))["Yes, please"])
    run_worker(bot)
    press(line, C, card_buttons(last_flex(fake_line, C))["Message Bee"])
    line.say(C, "On my way")
    run_worker(bot)
    relay = card_buttons(last_flex(fake_line, B))
    line.say(B, "my requests")
    mine_before = card_buttons(last_flex(fake_line, B))
    line.say(B, "delete my data")
    line.tap(B, "Yes, delete")
    line.say(C, "delete my data")
    line.tap(C, "Yes, delete")
    # B comes back as a new resident and asks again; D offers and is accepted
    joined(B, name="Bee")
    ask(line, fake_line, user=B)
    offer(line, fake_line, D)
    run_worker(bot)
    press(line, B, card_buttons(last_flex(fake_line, B))["Yes, please"])
    run_worker(bot)
    seen_by_d = len(fake_line.messages_to(D))
    for label in ("Reply", "Report", "Block this person"):
        press(line, B, relay[label])
        assert "nothing was done" in fake_line.texts_to(B)[-2]
    for label, data in mine_before.items():
        press(line, B, data)
        assert "nothing was done" in fake_line.texts_to(B)[-2], label
    run_worker(bot)
    assert len(fake_line.messages_to(D)) == seen_by_d
    with db.session() as s:
        assert s.scalar(select(HelpRequest.status)) == "matched"
        assert s.scalar(select(func.count()).select_from(Block)) == 0


def test_an_event_changed_after_its_card_was_drawn_is_shown_anew_not_joined(line, fake_line, bot, db, joined, runner, clock):
    joined(B, name="Bee")
    out = runner.invoke(args=["events", "create", "--title", "餅つき大会", "--place", "公民館",
                              "--starts", "2026-12-20 10:00", "--capacity", "10"])
    assert out.exit_code == 0, out.output
    line.say(B, "events")
    old = card_buttons(last_flex(fake_line, B))
    with db.session() as s:
        event_id = s.scalar(select(Event.id))
    out = runner.invoke(args=["events", "update", str(event_id), "--place", "小学校の体育館"])
    assert out.exit_code == 0, out.output
    press(line, B, old["Sign up"])
    texts = fake_line.texts_to(B)
    assert any(t.startswith("This was changed after that message was sent") for t in texts[-3:])
    assert "小学校の体育館" in json.dumps(last_flex(fake_line, B), ensure_ascii=False)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Signup)) == 0
    # the card shown now works
    press(line, B, card_buttons(last_flex(fake_line, B))["Sign up"])
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Signup)) == 1


def test_a_stale_reminder_button_deletes_no_newer_reminder(line, fake_line, db, joined, clock):
    joined(B, name="Bee")
    line.say(B, "reminders every day 8:00 medicine")
    line.tap(B, "Save")
    line.say(B, "reminders")
    old = card_buttons(last_flex(fake_line, B))["Delete"]
    press(line, B, old)
    line.say(B, "reminders every day 9:00 walk")
    line.tap(B, "Save")
    press(line, B, old)
    assert fake_line.texts_to(B)[-2] == "That reminder no longer exists, so nothing was done."
    with db.session() as s:
        assert s.scalars(select(Reminder.title)).all() == ["walk"]


def test_a_button_from_an_earlier_conversation_is_not_an_answer_to_this_one(line, fake_line, db, joined, clock):
    """Settings twice: the first time's “Language” button is not taken in the second one,
    although the flow and the step are the same."""
    joined(B, name="Bee")
    line.say(B, "settings")
    first = {i["action"]["label"]: i["action"]["data"] for i in fake_line.last_message_to(B)["quickReply"]["items"]}
    line.say(B, "cancel")
    line.say(B, "settings")
    press(line, B, first["Language"])
    assert fake_line.texts_to(B)[-2] == "That button belongs to an earlier message. Here is the current question:"
    with db.session() as s:
        state = s.scalar(select(Resident).where(Resident.line_user_id == B))
        from bot.core.models import ConversationState

        conv = s.scalar(select(ConversationState).where(ConversationState.resident_id == state.id))
        assert conv.step == "what"


MODELS = (HelpRequest, HelpOffer, Event, Signup, Reminder)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.tuples(st.sampled_from(["create", "delete", "edit"]), st.integers(0, 4)), min_size=1, max_size=25))
def test_a_reference_never_names_a_newer_record(db, ops):
    """Whatever is created, deleted and edited in between, a reference drawn for a record
    resolves to exactly that record as drawn, or to nothing."""
    with db.session() as s:
        for table in ("signup", "event", "help_offer", "help_request", "reminder", "resident", "area"):
            s.execute(sa.text(f"DELETE FROM {table}"))
        a = Resident(line_user_id="U" + "e" * 32, locale="ja")
        b = Resident(line_user_id="U" + "f" * 32, locale="ja")
        s.add_all([a, b])
        s.flush()
        drawn: list[tuple[type, str, int, int]] = []  # model, reference, id, version at drawing
        live: list[Base] = []
        from datetime import datetime, timedelta, timezone

        now = datetime(2026, 12, 1, tzinfo=timezone.utc)

        def make(kind: int):
            if kind == 0 or kind == 1 and not [x for x in live if isinstance(x, HelpRequest)]:
                return HelpRequest(requester_id=a.id, category="dog", description="walk", closes_at=now + timedelta(days=3))
            if kind == 1:
                req = next(x for x in live if isinstance(x, HelpRequest))
                return HelpOffer(request_id=req.id, helper_id=b.id) if not s.scalar(
                    select(HelpOffer).where(HelpOffer.request_id == req.id)) else Reminder(resident_id=a.id, title="x", rule="{}")
            if kind in (2, 3):
                ev = Event(title="e", place="p", starts_at=now + timedelta(days=9))
                if kind == 3:
                    s.add(ev)
                    s.flush()
                    return Signup(event_id=ev.id, resident_id=a.id)
                return ev
            return Reminder(resident_id=a.id, title="x", rule="{}")

        for op, kind in ops:
            if op == "create":
                obj = make(kind)
                s.add(obj)
                s.flush()
                live.append(obj)
                drawn.append((type(obj), refs.ref(obj), obj.id, getattr(obj, "version", 0) or 0))
            elif op == "delete" and live:
                obj = live.pop(kind % len(live))
                children = [x for x in live if isinstance(obj, HelpRequest) and isinstance(x, HelpOffer) and x.request_id == obj.id
                            or isinstance(obj, Event) and isinstance(x, Signup) and x.event_id == obj.id]
                for child in children:  # what the database's ON DELETE CASCADE removes too
                    live.remove(child)
                    s.delete(child)
                s.flush()
                s.delete(obj)
                s.flush()
            elif op == "edit" and live:
                obj = live[kind % len(live)]
                if hasattr(obj, "version"):
                    obj.version += 1
                    s.flush()
        s.expire_all()
        for model, reference, ident, version in drawn:
            obj, state = refs.lookup(s, model, reference)
            alive = next((x for x in live if isinstance(x, model) and x.id == ident), None)
            if alive is None:
                assert (obj, state) == (None, refs.GONE)
            elif (getattr(alive, "version", 0) or 0) == version:
                assert obj is alive and state == refs.OK
            else:
                assert obj is alive and state == refs.CHANGED and refs.resolve(s, model, reference) is None


def test_references_refuse_what_is_not_one(db):
    with db.session() as s:
        r = Resident(line_user_id="U" + "7" * 32, locale="ja")
        s.add(r)
        s.flush()
        good = refs.ref(r)
        assert refs.resolve(s, Resident, good) is r
        for bad in ("", str(r.id), f"{r.id}.", f"{r.id}.AAAAAAAA", f"{r.id + 1}.{good.split('.')[1]}", "x" * 40,
                    f"-{good}", f"{r.id}.{good.split('.')[1]}.x", f"99999999999.{good.split('.')[1]}", None, 5):
            assert refs.resolve(s, Resident, bad) is None, bad


# -- 4. every postback the bot builds carries the identity check, and no data --------------------

# Keys whose values are not records: the feature, the action, a confirmation, a page, an index
# into a record's own fixed list, a category code of the bot's, a menu key, a flow's name, step,
# conversation key and option key.
NOT_RECORDS = {"a", "x", "sure", "p", "v", "f", "k", "o"}
SOURCES = [p for d in ("bot", "handlers", "conversations", "scheduler") for p in (ROOT / d).rglob("*.py")]


def _postback_calls():
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "postback":
                yield path.relative_to(ROOT), node


# The only values a button may carry besides constants and references: what they are is said
# beside each (none is a record's id, none is a name or text from data).
ALLOWED = {
    "f=flow.name", "s=step_name", "k=data.get(KEY)",  # a flow, its step, the conversation's key
    "v=str(i)",  # an index into a circular's own fixed answer choices
    "p=str(page + 1)", "c=category or ''", "c=c",  # a page, and one of the bot's category codes
    "v=item.key",  # a menu key of the bot's
    "v=previous_locale",  # one of the bot's ten language codes (checked when tapped)
    "k=kind",  # one of bot.services.translated.KINDS, the kinds of record an "Original" button names
    "v=s.value",  # one of the three SafetyStatus answers to a safety check (checked when tapped)
}


def test_every_postback_built_in_the_code_names_records_by_reference_only():
    calls = list(_postback_calls())
    assert len(calls) > 40  # the scan found the bot's buttons
    wrong = []
    for path, call in calls:
        for kw in call.keywords:
            if isinstance(kw.value, ast.Constant):
                continue
            top = kw.value
            if isinstance(top, ast.Call) and getattr(top.func, "id", getattr(top.func, "attr", "")) in ("ref", "option_key"):
                continue
            if f"{kw.arg}={ast.unparse(top)}" not in ALLOWED:
                wrong.append(f"{path}:{call.lineno} {kw.arg}={ast.unparse(top)}")
    assert wrong == [], "buttons naming a record without its reference, or carrying data:\n" + "\n".join(wrong)


def test_every_postback_sent_in_a_journey_is_short_and_carries_no_bare_id(line, fake_line, bot, db, joined, runner, clock):
    """Drive the main journeys, then read every postback the fake LINE API received."""
    from tests.test_mutual_aid import offer

    joined(B, name="Bee")
    joined(C, name="Cee")
    ask(line, fake_line, user=B)
    offer(line, fake_line, C)
    run_worker(bot)
    press(line, B, card_buttons(last_flex(fake_line, B))["Yes, please"])
    runner.invoke(args=["events", "create", "--title", "t", "--place", "p", "--starts", "2026-12-20 10:00"])
    for word in ("events", "my requests", "reminders", "settings", "help", "garbage days", "circulars"):
        line.say(B, word)
    run_worker(bot)
    seen = 0
    for user in (B, C):
        for msg in fake_line.messages_to(user):
            for data in _postback_datas(msg):
                seen += 1
                assert len(data) <= 120, data
                fields = dict(parse_qsl(data))
                for key, value in fields.items():
                    if key in ("p", "v", "sure"):
                        continue
                    assert not value.isdigit(), f"a bare id in {data}"
                    if key in ("r", "o", "i", "m", "e", "s", "c", "h") and fields.get("a"):
                        assert refs.parse(value) is not None, data
    assert seen > 30


def _postback_datas(msg):
    return [a["data"] for a in _actions(msg) if a.get("type") in ("postback", "datetimepicker") and "data" in a]


# -- 5. long names from a city's data never break a step -----------------------------------------

LONG = "長い名前の地区" * 29  # 203 characters: a city's file allows 60 for an area, a calendar any


def test_every_choice_step_works_with_200_character_names(line, fake_line, bot, db, runner, app, tmp_path, clock):
    city = json.loads((ROOT / "data" / "cities" / "demo.json").read_text(encoding="utf-8"))
    for n, area in enumerate(city["areas"]):
        area["names"] = {"ja": f"{n}{LONG}"[:60], "en": (f"{n} " + "Long area name " * 14)[:60]}
    for assoc in city["associations"]:
        assoc["name"] = (assoc["name"] + "長" * 100)[:100]
    path = tmp_path / "city.json"
    path.write_text(json.dumps(city, ensure_ascii=False), encoding="utf-8")
    from bot.core.areas import load_city

    with bot.db.session() as s:
        load_city(s, path)
    garbage_dir = tmp_path / "5374"
    garbage_dir.mkdir()
    src = ROOT / "tests" / "data" / "5374"
    for f in src.iterdir():
        text = f.read_text(encoding="utf-8-sig")
        for short in ("本町一丁目", "本町二丁目", "緑町", "港町", "燃やすごみ", "燃やさないごみ", "資源ごみ", "粗大ごみ"):
            text = text.replace(short, short + "（" + "とても長い名前" * 28 + "）")
        (garbage_dir / f.name).write_text(text, encoding="utf-8")
    out = runner.invoke(args=["garbage", "import", "--dir", str(garbage_dir)])
    assert out.exit_code == 0, out.output
    fake_line.profiles[B] = {"displayName": "Bee", "language": "ja"}
    line.follow(B)
    line.tap(B, "日本語")
    area_label = fake_line.quick_labels(B)[0]
    assert area_label.endswith("…") and len(area_label) <= 20
    line.tap(B, area_label)
    line.tap(B, "スキップ")
    line.say(B, "ビー")
    line.tap(B, "同意する")
    with db.session() as s:
        assert s.scalar(select(Resident).where(Resident.line_user_id == B)).area is not None
    line.say(B, "ごみの日")
    garbage_area = next(label for label in fake_line.quick_labels(B) if label.startswith("緑町"))
    line.tap(B, garbage_area)
    kind = next(label for label in fake_line.quick_labels(B) if label.startswith("燃やすごみ"))
    line.tap(B, kind)
    line.tap(B, "完了")
    assert "登録しました" in line.last_text(B)
    with db.session() as s:
        sub = s.scalar(select(GarbageSubscription))
        assert sub.area.startswith("緑町（") and len(sub.area) > 100
    line.say(B, "ごみの日")
    assert "緑町（" in line.last_text(B)
    for msg in fake_line.messages_to(B):
        for data in _postback_datas(msg):
            assert len(data) <= 120, data
            assert "長い" not in data and "%E9%95%B7" not in data  # no name in any button


# -- 6. a choice that left the city's data is asked again ----------------------------------------

def test_a_garbage_area_removed_by_a_reimport_is_asked_again_and_told_once(line, fake_line, bot, db, runner, joined, tmp_path, clock):
    joined(B, name="Bee", locale_label="日本語")
    src = ROOT / "tests" / "data" / "5374"
    assert runner.invoke(args=["garbage", "import", "--dir", str(src)]).exit_code == 0
    line.say(B, "ごみの日")
    line.say(B, "緑")
    line.tap(B, "すべて")
    line.tap(B, "完了")
    # the city re-imports without 緑町
    new = tmp_path / "new"
    new.mkdir()
    for f in src.iterdir():
        lines = f.read_text(encoding="utf-8-sig").splitlines()
        (new / f.name).write_text("\n".join(x for x in lines if not x.startswith("緑町")) + "\n", encoding="utf-8")
    out = runner.invoke(args=["garbage", "import", "--dir", str(new)], input="n\n")  # what changes, then asked
    assert out.exit_code == 1 and "removed (1): 緑町" in out.output and "1 residents chose areas" in out.output
    assert "nothing imported" in out.output
    out = runner.invoke(args=["garbage", "import", "--dir", str(new)], input="y\n")
    assert out.exit_code == 0 and "areas residents chose that the new calendar does not have: 緑町" in out.output
    # the evening job tells them once, with a button to choose again
    clock.move_to("2026-12-01 19:00:30+09:00", tick=False)
    clock_mod.daily_notices(bot)
    run_worker(bot)
    told = [t for t in fake_line.texts_to(B) if "収集カレンダーが変わり" in t]
    assert len(told) == 1 and "緑町" in told[0]
    assert fake_line.quick_labels(B) == ["選び直す"]
    clock.move_to("2026-12-02 19:00:30+09:00", tick=False)
    clock_mod.daily_notices(bot)
    run_worker(bot)
    assert len([t for t in fake_line.texts_to(B) if "収集カレンダーが変わり" in t]) == 1
    # 「ごみの日」 asks again instead of failing
    line.say(B, "ごみの日")
    assert "もう一度選んでください" in fake_line.texts_to(B)[-2]
    assert "港町" in fake_line.quick_labels(B)
    line.tap(B, "港町")
    line.tap(B, "すべて")
    line.tap(B, "完了")
    with db.session() as s:
        sub = s.scalar(select(GarbageSubscription))
        assert sub.area == "港町" and sub.gone_notified_at is None


def test_stale_circular_and_household_buttons_act_on_no_newer_record(line, fake_line, bot, db, runner, assoc, clock):
    """A member's notice for a circular that was removed, and a leader's button for a paper
    household that was removed: the newer circular and household are untouched."""
    from bot.core.models import Circular, CircularRecipient, Household
    from tests.support import buttons as footer, card

    first = circ_send(runner)
    run_worker(bot)
    old_read = footer(card(fake_line, MEMBER_JA))["読みました"]
    line.say(LEADER, "回覧板の状況")
    press(line, LEADER, footer(card(fake_line, LEADER))["紙の世帯の既読を記録"])
    old_paper = {i["action"]["label"]: i["action"]["data"] for i in fake_line.last_message_to(LEADER)["quickReply"]["items"]}
    with db.session() as s:
        s.delete(s.get(Household, assoc["paper"]))
        s.delete(s.get(Circular, first))
        s.add(Household(association_id=assoc["id"], label="5番 高橋（紙）", han="2班", paper=True))
    second = circ_send(runner)
    run_worker(bot)
    press(line, MEMBER_JA, old_read)
    assert fake_line.texts_to(MEMBER_JA)[-2] == "この回覧板はもうありません。何も変更していません。"
    press(line, LEADER, old_paper["4番 鈴木（紙）"])
    assert fake_line.texts_to(LEADER)[-2] in ("この回覧板はもうありません。何も変更していません。",
                                              "その世帯はもう一覧にありません。何も変更していません。")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(CircularRecipient).where(
            CircularRecipient.circular_id == second, CircularRecipient.read_at.is_not(None))) == 0
    # the newer circular's own buttons work
    press(line, MEMBER_JA, footer(card(fake_line, MEMBER_JA))["読みました"])
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(CircularRecipient).where(
            CircularRecipient.circular_id == second, CircularRecipient.read_at.is_not(None))) == 1
