"""Real cities' published 5374 calendars (tests/data/5374-cities, MPL 2.0, see its README), read as
the original 5374 app reads them; collection days checked by hand against the cities' own rows;
the import's summary, its refusals, its warnings file and its re-import changes; the item list
answering residents in chat."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.garbage5374 import (
    EVERY_OTHER_WEEK,
    NTH,
    WEEKLY,
    Calendar,
    DayRule,
    compare,
    load_dir,
    parse,
    summarize,
)
from bot.core.models import GarbageSubscription, Resident
from bot.services import garbage

CITIES = Path(__file__).parent / "data" / "5374-cities"
TODAY = date(2026, 12, 5)
EN = "U" + "c1" * 16
JA = "U" + "c2" * 16


@pytest.fixture(scope="module")
def city():
    cache: dict[str, Calendar] = {}

    def get(name: str) -> Calendar:
        if name not in cache:
            cache[name] = load_dir(CITIES / name)
        return cache[name]

    return get


# --- each city, as the city's own files say (December 2026: the 1st is a Tuesday) ------------------

@pytest.mark.parametrize("name, areas, categories", [
    ("kanazawa", 71, ["燃やすごみ", "燃やさないごみ", "資源", "あきびん"]),
    ("kasama", 193, ["可燃ごみ", "不燃ごみ", "カン・ビン", "ペットボトル", "資源・有害", "粗大ごみ"]),
    ("matsumae", 22, ["燃やせるごみ", "カン／紙ごみ", "ビン・ペットボトル／プラスチック", "燃える粗大ごみ",
                      "燃えないごみ／燃えない粗大ごみ"]),
    ("kamisunagawa", 10, ["燃やせるごみ", "生ごみ", "資源ごみ", "燃やせないごみ", "危険ごみ", "小型家電", "粗大ごみ"]),
])
def test_every_city_imports_whole(city, name, areas, categories):
    cal = city(name)
    assert len(cal.areas) == areas and cal.columns == categories
    assert cal.stats.cells > 0 and cal.stats.cells_dropped == cal.stats.cells_partly == cal.stats.rows_dropped == 0
    summary = summarize(cal, TODAY)
    assert summary.problems(0.05) == [] and summary.areas_collecting_soon == areas


# 金沢市 浅野川: 「月 木,水4,火1 火3 火5,水2」; 朝日: 「火 金,月3,月2 月4 月5,水1」 (headed 校下・地区 and type,…)
@pytest.mark.parametrize("area, day, expected", [
    ("浅野川", date(2026, 12, 1), ["資源"]),  # 1st Tuesday
    ("浅野川", date(2026, 12, 7), ["燃やすごみ"]),  # Monday
    ("浅野川", date(2026, 12, 9), ["あきびん"]),  # 2nd Wednesday
    ("浅野川", date(2026, 12, 16), []),  # 3rd Wednesday: nothing
    ("浅野川", date(2026, 12, 23), ["燃やさないごみ"]),  # 4th Wednesday
    ("浅野川", date(2026, 12, 29), ["資源"]),  # 5th Tuesday (the file's closures are for 2022 only)
    ("朝日", date(2026, 12, 2), ["あきびん"]),  # 1st Wednesday
    ("朝日", date(2026, 12, 4), ["燃やすごみ"]),  # Friday
    ("朝日", date(2026, 12, 14), ["資源"]),  # 2nd Monday
    ("朝日", date(2026, 12, 21), ["燃やさないごみ"]),  # 3rd Monday
    ("朝日", date(2026, 12, 28), ["資源"]),  # 4th Monday
])
def test_kanazawa_days(city, area, day, expected):
    assert city("kanazawa").collections_on(area, day) == expected


def test_kanazawa_closures_of_a_past_year_are_read_and_the_summary_says_they_are_old(city):
    cal = city("kanazawa")
    assert cal.closures["東部管理センター"] == [(date(2022, 12, 30), date(2023, 1, 3))]
    assert cal.collections_on("浅野川", date(2022, 12, 6)) == ["資源"] and cal.collections_on("浅野川", date(2023, 1, 2)) == []
    summary = summarize(cal, TODAY)
    assert summary.closures_by_year == {2022: 2}
    assert any("every closure is in a past year (the latest in 2022)" in n for n in summary.notes)


def test_kanazawa_items_of_categories_without_a_column_are_kept(city):
    cal = city("kanazawa")
    assert cal.categories["資源"].items[:1] and "乾電池(水銀)" in cal.categories["資源"].items
    spray = cal.categories["資源"].items.index("スプレー缶(スプレー)")
    assert cal.categories["資源"].notice(spray) == "使い切って火気のない屋外で穴をあける"
    assert "石" in cal.categories["市で収集しない"].items  # 「石は何ごみ？」 has an answer
    assert "市で収集しない" not in cal.columns


# 笠間市 友部／青葉町: 「火 金,水2,木1 木3,木2 木4,月1 月3,水」; its center has no closure dates (「笠間市環境センター,,」)
@pytest.mark.parametrize("day, expected", [
    (date(2026, 12, 3), ["カン・ビン"]),  # 1st Thursday
    (date(2026, 12, 4), ["可燃ごみ"]),  # Friday
    (date(2026, 12, 7), ["資源・有害"]),  # 1st Monday
    (date(2026, 12, 9), ["不燃ごみ", "粗大ごみ"]),  # 2nd Wednesday; 粗大ごみ every Wednesday
    (date(2026, 12, 10), ["ペットボトル"]),  # 2nd Thursday
    (date(2026, 12, 14), []),  # 2nd Monday
    (date(2026, 12, 21), ["資源・有害"]),  # 3rd Monday
])
def test_kasama_days(city, day, expected):
    assert city("kasama").collections_on("友部／青葉町", day) == expected


def test_kasama_notes_and_empty_closures(city):
    cal = city("kasama")
    assert cal.closures == {"笠間市環境センター": []} and cal.warnings == []
    assert cal.categories["可燃ごみ"].notice(cal.categories["可燃ごみ"].items.index("生ゴミ")) == "十分に水切りすること"


# 松前町 原口（午前）: 「水 土」 and explicit dates: カン／紙ごみ …20261210 20261224 20270118…,
# ビン・ペットボトル …20261211 20261225…, 燃える粗大ごみ …20261209…, 燃えないごみ …20261228…
@pytest.mark.parametrize("day, expected", [
    (date(2026, 12, 9), ["燃やせるごみ", "燃える粗大ごみ"]),
    (date(2026, 12, 10), ["カン／紙ごみ"]),
    (date(2026, 12, 11), ["ビン・ペットボトル／プラスチック"]),
    (date(2026, 12, 12), ["燃やせるごみ"]),
    (date(2026, 12, 24), ["カン／紙ごみ"]),
    (date(2026, 12, 28), ["燃えないごみ／燃えない粗大ごみ"]),
    (date(2027, 1, 18), ["カン／紙ごみ"]),
])
def test_matsumae_days(city, day, expected):
    assert city("matsumae").collections_on("原口（午前）", day) == expected


def test_matsumae_dates_span_is_reported(city):
    summary = summarize(city("matsumae"), TODAY)
    assert (summary.first_date, summary.last_date) == (date(2026, 3, 2), date(2027, 3, 31))
    assert summary.stats.rules["date"] == 1716 and summary.open_ended  # 「水 土」 weekly as well


# 上砂川町 緑が丘: 「月 木,月 木,水1 水3,水2 水4,水2 水4,水2 水4,水3」 (description.csv has CRLF endings)
@pytest.mark.parametrize("day, expected", [
    (date(2026, 12, 2), ["資源ごみ"]),
    (date(2026, 12, 7), ["燃やせるごみ", "生ごみ"]),
    (date(2026, 12, 9), ["燃やせないごみ", "危険ごみ", "小型家電"]),
    (date(2026, 12, 16), ["資源ごみ", "粗大ごみ"]),
    (date(2026, 12, 15), []),
])
def test_kamisunagawa_days(city, day, expected):
    assert city("kamisunagawa").collections_on("緑が丘", day) == expected


def test_a_city_saved_as_shift_jis_reads_the_same(city, tmp_path):
    for f in (CITIES / "kamisunagawa").iterdir():
        (tmp_path / f.name).write_bytes(f.read_text(encoding="utf-8-sig").encode("cp932"))
    again = load_dir(tmp_path)
    assert again.areas == city("kamisunagawa").areas and again.categories == city("kamisunagawa").categories


# --- the date rules the original app reads (its LOCALIZE.md and js/script.js) --------------------

def rules_of(text: str, remarks: str = "") -> Calendar:
    files = {"area_days.csv": f"地名,センター,c\nA,,{text}\n".encode()}
    if remarks:
        files["remarks.csv"] = f"ID,注意事項\n{remarks}\n".encode()
    return parse(files)


def test_every_other_week_from_a_date():
    cal = rules_of("隔月20150112")  # 隔 + Monday + the first date (a Monday)
    assert cal.areas["A"].rules["c"] == (DayRule(every2_from=date(2015, 1, 12)),)
    rule = cal.areas["A"].rules["c"][0]
    assert rule.matches(date(2015, 1, 12)) and rule.matches(date(2015, 1, 26)) and not rule.matches(date(2015, 1, 19))
    assert not rule.matches(date(2014, 12, 29))  # nothing before the first date
    assert rule.matches(date(2026, 12, 7)) != rule.matches(date(2026, 12, 14))  # the rhythm goes on
    assert cal.stats.rules[EVERY_OTHER_WEEK] == 1 and cal.warnings == []
    summary = summarize(cal, TODAY)
    assert any("1 every-other-week rules count from a date more than a year ago" in n for n in summary.notes)


def test_every_other_week_with_the_wrong_weekday_follows_the_date():
    cal = rules_of("隔火20150112")  # the 12th was a Monday: the original app follows the date
    assert cal.areas["A"].rules["c"] == (DayRule(every2_from=date(2015, 1, 12)),)
    assert "is a 月曜日, not 火曜日" in cal.warnings[0]


def test_month_list_of_the_original_documentation():
    # LOCALIZE.md: 「火2 金4:4 6 8 10 12 2」: the 2nd Tuesday and 4th Friday of even months
    months = frozenset({4, 6, 8, 10, 12, 2})
    assert rules_of("火2 金4:4 6 8 10 12 2").areas["A"].rules["c"] == (DayRule(weekday=1, nth=2, months=months),
                                                                     DayRule(weekday=4, nth=4, months=months))


def test_several_day_and_month_groups_in_one_cell():
    cal = rules_of("水1:6 7 8 水2:4 5")
    assert cal.areas["A"].rules["c"] == (DayRule(weekday=2, nth=1, months=frozenset({6, 7, 8})),
                                         DayRule(weekday=2, nth=2, months=frozenset({4, 5})))
    assert cal.warnings == [] and cal.stats.cells_partly == 0
    assert cal.collections_on("A", date(2027, 6, 2)) == ["c"] and cal.collections_on("A", date(2027, 6, 9)) == []
    assert cal.collections_on("A", date(2027, 5, 12)) == ["c"]


def test_days_after_a_month_list_without_a_colon_are_dropped_as_the_original_app_drops_them():
    cal = rules_of("水1:6 7 金")
    assert cal.areas["A"].rules["c"] == (DayRule(weekday=2, nth=1, months=frozenset({6, 7})),)
    assert "'金' comes after a month list" in cal.warnings[0] and cal.stats.cells_partly == 1


def test_weekly_and_dates_together():
    cal = rules_of("月 20270106")
    assert cal.areas["A"].rules["c"] == (DayRule(weekday=0), DayRule(on=date(2027, 1, 6)))
    assert cal.stats.rules == {WEEKLY: 1, "date": 1}


def test_notes_from_remarks_csv():
    cal = rules_of("火 木 *1", remarks="1,一部地域で収集曜日が異なります。")
    assert cal.areas["A"].rules["c"] == (DayRule(weekday=1), DayRule(weekday=3))
    assert cal.areas["A"].remarks == {"c": ("一部地域で収集曜日が異なります。",)}
    assert Calendar.from_json(cal.to_json()) == cal
    only = rules_of("*1", remarks="1,市役所にお問い合わせください")  # a note and no day: no collection
    assert only.areas["A"].rules["c"] == () and only.stats.cells_dropped == 0
    unknown = rules_of("火 *9", remarks="1,x")
    assert "note '*9' has no row in remarks.csv" in unknown.warnings[0] and unknown.stats.cells_partly == 1
    assert rules_of("水2").stats.rules == {NTH: 1}


# --- the import tells the truth --------------------------------------------------------------------

def write_city(folder: Path, rows: list[str], header: str = "地名,センター,燃やすごみ,資源") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "area_days.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return folder


def test_check_prints_the_summary_and_imports_nothing(runner, db, clock):
    out = runner.invoke(args=["garbage", "check", "--dir", str(CITIES / "kanazawa")])
    assert out.exit_code == 0, out.output
    for line in ("areas: 71, categories: 7, items: 1251", "rules read: nth weekday 355, weekly 142",
                 "cells: 284 written, 0 dropped, 0 read in part", "closures by year: 2022: 2",
                 "areas with a collection in the next 30 days: 71 of 71", "every closure is in a past year",
                 "Where this reader differs from the original 5374 app", "ok: this calendar can be imported"):
        assert line in out.output
    with db.session() as s:
        assert garbage.current(s) is None


def test_too_much_unread_refuses_the_import_and_writes_every_warning(runner, db, clock, tmp_path):
    rows = [f"町{i},,月 木,{'隔週' if i % 2 else '火1'}" for i in range(60)]  # 「隔週」 alone: no date
    folder = write_city(tmp_path / "city", rows)
    warnings_file = tmp_path / "warnings.txt"
    out = runner.invoke(args=["garbage", "check", "--dir", str(folder), "--warnings-file", str(warnings_file)])
    assert out.exit_code == 1
    assert "problem: 25% of the written cells could not be read in full (30 of 120; the limit is 5%)" in out.output
    assert f"… 10 more warnings: all 30 are in {warnings_file}" in out.output
    out = runner.invoke(args=["garbage", "import", "--dir", str(folder), "--warnings-file", str(warnings_file)])
    assert out.exit_code == 1 and "nothing imported" in out.output
    assert warnings_file.read_text(encoding="utf-8").count("unknown day spec '隔週'") == 30
    out = runner.invoke(args=["garbage", "import", "--dir", str(folder), "--max-dropped", "30"])
    assert out.exit_code == 0 and "imported: 60 areas" in out.output


def test_many_warnings_go_to_a_file(runner, db, clock, tmp_path):
    rows = [f"町{i},,月 謎,火" for i in range(30)]
    folder = write_city(tmp_path / "city", rows)
    warnings_file = tmp_path / "w.txt"
    out = runner.invoke(args=["garbage", "check", "--dir", str(folder), "--warnings-file", str(warnings_file),
                              "--max-dropped", "60"])
    assert out.exit_code == 0, out.output
    assert out.output.count("warning: ") == 20 and f"… 10 more warnings: all 30 are in {warnings_file}" in out.output
    assert len(warnings_file.read_text(encoding="utf-8").splitlines()) == 30


def test_a_calendar_with_nothing_in_the_next_30_days_is_refused(runner, db, clock, tmp_path):
    folder = write_city(tmp_path / "old", ["町,,20250106 20250120,20250110"])
    out = runner.invoke(args=["garbage", "import", "--dir", str(folder)])
    assert out.exit_code == 1
    assert "no area has a collection in the next 30 days (the calendar's dates end 2025-01-20)" in out.output
    out = runner.invoke(args=["garbage", "import", "--dir", str(folder), "--force"])
    assert out.exit_code == 0


def test_reimport_shows_the_changes_moves_renamed_areas_and_asks_removed_ones_again(runner, db, clock, tmp_path, joined):
    first = write_city(tmp_path / "v1", ["本町1丁目,,月 木,火1", "緑町,,火 金,水2", "港町,,水 土,木3"])
    assert runner.invoke(args=["garbage", "import", "--dir", str(first)]).exit_code == 0
    a, b = joined("U" + "d1" * 16), joined("U" + "d2" * 16)
    with db.session() as s:
        for user, area in ((a, "本町1丁目"), (b, "緑町")):
            rid = s.scalar(select(Resident.id).where(Resident.line_user_id == user))
            s.add(GarbageSubscription(resident_id=rid, area=area, categories=[]))
    second = write_city(tmp_path / "v2", ["本町一丁目,,月 木,火1", "港町,,水 土,木4", "桜町,,火 金,水4"])
    out = runner.invoke(args=["garbage", "import", "--dir", str(second), "--yes"])
    assert out.exit_code == 0, out.output
    assert "renamed: 本町1丁目 → 本町一丁目" in out.output
    assert "added (1): 桜町" in out.output and "removed (1): 緑町" in out.output
    assert "other collection days (1): 港町" in out.output
    assert "1 residents' areas were renamed" in out.output and "1 residents chose areas the new calendar does not have" in out.output
    assert "1 residents moved to renamed areas" in out.output
    with db.session() as s:
        areas = dict(s.execute(select(Resident.line_user_id, GarbageSubscription.area)
                               .join(GarbageSubscription, GarbageSubscription.resident_id == Resident.id)).all())
    assert areas == {a: "本町一丁目", b: "緑町"}  # b is asked again by the evening reminder (test_record_identity)


def test_compare_takes_the_same_days_under_a_new_name_as_a_rename():
    old = parse({"area_days.csv": "地名,センター,c\n旧町,,月\n北町,,火\n".encode()})
    new = parse({"area_days.csv": "地名,センター,c\n新町,,月\n北町,,火\n南町,,水\n".encode()})
    changes = compare(old, new)
    assert changes.renamed == {"旧町": "新町"} and changes.added == ["南町"] and changes.removed == []
    twins = parse({"area_days.csv": "地名,センター,c\n新町,,月\n西町,,月\n".encode()})
    assert compare(old, twins).renamed == {}  # two areas with the same days: not a rename


# --- residents ask about items, in their language ---------------------------------------------------

def test_item_questions_on_a_real_list_give_the_citys_note(line, fake_line, runner, db, joined, clock):
    assert runner.invoke(args=["garbage", "import", "--dir", str(CITIES / "kanazawa")]).exit_code == 0
    joined(JA, name="花子", locale_label="日本語")
    joined(EN, name="Emma")
    with db.session() as s:
        rid = s.scalar(select(Resident.id).where(Resident.line_user_id == JA))
        s.add(GarbageSubscription(resident_id=rid, area="浅野川", categories=[]))
    line.say(JA, "スプレー缶は何ごみ？")
    text = line.last_text(JA)
    assert "スプレー缶(スプレー)：資源" in text
    assert "注意：使い切って火気のない屋外で穴をあける" in text
    assert "お住まいの地区の次の収集日：12/1(火)" in text  # 浅野川's 資源: 1st and 3rd Tuesdays; today is the 1st
    line.say(JA, "石は何ごみ")
    assert "石：市で収集しない" in line.last_text(JA)
    line.say(EN, "スプレー缶は何ごみ？")  # copied from a Japanese leaflet
    text = line.last_text(EN)
    assert "Note (in Japanese): 使い切って火気のない屋外で穴をあける" in text  # machine translation is off


@pytest.mark.parametrize("locale_label, said, expected", [
    ("English", "how do I throw away a frying pan?", "フライパン(金属) (frying pan): Non-burnable garbage"),
    ("English", "what kind of garbage is a spray can", "スプレー缶(スプレー) (spray): Recyclables"),
    ("English", "how to dispose of old batteries", "乾電池(水銀) (batteries): Recyclables"),
    ("Tiếng Việt", "chảo vứt thế nào", "フライパン(金属) (chảo)"),
    ("简体中文", "平底锅是什么垃圾", "フライパン(金属)（平底锅）"),
])
def test_items_typed_in_another_language_are_found_in_the_japanese_list(line, fake_line, runner, joined, clock,
                                                                          locale_label, said, expected):
    assert runner.invoke(args=["garbage", "import", "--dir", str(CITIES / "kanazawa")]).exit_code == 0
    joined(EN, name="Emma", locale_label=locale_label)
    line.say(EN, said)
    assert expected in line.last_text(EN)


def test_every_language_has_words_for_the_same_items():
    import tomllib

    from bot.core.i18n import LANGUAGES
    from bot.services.garbage import ITEM_WORDS

    items = tomllib.loads(ITEM_WORDS.read_text(encoding="utf-8"))["item"]
    assert len(items) >= 40
    for entry in items:
        assert entry["ja"], entry
        for locale in LANGUAGES:
            if locale not in ("ja", "ja_easy"):
                assert entry.get(locale), (entry["ja"], locale)  # no language left to guess


def test_the_dashboard_says_when_the_calendar_runs_out_or_lacks_the_year_end(accounts, time_machine, tmp_path):
    from tests.console_support import sign_in

    time_machine.move_to("2026-11-20 10:00:00+09:00", tick=False)
    folder = write_city(tmp_path / "city", ["町A,東部,月,火", "町B,東部,20261124 20261201,20261125"])
    (folder / "center.csv").write_text("名称,休止開始日,休止終了日\n東部,2025/12/29,2026/01/03\n", encoding="utf-8")
    assert accounts.test_cli_runner().invoke(args=["garbage", "import", "--dir", str(folder)]).exit_code == 0
    c = accounts.test_client()
    sign_in(c, "tanaka")
    page = c.get("/console/").get_data(as_text=True)
    assert 'data-testid="garbage-silent"' not in page  # 町B still has its 24 November and 1 December
    assert 'data-testid="garbage-year-end"' in page and "2026 年の年末年始の休止期間がありません" in page
    time_machine.move_to("2026-12-02 10:00:00+09:00", tick=False)  # 町B's dates are over
    sign_in(c, "tanaka")  # (the console's session ended meanwhile)
    page = c.get("/console/").get_data(as_text=True)
    assert 'data-testid="garbage-silent"' in page and "ごみ収集地区 2 のうち 1 地区" in page
