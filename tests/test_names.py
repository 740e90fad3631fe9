"""Names from the city's data in a form each resident reads (issue 18): the chain (their
language → the city's second language → Latin letters → Japanese), readings for やさしい日本語,
garbage kinds by a reviewed vocabulary, lists written the way each language writes them."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core import names, timefmt
from bot.core.i18n import t
from bot.core.areas import load_city
from bot.core.config import Config
from bot.core.garbage5374 import load_dir
from bot.core.models import Area, Association, Shelter
from bot.services import garbage
from scheduler import clock as clock_mod
from tests.support import run_worker

DATA = Path(__file__).parent / "data" / "5374"
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


@pytest.mark.parametrize("japanese,latin", [
    ("あさひ町", "Asahi-machi"), ("港町", "Minato-machi"), ("新宿区", "Shinjuku-ku"), ("東京", "Tokyo"),
    ("大阪", "Osaka"), ("北海道札幌市", "Hokkaido Sapporo-shi"), ("本町三丁目自治会", "Hon-machi San-chome Jichikai"),
    ("緑区", "Midori-ku"), ("びん・かん", "Bin/Kan"), ("Asahi", "Asahi"),
])
def test_a_japanese_name_in_latin_letters(japanese, latin):
    assert names.romanize(japanese) == latin


@pytest.mark.parametrize("kana,latin", [("とうきょう", "tokyo"), ("がっこう", "gakko"), ("まっちゃ", "matcha"),
                                        ("しんばし", "shinbashi"), ("ジュース", "jusu")])
def test_kana_in_hepburn(kana, latin):
    assert names.kana_to_romaji(kana) == latin


def test_easy_japanese_gives_the_reading_of_a_name_with_kanji():
    assert names.with_reading("燃えるごみ") == "燃えるごみ（もえるごみ）"
    assert names.with_reading("ひばりが丘") == "ひばりが丘（ひばりがおか）"
    assert names.with_reading("みなと") == "みなと"  # nothing to read


@pytest.mark.parametrize("given,locale,fallback,shown", [
    ({"ja": "港町", "vi": "Phố Cảng"}, "vi", "en", "Phố Cảng"),  # their own language first
    ({"ja": "港町", "en": "Minato"}, "vi", "en", "Minato"),  # then the city's second language
    ({"ja": "港町", "pt_BR": "Bairro do Porto", "en": "Minato"}, "vi", "pt_BR", "Bairro do Porto"),
    ({"ja": "港町"}, "vi", "en", "Minato-machi"),  # then Latin letters from the reading
    ({"ja": "港町"}, "zh_Hans", "en", "港町"),  # Chinese readers read kanji
    ({"ja": "みなと町"}, "zh_Hans", "en", "Minato-cho"),  # but not kana
    ({"ja": "港町"}, "ko", "en", "Minato-machi"),
    ({"ja": "港町"}, "ja_easy", "en", "港町（みなとまち）"),
    ({"ja": "港町", "en": "Minato"}, "ja", "en", "港町"),
])
def test_the_chain(given, locale, fallback, shown):
    assert names.display(given, locale, fallback) == shown


def test_the_second_language_comes_from_the_environment():
    assert Config.from_env({"FALLBACK_LANGUAGE": "pt_BR"}).fallback_language == "pt_BR"
    assert Config.from_env({}).fallback_language == "en"


def test_areas_and_associations_from_the_citys_file(db, app):
    with db.session() as s:
        area = s.scalar(select(Area).where(Area.code == "sakura"))
        area.names = {"ja": "さくら台"}  # a city that wrote only Japanese
        assert area.name("en") == "Sakuradai"
        assert area.name("ja_easy") == "さくら台（さくらだい）"
        asahi = s.scalar(select(Association).where(Association.join_code == "ASAHI-2026"))
        minato = s.scalar(select(Association).where(Association.join_code == "MINATO-2026"))
        assert asahi.shown("vi") == "Asahi Neighbourhood Association"  # the city's English
        assert minato.shown("vi") == "Minato Jichikai"  # Latin letters from the reading
        assert minato.shown("ja") == "みなと自治会"


def test_a_city_file_with_a_broken_translation_is_refused(tmp_path, db, app):
    bad = tmp_path / "city.json"
    bad.write_text('{"areas": [{"code": "a", "names": {"ja": "あ"}}], "associations": '
                   '[{"name": "会", "join_code": "X-1", "names": {"en": 5}}]}', encoding="utf-8")
    with db.session() as s, pytest.raises(ValueError, match="names"):
        load_city(s, bad)


@pytest.mark.parametrize("locale,expected", [
    ("en", ["Burnable garbage", "Non-burnable garbage", "Recyclables", "Oversized garbage"]),
    ("vi", ["Rác cháy được", "Rác không cháy được", "Rác tái chế", "Rác cồng kềnh"]),
    ("zh_Hans", ["可燃垃圾", "不可燃垃圾", "可回收物", "大件垃圾"]),
    ("ja", ["燃やすごみ", "燃やさないごみ", "資源ごみ", "粗大ごみ"]),
    ("ja_easy", ["燃やすごみ（もやすごみ）", "燃やさないごみ（もやさないごみ）", "資源ごみ（しげんごみ）", "粗大ごみ（そだいごみ）"]),
])
def test_a_citys_garbage_kinds_in_every_language(locale, expected):
    cal = load_dir(DATA)
    assert garbage.show_kinds(cal, list(cal.categories), locale) == expected


def test_two_kinds_that_are_the_same_kind_each_say_their_own_name():
    cal = load_dir(DATA)
    cal.categories["びん"] = cal.categories.pop("資源ごみ")
    cal.categories["かん"] = cal.categories["びん"]
    shown = garbage.show_kinds(cal, ["びん", "かん"], "en")
    assert shown == ["Cans and bottles (Bin)", "Cans and bottles (Kan)"]


def test_a_kind_the_vocabulary_does_not_know_uses_the_citys_english_or_latin_letters():
    cal = load_dir(DATA)
    cat = cal.categories["粗大ごみ"]
    cal.categories["剪定枝"] = type(cat)(label="剪定枝", sublabel="Pruned branches")
    cal.categories["せんてい"] = type(cat)(label="せんてい")
    assert garbage.show_kinds(cal, ["剪定枝", "せんてい"], "en") == ["Pruned branches", "Sentei"]


@pytest.mark.parametrize("locale,shown", [("en", "A, B, and C"), ("vi", "A, B và C"), ("pt_BR", "A, B e C"),
                                          ("ja", "A、B、C"), ("zh_Hans", "A、B和C")])
def test_lists_are_written_the_way_the_language_writes_them(locale, shown):
    assert timefmt.show_list(["A", "B", "C"], locale) == shown


EN = "U" + "d1" * 16


def test_an_english_residents_garbage_days_and_evening_reminder_have_no_japanese(line, joined, runner, bot, db,
                                                                                  fake_line, time_machine):
    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)
    joined(EN, name="Emma")
    assert runner.invoke(args=["garbage", "import", "--dir", str(DATA)]).exit_code == 0
    line.say(EN, "garbage days")
    assert "Midori-cho" in fake_line.quick_labels(EN)
    line.tap(EN, "Midori-cho")
    assert "Burnable garbage" in fake_line.quick_labels(EN)
    line.tap(EN, "Burnable garbage")
    line.tap(EN, "Done")
    done = line.last_text(EN)
    assert "Burnable garbage" in done and not JAPANESE.search(done), done
    line.say(EN, "garbage days")
    shown = line.last_text(EN)
    assert "Midori-cho" in shown and not JAPANESE.search(shown), shown
    with db.session() as s:
        cal = garbage.current(s)
    day = next(d for d in (date(2026, 12, 2) + timedelta(n) for n in range(14)) if "燃やすごみ" in cal.collections_on("緑町", d))
    time_machine.move_to(f"{(day - timedelta(days=1)).isoformat()} 19:00:30+09:00", tick=False)
    assert clock_mod.daily_notices(bot)["garbage"] == 1
    run_worker(bot)
    told = fake_line.texts_to(EN)[-1]
    assert "Burnable garbage" in told and not JAPANESE.search(told), told


# -- content written by people ----------------------------------------------------------------

def test_a_circular_without_the_readers_language_comes_in_the_second_language_and_says_so():
    from bot.core.models import Circular
    from bot.services import circulars

    circ = Circular(title="清掃のお知らせ", body="日曜9時に集合", translations={"en": {"title": "Clean-up", "body": "Sunday 9:00"}})
    assert circulars.for_reader(circ, "vi", "en") == (
        "Clean-up", "Sunday 9:00", "(Chưa được dịch sang ngôn ngữ của bạn: hiển thị bằng English.)")
    assert circulars.for_reader(circ, "en", "en")[2] is None
    title, _, note = circulars.for_reader(circ, "ko", "ja")  # a city whose second language is Japanese
    assert (title, note) == ("清掃のお知らせ", t("ko", "(Not translated into your language: shown in Japanese.)"))


def test_an_announcement_and_an_event_follow_the_same_chain():
    from bot.core.models import Announcement, Event
    from bot.services import announcements, event_messages

    ann = Announcement(text="断水のお知らせ", translations={"en": "Water outage"}, urgent=False)
    shown = announcements.text_for(ann, "tl")
    assert "Water outage" in shown and "English" in shown and "断水" not in shown
    assert "断水のお知らせ" in announcements.text_for(Announcement(text="断水のお知らせ", translations={}, urgent=False), "tl")
    ev = Event(title="夏祭り", place="公民館", translations={"en": {"title": "Summer festival", "place": "Community hall"}})
    assert event_messages.text_in(ev, "id", "title") == "Summer festival"
    assert event_messages.text_in(ev, "id", "place") == "Community hall"
    assert event_messages.text_in(ev, "ja", "title") == "夏祭り"
    assert event_messages.shown_in(ev, "id") == "en"


# -- one style per language (CLDR) ------------------------------------------------------------

@pytest.mark.parametrize("locale,shown", [("en", "Every day at 7:30 PM"), ("ja", "毎日 19:30"),
                                          ("pt_BR", "Todos os dias, às 19:30")])
def test_a_reminder_shows_its_time_as_events_do(locale, shown):
    from datetime import time

    from bot.core.recurrence import Rule, describe

    assert describe(Rule(kind="daily", at=time(19, 30)), locale) == shown
    event_time = timefmt.show_time(datetime(2026, 12, 1, 10, 30, tzinfo=timezone.utc), locale, "Asia/Tokyo")
    assert event_time in shown  # the same clock an event at 19:30 shows


@pytest.mark.parametrize("locale,shown", [("en", "1.5 hours"), ("pt_BR", "1,5"), ("id", "1,5"), ("ja", "1.5")])
def test_hours_of_help_are_written_with_the_languages_decimal_mark(locale, shown):
    from bot.services.timebank import format_hours

    assert shown in format_hours(90, locale)


def test_household_labels_for_a_reader_of_another_language():
    """Leaders number households 「4番 鈴木（紙）」: a reader of another language gets the
    English a leader wrote, else the label in Latin letters, readable."""
    from bot.core.models import shown_label

    assert names.romanize("4番 鈴木（紙）") == "No. 4 Suzuki (Kami)"
    assert names.romanize("1番 田中") == "No. 1 Tanaka"  # not 「一番」 (ichiban)
    assert shown_label("1番 田中", {}, "en") == "No. 1 Tanaka"
    assert shown_label("1番 田中", {"en": "No. 1 Tanaka family"}, "vi") == "No. 1 Tanaka family"  # the second language
    assert shown_label("1番 田中", {"en": "No. 1 Tanaka family"}, "ja") == "1番 田中"
    assert shown_label("2番 Smith", {}, "en") == "No. 2 Smith"


def test_english_household_names_from_the_console_reach_an_english_leader(accounts, joined, db, clock):
    """The roster page takes the household's name in English; the circular's read status for a
    leader who reads English names the unread households that way (or in Latin letters)."""
    from sqlalchemy import select

    from bot import services
    from bot.core.db import utcnow
    from bot.core.models import Association, Circular, Household
    from bot.services import circulars
    from tests.console_support import csrf, sign_in

    c = accounts.test_client()
    assert sign_in(c, "asahi").status_code == 302
    with db.read() as s:
        asahi = s.scalar(select(Association.id).where(Association.join_code == "ASAHI-2026"))
    page = c.get("/console/circulars/roster").get_data(as_text=True)
    assert 'name="label_en"' in page
    for label, english in (("6番 山田（紙）", "No. 6 Yamada (paper)"), ("7番 森（紙）", "")):
        r = c.post("/console/circulars/roster", data={"csrf_token": csrf(c, "/console/circulars/roster"), "association": asahi,
                                                      "action": "add_household", "label": label, "label_en": english,
                                                      "paper": "1"})
        assert r.status_code in (302, 303), r.status_code
    with db.session() as s:
        assert {h.label: h.names for h in s.scalars(select(Household))} == {"6番 山田（紙）": {"en": "No. 6 Yamada (paper)"},
                                                                           "7番 森（紙）": {}}
        circ = Circular(association_id=asahi, title="t", body="b", created_at=utcnow())
        s.add(circ)
        s.flush()
        services.apply(s, circulars.send(s, circ, accounts.extensions["tsunagari"].config, utcnow()), "test")
        assert sorted(circulars.tally(s, circ, locale="en").unread) == ["No. 6 Yamada (paper)", "No. 7 Mori (Kami)"]
        assert sorted(circulars.tally(s, circ).unread) == ["6番 山田（紙）", "7番 森（紙）"]  # the console's and CLI's Japanese


@pytest.mark.parametrize("japanese, english", [
    ("あさひ小学校", "Asahi Elementary School"),
    ("川辺町コミュニティセンター", "Kawabe-cho Community Center"),
    ("みなと中学校体育館", "Minato Junior High School Gymnasium"),  # two kinds of place
    ("日比谷公園", "Hibiya Park"),
    ("中学校", "Junior High School"),  # the kind alone
    ("東町会館", "Higashi-machi Hall"),
])
def test_a_shelters_kind_of_place_is_said_in_english(japanese, english):
    assert names.facility_english(japanese) == english
    shelter = Shelter(name=japanese, names={})
    assert shelter.shown("en") == shelter.shown("vi") == english  # Vietnamese readers: the English fallback
    assert shelter.shown("ja") == japanese


def test_a_name_without_a_known_kind_stays_in_latin_letters_and_a_given_name_wins():
    assert names.facility_english("あさひ") is None
    assert Shelter(name="あさひ", names={}).shown("en") == "Asahi"
    given = Shelter(name="番町小学校", names={"en": "Bancho Elementary School"})
    assert given.shown("en") == "Bancho Elementary School"
    assert Shelter(name="番町小学校", names={"vi": "Trường tiểu học Bancho"}).shown("vi") == "Trường tiểu học Bancho"
    assert Shelter(name="番町小学校", names={}).shown("zh_Hans") == "番町小学校"  # kanji: read as they are
