"""Announcements from the center, end to end: the CLI, the clock's due job, the worker, the
fake LINE API. Time is moved with time-machine (Asia/Tokyo)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select

from bot.delivery import worker
from bot.core.db import utcnow
from bot.core.models import Announcement, AnnouncementRun, Resident
from scheduler import clock as clock_mod
from tests.support import run_worker

EN1 = "U" + "e1" * 16
EN2 = "U" + "e2" * 16
JA1 = "U" + "a1" * 16


@pytest.fixture
def people(joined, clock):
    joined(EN1, name="Emma")
    joined(EN2, name="Liam")
    joined(JA1, name="花子", locale_label="日本語")
    return [EN1, EN2, JA1]


def announce(runner, *args, input=None):
    result = runner.invoke(args=["announce", *args], input=input)
    return result


def texts(fake, user):
    return [m.get("text", "") for m in fake.messages_to(user) if m["type"] == "text"]


def test_announce_now_reaches_each_resident_once_in_their_language(runner, bot, db, fake_line, people, clock):
    before = len(fake_line.deliveries)
    r = announce(runner, "--text", "年末年始のごみ収集のお知らせです。", "--translation", "en=Garbage collection over the New Year.")
    assert r.exit_code == 0, r.output
    assert "3 residents (en 2, ja 1)" in r.output
    assert clock_mod.due_now(bot)["announcements"] == 1
    assert clock_mod.due_now(bot)["announcements"] == 0  # the job running again sends nothing more
    run_worker(bot)
    new = fake_line.deliveries[before:]
    assert [d.kind for d in new].count("multicast") == 1 and [d.kind for d in new].count("push") == 1
    assert "Garbage collection over the New Year." in texts(fake_line, EN1)
    assert "Garbage collection over the New Year." in texts(fake_line, EN2)
    assert "年末年始のごみ収集のお知らせです。" in texts(fake_line, JA1)
    for user in people:
        got = [d for d in new if user in d.to]
        assert len(got) == 1
    with db.session() as s:
        run = s.scalar(select(AnnouncementRun))
        assert (run.status, run.recipients, run.calls, run.method) == ("queued", 3, 2, "multicast")
        assert s.scalar(select(Announcement.status)) == "done"
    listing = runner.invoke(args=["announcements", "list"]).output
    assert "3 residents" in listing and "sent 2" in listing


def test_untranslated_text_falls_back_to_japanese_with_a_note(runner, bot, fake_line, people, clock):
    assert announce(runner, "--text", "防災訓練を行います。").exit_code == 0
    clock_mod.due_now(bot)
    run_worker(bot)
    assert any("防災訓練を行います。" in x and "Not translated" in x for x in texts(fake_line, EN1))
    assert not any("Not translated" in x or "日本語のみ" in x for x in texts(fake_line, JA1))


def test_at_a_time_then_cancel_before_it_goes(runner, bot, db, fake_line, people, clock):
    assert announce(runner, "--text", "明日の清掃は中止です。", "--at", "2026-12-01T15:00").exit_code == 0
    r = announce(runner, "--text", "取り消されるお知らせ", "--at", "2026-12-01T15:00")
    cancelled_id = int(r.output.split("announcement ")[1].split()[0])
    assert runner.invoke(args=["announcements", "cancel", str(cancelled_id)]).exit_code == 0
    assert runner.invoke(args=["announcements", "cancel", str(cancelled_id)]).exit_code != 0  # only once
    assert clock_mod.due_now(bot)["announcements"] == 0  # not yet
    clock.move_to("2026-12-01 15:00:01+09:00", tick=False)
    assert clock_mod.due_now(bot)["announcements"] == 1
    run_worker(bot)
    assert "明日の清掃は中止です。" in texts(fake_line, JA1)
    assert not any("取り消される" in x for u in people for x in texts(fake_line, u))
    # A time already past is refused, not sent by surprise.
    late = announce(runner, "--text", "x", "--at", "2026-12-01T09:00")
    assert late.exit_code != 0 and "already passed" in late.output


def test_second_tuesday_repeats_a_restart_within_grace_sends_once_later_runs_are_missed(runner, bot, db, fake_line, people, clock):
    r = announce(runner, "--text", "資源回収の日です。", "--every", "第2火曜 10:00", "--to", "lang:ja")
    assert r.exit_code == 0, r.output
    assert "Tue, Dec 8, 2026, 10:00 AM" in r.output  # the 2nd Tuesday of December
    # The clock was down at 10:00 and comes back at 10:40, within the hour of grace: sent once.
    clock.move_to("2026-12-08 10:40:00+09:00", tick=False)
    assert clock_mod.due_now(bot)["announcements"] == 1
    assert clock_mod.due_now(bot)["announcements"] == 0
    run_worker(bot)
    assert texts(fake_line, JA1).count("資源回収の日です。") == 1
    with db.session() as s:
        ann = s.scalar(select(Announcement))
        assert ann.next_fire_at.isoformat() == "2027-01-12T01:00:00+00:00"  # 2nd Tuesday of January, 10:00 JST
    # Down across January's run for longer than the grace window: recorded as missed, not sent late.
    clock.move_to("2027-01-12 13:00:00+09:00", tick=False)
    clock_mod.due_now(bot)
    run_worker(bot)
    assert texts(fake_line, JA1).count("資源回収の日です。") == 1
    with db.session() as s:
        runs = [(r.fire_time.isoformat(), r.status) for r in s.scalars(select(AnnouncementRun).order_by(AnnouncementRun.fire_time))]
        assert runs == [("2026-12-08T01:00:00+00:00", "queued"), ("2027-01-12T01:00:00+00:00", "missed")]
        assert s.scalar(select(Announcement.next_fire_at)).isoformat() == "2027-02-09T01:00:00+00:00"
    assert "missed" in runner.invoke(args=["announcements", "list"]).output


def _set_quiet(db, user, start, end):
    with db.session() as s:
        r = s.scalar(select(Resident).where(Resident.line_user_id == user))
        r.quiet_start, r.quiet_end = start, end


def test_quiet_hours_hold_ordinary_notices_until_morning_urgent_ones_go_through(runner, bot, db, fake_line, people, clock):
    clock.move_to("2026-12-01 22:00:00+09:00", tick=False)
    _set_quiet(db, EN2, None, None)  # Liam has no quiet hours; the others keep 21:00–8:00
    assert announce(runner, "--text", "図書館の休館日のお知らせ", "--translation", "en=Library closed days").exit_code == 0
    clock_mod.due_now(bot)
    run_worker(bot)
    assert "Library closed days" in texts(fake_line, EN2)
    assert "Library closed days" not in texts(fake_line, EN1)  # held for the morning
    # Urgent: asks first; "no" sends nothing.
    no = announce(runner, "--text", "【避難情報】川辺町に避難指示", "--urgent", input="n\n")
    assert no.exit_code != 0 and "URGENT" in no.output
    yes = announce(runner, "--text", "【避難情報】川辺町に避難指示", "--translation", "en=Evacuation order for Kawabe", "--urgent",
                   input="y\n")
    assert yes.exit_code == 0, yes.output
    clock_mod.due_now(bot)
    run_worker(bot)
    assert any(x.startswith("[URGENT]") and "Evacuation order" in x for x in texts(fake_line, EN1))
    assert any(x.startswith("【緊急】") for x in texts(fake_line, JA1))
    clock.move_to("2026-12-02 08:00:30+09:00", tick=False)
    run_worker(bot)
    assert texts(fake_line, EN1).count("Library closed days") == 1
    assert texts(fake_line, EN2).count("Library closed days") == 1


def test_a_resident_who_chose_the_digest_gets_one_message_a_day(line, runner, bot, db, fake_line, people, clock):
    line.say(JA1, "設定")
    line.tap(JA1, "お知らせの受け取り方")
    line.tap(JA1, "1日1回まとめて")
    assert "1日1回、朝にまとめて" in line.last_text(JA1)
    clock.move_to("2026-12-01 14:00:00+09:00", tick=False)
    for text in ("お知らせ一つ目", "お知らせ二つ目"):
        assert announce(runner, "--text", text).exit_code == 0
        clock_mod.due_now(bot)
    assert announce(runner, "--text", "緊急のお知らせ", "--urgent", "--yes").exit_code == 0
    clock_mod.due_now(bot)
    clock_mod.daily_notices(bot)  # 14:00: not the digest hour
    run_worker(bot)
    got = texts(fake_line, JA1)
    assert not any("一つ目" in x for x in got) and any("緊急のお知らせ" in x for x in got)
    assert any("お知らせ一つ目" in x for x in texts(fake_line, EN1))  # the others got them as usual
    clock.move_to("2026-12-02 08:01:00+09:00", tick=False)
    assert clock_mod.daily_notices(bot)["digests"] == 1
    assert clock_mod.daily_notices(bot)["digests"] == 0  # once
    run_worker(bot)
    digest = [x for x in texts(fake_line, JA1) if "今日のお知らせ" in x]
    assert len(digest) == 1 and "（2件）" in digest[0] and "一つ目" in digest[0] and "二つ目" in digest[0]


def _seed(db, n, locale="ja", prefix="Uf", quiet=None):
    now = utcnow()
    with db.session() as s:
        s.execute(insert(Resident.__table__), [
            {"line_user_id": f"{prefix}{i:031x}", "channel": "line", "locale": locale, "following": True,
             "consent_at": now, "quiet_start": quiet, "quiet_end": quiet, "digest": False, "interests": [],
             "created_at": now} for i in range(n)])


def test_everyone_in_one_language_gets_a_single_broadcast(runner, bot, db, fake_line, clock):
    _seed(db, 1200)
    assert announce(runner, "--text", "市長からのお知らせ").exit_code == 0
    clock_mod.due_now(bot)
    run_worker(bot)
    assert fake_line.count("broadcast") == 1 and fake_line.count("multicast") == 0
    with db.session() as s:
        run = s.scalar(select(AnnouncementRun))
        assert (run.method, run.calls, run.recipients) == ("broadcast", 1, 1200)


def test_multicasts_of_500_per_language_each_with_its_own_retry_key(runner, bot, db, fake_line, clock):
    _seed(db, 1100, "ja", "Ua")
    _seed(db, 600, "en", "Ub")
    assert announce(runner, "--text", "お知らせ", "--translation", "en=Notice").exit_code == 0
    clock_mod.due_now(bot)
    run_worker(bot)
    multis = [d for d in fake_line.deliveries if d.kind == "multicast"]
    assert sorted(len(d.to) for d in multis) == [100, 100, 500, 500, 500]  # ⌈1100/500⌉ + ⌈600/500⌉
    assert len({d.retry_key for d in multis}) == 5
    everyone = [u for d in multis for u in d.to]
    assert len(everyone) == len(set(everyone)) == 1700
    ja = {u for d in multis if d.messages[0]["text"] == "お知らせ" for u in d.to}
    assert len(ja) == 1100 and all(u.startswith("Ua") for u in ja)


def test_audience_by_area_association_language_and_topic(line, runner, bot, db, fake_line, people, clock):
    from bot.core.models import Area

    with db.session() as s:
        sakura = s.scalar(select(Area).where(Area.code == "sakura"))
        r = s.scalar(select(Resident).where(Resident.line_user_id == EN1))
        r.area_id = sakura.id
    line.say(EN2, "settings")
    line.tap(EN2, "Topics")
    line.tap(EN2, "Kids & families")
    line.tap(EN2, "Done")
    assert "Topics: Kids & families" in line.last_text(EN2)
    assert "1 residents (en 1)" in announce(runner, "--text", "x", "--to", "area:さくら台", "--preview").output
    assert "1 residents (en 1)" in announce(runner, "--text", "x", "--to", "topic:childcare", "--preview").output
    assert "1 residents (ja 1)" in announce(runner, "--text", "x", "--to", "lang:ja", "--preview").output
    assert "0 residents" in announce(runner, "--text", "x", "--to", "association:あさひ町内会", "--preview").output
    # Kinds combine with AND: English speakers in さくら台.
    assert "1 residents" in announce(runner, "--text", "x", "--to", "lang:en", "--to", "area:sakura", "--preview").output
    bad = announce(runner, "--text", "x", "--to", "area:nowhere")
    assert bad.exit_code != 0 and "no area" in bad.output.lower()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Announcement)) == 0  # previews send nothing
    assert announce(runner, "--text", "子育てサロンのお知らせ", "--to", "topic:childcare").exit_code == 0
    clock_mod.due_now(bot)
    run_worker(bot)
    assert any("子育てサロン" in x for x in texts(fake_line, EN2))
    assert not any("子育てサロン" in x for x in texts(fake_line, EN1) + texts(fake_line, JA1))


# -- a big audience, queued in parts ----------------------------------------------------------

def _chunked(bot, n: int) -> None:
    bot.config = bot.config.with_overrides(announcement_chunk=n)


def _run(db) -> AnnouncementRun:
    with db.session() as s:
        return s.scalar(select(AnnouncementRun))


def test_a_big_audience_is_queued_in_parts_with_full_multicasts(runner, bot, db, fake_line, clock):
    """1,234 residents, 70 per transaction: still ⌈N/500⌉ multicasts per language, each resident
    once; the run records each part's place until the last."""
    _seed(db, 700, "ja", "Ua")
    _seed(db, 534, "en", "Ub")
    _chunked(bot, 70)
    assert announce(runner, "--text", "お知らせ", "--translation", "en=Notice").exit_code == 0
    assert clock_mod.due_now(bot)["announcements"] == 1
    run = _run(db)
    assert (run.status, run.cursor, run.carry) == ("queued", None, None)
    assert (run.recipients, run.calls, run.method) == (1234, 4, "multicast")
    assert clock_mod.due_now(bot) == {"announcements": 0, "reminders": 0}  # nothing more
    run_worker(bot)
    multis = [d for d in fake_line.deliveries if d.kind == "multicast"]
    assert sorted(len(d.to) for d in multis) == [34, 200, 500, 500]
    everyone = [u for d in multis for u in d.to]
    assert len(everyone) == len(set(everyone)) == 1234
    assert all({m["text"] for m in d.messages} == ({"お知らせ"} if d.to[0].startswith("Ua") else {"Notice"})
               for d in multis)


def test_the_worker_sends_the_first_parts_while_the_rest_is_queued(runner, bot, db, fake_line, clock):
    from bot import services
    from bot.services import announcements
    _seed(db, 1500, "ja", "Ua")
    _seed(db, 1, "en", "Ub")  # two languages: multicasts, not a broadcast
    _chunked(bot, 600)
    assert announce(runner, "--text", "お知らせ", "--translation", "en=Notice").exit_code == 0
    now = utcnow()
    with db.session() as s:  # the clock's first transaction: the run and its first part
        assert len(services.apply(s, announcements.fire_due(s, bot.config, now), "clock").facts["runs"]) == 1
    run = _run(db)
    assert run.status == "queueing" and run.recipients == 600 and run.calls == 1
    assert len(run.carry["groups"][0][3]) == 100  # 600 read: one multicast of 500, 100 carried
    run_worker(bot)
    assert fake_line.count("multicast") == 1  # sent before the rest was even queued
    clock_mod.due_now(bot)  # the clock goes on where it left off
    run_worker(bot)
    got = [u for d in fake_line.deliveries for u in d.to]
    assert len(got) == len(set(got)) == 1501
    assert fake_line.count("multicast") == 3 and fake_line.count("push") == 1


def test_a_run_left_half_queued_beyond_the_grace_window_is_missed(runner, bot, db, fake_line, clock):
    from datetime import timedelta

    from bot import services
    from bot.services import announcements
    _seed(db, 900, "ja", "Ua")
    _seed(db, 1, "en", "Ub")
    _chunked(bot, 500)
    assert announce(runner, "--text", "お知らせ", "--translation", "en=Notice").exit_code == 0
    with db.session() as s:
        services.apply(s, announcements.fire_due(s, bot.config, utcnow()), "clock")
    clock.shift(timedelta(hours=2))  # the clock was stopped for two hours
    clock_mod.due_now(bot)
    run = _run(db)
    assert run.status == "missed" and run.recipients == 500
    run_worker(bot)
    assert sum(len(d.to) for d in fake_line.deliveries) == 500  # only what was queued in time


def test_the_count_before_sending_matches_who_it_goes_to(db, clock):
    """The sender's count (by SQL) and the residents it is then queued for (row by row) agree,
    for every kind of audience."""
    from collections import Counter

    from bot import services
    from bot.services import announcements
    _seed(db, 30, "ja", "Ua")
    _seed(db, 20, "en", "Ub")
    _seed(db, 5, "xx", "Uc")  # a language the bot does not speak: counted as Japanese
    with db.session() as s:
        for i, r in enumerate(s.scalars(select(Resident).order_by(Resident.id))):
            r.interests = ["disaster"] if i % 3 == 0 else []
            r.following = i % 7 != 0
    with db.read() as s:
        for audience in ({"all": True}, {"languages": ["en"]}, {"topics": ["disaster"]}, {"languages": ["xx", "ja"]}):
            expected = Counter(m.locale for m in announcements.members(s, audience))
            assert announcements.count(s, audience) == dict(expected), audience
            assert sum(expected.values()) > 0


def test_an_announcement_due_while_a_big_one_is_queued_starts_between_its_parts(runner, bot, db, fake_line, clock):
    """Staff send an urgent notice while a city-wide announcement is still being queued: the clock
    starts it between two parts of the big one, not after the last."""
    import threading
    import time

    from bot.core.models import OutboxMessage

    from bot import services
    from bot.services import announcements
    _seed(db, 6000, "ja", "Ua")
    _seed(db, 1, "en", "Ub")
    _chunked(bot, 10)
    assert announce(runner, "--text", "大きなお知らせ", "--translation", "en=Big notice").exit_code == 0
    worker_thread = threading.Thread(target=clock_mod.due_now, args=(bot,))
    worker_thread.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            run = _run(db)
            if run is not None and (run.status == "queued" or (run.cursor or 0) >= 100):
                break
            assert time.monotonic() < deadline
            time.sleep(0.001)
        assert run.status == "queueing", "the big one was queued before the test could add the other"
        with db.session() as s:  # as the console's "send now" does
            announcements.create(s, text="避難してください", audience={"languages": ["en"]}, now=utcnow(),
                                 urgent=True)
    finally:
        worker_thread.join(60)
    with db.read() as s:
        runs = {r.announcement_id: r for r in s.scalars(select(AnnouncementRun))}
        assert {r.status for r in runs.values()} == {"queued"}
        big_rows = list(s.scalars(select(OutboxMessage.id).where(OutboxMessage.source.like("ann:1:%"))))
        urgent_rows = list(s.scalars(select(OutboxMessage.id).where(OutboxMessage.source.like("ann:2:%"))))
    assert len(urgent_rows) == 1 and urgent_rows[0] < max(big_rows)  # queued before the big one's last part


def test_an_urgent_notice_is_sent_before_a_city_wide_one_queued_earlier(runner, bot, db, fake_line, clock):
    from datetime import timedelta

    _seed(db, 1500, "ja", "Ua")
    _seed(db, 1, "en", "Ub")
    assert announce(runner, "--text", "秋祭りのお知らせ", "--translation", "en=Autumn festival").exit_code == 0
    clock_mod.due_now(bot)  # four rows wait for the worker
    clock.shift(timedelta(seconds=30))
    assert announce(runner, "--text", "避難指示が出ました", "--translation", "en=Evacuate now", "--urgent",
                    "--yes").exit_code == 0
    clock_mod.due_now(bot)
    worker.run_once(bot, batch=2)  # room for two rows only: the urgent ones go first
    sent = [" ".join(m.get("text", "") for m in d.messages) for d in fake_line.deliveries]
    assert len(sent) == 2 and all("避難指示が出ました" in t or "Evacuate now" in t for t in sent), sent
    run_worker(bot)
    assert len(fake_line.deliveries) == 8
