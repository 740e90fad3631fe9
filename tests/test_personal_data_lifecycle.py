"""Personal data over a resident's life: deleting it leaves nothing that identifies them in
any table (multicasts included); residents who unfollowed are forgotten after the retention
period; a resident's data can be exported on request; and one resident cannot flood the bot."""
from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import func, select

from bot.core.db import Base, utcnow
from bot.core.models import OutboxMessage, Resident
from scheduler import clock as clock_mod
from scheduler.housekeeping import tidy

USER = "U" + "f7" * 16
OTHER = "U" + "f8" * 16


def _everything_mentions(db, needles: list[str]) -> list[str]:
    """Every table and column where any of `needles` still appears."""
    found = []
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                text = json.dumps([str(v) for v in row], ensure_ascii=False)
                for needle in needles:
                    if needle in text:
                        found.append(f"{table.name}: {needle}")
    return found


def test_deleting_my_data_leaves_nothing_behind_in_any_table(line, runner, bot, db, fake_line, joined, time_machine):
    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)
    joined(USER, name="Zorro", locale_label="日本語")
    joined(OTHER, name="Other", locale_label="日本語")
    # Leave traces everywhere: a reminder, a garbage choice, a help request, an announcement
    # waiting (in a multicast with someone else), a digest item.
    line.say(USER, "リマインダー 毎週火曜 7:00 ゾロの燃えるごみ")
    line.tap(USER, "保存する")
    with db.session() as s:
        s.scalar(select(Resident).where(Resident.line_user_id == USER)).quiet_start = 0  # hold the notice
        s.scalar(select(Resident).where(Resident.line_user_id == USER)).quiet_end = 23 * 60 + 59
        s.scalar(select(Resident).where(Resident.line_user_id == OTHER)).quiet_start = 0
        s.scalar(select(Resident).where(Resident.line_user_id == OTHER)).quiet_end = 23 * 60 + 59
    assert runner.invoke(args=["announce", "--text", "お知らせ"]).exit_code == 0
    clock_mod.due_now(bot)
    with db.session() as s:
        queued = s.scalar(select(OutboxMessage).where(OutboxMessage.source.like("ann:%")))
        assert USER in queued.recipients and OTHER in queued.recipients  # one multicast for both
    line.say(USER, "データ削除")
    line.tap(USER, "はい、削除する")
    assert _everything_mentions(db, [USER, "Zorro", "ゾロ"]) == []
    with db.session() as s:
        assert s.scalar(select(OutboxMessage.recipients).where(OutboxMessage.source.like("ann:%"))) == [OTHER]


def test_residents_who_unfollowed_are_forgotten_after_the_retention_period(line, bot, db, joined, time_machine):
    time_machine.move_to("2026-01-01 10:00:00+09:00", tick=False)
    joined(USER, name="Zorro")
    line.unfollow(USER)
    with db.session() as s:
        assert tidy(s, utcnow() + timedelta(days=179), 180)["unfollowed"] == 0
        assert tidy(s, utcnow() + timedelta(days=181), 180)["unfollowed"] == 1
    assert _everything_mentions(db, [USER, "Zorro"]) == []


def test_a_resident_can_have_their_data_exported(line, runner, db, joined, tmp_path):
    joined(USER, name="Zorro")
    line.say(USER, "reminders every day 8:00 medicine")
    line.tap(USER, "Save")
    out = tmp_path / "zorro.json"
    result = runner.invoke(args=["residents", "export", "--nickname", "Zorro", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["resident"]["nickname"] == "Zorro" and data["resident"]["line_user_id"] == USER
    assert data["reminders"][0]["title"] == "medicine"
    assert runner.invoke(args=["residents", "export", "--nickname", "Nobody", "--out", str(out)]).exit_code != 0


def test_one_resident_cannot_flood_the_bot(app_factory, db, fake_line, joined, time_machine):
    from tests import support

    time_machine.move_to("2026-12-01 10:00:30+09:00", tick=False)
    joined(USER, name="Zorro")
    limited = app_factory(resident_events_per_minute=30)
    line = support.Line(limited.test_client(), fake_line)
    with db.session() as s:  # start the minute's count from here
        s.execute(sa.update(Resident).where(Resident.line_user_id == USER).values(rate_count=0, rate_window=None))
    limit = 30
    for _ in range(limit):
        line.say(USER, "menu")
    before = len(fake_line.messages_to(USER))
    line.say(USER, "menu")
    assert "very fast" in line.last_text(USER)
    for _ in range(5):
        line.say(USER, "menu")
    assert len(fake_line.messages_to(USER)) == before + 1  # told once, then ignored
    time_machine.move_to("2026-12-01 10:01:30+09:00", tick=False)
    line.say(USER, "menu")
    assert len(fake_line.messages_to(USER)) > before + 1  # the next minute is fine
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Resident)) == 1
