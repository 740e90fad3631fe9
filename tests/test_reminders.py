"""Personal reminders and garbage days, end to end through signed webhooks, the clock's jobs
and the worker; time moved with time-machine (Asia/Tokyo)."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.core.models import GarbageSubscription, Reminder, Resident
from scheduler import clock as clock_mod
from tests import support
from tests.support import run_worker

JA = "U" + "b1" * 16
EN = "U" + "b2" * 16
DATA = Path(__file__).parent / "data" / "5374"


@pytest.fixture
def clock(time_machine):
    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)  # a Tuesday
    return time_machine


@pytest.fixture
def people(joined, clock):
    joined(JA, name="花子", locale_label="日本語")
    joined(EN, name="Emma")


def texts(fake, user):
    return [m.get("text", "") for m in fake.messages_to(user) if m["type"] == "text"]


def test_a_weekly_reminder_is_made_in_a_conversation_and_comes_every_week(line, bot, db, fake_line, people, clock):
    line.say(JA, "リマインダー")
    assert "まだありません" in line.last_text(JA)
    line.tap(JA, "新しく作る")
    line.say(JA, "燃えるごみ")  # no time: explained, asked again
    assert "いつかを書いて" in fake_line.texts_to(JA)[-2]
    line.say(JA, "毎週火曜 7:00 燃えるごみ")
    assert "毎週 火 7:00に「燃えるごみ」" in line.last_text(JA)
    line.tap(JA, "保存する")
    assert "保存しました" in line.last_text(JA)
    line.say(JA, "リマインダー")
    carousel = fake_line.messages_to(JA)[-1]
    assert carousel["type"] == "flex" and "燃えるごみ" in str(carousel)
    # Next Tuesday 7:00 (quiet hours end at 8:00 AM, but the resident chose 7:00: it comes then).
    clock.move_to("2026-12-08 07:00:00+09:00", tick=False)
    assert clock_mod.due_now(bot)["reminders"] == 1
    assert clock_mod.due_now(bot)["reminders"] == 0  # the job running twice sends once
    run_worker(bot)
    assert texts(fake_line, JA).count("⏰ リマインダー：燃えるごみ") == 1
    clock.move_to("2026-12-15 07:00:05+09:00", tick=False)
    clock_mod.due_now(bot)
    run_worker(bot)
    assert texts(fake_line, JA).count("⏰ リマインダー：燃えるごみ") == 2


def test_one_line_one_off_reminder_is_sent_then_gone(line, bot, db, fake_line, people, clock):
    line.say(EN, "reminders 12/24 10:00 street clean-up")
    assert "Dec 24, 2026 at 10:00 AM" in line.last_text(EN)
    line.tap(EN, "Save")
    clock.move_to("2026-12-24 10:00:00+09:00", tick=False)
    clock_mod.due_now(bot)
    run_worker(bot)
    assert "⏰ Reminder: street clean-up" in texts(fake_line, EN)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Reminder)) == 0


def test_bad_input_is_explained_and_leaving_keeps_nothing(line, bot, db, fake_line, people, clock):
    line.say(JA, "リマインダー 2/30 9:00 会議")
    assert "その日付はありません" in "".join(texts(fake_line, JA)[-3:])
    line.say(JA, "今日 7:00 ごみ出し")  # 10:00 now: already past
    assert "もう過ぎています" in fake_line.texts_to(JA)[-2]
    line.say(JA, "やめる")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Reminder)) == 0


def test_delete_with_the_button_and_no_one_else_can(line, bot, db, fake_line, people, clock):
    line.say(JA, "リマインダー 毎日 8:00 薬")
    line.tap(JA, "保存する")
    with db.session() as s:
        rid = s.scalar(select(Reminder.id))
    r = support.ref_of(db, Reminder, rid)
    line.post([line.postback_event(EN, f"a=rem&x=del&r={r}")])
    assert "already gone" in line.last_text(EN)
    line.post([line.postback_event(JA, f"a=rem&x=del&r={rid}")])  # an id alone names nothing
    assert "前のメッセージのボタン" in fake_line.texts_to(JA)[-2]
    line.post([line.postback_event(JA, f"a=rem&x=del&r={r}")])
    assert "リマインダー「薬」を消しました" in line.last_text(JA)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Reminder)) == 0


def test_a_reminder_missed_beyond_the_grace_window_is_skipped_not_sent_late(line, bot, db, fake_line, people, clock):
    line.say(JA, "リマインダー 毎日 8:00 薬")
    line.tap(JA, "保存する")
    clock.move_to("2026-12-02 11:00:00+09:00", tick=False)  # the clock was down 8:00–11:00
    clock_mod.due_now(bot)
    run_worker(bot)
    assert "⏰ リマインダー：薬" not in texts(fake_line, JA)
    with db.session() as s:
        assert s.scalar(select(Reminder.next_fire_at)).isoformat() == "2026-12-02T23:00:00+00:00"  # tomorrow 8:00


def test_the_same_reminder_of_many_residents_goes_as_one_multicast(line, joined, bot, db, fake_line, clock):
    users = [joined("U" + f"{i:02x}" * 16, name=f"n{i}", locale_label="日本語") for i in range(3)]
    for u in users:
        line.say(u, "リマインダー 毎週火曜 7:00 燃えるごみ")
        line.tap(u, "保存する")
    clock.move_to("2026-12-08 07:00:00+09:00", tick=False)
    clock_mod.due_now(bot)
    before = len(fake_line.deliveries)
    run_worker(bot)
    new = fake_line.deliveries[before:]
    assert len(new) == 1 and new[0].kind == "multicast" and sorted(new[0].to) == sorted(users)


# -- garbage days --------------------------------------------------------------------------------

def test_a_whole_batch_of_reminders_of_people_who_left_does_not_hold_up_the_rest(bot, db, fake_line, clock):
    """Reminders are queued 1,000 per transaction; a first thousand of residents who unfollowed
    sends nothing, and the one after them still goes at once."""
    from datetime import time as clock_time, timedelta

    from sqlalchemy import insert

    from bot.core.db import utcnow
    from bot.core.recurrence import Rule

    now = utcnow()
    rule = Rule(kind="daily", at=clock_time(7, 0)).to_json()
    with db.session() as s:
        s.execute(insert(Resident.__table__), [
            {"line_user_id": f"U{i:032x}", "channel": "line", "locale": "ja", "following": i == 1200,
             "consent_at": now, "digest": False, "interests": [], "created_at": now} for i in range(1201)])
        ids = list(s.scalars(select(Resident.id).order_by(Resident.id)))
        s.execute(insert(Reminder.__table__), [
            {"resident_id": rid, "title": f"r{k}", "rule": rule, "next_fire_at": now - timedelta(seconds=5),
             "created_at": now} for k, rid in enumerate(ids)])
    assert clock_mod.due_now(bot)["reminders"] == 1
    run_worker(bot)
    assert texts(fake_line, f"U{1200:032x}") and len(fake_line.deliveries) == 1


def test_garbage_days_from_the_5374_calendar(line, runner, bot, db, fake_line, people, clock):
    line.say(JA, "ごみの日")
    assert "まだ登録されていません" in line.last_text(JA)
    out = runner.invoke(args=["garbage", "import", "--dir", str(DATA)])
    assert out.exit_code == 0, out.output
    assert "4 areas" in out.output
    days = runner.invoke(args=["garbage", "days", "緑町"]).output
    assert days.strip()
    line.say(JA, "ごみの日")
    line.say(JA, "火星")
    assert "合う収集地区がありません" in fake_line.texts_to(JA)[-2]
    line.say(JA, "緑")
    assert "すべて" in fake_line.quick_labels(JA)
    line.tap(JA, "燃やすごみ")
    line.tap(JA, "完了")
    assert "登録しました" in line.last_text(JA) and "燃やすごみ" in line.last_text(JA)
    with db.session() as s:
        sub = s.scalar(select(GarbageSubscription))
        assert (sub.area, sub.categories) == ("緑町", ["燃やすごみ"])
    from bot.services import garbage
    from datetime import date, timedelta

    with db.session() as s:
        cal = garbage.current(s)
    day = next(d for d in (date(2026, 12, 2) + timedelta(n) for n in range(14)) if "燃やすごみ" in cal.collections_on("緑町", d))
    eve = day - timedelta(days=1)
    clock.move_to(f"{eve.isoformat()} 18:59:00+09:00", tick=False)
    assert clock_mod.daily_notices(bot)["garbage"] == 0  # not yet the evening hour
    clock.move_to(f"{eve.isoformat()} 19:00:30+09:00", tick=False)
    assert clock_mod.daily_notices(bot)["garbage"] == 1
    assert clock_mod.daily_notices(bot)["garbage"] == 0  # once per collection day
    run_worker(bot)
    told = [x for x in texts(fake_line, JA) if x.startswith("明日")]
    assert len(told) == 1 and "「燃やすごみ」の日です" in told[0]
    # The year-end closure (12/29–1/3 in the sample) is respected: no reminder for 12/31.
    assert cal.collections_on("緑町", date(2026, 12, 31)) == []
    # Stop.
    line.say(JA, "ごみの日")
    line.tap(JA, "お知らせをやめる")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(GarbageSubscription)) == 0


def test_garbage_import_refuses_a_broken_calendar(runner, tmp_path, app):
    (tmp_path / "area_days.csv").write_text("これはCSVではない\n", encoding="utf-8")
    out = runner.invoke(args=["garbage", "import", "--dir", str(tmp_path)])
    assert out.exit_code != 0 and "area_days.csv" in out.output
