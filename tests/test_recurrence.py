"""Reminder schedules: rules, fire times in Asia/Tokyo from UTC, parsing what residents type,
and describing rules back."""
from __future__ import annotations

import calendar
import json
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.recurrence import ParseError, Rule, describe, next_after, occurrences, parse

TZ = "Asia/Tokyo"
JST = ZoneInfo(TZ)
UTC = timezone.utc


def jst(*args: int) -> datetime:
    """A Tokyo wall-clock moment, as aware UTC."""
    return datetime(*args, tzinfo=JST).astimezone(UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def daily(h=8, m=0):
    return Rule("daily", time(h, m))


def weekly(*days, h=7, m=0):
    return Rule("weekly", time(h, m), weekdays=tuple(days))


def monthly(day, h=9, m=0):
    return Rule("monthly", time(h, m), day=day)


def nth(n, weekday, h=10, m=0):
    return Rule("nth_weekday", time(h, m), nth=n, weekday=weekday)


def once(on, h=10, m=0):
    return Rule("once", time(h, m), on=on)


# --- Rule ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    dict(kind="hourly", at=time(7)),
    dict(kind="daily", at="07:00"),
    dict(kind="daily", at=time(7, 0, 30)),
    dict(kind="daily", at=time(7, tzinfo=UTC)),
    dict(kind="daily", at=time(7), day=3),
    dict(kind="once", at=time(7)),
    dict(kind="once", at=time(7), on=datetime(2026, 12, 24)),
    dict(kind="once", at=time(7), on=date(2026, 12, 24), weekdays=(1,)),
    dict(kind="weekly", at=time(7)),
    dict(kind="weekly", at=time(7), weekdays=(4, 1)),
    dict(kind="weekly", at=time(7), weekdays=(1, 1)),
    dict(kind="weekly", at=time(7), weekdays=(7,)),
    dict(kind="weekly", at=time(7), weekdays=(True,)),
    dict(kind="weekly", at=time(7), weekdays=None),
    dict(kind="monthly", at=time(7)),
    dict(kind="monthly", at=time(7), day=0),
    dict(kind="monthly", at=time(7), day=32),
    dict(kind="monthly", at=time(7), day=-2),
    dict(kind="monthly", at=time(7), day=1, weekday=2),
    dict(kind="nth_weekday", at=time(7), nth=2),
    dict(kind="nth_weekday", at=time(7), weekday=2),
    dict(kind="nth_weekday", at=time(7), nth=6, weekday=1),
    dict(kind="nth_weekday", at=time(7), nth=0, weekday=1),
    dict(kind="nth_weekday", at=time(7), nth=1, weekday=7),
    dict(kind="nth_weekday", at=time(7), nth=1, weekday=1, day=3),
])
def test_bad_rules_are_refused(kwargs):
    with pytest.raises(ValueError):
        Rule(**kwargs)


def test_rules_are_frozen_and_hashable():
    r = weekly(1, 4)
    assert r == Rule("weekly", time(7), weekdays=[1, 4])  # a list is taken as a tuple
    assert hash(r) == hash(weekly(1, 4))
    with pytest.raises(AttributeError):
        r.kind = "daily"


@pytest.mark.parametrize("rule, text", [
    (daily(8), '{"at":"08:00","kind":"daily"}'),
    (weekly(1, 4, h=7, m=30), '{"at":"07:30","kind":"weekly","weekdays":[1,4]}'),
    (monthly(-1), '{"at":"09:00","day":-1,"kind":"monthly"}'),
    (nth(2, 1), '{"at":"10:00","kind":"nth_weekday","nth":2,"weekday":1}'),
    (once(date(2026, 12, 24)), '{"at":"10:00","kind":"once","on":"2026-12-24"}'),
])
def test_json_is_compact_stable_and_round_trips(rule, text):
    assert rule.to_json() == text
    assert Rule.from_json(text) == rule


@pytest.mark.parametrize("text", [
    "", "[]", "null", '{"kind":"daily"}', '{"at":"08:00"}', '{"at":"8:00","kind":"daily"}',
    '{"at":"25:00","kind":"daily"}', '{"at":800,"kind":"daily"}', '{"at":"08:00","kind":"daily","x":1}',
    '{"at":"08:00","kind":"daily","day":3}', '{"at":"08:00","kind":"weekly","weekdays":3}',
    '{"at":"08:00","kind":"monthly","day":1.0}', '{"at":"08:00","kind":"once","on":20261224}',
    '{"at":"08:00","kind":"once","on":"2026-02-30"}',
])
def test_from_json_refuses_what_to_json_never_writes(text):
    with pytest.raises(ValueError):
        Rule.from_json(text)


# --- next_after ----------------------------------------------------------------------------------

def test_daily_is_strictly_after():
    rule = daily(8)
    assert next_after(rule, jst(2026, 12, 1, 7, 59), TZ) == jst(2026, 12, 1, 8, 0)
    assert next_after(rule, jst(2026, 12, 1, 8, 0), TZ) == jst(2026, 12, 2, 8, 0)  # exactly a fire time
    assert next_after(rule, jst(2026, 12, 31, 8, 0), TZ) == jst(2027, 1, 1, 8, 0)


def test_results_are_aware_utc():
    fire = next_after(daily(8), utc(2026, 12, 1), TZ)
    assert fire.tzinfo is UTC
    assert fire == utc(2026, 12, 1, 23, 0)  # 8:00 on Dec 2 in Tokyo


def test_late_evening_time_crosses_the_utc_date():
    rule = daily(23, 30)  # 23:30 in Tokyo is 14:30 UTC the same day, i.e. the day before local midnight
    assert next_after(rule, utc(2026, 3, 1, 14, 0), TZ) == utc(2026, 3, 1, 14, 30)
    assert next_after(rule, utc(2026, 3, 1, 14, 30), TZ) == utc(2026, 3, 2, 14, 30)
    # after 00:10 on Mar 2 in Tokyo (15:10 UTC on Mar 1), the next is 23:30 on Mar 2 local
    assert next_after(rule, utc(2026, 3, 1, 15, 10), TZ) == utc(2026, 3, 2, 14, 30)


def test_early_morning_weekly_fires_on_the_previous_utc_day():
    rule = weekly(1, h=7)  # Tuesday 7:00 in Tokyo is Monday 22:00 UTC
    fire = next_after(rule, utc(2026, 12, 7, 12, 0), TZ)  # a Monday, UTC
    assert fire == utc(2026, 12, 7, 22, 0)
    assert fire.astimezone(JST).weekday() == 1 and fire.weekday() == 0


def test_weekly_across_a_year_end():
    rule = weekly(1, 4, h=7)  # Tue, Fri; 2026-12-29 is a Tuesday, 2027-01-01 a Friday
    assert next_after(rule, jst(2026, 12, 29, 7, 0), TZ) == jst(2027, 1, 1, 7, 0)
    assert jst(2027, 1, 1, 7, 0) == utc(2026, 12, 31, 22, 0)  # still 2026 in UTC
    assert next_after(rule, jst(2027, 1, 1, 7, 0), TZ) == jst(2027, 1, 5, 7, 0)
    assert next_after(weekly(4), jst(2026, 12, 26, 12, 0), TZ) == jst(2027, 1, 1, 7, 0)


@pytest.mark.parametrize("after, expected", [
    (jst(2027, 1, 31, 9, 0), jst(2027, 2, 28, 9, 0)),  # non-leap February
    (jst(2028, 1, 31, 9, 0), jst(2028, 2, 29, 9, 0)),  # leap February
    (jst(2028, 2, 29, 9, 0), jst(2028, 3, 31, 9, 0)),
    (jst(2027, 3, 31, 9, 0), jst(2027, 4, 30, 9, 0)),  # April has 30 days
    (jst(2027, 4, 30, 9, 0), jst(2027, 5, 31, 9, 0)),
    (jst(2027, 12, 31, 9, 0), jst(2028, 1, 31, 9, 0)),
])
def test_monthly_31st_falls_back_to_the_months_last_day(after, expected):
    assert next_after(monthly(31), after, TZ) == expected


def test_monthly_day():
    assert next_after(monthly(1), jst(2026, 12, 1, 9, 0), TZ) == jst(2027, 1, 1, 9, 0)
    assert next_after(monthly(15), jst(2026, 12, 1, 9, 0), TZ) == jst(2026, 12, 15, 9, 0)
    assert next_after(monthly(30), jst(2027, 1, 30, 9, 0), TZ) == jst(2027, 2, 28, 9, 0)


@pytest.mark.parametrize("after, expected", [
    (jst(2027, 1, 1, 0, 0), jst(2027, 1, 31, 9, 0)),
    (jst(2027, 1, 31, 9, 0), jst(2027, 2, 28, 9, 0)),
    (jst(2028, 2, 1, 0, 0), jst(2028, 2, 29, 9, 0)),
    (jst(2027, 4, 1, 0, 0), jst(2027, 4, 30, 9, 0)),
    (jst(2026, 12, 31, 9, 0), jst(2027, 1, 31, 9, 0)),
])
def test_monthly_last_day(after, expected):
    assert next_after(monthly(-1), after, TZ) == expected


def test_second_tuesday():
    rule = nth(2, 1)
    assert next_after(rule, jst(2026, 12, 1, 0, 0), TZ) == jst(2026, 12, 8, 10, 0)
    assert next_after(rule, jst(2026, 12, 8, 10, 0), TZ) == jst(2027, 1, 12, 10, 0)
    assert next_after(rule, jst(2027, 1, 12, 10, 0), TZ) == jst(2027, 2, 9, 10, 0)


def test_last_friday():
    rule = nth(-1, 4)
    assert next_after(rule, jst(2026, 12, 1, 0, 0), TZ) == jst(2026, 12, 25, 10, 0)
    assert next_after(rule, jst(2026, 12, 25, 10, 0), TZ) == jst(2027, 1, 29, 10, 0)
    assert next_after(rule, jst(2027, 1, 29, 10, 0), TZ) == jst(2027, 2, 26, 10, 0)


def test_fifth_monday_skips_months_without_one():
    rule = nth(5, 0)
    # 2026-11-30 is a fifth Monday; December, January and February have four; 2027-03-29 is the next
    assert next_after(rule, jst(2026, 11, 1, 0, 0), TZ) == jst(2026, 11, 30, 10, 0)
    assert next_after(rule, jst(2026, 11, 30, 10, 0), TZ) == jst(2027, 3, 29, 10, 0)


def test_once():
    rule = once(date(2026, 12, 24), 10)
    assert next_after(rule, jst(2026, 12, 1), TZ) == jst(2026, 12, 24, 10, 0)
    assert next_after(rule, jst(2026, 12, 24, 9, 59), TZ) == jst(2026, 12, 24, 10, 0)
    assert next_after(rule, jst(2026, 12, 24, 10, 0), TZ) is None
    assert next_after(rule, jst(2027, 1, 1), TZ) is None


def test_other_time_zones_and_offsets_of_after():
    ny = datetime(2026, 12, 1, 19, 0, tzinfo=ZoneInfo("America/New_York"))  # = Dec 2 9:00 Tokyo
    assert next_after(daily(8), ny, TZ) == jst(2026, 12, 3, 8, 0)
    assert next_after(daily(8), utc(2026, 12, 1), "UTC") == utc(2026, 12, 1, 8, 0)


def test_a_wall_time_in_a_dst_gap_fires_when_it_would_have_been():
    # 2:30 does not exist in New York on 2026-03-08; it fires at 3:30 EDT (7:30 UTC), once that day
    fires = occurrences(daily(2, 30), utc(2026, 3, 7), utc(2026, 3, 10), "America/New_York")
    assert fires == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)]


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        next_after(daily(), datetime(2026, 12, 1), TZ)
    with pytest.raises(ValueError):
        occurrences(daily(), datetime(2026, 12, 1), utc(2026, 12, 2), TZ)


def test_occurrences_are_in_the_half_open_window():
    rule = daily(8)
    fires = occurrences(rule, jst(2026, 12, 1, 8, 0), jst(2026, 12, 4, 8, 0), TZ)
    assert fires == [jst(2026, 12, 2, 8, 0), jst(2026, 12, 3, 8, 0), jst(2026, 12, 4, 8, 0)]
    assert occurrences(rule, jst(2026, 12, 4), jst(2026, 12, 1), TZ) == []
    assert occurrences(once(date(2026, 12, 24)), utc(2026, 1, 1), utc(2028, 1, 1), TZ) == [jst(2026, 12, 24, 10)]
    year = occurrences(nth(5, 0), jst(2027, 1, 1), jst(2028, 1, 1), TZ)
    assert [f.astimezone(JST).date() for f in year] == [date(2027, 3, 29), date(2027, 5, 31), date(2027, 8, 30),
                                                        date(2027, 11, 29)]


# --- properties ----------------------------------------------------------------------------------

def _fires_on(rule: Rule, d: date) -> bool:
    """Does the rule fire on local date d? Written independently of the module, by counting."""
    length = calendar.monthrange(d.year, d.month)[1]
    if rule.kind == "once":
        return d == rule.on
    if rule.kind == "daily":
        return True
    if rule.kind == "weekly":
        return d.weekday() in rule.weekdays
    if rule.kind == "monthly":
        return d.day == (length if rule.day == -1 else min(rule.day, length))
    if d.weekday() != rule.weekday:
        return False
    if rule.nth == -1:
        return d.day + 7 > length
    return (d.day - 1) // 7 + 1 == rule.nth


_times = st.builds(time, st.integers(0, 23), st.integers(0, 59))
rules = st.one_of(
    st.builds(Rule, st.just("once"), _times, on=st.dates(date(2024, 1, 1), date(2032, 12, 31))),
    st.builds(Rule, st.just("daily"), _times),
    st.builds(Rule, st.just("weekly"), _times,
              weekdays=st.sets(st.integers(0, 6), min_size=1).map(lambda s: tuple(sorted(s)))),
    st.builds(Rule, st.just("monthly"), _times, day=st.one_of(st.integers(1, 31), st.just(-1))),
    st.builds(Rule, st.just("nth_weekday"), _times, nth=st.sampled_from([1, 2, 3, 4, 5, -1]),
              weekday=st.integers(0, 6)),
)
moments = st.datetimes(datetime(2024, 1, 1), datetime(2032, 12, 31), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(rules, moments)
def test_next_after_is_the_first_fire_strictly_after(rule, after):
    fire = next_after(rule, after, TZ)
    if fire is None:
        assert rule.kind == "once"
        assert datetime.combine(rule.on, rule.at, tzinfo=JST) <= after
        return
    assert fire > after
    assert fire.tzinfo is UTC
    local = fire.astimezone(JST)
    assert local.time() == rule.at
    assert _fires_on(rule, local.date())
    # no fire time lies strictly between `after` and the answer (brute force over local days)
    d = after.astimezone(JST).date() - timedelta(days=1)
    while d < local.date():
        if _fires_on(rule, d):
            assert datetime.combine(d, rule.at, tzinfo=JST) <= after, d
        d += timedelta(days=1)


@settings(max_examples=100, deadline=None)
@given(rules, moments, st.integers(0, 120))
def test_occurrences_agree_with_walking_next_after(rule, start, days):
    end = start + timedelta(days=days, hours=7)
    walked, cursor = [], start
    while (cursor := next_after(rule, cursor, TZ)) is not None and cursor <= end:
        walked.append(cursor)
    assert occurrences(rule, start, end, TZ) == walked


@settings(max_examples=100)
@given(rules)
def test_json_round_trip_property(rule):
    text = rule.to_json()
    assert Rule.from_json(text) == rule
    assert json.loads(text)["kind"] == rule.kind


# --- describe ------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule, english", [
    (weekly(1, 4, h=7), "Every Tue, Fri at 7:00 AM"),
    (weekly(0, h=6, m=5), "Every Mon at 6:05 AM"),
    (monthly(-1, 9), "Monthly on the last day at 9:00 AM"),
    (monthly(15, 9), "Monthly on day 15 at 9:00 AM"),
    (nth(2, 1, 10), "Monthly on the 2nd Tuesday at 10:00 AM"),
    (nth(-1, 4, 10), "Monthly on the last Friday at 10:00 AM"),
    (once(date(2026, 12, 24), 10), "Dec 24, 2026 at 10:00 AM"),
    (daily(8), "Every day at 8:00 AM"),
    (daily(23, 30), "Every day at 11:30 PM"),
])
def test_describe(rule, english):
    assert describe(rule, "en") == english
    ja = describe(rule, "ja")
    assert isinstance(ja, str) and ja


# --- parse ---------------------------------------------------------------------------------------

NOW = jst(2026, 12, 1, 9, 0)  # a Tuesday morning in Tokyo


def P(text, now=NOW):
    return parse(text, now, TZ)


@pytest.mark.parametrize("text, rule, title", [
    # Japanese, weekly
    ("毎週火曜 7:00 燃えるごみ", weekly(1), "燃えるごみ"),
    ("毎週 火 7時 燃えるごみ", weekly(1), "燃えるごみ"),
    ("毎週火・金 7:00 燃えるごみ", weekly(1, 4), "燃えるごみ"),
    ("毎週火曜日と金曜日 7:30 資源ごみ", weekly(1, 4, m=30), "資源ごみ"),
    ("火曜 7:00 燃えるごみ", weekly(1), "燃えるごみ"),
    ("毎週 月〜金 7:00 登校見守り", weekly(0, 1, 2, 3, 4), "登校見守り"),
    ("毎日曜 9:00 朝市", weekly(6, h=9), "朝市"),
    ("平日 7:00 見守り", weekly(0, 1, 2, 3, 4), "見守り"),
    # Japanese, daily
    ("毎日 8:00 薬", daily(8), "薬"),
    ("毎朝 7時 散歩", daily(7), "散歩"),
    ("毎晩 9時 戸締まり", daily(21), "戸締まり"),
    # Japanese, monthly
    ("毎月1日 9:00 家賃", monthly(1), "家賃"),
    ("毎月15日 9:00 集金", monthly(15), "集金"),
    ("毎月末 9:00 締め", monthly(-1), "締め"),
    ("毎月末日 9:00 締め", monthly(-1), "締め"),
    ("毎月1日の9時に家賃", monthly(1), "家賃"),
    # Japanese, nth weekday
    ("第2火曜 10:00 役員会", nth(2, 1), "役員会"),
    ("毎月第2火曜日 10:00 役員会", nth(2, 1), "役員会"),
    ("最終金曜 10:00 清掃", nth(-1, 4), "清掃"),
    # Japanese, once
    ("12/24 10:00 町内清掃", once(date(2026, 12, 24)), "町内清掃"),
    ("12月24日 10時 町内清掃", once(date(2026, 12, 24)), "町内清掃"),
    ("2027/1/5 9:00 新年会", once(date(2027, 1, 5), 9), "新年会"),
    ("明日 9:00 病院", once(date(2026, 12, 2), 9), "病院"),
    ("今日 18:00 会議", once(date(2026, 12, 1), 18), "会議"),
    ("あさって 9時 回覧板", once(date(2026, 12, 3), 9), "回覧板"),
    ("12/24(木) 10:00 町内清掃", once(date(2026, 12, 24)), "町内清掃"),
    # times
    ("毎日 7時半 散歩", daily(7, 30), "散歩"),
    ("毎日 午後3時 おやつ", daily(15), "おやつ"),
    ("毎日 午前0時 日付", daily(0), "日付"),
    ("毎日 15時30分 体操", daily(15, 30), "体操"),
    ("毎日 19:05 ニュース", daily(19, 5), "ニュース"),
    ("毎日 7時にごみ出し", daily(7), "ごみ出し"),
    # full width
    ("毎週火曜　７：００　燃えるごみ", weekly(1), "燃えるごみ"),
    ("１２／２４　１０：００　町内清掃", once(date(2026, 12, 24)), "町内清掃"),
    ("毎月１５日　９時　集金", monthly(15), "集金"),
    # the title first, or the time between
    ("燃えるごみ 毎週火曜 7:00", weekly(1), "燃えるごみ"),
    ("毎週火曜 燃えるごみ 7:00", weekly(1), "燃えるごみ"),
    ("7:00 毎日 薬", daily(7), "薬"),
    # English
    ("every Tuesday 7:00 burnable garbage", weekly(1), "burnable garbage"),
    ("every tue and fri 7am burnable garbage", weekly(1, 4), "burnable garbage"),
    ("Every Mon, Wed and Fri at 6:30 pm gym", weekly(0, 2, 4, h=18, m=30), "gym"),
    ("every mon-fri 7:00 school run", weekly(0, 1, 2, 3, 4), "school run"),
    ("every day 8:00 pills", daily(8), "pills"),
    ("daily 8:00 pills", daily(8), "pills"),
    ("every day at 12am check", daily(0), "check"),
    ("every month on the 1st 9:00 rent", monthly(1), "rent"),
    ("every month on the last day 9:00 rent", monthly(-1), "rent"),
    ("2nd Tuesday 10:00 board meeting", nth(2, 1), "board meeting"),
    ("last Friday 10:00 clean-up", nth(-1, 4), "clean-up"),
    ("12/24 10:00 clean-up", once(date(2026, 12, 24)), "clean-up"),
    ("Dec 24 10:00 clean-up", once(date(2026, 12, 24)), "clean-up"),
    ("tomorrow 9am doctor", once(date(2026, 12, 2), 9), "doctor"),
    ("today 6pm dinner", once(date(2026, 12, 1), 18), "dinner"),
    ("ＥＶＥＲＹ ＴＵＥ ７ＡＭ ｇａｒｂａｇｅ", weekly(1), "garbage"),
])
def test_parse(text, rule, title):
    assert P(text) == (rule, title)


def test_a_date_without_a_year_is_the_next_one_not_in_the_past():
    on_christmas = jst(2026, 12, 25, 9, 0)
    assert P("12/24 10:00 町内清掃", on_christmas)[0] == once(date(2027, 12, 24))
    assert P("12/25 10:00 町内清掃", on_christmas)[0] == once(date(2026, 12, 25))
    assert P("1/5 9:00 新年会", on_christmas)[0] == once(date(2027, 1, 5), 9)
    assert P("2/29 9:00 閏日", on_christmas)[0] == once(date(2028, 2, 29), 9)


def test_parse_uses_the_local_date_not_utc():
    late = jst(2026, 12, 1, 23, 30)  # still Dec 1 in Tokyo, 14:30 UTC
    assert P("明日 9:00 病院", late)[0] == once(date(2026, 12, 2), 9)
    early = jst(2026, 12, 2, 0, 30)  # Dec 1 15:30 UTC, but Dec 2 in Tokyo
    assert P("今日 9:00 病院", early)[0] == once(date(2026, 12, 2), 9)


@pytest.mark.parametrize("text, reason", [
    ("毎週火曜 燃えるごみ", "Please add a time, like 7:00."),
    ("every tuesday burnable garbage", "Please add a time, like 7:00."),
    ("毎週火曜 7:00", "Please add what it is about, like “burnable garbage”."),
    ("every day at 8am   ", "Please add what it is about, like “burnable garbage”."),
    ("燃えるごみ", "Please say when, like “every Tuesday”, “every day” or “12/24”."),
    ("7:00 燃えるごみ", "Please say when, like “every Tuesday”, “every day” or “12/24”."),
    ("", "Please say when, like “every Tuesday”, “every day” or “12/24”."),
    ("2/30 10:00 清掃", "There is no such date. Please check the month and day."),
    ("13/1 10:00 清掃", "There is no such date. Please check the month and day."),
    ("2027/2/29 10:00 清掃", "There is no such date. Please check the month and day."),
    ("毎日 25:00 薬", "There is no such time. Please use a time from 0:00 to 23:59."),
    ("毎日 7:60 薬", "There is no such time. Please use a time from 0:00 to 23:59."),
    ("every day 13pm pills", "There is no such time. Please use a time from 0:00 to 23:59."),
    ("毎月32日 9:00 家賃", "A day of the month must be from 1 to 31."),
    ("第6火曜 10:00 会", "Please use the 1st to 5th, or the last, weekday of the month."),
    ("今日 7:00 ごみ", "That time has already passed."),
    ("today 9:00 exactly now", "That time has already passed."),
    ("2025/1/5 9:00 昔", "That time has already passed."),
])
def test_parse_errors(text, reason):
    with pytest.raises(ParseError) as caught:
        P(text)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValueError)


def test_parse_needs_an_aware_now():
    with pytest.raises(ValueError):
        parse("毎日 8:00 薬", datetime(2026, 12, 1, 9, 0), TZ)


def test_a_parsed_rule_fires_next_as_typed():
    rule, _ = P("毎週火曜 7:00 燃えるごみ")
    assert next_after(rule, NOW, TZ) == jst(2026, 12, 8, 7, 0)  # NOW is Tuesday 9:00
    rule, _ = P("今日 18:00 会議")
    assert next_after(rule, NOW, TZ) == jst(2026, 12, 1, 18, 0)
