"""Which collection area is the resident's (issue 19): suggested from the area they joined with,
or from a city's mapping file, so most residents choose it in one tap; and the answer to
「フライパンは何ごみ？」 names the next collection day in their area."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core import garbage5374
from bot.core.db import utcnow
from bot.core.models import Area
from bot.services import garbage
from tests.support import add_resident

ROOT = Path(__file__).resolve().parent.parent
DEMO = garbage5374.load_dir(ROOT / "data" / "garbage" / "demo")
SAMPLE = garbage5374.load_dir(Path(__file__).parent / "data" / "5374")  # 本町一丁目, 本町二丁目, 緑町, 港町
JA = "U" + "c1" * 16
EN = "U" + "c2" * 16


def area(code: str, ja: str) -> Area:
    return Area(code=code, names={"ja": ja})


@pytest.mark.parametrize("cal, code, ja, expected", [
    (DEMO, "minato", "港町", ["港町"]),                       # the same name
    (DEMO, "sakura", "サクラ台", ["さくら台"]),               # the same reading
    (SAMPLE, "honcho", "本町", ["本町一丁目", "本町二丁目"]),  # a collection area per 丁目
    (SAMPLE, "honcho-1", "本町一丁目西", ["本町一丁目"]),       # a part of a collection area
    (SAMPLE, "midori", "みどり野", []),                       # 緑町 is another place: no guess
    (SAMPLE, "x", "町", []),                                  # one character says nothing
])
def test_the_collection_area_is_suggested_from_the_area_name(cal, code, ja, expected):
    assert garbage.suggested_areas(cal, area(code, ja)) == expected


def test_every_demo_area_has_its_collection_area():
    """The demo's garbage calendar names the demo city's areas, so the suggestion is always right."""
    import json

    city = json.loads((ROOT / "data" / "cities" / "demo.json").read_text(encoding="utf-8"))
    for a in city["areas"]:
        assert garbage.suggested_areas(DEMO, area(a["code"], a["names"]["ja"])) == [a["names"]["ja"]], a


def test_a_citys_mapping_file_comes_first(tmp_path):
    path = tmp_path / "map.csv"
    path.write_text("area,garbage_area\nmidori,緑町\nみどり野,港町\n本町,本町二丁目\nmidori,存在しない地区\n", encoding="utf-8-sig")
    assert garbage.suggested_areas(SAMPLE, area("midori", "みどり野"), str(path)) == ["緑町"]  # by code, unknown dropped
    assert garbage.suggested_areas(SAMPLE, area("honcho", "本町"), str(path)) == ["本町二丁目"]  # by Japanese name
    assert garbage.suggested_areas(SAMPLE, area("minato", "港町"), str(path)) == ["港町"]  # not mapped: by name
    assert garbage.suggested_areas(SAMPLE, area("minato", "港町"), str(tmp_path / "missing.csv")) == ["港町"]


@pytest.fixture
def calendar_loaded(db, time_machine):
    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)  # a Tuesday
    with db.session() as s:
        garbage.store(s, DEMO, "demo", utcnow())
    add_resident(db, JA, name="花子", locale="ja", area="minato")
    add_resident(db, EN, name="Emma", locale="en", area="sakura")


def test_the_likely_area_is_named_and_is_the_first_button(line, fake_line, calendar_loaded):
    line.say(JA, "ごみの日")
    question = line.last_text(JA)
    assert "港町" in question and "おそらく" in question, question
    assert fake_line.quick_labels(JA)[0] == "港町"
    line.say(EN, "garbage days")
    question = line.last_text(EN)
    assert "Sakuradai" in question and "probably" in question, question
    assert fake_line.quick_labels(EN)[0] == "Sakuradai"
    line.tap(EN, "Sakuradai")
    assert "Which kinds of garbage" in line.last_text(EN)


def test_what_garbage_an_item_is_and_when_it_is_next_collected(line, fake_line, db, calendar_loaded):
    line.say(JA, "フライパンは何ごみ？")
    first = line.last_text(JA)
    assert "フライパン" in first and "ごみの日" in first  # no area chosen yet: how to see the day
    with db.session() as s:
        from bot.core.models import Resident
        hanako = s.scalar(select(Resident).where(Resident.line_user_id == JA))
        garbage.subscribe(s, hanako, "港町", [], utcnow())
    line.say(JA, "フライパンは何ごみ？")
    answer = line.last_text(JA)
    label = garbage.kind_of(DEMO, "フライパン")[0][1]
    # 港町 on Tuesday 1 December 2026: 燃やさないごみ on the 1st, 3rd and 5th Wednesday → 12/2.
    assert label == "燃やさないごみ"
    assert "フライパン：燃やさないごみ" in answer and "次の収集日：12/2(水)" in answer, answer


@pytest.mark.parametrize("typed", ["asahi 2", "Asahi 2 chome", "あさひ2丁目", "あさひ町２丁目", "朝日町2丁目"])
def test_a_collection_area_typed_however_it_is_written(line, fake_line, db, calendar_loaded, typed):
    line.say(EN, "garbage days")
    line.say(EN, typed)
    assert "Which kinds of garbage" in line.last_text(EN), fake_line.texts_to(EN)[-2:]
    line.say(EN, "garbage days")  # again: a part several names share lists them
    line.say(EN, "asahi")
    assert "Several areas match “asahi”" in fake_line.texts_to(EN)[-2]
