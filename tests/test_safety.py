"""Safety checks (安否確認, issue 20) end to end: started from the CLI, asked through quiet hours
in each resident's language, answered with one tap or in words, 「助けが必要」 at once to the
resident's 会長 and 班長 with what they need, the leaders' list of households (paper households
included, the most urgent first), asked again once, ended."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.core.models import Association, Household, Membership, OutboxMessage, Resident, SafetyAnswer, SafetyCheck
from bot.services import safety
from scheduler import clock as clock_mod
from tests.support import run_worker

EMMA = "U" + "d1" * 16  # English, 2班, household 2番 Smith
HANAKO = "U" + "d2" * 16  # Japanese, 1班, household 1番 田中
HANCHO = "U" + "d3" * 16  # Japanese, the 班長 of 2班
KAICHO = "U" + "d4" * 16  # Japanese, the 会長
OUTSIDER = "U" + "d5" * 16  # みなと自治会


@pytest.fixture
def town(joined, db, time_machine):
    """あさひ町内会: 1番 田中 (1班, 花子), 2番 Smith (2班, Emma), 3番 佐藤 (2班, the 班長), the 会長;
    paper household 4番 鈴木 (2班). It is 2:00 at night: everyone's quiet hours."""
    time_machine.move_to("2026-12-06 02:00:00+09:00", tick=False)
    joined(EMMA, name="Emma")
    joined(HANAKO, name="花子", locale_label="日本語")
    joined(HANCHO, name="佐藤", locale_label="日本語")
    joined(KAICHO, name="会長さん", locale_label="日本語")
    joined(OUTSIDER, name="港", locale_label="日本語")
    with db.session() as s:
        a = s.scalar(select(Association).where(Association.join_code == "ASAHI-2026"))
        m = s.scalar(select(Association).where(Association.join_code == "MINATO-2026"))
        homes = {label: Household(association_id=a.id, label=label, han=han, paper=paper) for label, han, paper in (
            ("1番 田中", "1班", False), ("2番 Smith", "2班", False), ("3番 佐藤", "2班", False), ("4番 鈴木（紙）", "2班", True))}
        s.add_all(homes.values())
        s.flush()
        rid = {u: s.scalar(select(Resident.id).where(Resident.line_user_id == u)) for u in (EMMA, HANAKO, HANCHO, KAICHO, OUTSIDER)}
        s.add_all([
            Membership(resident_id=rid[EMMA], association_id=a.id, household_id=homes["2番 Smith"].id),
            Membership(resident_id=rid[HANAKO], association_id=a.id, household_id=homes["1番 田中"].id),
            Membership(resident_id=rid[HANCHO], association_id=a.id, role="han_leader", household_id=homes["3番 佐藤"].id),
            Membership(resident_id=rid[KAICHO], association_id=a.id, role="leader"),
            Membership(resident_id=rid[OUTSIDER], association_id=m.id),
        ])
    return a.id


def start(runner, *args) -> int:
    out = runner.invoke(args=["safety", "start", "--to", "association:ASAHI-2026", "--yes", *args])
    assert out.exit_code == 0, out.output
    return int(out.output.split("safety check ")[1].split()[0])


def answers(db) -> dict[str, str | None]:
    with db.read() as s:
        rows = s.execute(select(Resident.line_user_id, SafetyAnswer.status).join(
            Resident, Resident.id == SafetyAnswer.resident_id)).all()
    return dict(rows)


def test_everyone_in_scope_is_asked_at_once_through_quiet_hours_in_their_language(runner, bot, db, fake_line, town):
    out = runner.invoke(args=["safety", "start", "--to", "association:ASAHI-2026", "--yes", "--note", "震度5弱の地震がありました"])
    assert out.exit_code == 0, out.output
    assert "4 residents asked" in out.output and "1 paper households" in out.output
    with db.read() as s:
        rows = s.scalars(select(OutboxMessage)).all()
        assert rows and all(r.rank == 0 and (r.next_attempt_at is None or r.next_attempt_at <= r.created_at) for r in rows)
    run_worker(bot)
    assert fake_line.texts_to(OUTSIDER) == []  # another association: not asked
    en = fake_line.texts_to(EMMA)[-1]
    assert en.startswith("Safety check: are you safe?") and "震度5弱" in en
    assert fake_line.quick_labels(EMMA) == ["I am safe", "I need help", "I have evacuated"]
    ja = fake_line.texts_to(HANAKO)[-1]
    assert "安否確認" in ja and "DRILL" not in ja and "訓練" not in ja
    assert answers(db) == {EMMA: None, HANAKO: None, HANCHO: None, KAICHO: None}


def test_i_need_help_reaches_my_leaders_at_once_with_what_i_need(runner, bot, db, fake_line, line, town):
    start(runner)
    run_worker(bot)
    before = {u: len(fake_line.texts_to(u)) for u in (HANCHO, KAICHO, HANAKO)}
    line.tap(EMMA, "I need help")
    assert "What do you need?" in line.last_text(EMMA)
    run_worker(bot)
    told = fake_line.texts_to(KAICHO)[before[KAICHO]:]
    assert len(told) == 1 and "Emma" in told[0] and "2番 Smith" in told[0], told
    assert len(fake_line.texts_to(HANCHO)) == before[HANCHO] + 1  # the 班長 of 2班
    assert len(fake_line.texts_to(HANAKO)) == before[HANAKO]  # a member, not a leader: nothing
    assert EMMA not in "".join(told)  # no LINE account is shown
    line.say(EMMA, "I cannot walk, I am at home")
    assert "leaders have been told" in line.last_text(EMMA)
    run_worker(bot)
    assert "I cannot walk, I am at home" in fake_line.texts_to(KAICHO)[-1]
    assert answers(db)[EMMA] == "help"


def test_answers_in_words_and_for_the_household_and_the_leaders_list(runner, bot, db, fake_line, line, town):
    check_id = start(runner)
    run_worker(bot)
    line.say(HANAKO, "無事です")
    assert "無事" in line.last_text(HANAKO)
    line.tap(HANAKO, "世帯全員も")
    assert answers(db)[HANAKO] == "safe"
    line.tap(EMMA, "I need help")
    line.tap(EMMA, "Skip")
    line.say(KAICHO, "安否状況")
    listing = line.last_text(KAICHO)
    lines = listing.splitlines()
    assert lines[0] == "世帯：助けが必要 1、未回答 2、避難 0、無事 1"  # the 会長 has no household of her own
    # needs help first, then the households with no answer (the paper one too); safe ones left out
    order = [x for x in lines if x.startswith("・")]
    assert order[0].startswith("・2番 Smith") and "助け" in order[0]
    assert any(x.startswith("・4番 鈴木（紙）") for x in order) and not any("1番 田中" in x for x in order)
    # the 班長 of 2班 sees 2班 only
    line.say(HANCHO, "安否状況")
    assert "1番" not in line.last_text(HANCHO) and "2番 Smith" in line.last_text(HANCHO)
    # a member is not shown anyone's status
    line.say(HANAKO, "安否状況")
    assert "2番" not in line.last_text(HANAKO)
    out = runner.invoke(args=["safety", "status", str(check_id), "--association", "ASAHI-2026"])
    assert out.output.splitlines()[0].startswith(f"check {check_id}: safe 1, needs help 1, evacuated 0, no answer 3")
    assert out.output.splitlines()[1].startswith("help\t2班\t2番 Smith")


def test_the_unanswered_are_asked_again_once_and_an_ended_check_takes_no_answers(runner, bot, db, fake_line, line, town, time_machine):
    check_id = start(runner, "--reask-minutes", "30")
    run_worker(bot)
    line.tap(EMMA, "I am safe")
    asked = {u: len(fake_line.texts_to(u)) for u in (EMMA, HANAKO)}
    time_machine.shift(timedelta(minutes=29))
    assert clock_mod.safety_reasks(bot) == 0
    time_machine.shift(timedelta(minutes=2))
    assert clock_mod.safety_reasks(bot) == 3  # 花子, the 班長, the 会長
    assert clock_mod.safety_reasks(bot) == 0  # once
    run_worker(bot)
    assert len(fake_line.texts_to(HANAKO)) == asked[HANAKO] + 1 and "安否確認" in fake_line.texts_to(HANAKO)[-1]
    assert len(fake_line.texts_to(EMMA)) == asked[EMMA]
    out = runner.invoke(args=["safety", "end", str(check_id)])
    assert out.exit_code == 0 and "safe 1" in out.output
    line.tap(HANAKO, "無事です")
    assert "ended" in line.last_text(HANAKO) or "終了" in line.last_text(HANAKO)
    assert answers(db)[HANAKO] is None
    line.say(EMMA, "safe")
    assert "No safety check is running" in line.last_text(EMMA)


def test_a_drill_is_marked_everywhere(runner, bot, db, fake_line, line, town):
    start(runner, "--drill")
    run_worker(bot)
    assert fake_line.texts_to(EMMA)[-1].startswith("[DRILL]")
    assert "訓練" in fake_line.texts_to(HANAKO)[-1]
    line.tap(EMMA, "I need help")
    run_worker(bot)
    assert "訓練" in fake_line.texts_to(KAICHO)[-1]
    with db.read() as s:
        assert s.scalar(select(SafetyCheck.drill)) is True


def test_a_button_acts_only_for_the_one_it_was_sent_to(runner, bot, db, fake_line, line, town):
    start(runner)
    run_worker(bot)
    data = fake_line.quick_action(EMMA, "I need help")["data"]
    line.post([line.postback_event(OUTSIDER, data)])  # not asked in this check
    assert "not asked" in line.last_text(OUTSIDER) or "対象" in line.last_text(OUTSIDER)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(SafetyAnswer).where(SafetyAnswer.status.is_not(None))) == 0


def test_deleting_my_data_deletes_my_answer_and_note(runner, bot, db, fake_line, line, town):
    start(runner)
    run_worker(bot)
    line.tap(EMMA, "I need help")
    line.say(EMMA, "I cannot walk")
    line.say(EMMA, "delete my data")
    line.tap(EMMA, "Yes, delete")
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(SafetyAnswer).where(SafetyAnswer.note.is_not(None))) == 0
        assert s.scalar(select(func.count()).select_from(SafetyAnswer)) == 4  # the others and the paper household


def test_what_someone_wrote_is_kept_30_days_after_the_check_and_exported_on_request(runner, bot, db, fake_line, line, town,
                                                                                        time_machine, tmp_path):
    from bot.core.db import utcnow
    from scheduler.housekeeping import tidy

    check_id = start(runner)
    run_worker(bot)
    line.tap(EMMA, "I need help")
    line.say(EMMA, "I cannot walk")
    out = runner.invoke(args=["residents", "export", "--nickname", "Emma", "--out", str(tmp_path / "emma.json")])
    assert out.exit_code == 0, out.output
    exported = (tmp_path / "emma.json").read_text(encoding="utf-8")
    assert '"safety_answers"' in exported and "I cannot walk" in exported
    assert runner.invoke(args=["safety", "end", str(check_id)]).exit_code == 0
    time_machine.shift(timedelta(days=29))
    with db.session() as s:
        assert tidy(s, utcnow())["safety_notes"] == 0
    time_machine.shift(timedelta(days=2))
    with db.session() as s:
        assert tidy(s, utcnow())["safety_notes"] == 1
    with db.read() as s:
        row = s.scalar(select(SafetyAnswer).where(SafetyAnswer.status == "help"))
        assert row.note is None and row.status == "help"  # the answer stays for the figures


def test_staff_start_a_check_in_the_console_after_seeing_how_many_are_asked(accounts, runner, bot, db, fake_line, line, town):
    """The console: a confirmation with the count, the check's page with the tally by area and
    the households (needing help first), a leader marking the paper household after a call,
    the CSV, the end; another association's leader sees nothing of it."""
    import re

    from tests.console_support import csrf, sign_in

    staff = accounts.test_client()
    assert sign_in(staff, "tanaka").status_code == 302
    staff.post("/console/language", data={"locale": "en", "csrf_token": csrf(staff, "/console/safety"), "back": "/console/"})
    with db.read() as s:
        asahi = s.scalar(select(Association.id).where(Association.join_code == "ASAHI-2026"))
    form = {"to": "association", "association": str(asahi), "note": "震度5弱", "reask_minutes": "30"}
    confirm = staff.post("/console/safety/new", data={**form, "csrf_token": csrf(staff, "/console/safety")})
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "4 residents will be asked now" in page
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(SafetyCheck)) == 0  # not yet
    started = staff.post("/console/safety/new", data={**form, "confirm": "yes", "csrf_token": csrf(staff, "/console/safety")})
    assert started.status_code == 302
    check_id = int(started.location.rsplit("/", 1)[1])
    run_worker(bot)
    assert "震度5弱" in fake_line.texts_to(EMMA)[-1]
    line.tap(EMMA, "I need help")
    line.say(EMMA, "I cannot walk")
    line.say(HANAKO, "無事")
    page = staff.get(f"/console/safety/{check_id}").get_data(as_text=True)
    tally = re.sub(r"<[^>]+>", "", page.split('data-testid="tally">')[1].split("</p>")[0])
    assert "Needs help 1" in tally and "No answer yet 3" in tally and "Safe 1" in tally, tally
    rows = re.findall(r'<tr class="st-(\w+)">\s*<th scope="row">([^<]+)', page)
    assert rows[0] == ("help", "2番 Smith") and ("none", "4番 鈴木（紙） (paper)") in rows, rows
    assert "I cannot walk" in page and 'http-equiv="refresh"' in page
    # the 会長 marks the paper household after a phone call
    leader = accounts.test_client()
    assert sign_in(leader, "asahi").status_code == 302
    with db.read() as s:
        paper = s.scalar(select(Household.id).where(Household.paper.is_(True)))
    marked = leader.post(f"/console/safety/{check_id}/households/{paper}",
                         data={"status": "safe", "csrf_token": csrf(leader, f"/console/safety/{check_id}")})
    assert marked.status_code == 302
    csv_text = staff.get(f"/console/safety/{check_id}.csv").get_data().decode("utf-8-sig")
    assert "あさひ町内会,2班,4番 鈴木（紙）,紙,無事," in csv_text, csv_text  # marked by the 会長
    assert "あさひ町内会,2班,2番 Smith,,助けが必要,,I cannot walk" in csv_text
    visits = leader.get(f"/console/safety/{check_id}/visits").get_data(as_text=True)
    listed = re.findall(r"<td>([^<]*?)(?:（紙）)?</td>\s*<td>(助けが必要|未回答|避難)</td>", visits)
    assert listed == [("2番 Smith", "助けが必要"), ("3番 佐藤", "未回答")], listed  # 田中 safe, the paper one marked
    ended = staff.post(f"/console/safety/{check_id}/end", data={"csrf_token": csrf(staff, f"/console/safety/{check_id}")})
    assert ended.status_code == 302
    assert "refresh" not in staff.get(f"/console/safety/{check_id}").get_data(as_text=True)
    with db.read() as s:
        assert s.get(SafetyCheck, check_id).ended_at is not None


def test_the_support_register_with_consent_and_who_may_see_it_comes_first(runner, bot, db, fake_line, line, town, tmp_path):
    """Emma registers (lives alone, hard to walk; her leaders may see it), 花子 too but for the
    center only. In a check Emma's household comes first among those with no answer, marked
    for her leaders; 花子's registration is not shown to leaders at all; 「助けが必要」 tells the
    leaders what Emma registered. Removing it leaves nothing."""
    from bot.core.models import SupportNeed

    line.say(EMMA, "support register")
    assert "checked on first" in line.last_text(EMMA)
    line.tap(EMMA, "I live alone")
    line.tap(EMMA, "Hard to walk far")
    line.tap(EMMA, "Done")
    line.say(EMMA, "I use a wheelchair")
    line.tap(EMMA, "Leaders and center")
    assert "delete it when you ask" in line.last_text(EMMA)
    line.tap(EMMA, "Yes, register")
    assert line.last_text(EMMA).startswith("Registered.")
    line.say(HANAKO, "要支援登録")
    line.tap(HANAKO, "一人暮らし")
    line.tap(HANAKO, "完了")
    line.tap(HANAKO, "スキップ")
    line.tap(HANAKO, "センターだけ")
    line.tap(HANAKO, "はい、登録します")
    with db.read() as s:
        rows = {r.resident_id: (sorted(r.needs), r.note, r.leaders_may_see) for r in s.scalars(select(SupportNeed))}
    assert sorted(rows.values()) == [(["alone"], None, False), (["alone", "mobility"], "I use a wheelchair", True)]
    start(runner)
    run_worker(bot)
    line.say(KAICHO, "安否状況")
    order = [x for x in line.last_text(KAICHO).splitlines() if x.startswith("・")]
    assert order[0].startswith("・2番 Smith") and "★" in order[0] and "一人暮らし" in order[0], order
    assert not any("★" in x for x in order if "田中" in x)  # 花子 let only the center see it
    line.tap(EMMA, "I need help")
    run_worker(bot)
    told = fake_line.texts_to(KAICHO)[-1]
    assert "I use a wheelchair" in told and "一人暮らし" in told, told
    with db.read() as s:
        check = s.scalar(select(SafetyCheck))
        asahi = s.scalar(select(Association.id).where(Association.join_code == "ASAHI-2026"))
        staff_view = {h.household: h for h in safety.households(s, check, asahi, staff=True)}
    assert staff_view["1番 田中"].registered and staff_view["1番 田中"].support == ("alone",)  # the center sees hers
    # she can see and remove it
    line.say(EMMA, "support register")
    assert "I use a wheelchair" in line.last_text(EMMA) and "your leaders and the center" in line.last_text(EMMA)
    line.tap(EMMA, "Remove")
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(SupportNeed)) == 1
    out = runner.invoke(args=["residents", "export", "--nickname", "花子", "--out", str(tmp_path / "h.json")])
    assert out.exit_code == 0 and '"support_register"' in (tmp_path / "h.json").read_text(encoding="utf-8")
    line.say(HANAKO, "データ削除")
    line.tap(HANAKO, "はい、削除する")
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(SupportNeed)) == 0


def test_a_leader_starts_a_drill_for_her_association_in_line(bot, db, fake_line, line, town):
    line.say(HANAKO, "安否確認を始める")  # a member: no
    assert "会長だけ" in line.last_text(HANAKO)
    line.say(KAICHO, "安否確認を始める")
    line.tap(KAICHO, "訓練")
    assert "会員4人全員" in line.last_text(KAICHO) and "お休み時間" in line.last_text(KAICHO)
    line.tap(KAICHO, "はい、今すぐ")
    assert "4人の会員" in line.last_text(KAICHO)
    run_worker(bot)
    assert fake_line.texts_to(EMMA)[-1].startswith("[DRILL]")
    assert fake_line.texts_to(OUTSIDER) == []  # another association
    with db.read() as s:
        check = s.scalar(select(SafetyCheck))
        assert check.drill and check.scope == {"association": s.scalar(
            select(Association.id).where(Association.join_code == "ASAHI-2026"))} and check.started_by.startswith("leader:")


def test_helpers_nearby_are_asked_and_the_first_who_goes_is_matched(bot, db, fake_line, line, runner, town):
    """「助けが必要」 also asks the registered helpers of the mutual-aid registry in the area (and
    the neighbouring areas, for those who help nearby); the first to tap 「向かいます」 is told
    whom to go to, the resident and the leaders that someone is coming; a second is thanked."""
    from bot.core.models import HelperProfile
    from tests.support import add_resident

    near, next_door, far = "U" + "e1" * 16, "U" + "e2" * 16, "U" + "e3" * 16
    add_resident(db, near, name="Ken", locale="en", area="minato")
    add_resident(db, next_door, name="次郎", locale="ja", area="kawabe")  # a neighbouring area of 港町
    add_resident(db, far, name="遠藤", locale="ja", area="honcho")
    with db.session() as s:
        for user in (near, next_door, far):
            rid = s.scalar(select(Resident.id).where(Resident.line_user_id == user))
            s.add(HelperProfile(resident_id=rid, categories=["other"], nearby=True))
    start(runner)
    run_worker(bot)
    line.tap(EMMA, "I need help")
    line.say(EMMA, "I fell and cannot get up")
    run_worker(bot)
    assert fake_line.quick_labels(near) == ["I am going"] and "needs help" in fake_line.texts_to(near)[-1]
    assert fake_line.quick_labels(next_door) == ["向かいます"]
    assert fake_line.texts_to(far) == []
    line.tap(next_door, "向かいます")
    told = line.last_text(next_door)
    assert "Emma" in told and "2番 Smith" in told and EMMA not in told
    run_worker(bot)
    assert "次郎" in fake_line.texts_to(EMMA)[-1] and "on the way" in fake_line.texts_to(EMMA)[-1]
    assert "次郎" in fake_line.texts_to(KAICHO)[-1] and "Emma" in fake_line.texts_to(KAICHO)[-1]
    line.tap(near, "I am going")
    assert "another neighbour is already on the way" in line.last_text(near)
    with db.read() as s:
        row = s.scalar(select(SafetyAnswer).where(SafetyAnswer.status == "help"))
        assert row.responder_id == s.scalar(select(Resident.id).where(Resident.line_user_id == next_door))


def test_someone_in_no_association_is_told_truthfully_who_knows(runner, bot, db, fake_line, line, joined, town):
    alone = "U" + "f9" * 16
    joined(alone, name="Sam")  # in the bot, in no association
    out = runner.invoke(args=["safety", "start", "--to", "all", "--yes", "--note", "震度5弱の地震がありました"])
    assert out.exit_code == 0, out.output
    run_worker(bot)
    asked = fake_line.texts_to(alone)[-1]
    assert "From the center (in Japanese): 震度5弱の地震がありました" in asked
    assert "震度5弱の地震がありました" in fake_line.texts_to(HANAKO)[-1] and "From the center" not in fake_line.texts_to(HANAKO)[-1]
    line.tap(alone, "I need help")
    assert line.last_text(alone).startswith("The center can see that you need help")
    line.tap(alone, "Skip")
    assert "leaders have been told" not in line.last_text(alone) and "119" in line.last_text(alone)
