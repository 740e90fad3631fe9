"""bot.core.garbage5374: 5374.jp garbage calendars (area_days/center/description/target CSV files)."""
from __future__ import annotations

import functools
import re
import http.server
import shutil
import threading
from datetime import date
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings, strategies as st

from bot.core.garbage5374 import (
    MAX_AREAS,
    MAX_FILE_BYTES,
    AreaSchedule,
    Calendar,
    CalendarError,
    Category,
    DayRule,
    load_dir,
    load_url,
    parse,
)

DATA = Path(__file__).resolve().parent / "data" / "5374"
SJIS = Path(__file__).resolve().parent / "data" / "5374-sjis"

BURN, NONBURN, RES, BULKY = "燃やすごみ", "燃やさないごみ", "資源ごみ", "粗大ごみ"
HEADER = "地名,センター,燃やすごみ,燃やさないごみ,資源ごみ,粗大ごみ"


def area_days(*rows: str, header: str = HEADER) -> dict[str, bytes]:
    return {"area_days.csv": "\n".join((header,) + rows).encode("utf-8")}


def rules_of(text: str) -> tuple[DayRule, ...]:
    cal = parse({"area_days.csv": f"地名,センター,c\nA,,{text}\n".encode()})
    return cal.areas["A"].rules["c"]


@pytest.fixture(scope="module")
def sample() -> Calendar:
    return load_dir(DATA)


# --- the day specs -------------------------------------------------------------------------------

def test_weekday_specs():
    assert rules_of("月 木") == (DayRule(weekday=0), DayRule(weekday=3))
    assert rules_of("日") == (DayRule(weekday=6),)


def test_nth_weekday_specs():
    assert rules_of("水2 水4") == (DayRule(weekday=2, nth=2), DayRule(weekday=2, nth=4))
    assert rules_of("土5") == (DayRule(weekday=5, nth=5),)


def test_date_specs():
    assert rules_of("20261210 20270114") == (DayRule(on=date(2026, 12, 10)), DayRule(on=date(2027, 1, 14)))


def test_month_filter_applies_to_every_spec_of_the_cell():
    months = frozenset({4, 5, 6})
    assert rules_of("月1 20270114:4 5 6") == (DayRule(weekday=0, nth=1, months=months),
                                              DayRule(on=date(2027, 1, 14), months=months))
    # the rule itself: 1st Monday, only in April-June
    rule = DayRule(weekday=0, nth=1, months=months)
    assert rule.matches(date(2027, 4, 5)) and not rule.matches(date(2027, 3, 1)) and not rule.matches(date(2027, 4, 12))


def test_full_width_digits_colon_and_spaces_are_read():
    assert rules_of("水２　金：１２") == (DayRule(weekday=2, nth=2, months=frozenset({12})),
                                        DayRule(weekday=4, months=frozenset({12})))


def test_empty_cell_means_never():
    cal = parse(area_days("A,,,,,"))
    assert all(rules == () for rules in cal.areas["A"].rules.values())
    assert cal.collections_on("A", date(2026, 12, 7)) == []


@pytest.mark.parametrize("token", ["月6", "月0", "月*1", "月曜", "2027011", "20270231", "hoge", "水2,"])
def test_unknown_token_is_a_warning_not_a_crash(token):
    cal = parse({"area_days.csv": f'地名,センター,c\nA,,"火 {token}"\n'.encode()})
    assert cal.areas["A"].rules["c"] == (DayRule(weekday=1),)
    assert len(cal.warnings) == 1
    assert "line 2" in cal.warnings[0] and "A, c" in cal.warnings[0] and repr(token) in cal.warnings[0]


def test_bad_month_filter_is_reported_and_never_widens_the_rule():
    cal = parse({"area_days.csv": "地名,センター,a,b,c\nA,,月:13,火:4 13,水:1:2\n".encode()})
    rules = cal.areas["A"].rules
    assert rules["a"] == ()  # no valid month: ignored, not "every month"
    assert rules["b"] == (DayRule(weekday=1, months=frozenset({4})),)  # 13 ignored, as the original app does
    assert rules["c"] == (DayRule(weekday=2, months=frozenset({1})),)  # the original app reads 「水:1」
    assert len(cal.warnings) == 4
    assert cal.stats.cells == 3 and cal.stats.cells_dropped == 1 and cal.stats.cells_partly == 2


def test_every_warning_is_kept_and_the_stored_ones_are_capped():
    rows = [f"A{i},,x y z" for i in range(300)]
    cal = parse({"area_days.csv": ("地名,センター,c\n" + "\n".join(rows)).encode()})
    assert len(cal.warnings) == 900  # all of them, for the import's warnings file
    assert cal.stats.cells == cal.stats.cells_dropped == 300 and cal.stats.dropped["unknown day spec"] == 900
    stored = Calendar.from_json(cal.to_json())
    assert len(stored.warnings) == 201 and stored.warnings[-1] == "... and 700 more warnings"


# --- the sample calendar -------------------------------------------------------------------------

def test_sample_structure(sample):
    assert list(sample.areas) == ["本町一丁目", "本町二丁目", "緑町", "港町"]
    assert list(sample.categories) == [BURN, NONBURN, RES, BULKY]
    assert sample.warnings == []
    assert sample.areas["港町"].center == ""  # " " in the file
    assert sample.areas["本町一丁目"] == AreaSchedule("本町一丁目", "東部センター", {
        BURN: (DayRule(weekday=0), DayRule(weekday=3)),
        NONBURN: (DayRule(weekday=2, nth=2), DayRule(weekday=2, nth=4)),
        RES: (DayRule(weekday=1),),
        BULKY: (DayRule(on=date(2026, 12, 10)), DayRule(on=date(2027, 1, 14))),
    })
    assert sample.areas["緑町"].rules[RES] == (DayRule(weekday=2, months=frozenset(range(1, 12))),)
    assert sample.closures == {
        "東部センター": [(date(2025, 12, 29), date(2026, 1, 3)), (date(2026, 12, 29), date(2027, 1, 3))],
        "西部センター": [(date(2026, 12, 30), date(2027, 1, 4))],
    }
    assert sample.categories[RES] == Category(RES, "びん・缶・ペットボトル", "中をすすいでから出してください。",
                                              "#33AA55", ("空き缶", "ペットボトル"), ("", "キャップとラベルは外す"))
    assert sample.categories[NONBURN].items == ("なべ", "割れたガラス")


@pytest.mark.parametrize("area, day, expected", [
    # 本町一丁目: burnable Mon/Thu, non-burnable 2nd+4th Wed, resources Tue, bulky on set dates
    ("本町一丁目", date(2026, 12, 7), [BURN]),             # Monday
    ("本町一丁目", date(2026, 12, 8), [RES]),              # Tuesday
    ("本町一丁目", date(2026, 12, 2), []),                 # 1st Wednesday
    ("本町一丁目", date(2026, 12, 9), [NONBURN]),          # 2nd Wednesday
    ("本町一丁目", date(2026, 12, 10), [BURN, BULKY]),     # Thursday + one-off date, column order
    ("本町一丁目", date(2026, 12, 16), []),                # 3rd Wednesday
    ("本町一丁目", date(2026, 12, 23), [NONBURN]),         # 4th Wednesday
    ("本町一丁目", date(2026, 12, 13), []),                # Sunday
    ("本町二丁目", date(2026, 12, 24), [BURN, BULKY]),
    ("本町二丁目", date(2026, 12, 10), [BURN]),            # the other area's bulky date
    ("本町一丁目", date(2027, 1, 13), [NONBURN]),          # 2nd Wednesday of January
    ("本町一丁目", date(2027, 1, 14), [BURN, BULKY]),
    ("本町一丁目", date(2027, 1, 27), [NONBURN]),          # 4th Wednesday
    # 港町: no center, so no closure; non-burnable on the 1st, 3rd and 5th Wednesday
    ("港町", date(2026, 12, 30), [NONBURN]),              # 5th Wednesday
    ("港町", date(2026, 12, 29), [RES]),
    ("港町", date(2027, 1, 1), []),                       # a Friday
    # 緑町: burnable Tue/Fri, non-burnable 2nd+4th Thu, resources Wednesday except in December
    ("緑町", date(2026, 12, 10), [NONBURN]),
    ("緑町", date(2026, 12, 2), []),
    ("緑町", date(2026, 11, 25), [RES]),
    ("緑町", date(2027, 1, 6), [RES]),
    ("緑町", date(2026, 12, 17), [BULKY]),
])
def test_collections_on(sample, area, day, expected):
    assert sample.collections_on(area, day) == expected


def test_year_end_closure_is_respected(sample):
    # 東部センター is closed 2026-12-29 .. 2027-01-03 inclusive
    assert sample.collections_on("本町一丁目", date(2026, 12, 28)) == [BURN]
    for day in (date(2026, 12, 29), date(2026, 12, 31), date(2027, 1, 3)):
        assert sample.closed("本町一丁目", day)
    assert sample.collections_on("本町一丁目", date(2026, 12, 29)) == []   # a Tuesday
    assert sample.collections_on("本町一丁目", date(2026, 12, 31)) == []   # a Thursday
    assert sample.collections_on("本町一丁目", date(2027, 1, 4)) == [BURN]
    # 西部センター: 2026-12-30 .. 2027-01-04, a day later on both ends
    assert sample.collections_on("緑町", date(2026, 12, 29)) == [BURN]
    assert sample.collections_on("緑町", date(2027, 1, 1)) == []           # a Friday
    assert sample.collections_on("緑町", date(2027, 1, 5)) == [BURN]
    # the same areas, the year before
    assert sample.collections_on("本町一丁目", date(2026, 1, 1)) == []
    assert sample.collections_on("本町一丁目", date(2026, 1, 5)) == [BURN]


def test_fifth_week(sample):
    # December 2026 has five Wednesdays (2, 9, 16, 23, 30): 水4 is the 23rd, never the 30th
    assert sample.collections_on("本町二丁目", date(2026, 12, 23)) == [NONBURN]
    cal = parse(area_days("A,,,水4,,", "B,,,水5,,"))
    assert cal.collections_on("A", date(2026, 12, 30)) == []
    assert cal.collections_on("B", date(2026, 12, 30)) == [NONBURN]
    # November 2026 and January 2027 have four Wednesdays: 水5 never comes
    assert [d for d, _ in cal.upcoming("B", date(2026, 11, 1), 31)] == []
    assert [d for d, _ in cal.upcoming("B", date(2027, 1, 1), 31)] == []
    assert sample.collections_on("港町", date(2026, 11, 25)) == []


def test_upcoming(sample):
    assert sample.upcoming("本町一丁目", date(2026, 12, 24)) == [
        (date(2026, 12, 24), [BURN]),
        (date(2026, 12, 28), [BURN]),
        (date(2027, 1, 4), [BURN]),
        (date(2027, 1, 5), [RES]),
    ]
    assert sample.upcoming("港町", date(2026, 12, 28), days=3) == [
        (date(2026, 12, 28), [BURN]), (date(2026, 12, 29), [RES]), (date(2026, 12, 30), [NONBURN])]
    assert sample.upcoming("港町", date(2026, 12, 28), days=0) == []


def test_unknown_area_is_a_key_error(sample):
    with pytest.raises(KeyError):
        sample.collections_on("存在しない町", date(2026, 12, 7))
    with pytest.raises(KeyError):
        sample.upcoming("存在しない町", date(2026, 12, 7), days=0)


# --- encodings and layout ------------------------------------------------------------------------

def test_sample_files_are_as_documented():
    raw = (DATA / "area_days.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    sjis = (SJIS / "area_days.csv").read_bytes()
    assert sjis.decode("cp932") == raw[3:].decode("utf-8")


def test_cp932_file_reads_like_the_utf8_one(sample):
    cal = load_dir(SJIS)
    assert cal.areas == sample.areas
    assert list(cal.categories) == list(sample.categories)
    assert cal.closures == {} and cal.warnings == []
    assert cal.collections_on("本町一丁目", date(2026, 12, 29)) == [RES]  # no center.csv, no closure


def test_bom_is_not_part_of_the_first_header():
    text = HEADER + "\nA,,月,,,\n"
    with_bom = parse({"area_days.csv": b"\xef\xbb\xbf" + text.encode()})
    without = parse({"area_days.csv": text.encode()})
    assert with_bom == without
    assert with_bom.collections_on("A", date(2026, 12, 7)) == [BURN]


def test_utf16_with_bom():
    text = HEADER + "\r\nA,,月,,,\r\n"
    assert parse({"area_days.csv": text.encode("utf-16")}) == parse({"area_days.csv": text.encode()})


def test_crlf_lf_and_cr_line_endings_read_the_same():
    lines = [HEADER, "A,東部,月 木,水2 水4,火,20261210", "B,,火,,,"]
    results = [parse({"area_days.csv": sep.join(lines).encode(),
                      "center.csv": sep.join(["名称,休止開始日,休止終了日", "東部,2026/12/29,2027/01/03"]).encode()})
               for sep in ("\r\n", "\n", "\r")]
    assert results[0] == results[1] == results[2]
    assert list(results[0].areas) == ["A", "B"]


def test_surrounding_spaces_and_blank_lines_are_ignored():
    cal = parse({"area_days.csv": (" 地名 , センター , 燃やすごみ ,資源ごみ\n\n 港町 , 東部 ,  月  木 , 火 \n,,,\n").encode(),
                 "center.csv": "名称,休止開始日,休止終了日\n 東部 , 2026/12/29 , 2027/1/3 \n".encode()})
    assert list(cal.categories) == [BURN, RES]
    assert cal.areas["港町"] == AreaSchedule("港町", "東部", {BURN: (DayRule(weekday=0), DayRule(weekday=3)),
                                                            RES: (DayRule(weekday=1),)})
    assert cal.closures == {"東部": [(date(2026, 12, 29), date(2027, 1, 3))]}


def test_category_without_description_is_fine():
    cal = parse({**area_days("A,,月,,,"),
                 "description.csv": "label,sublabel,description,styles,bgcolor\n燃やすごみ,,燃える,,#f00\n".encode()})
    assert cal.categories[BURN].description == "燃える"
    assert cal.categories[RES] == Category(RES)
    assert cal.warnings == []


def test_stray_labels_in_description_and_target_are_warnings_and_kept():
    # read by position, as the original app reads them: the header's words do not matter
    cal = parse({**area_days("A,,月,,,"),
                 "description.csv": "what,ever,text\n剪定枝,,枝\n".encode(),
                 "target.csv": "type,name,notice\n市で収集しない,石,販売店へ\n燃やすごみ,生ごみ\n".encode()})
    assert cal.categories["剪定枝"].description == "枝"
    assert cal.categories[BURN].items == ("生ごみ",) and cal.categories[BURN].notices == ("",)
    # an item of a category without a column is still an answer to 「石は何ごみ」, with no collection day
    assert cal.categories["市で収集しない"] == Category("市で収集しない", items=("石",), notices=("販売店へ",))
    assert cal.columns == [BURN, NONBURN, RES, BULKY]
    assert len(cal.warnings) == 2 and "description.csv line 2" in cal.warnings[0] and "市で収集しない" in cal.warnings[1]


def test_center_without_a_row_in_center_csv_is_a_warning():
    cal = parse({**area_days("A,北部,月,,,"), "center.csv": "名称,休止開始日,休止終了日\n".encode()})
    assert cal.closures == {} and len(cal.warnings) == 1 and "北部" in cal.warnings[0]


# --- malformed input -----------------------------------------------------------------------------

def test_missing_area_days():
    with pytest.raises(CalendarError, match="area_days.csv is missing"):
        parse({"center.csv": b"a,b,c\n"})


def test_missing_area_days_in_a_folder(tmp_path):
    shutil.copy(DATA / "center.csv", tmp_path / "center.csv")
    with pytest.raises(CalendarError, match="area_days.csv is missing"):
        load_dir(tmp_path)
    with pytest.raises(CalendarError, match="not a folder"):
        load_dir(tmp_path / "nope")


def test_area_days_header_is_read_by_position():
    # 金沢市: 「校下・地区,センター,…」; the original app never looks at the first two words
    cal = parse({"area_days.csv": "校下・地区,センター（center.csvを使わない場合は空白化）,燃やすごみ\n浅野川,東部,月 木\n".encode()})
    assert cal.areas["浅野川"].rules == {"燃やすごみ": (DayRule(weekday=0), DayRule(weekday=3))}


@pytest.mark.parametrize("header", ["地名,センター", "地名,センター,,", "地名"])
def test_missing_header_columns(header):
    with pytest.raises(CalendarError, match=r"area_days.csv line 1: missing header columns"):
        parse({"area_days.csv": f"{header}\nA,,月,火\n".encode()})


def test_empty_area_days():
    with pytest.raises(CalendarError, match="area_days.csv: file is empty"):
        parse({"area_days.csv": b"\xef\xbb\xbf\r\n\r\n"})


def test_duplicate_category_column():
    with pytest.raises(CalendarError, match="line 1: category '資源ごみ' appears twice"):
        parse({"area_days.csv": "地名,センター,資源ごみ,資源ごみ\nA,,火,水\n".encode()})


def test_a_repeated_area_row_is_dropped_and_counted():
    cal = parse(area_days("緑町,,月,,,", "港町,,月,,,", "緑町,,火,水2,,"))
    assert list(cal.areas) == ["緑町", "港町"] and cal.areas["緑町"].rules[BURN] == (DayRule(weekday=0),)
    assert cal.warnings == ["area_days.csv line 4: repeats area '緑町' of line 2; the row is ignored"]
    assert cal.stats.rows_dropped == 1 and cal.stats.cells == 4 and cal.stats.cells_dropped == 2


def test_a_row_without_a_name_is_dropped_and_counted():
    cal = parse(area_days("緑町,,月,,,", ",,火,,,"))
    assert list(cal.areas) == ["緑町"] and "line 3: has no area name" in cal.warnings[0]
    assert cal.stats.rows_dropped == 1 and cal.stats.cells_dropped == 1


def test_area_limit():
    rows = [f"町{i},,月" for i in range(MAX_AREAS)]
    assert len(parse({"area_days.csv": ("地名,センター,c\n" + "\n".join(rows)).encode()}).areas) == MAX_AREAS
    with pytest.raises(CalendarError, match=rf"line {MAX_AREAS + 2}: more than {MAX_AREAS} areas"):
        parse({"area_days.csv": ("地名,センター,c\n" + "\n".join(rows + ["もう一つ,,月"])).encode()})


def test_category_limit():
    ok = "地名,センター," + ",".join(f"c{i}" for i in range(100))
    assert len(parse({"area_days.csv": (ok + "\nA,,月\n").encode()}).categories) == 100
    with pytest.raises(CalendarError, match="101 categories; at most 100"):
        parse({"area_days.csv": (ok + ",c100\nA,,月\n").encode()})


def test_file_size_limit():
    big = HEADER.encode() + b"\n" + b" " * MAX_FILE_BYTES
    with pytest.raises(CalendarError, match="area_days.csv: file is larger than 5 MB"):
        parse({"area_days.csv": big})


def test_undecodable_bytes():
    with pytest.raises(CalendarError, match="neither UTF-8 nor Shift_JIS"):
        parse({"area_days.csv": "地名,センター,c\n".encode() + b"A,,\x81\x7f\n"})


def test_bad_csv_quoting_names_the_file():
    with pytest.raises(CalendarError, match="area_days.csv line 2: not valid CSV"):
        parse({"area_days.csv": "地名,センター,d\nA,".encode() + b'"' + b"x" * 200_000 + b'"\n'})


@pytest.mark.parametrize("row, message", [
    ("東部,2026/12/29,", r"center.csv line 2: '' is not a date like 2026/12/29; this closure is ignored"),
    ("東部,2026/13/29,2027/1/3", r"center.csv line 2: '2026/13/29' is not a date"),
    ("東部,2027/1/3,2026/12/29", r"center.csv line 2: closure ends \(2026-12-29\) before it starts \(2027-01-03\)"),
])
def test_bad_center_rows_are_dropped_and_said(row, message):
    cal = parse({**area_days("A,東部,月,,,"), "center.csv": f"名称,休止開始日,休止終了日\n{row}\n東部,2026/12/30,2027/1/3\n".encode()})
    assert cal.closures == {"東部": [(date(2026, 12, 30), date(2027, 1, 3))]}
    assert cal.stats.closures_dropped == 1 and len(cal.warnings) == 1
    assert re.match(message, cal.warnings[0])


def test_center_without_closure_dates():
    # 笠間市 and 松前町: 「笠間市環境センター,,」 — a center with no closure (the original app ignores it)
    cal = parse({**area_days("A,笠間市環境センター,月,,,"), "center.csv": "名称,休止開始日,休止終了日\n笠間市環境センター,,\n".encode()})
    assert cal.closures == {"笠間市環境センター": []} and cal.warnings == []


def test_center_with_a_list_of_closed_days():
    # 鎌ケ谷市: 「名称,休止日,休止日,…」, one closed day per cell
    cal = parse({**area_days("A,しらさぎ,月 火 水,,,"),
                 "center.csv": "名称,休止日,休止日,休止日\nしらさぎ,2027/05/03,2027/05/04,2027/05/05\n".encode()})
    assert cal.closures["しらさぎ"] == [(date(2027, 5, d), date(2027, 5, d)) for d in (3, 4, 5)]
    assert cal.collections_on("A", date(2027, 5, 3)) == [] and cal.collections_on("A", date(2027, 5, 10)) == [BURN]


def test_extra_cells_in_a_center_row_are_said():
    cal = parse({**area_days("A,東部,月,,,"), "center.csv": "名称,休止開始日,休止終了日\n東部,2026/12/29,2027/1/3,2027/8/13\n".encode()})
    assert cal.closures["東部"] == [(date(2026, 12, 29), date(2027, 1, 3))]
    assert "1 cell(s) after 休止終了日 ignored" in cal.warnings[0]


def test_center_date_forms():
    cal = parse({**area_days("A,東部,月,,,"),
                 "center.csv": "名称,休止開始日,休止終了日\n東部,2026-12-29,20270103\n東部,２０２７年８月１３日,2027.8.15\n".encode()})
    assert cal.closures["東部"] == [(date(2026, 12, 29), date(2027, 1, 3)), (date(2027, 8, 13), date(2027, 8, 15))]


def test_optional_files_are_read_by_position_and_their_first_row_skipped():
    cal = parse({**area_days("A,,月,,,"), "description.csv": "燃やすごみ,,燃える\n資源ごみ,,洗って\n".encode()})
    # the original app drops the first row as a header even when it is data: said, and done the same
    assert cal.categories[BURN].description == "" and cal.categories[RES].description == "洗って"
    assert "description.csv line 1: the first row looks like data ('燃やすごみ')" in cal.warnings[0]


# --- storage -------------------------------------------------------------------------------------

def test_json_round_trip(sample):
    text = sample.to_json()
    again = Calendar.from_json(text)
    assert again == sample
    assert list(again.areas) == list(sample.areas) and list(again.categories) == list(sample.categories)
    assert all(list(again.areas[a].rules) == list(sample.areas[a].rules) for a in sample.areas)
    assert again.to_json() == text
    assert again.upcoming("本町一丁目", date(2026, 12, 24)) == sample.upcoming("本町一丁目", date(2026, 12, 24))


def test_json_round_trip_keeps_months_and_warnings():
    cal = parse({"area_days.csv": "地名,センター,c,d\nA,,月1 20270114:12 1,謎\n".encode()})
    assert cal.warnings
    assert Calendar.from_json(cal.to_json()) == cal


@pytest.mark.parametrize("bad", ["", "[]", "{}", '{"format": "5374/1"}', "not json",
                                 '{"format":"5374/1","categories":[],"areas":[{"name":"A","center":"","rules":'
                                 '[["c",[{"weekday":9}]]]}],"closures":[],"warnings":[]}'])
def test_from_json_rejects_garbage(bad):
    with pytest.raises(CalendarError):
        Calendar.from_json(bad)


# --- loading by URL ------------------------------------------------------------------------------

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


class _Broken(_Quiet):
    def do_GET(self):
        if self.path.endswith("/target.csv"):
            self.send_error(500)
        else:
            super().do_GET()


@pytest.fixture
def serve():
    servers = []

    def start(folder: Path, handler=_Quiet) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_load_url(serve, sample):
    base = serve(DATA.parent)
    assert load_url(base + "/5374") == sample
    assert load_url(base + "/5374/", timeout=5) == sample
    with requests.Session() as session:
        assert load_url(base + "/5374", session=session) == sample


def test_load_url_without_optional_center(serve, tmp_path, sample):
    for name in ("area_days.csv", "description.csv", "target.csv"):
        shutil.copy(DATA / name, tmp_path / name)
    cal = load_url(serve(tmp_path))
    assert cal.closures == {} and cal.areas == sample.areas and cal.categories == sample.categories
    assert cal.collections_on("本町一丁目", date(2026, 12, 29)) == [RES]


def test_load_url_missing_area_days(serve, tmp_path):
    shutil.copy(DATA / "center.csv", tmp_path / "center.csv")
    with pytest.raises(CalendarError, match=r"area_days.csv: http://127.0.0.1:\d+/area_days.csv answered HTTP 404"):
        load_url(serve(tmp_path))


def test_load_url_server_error_on_an_optional_file(serve):
    with pytest.raises(CalendarError, match=r"target.csv: .* answered HTTP 500"):
        load_url(serve(DATA, _Broken))


def test_load_url_size_limit(serve, tmp_path):
    (tmp_path / "area_days.csv").write_bytes(HEADER.encode() + b"\n" + b" " * MAX_FILE_BYTES)
    with pytest.raises(CalendarError, match="larger than 5 MB"):
        load_url(serve(tmp_path))


def test_load_url_unreachable_and_bad_scheme():
    with pytest.raises(CalendarError, match="could not be fetched"):
        load_url("http://127.0.0.1:9", timeout=2)
    with pytest.raises(CalendarError, match="only http"):
        load_url("file:///etc")


# --- whatever arrives, parse() returns a Calendar or raises CalendarError ------------------------

FILES = ("area_days.csv", "target.csv", "description.csv", "center.csv")
csvish = st.lists(
    st.lists(st.one_of(
        st.sampled_from(["地名", "センター", "label", "name", "description", "bgcolor", "月", "水2", "金5", "火9",
                         "20270114", "20270231", ":", "月:4 5", "水1 水3:13", " ", "", '"', "\ufeff", "2026/12/29",
                         "2027/1/3", "９", "：", "燃やすごみ", "A", "A"]),
        st.text(max_size=8)), max_size=6).map(",".join),
    max_size=8).map(lambda lines: "\r\n".join(lines))


def _check(files):
    try:
        cal = parse(files)
    except CalendarError:
        return
    assert isinstance(cal, Calendar)
    assert Calendar.from_json(cal.to_json()) == cal
    for area in cal.areas:
        cal.upcoming(area, date(2026, 12, 25), days=10)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FILES), st.binary(max_size=300), max_size=4))
def test_random_bytes_never_crash(files):
    _check(files)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FILES), st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
                       max_size=4))
def test_random_text_never_crashes(files):
    _check(files)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({"area_days.csv": csvish.map(lambda t: ("地名,センター,a,b\r\n" + t).encode())},
                             optional={name: csvish.map(str.encode) for name in FILES[1:]}),
       st.sampled_from(["utf-8", "utf-8-sig", "cp932"]))
def test_random_csv_never_crashes(files, encoding):
    def recode(raw: bytes) -> bytes:
        try:
            return raw.decode("utf-8").encode(encoding)
        except UnicodeError:
            return raw
    _check({name: recode(raw) for name, raw in files.items()})
