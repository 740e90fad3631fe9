"""Shelters (issue 20, item 5, and item 1's "evacuated → which shelter"): GSI's CSV imported
from the command line (UTF-8 with BOM, or Shift_JIS with the national file's extra column),
re-imported without losing which are open; staff open them in the console (audited); residents
get the open shelters nearest their area, or the place they send, with a map link, in their
language; 「避難しています」 in a safety check asks which shelter, and the leaders' status, the
center's tally and the CSV show it. Through the fake LINE API and the web chat, as residents
would."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from bot.core.config import ROOT
from bot.core.models import AuditEntry, Resident, SafetyAnswer, Shelter
from bot.services import shelters
from tests.support import base_event, run_worker
from tests.test_safety import EMMA, HANAKO, KAICHO, answers, start, town  # noqa: F401  (fixture)

DEMO = ROOT / "data" / "shelters" / "demo.csv"
KEN = "U" + "c1" * 16  # English, in 港町 (the area has a place)
YUKI = "U" + "c2" * 16  # Japanese, in ひばりが丘 (no place given)


def _import(runner, path=DEMO):
    out = runner.invoke(args=["shelters", "import", str(path)])
    assert out.exit_code == 0, out.output
    return out.output


def _open(runner, *names):
    for name in names:
        out = runner.invoke(args=["shelters", "open", name])
        assert out.exit_code == 0 and "is now open" in out.output, out.output


def _id(db, name: str) -> int:
    with db.read() as s:
        return s.scalar(select(Shelter.id).where(Shelter.name == name))


def test_import_says_what_it_read_skipped_and_found_and_a_reimport_keeps_what_is_open(runner, db, tmp_path):
    out = _import(runner)
    assert "read 7 rows (utf-8-sig): 5 shelters added, 0 updated, 2 rows skipped" in out, out
    assert "skipped 1: no usable coordinates" in out and "skipped 1: no 共通ID" in out
    assert "hazards: flood 2, landslide 1, storm_surge 2, earthquake 5, tsunami 1, fire 2, inland_flood 1" in out, out
    with db.read() as s:
        bancho = s.scalar(select(Shelter).where(Shelter.common_id == "E1310100002201"))  # GSI's own row for 千代田区
        assert (bancho.name, bancho.address, round(bancho.lat, 5), round(bancho.lon, 5)) == (
            "番町小学校", "東京都千代田区六番町8", 35.68811, 139.73408)
        assert shelters.hazard_codes(bancho.hazards) == ["flood", "storm_surge", "earthquake", "inland_flood"]
    _open(runner, "みなと中学校体育館")
    # The national file: Shift_JIS, with 都道府県名及び市町村名 before the name, a name changed.
    lines = DEMO.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].replace("共通ID,", "共通ID,都道府県名及び市町村名,")
    rows = [re.sub(r"^(\d+,[^,]*,)", r"\1東京都千代田区,", x) for x in lines[1:]]
    rows = [x.replace("みなと中学校体育館", "みなと中学校") for x in rows]
    national = tmp_path / "mergeFromCity_2.csv"
    national.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode("cp932"))
    out = _import(runner, national)
    assert "read 7 rows (cp932): 0 shelters added, 5 updated, 2 rows skipped" in out, out
    with db.read() as s:
        minato = s.scalar(select(Shelter).where(Shelter.common_id == "E9990100002201"))
        assert minato.name == "みなと中学校" and minato.is_open and minato.opened_at is not None
        assert s.scalar(select(func.count()).select_from(Shelter)) == 5
    listed = runner.invoke(args=["shelters", "list", "--open"]).output
    assert listed.count("\n") == 1 and "OPEN\tみなと中学校" in listed
    not_gsi = tmp_path / "other.csv"
    not_gsi.write_text("name,lat,lon\nA,35,139\n", encoding="utf-8")
    bad = runner.invoke(args=["shelters", "import", str(not_gsi)])
    assert bad.exit_code != 0 and "no column 共通ID" in bad.output
    assert "2 shelters match" in runner.invoke(args=["shelters", "open", "小学校"]).output  # give the number
    closed = runner.invoke(args=["shelters", "close", str(_id(db, "みなと中学校"))])
    assert "is now closed" in closed.output
    with db.read() as s:
        assert [a.action for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))] == ["open_shelter", "close_shelter"]


def test_residents_get_the_open_shelters_nearest_their_area_in_their_language(runner, db, line, joined, fake_line):
    _import(runner)
    joined(KEN, name="Ken")  # 港町
    joined(YUKI, name="由紀", locale_label="日本語")
    with db.session() as s:
        s.get(Resident, s.scalar(select(Resident.id).where(Resident.line_user_id == YUKI))).area_id = None
    line.say(KEN, "shelters")
    assert line.last_text(KEN).startswith("No shelter is open now.") and "119" in line.last_text(KEN)
    _open(runner, "あさひ小学校", "みなと中学校体育館", "番町小学校")
    assert runner.invoke(args=["shelters", "name", "番町小学校", "en", "Bancho Elementary School"]).exit_code == 0
    line.say(KEN, "Shelters")
    text = line.last_text(KEN)
    assert text.startswith("Open shelters nearest Minato-machi:"), text
    names = re.findall(r"^\d\. (.+?) — ([\d.]+) km$", text, re.M)
    assert [n for n, _ in names] == ["Minato Junior High School Gymnasium", "Asahi Elementary School", "Bancho Elementary School"], text
    assert float(names[0][1]) < float(names[1][1]) < float(names[2][1])
    assert "https://www.google.com/maps/search/?api=1&query=35.680100,139.762000" in text
    assert "For: Storm surge, Earthquake, and Tsunami" in text
    assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text), text  # nothing in Japanese for an English reader
    # no place for the area: the city's order, and the reply says so
    line.say(YUKI, "避難所")
    text = line.last_text(YUKI)
    assert "市の一覧の順" in text and text.index("あさひ小学校") < text.index("みなと中学校体育館") < text.index("番町小学校")
    assert " km" not in text


def test_a_location_sent_gets_the_open_shelters_nearest_that_place(runner, db, line, joined, fake_line):
    _import(runner)
    _open(runner, "あさひ小学校", "番町小学校")
    joined(KEN, name="Ken")
    event = base_event("message", KEN, line.token(KEN), message={
        "type": "location", "id": "501", "title": "Home", "address": "Tokyo", "latitude": 35.6885, "longitude": 139.7345})
    assert line.post([event]).status_code == 200
    text = line.last_text(KEN)
    assert text.startswith("Open shelters nearest the place you sent:"), text
    assert text.index("Ban-cho Elementary School — 0.1 km") < text.index("Asahi Elementary School — 1.5 km")


def test_evacuated_asks_which_shelter_and_the_leaders_and_the_center_see_it(runner, bot, db, fake_line, line, town):
    _import(runner)
    _open(runner, "あさひ小学校", "みなと中学校体育館", "番町小学校")
    check_id = start(runner)
    run_worker(bot)
    assert fake_line.quick_labels(EMMA) == ["I am safe", "I need help", "I have evacuated", "Open shelters"]
    evacuated = fake_line.quick_action(EMMA, "I have evacuated")["data"]
    line.tap(EMMA, "Open shelters")
    assert line.last_text(EMMA).startswith("Open shelters nearest Minato-machi:")
    line.post([line.postback_event(EMMA, evacuated)])
    asked = line.last_text(EMMA)
    assert "Which shelter are you at?" in asked
    labels = fake_line.quick_labels(EMMA)
    assert labels[:3] == ["Minato Junior High…", "Asahi Elementary Sc…", "Ban-cho Elementary…"], labels
    assert labels[3:] == ["Other / not listed", "Skip", "Cancel"]
    assert all(len(x) <= 20 for x in labels)
    line.tap(EMMA, "Asahi Elementary Sc…")
    assert "Noted: you are at Asahi Elementary School." in line.last_text(EMMA)
    line.tap(EMMA, "My household too")
    # 花子 types the name, in part
    line.say(HANAKO, "避難しています")
    assert "どの避難所" in line.last_text(HANAKO)
    line.say(HANAKO, "番町")
    assert "番町小学校" in line.last_text(HANAKO)
    # the 会長: somewhere not listed, in her words; then she cancels a second time
    line.say(KAICHO, "避難しています")
    line.tap(KAICHO, "その他（一覧にない）")
    line.say(KAICHO, "親戚の家")
    with db.read() as s:
        rows = {u: (st, sh, note) for u, st, sh, note in s.execute(
            select(Resident.line_user_id, SafetyAnswer.status, SafetyAnswer.shelter_id, SafetyAnswer.note)
            .join(Resident, Resident.id == SafetyAnswer.resident_id))}
    assert rows[EMMA] == ("evacuated", _id(db, "あさひ小学校"), None)
    assert rows[HANAKO] == ("evacuated", _id(db, "番町小学校"), None)
    assert rows[KAICHO] == ("evacuated", None, "親戚の家")
    line.say(KAICHO, "避難しています")
    line.say(KAICHO, "やめる")
    assert "何も変更していません" in fake_line.texts_to(KAICHO)[-2], fake_line.texts_to(KAICHO)[-2]
    assert answers(db)[KAICHO] == "evacuated"
    # the leaders' status in LINE
    line.say(KAICHO, "安否状況")
    status = line.last_text(KAICHO)
    assert "避難先ごと：" in status and "あさひ小学校 1" in status and "番町小学校 1" in status, status
    assert "・2番 Smith（2班）: 避難 → あさひ小学校" in status, status
    # the command line, the console's tally and the CSV
    out = runner.invoke(args=["safety", "status", str(check_id)]).output
    assert "evacuated, by shelter: " in out and "(not said) 1" in out


def test_a_shelter_closed_meanwhile_is_not_taken_and_skip_records_none(runner, bot, db, fake_line, line, town):
    _import(runner)
    _open(runner, "あさひ小学校", "番町小学校")
    start(runner)
    run_worker(bot)
    line.tap(EMMA, "I have evacuated")
    _open_ids = runner.invoke(args=["shelters", "close", "あさひ小学校"])
    assert "closed" in _open_ids.output
    line.tap(EMMA, "Asahi Elementary Sc…")
    assert "no longer valid" in fake_line.texts_to(EMMA)[-2]
    line.say(EMMA, "nowhere I know")
    assert "could not find an open shelter" in fake_line.texts_to(EMMA)[-2]
    line.tap(EMMA, "Skip")
    assert "evacuated" in line.last_text(EMMA)
    assert answers(db)[EMMA] == "evacuated"
    line.tap(EMMA, "I am safe") if "I am safe" in fake_line.quick_labels(EMMA) else line.say(EMMA, "safe")
    with db.read() as s:
        assert s.scalar(select(SafetyAnswer.shelter_id).join(Resident, Resident.id == SafetyAnswer.resident_id)
                        .where(Resident.line_user_id == EMMA)) is None


def test_no_shelter_open_evacuated_is_noted_without_a_question(runner, bot, db, fake_line, line, town):
    _import(runner)
    start(runner)
    run_worker(bot)
    assert fake_line.quick_labels(EMMA) == ["I am safe", "I need help", "I have evacuated"]
    line.tap(EMMA, "I have evacuated")
    assert "We have noted: Evacuated" in line.last_text(EMMA) and "Which shelter" not in line.last_text(EMMA)


def test_staff_open_and_close_shelters_in_the_console_and_see_the_tally(accounts, runner, bot, db, fake_line, line, town):
    from tests.console_support import csrf, sign_in

    _import(runner)
    staff = accounts.test_client()
    assert sign_in(staff, "tanaka").status_code == 302
    staff.post("/console/language", data={"locale": "en", "csrf_token": csrf(staff, "/console/shelters"), "back": "/console/"})
    page = staff.get("/console/shelters").get_data(as_text=True)
    assert "0 open of 5" in page and "番町小学校" in page
    asahi = _id(db, "あさひ小学校")
    refused = staff.post(f"/console/shelters/{asahi}", data={"open": "1"})
    assert refused.status_code == 400  # no CSRF token
    opened = staff.post(f"/console/shelters/{asahi}", data={"open": "1", "csrf_token": csrf(staff, "/console/shelters")})
    assert opened.status_code == 302
    assert "1 open of 5" in staff.get("/console/shelters?open=1").get_data(as_text=True)
    with db.read() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "open_shelter"))
        assert entry.actor.startswith("staff:") and entry.target == f"shelter:{asahi}"
    leader = accounts.test_client()
    assert sign_in(leader, "asahi").status_code == 302
    assert leader.get("/console/shelters").status_code == 403
    assert leader.post(f"/console/shelters/{asahi}", data={"open": "0", "csrf_token": csrf(leader, "/console/")}).status_code == 403
    check_id = start(runner)
    run_worker(bot)
    line.tap(EMMA, "I have evacuated")
    line.tap(EMMA, "Asahi Elementary Sc…")
    line.say(HANAKO, "避難しています")
    line.tap(HANAKO, "スキップ")
    page = staff.get(f"/console/safety/{check_id}").get_data(as_text=True)
    table = page.split('data-testid="by-shelter"')[1].split("</table>")[0]
    assert re.findall(r'<th scope="row" lang="ja">([^<]+)</th><td>(\d+)</td>', table) == [("あさひ小学校", "1"), ("Not said", "1")]
    assert "→ <span lang=\"ja\">あさひ小学校</span>" in page
    csv_text = staff.get(f"/console/safety/{check_id}.csv").get_data().decode("utf-8-sig")
    assert csv_text.splitlines()[0].endswith(",避難先")
    assert "あさひ町内会,2班,2番 Smith,,避難,,,あさひ小学校" in csv_text, csv_text
    closed = staff.post(f"/console/shelters/{asahi}", data={"open": "0", "csrf_token": csrf(staff, "/console/shelters")})
    assert closed.status_code == 302
    with db.read() as s:
        assert s.get(Shelter, asahi).is_open is False and s.get(Shelter, asahi).opened_at is None


def test_the_web_chat_answers_shelters_like_line(app, db, runner):
    from bot.cli.demo import seed

    with db.session() as s:
        seed(s)
    _import(runner)
    _open(runner, "さくら台公園")
    c = app.test_client()
    r = c.post("/chat/api/send", json={"resident": "web-demo-alex", "text": "shelters"})
    said = [m["payload"].get("text") or "" for m in r.get_json()["messages"] if m["direction"] == "out"][-1]
    assert "Sakuradai Park" in said and "https://www.google.com/maps/search/?api=1&query=35.699000,139.744000" in said
