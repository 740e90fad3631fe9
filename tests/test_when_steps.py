"""Each step that asks for a time says its own words and keeps its own limit (issue 16: the
circular deadline and the event start used to borrow mutual aid's 「いつでも」 and 90 days)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.core.config import Config
from bot.core.i18n import t
from bot.delivery.inbound import Inbound
from conversations import ask_help, compose_circular, create_event
from conversations.engine import Answer, Invalid
from handlers.context import Ctx

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)  # Tuesday 10:00 in Tokyo


def ctx(locale: str = "ja") -> Ctx:
    return Ctx(session=None, config=Config(), inbound=Inbound(event_id="x", kind="message"), now=NOW,
               locale_override=locale)


def refused(accept, answer: Answer, locale: str = "ja") -> str:
    with pytest.raises(Invalid) as exc:
        accept(ctx(locale), {}, answer)
    return t(locale, exc.value.msgid, **exc.value.named)


STEPS = {  # step → (its accept, a word from its own hint, what it must not mention, its limit in days)
    "ask_help.when": (ask_help.accept_when, "いつでも", None, 90),
    "create_event.when": (create_event.accept_start, "12/24 10:00", "いつでも", 366),
    "compose_circular.deadline": (compose_circular.accept_deadline, "期限なし", "いつでも", 366),
}


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("typed", ["そのうち", "午後", "13/45 25:99", "2月30日", "🙂", ""])
def test_a_time_that_is_not_one_is_explained_with_the_steps_own_buttons(step, typed):
    accept, own, foreign, _ = STEPS[step]
    said = refused(accept, Answer(text=typed))
    assert own in said
    assert foreign is None or foreign not in said


@pytest.mark.parametrize("step", STEPS)
def test_each_step_keeps_its_own_limit(step):
    accept, _, _, days = STEPS[step]
    inside = (NOW + timedelta(days=days - 1)).astimezone(timezone(timedelta(hours=9)))
    beyond = (NOW + timedelta(days=days + 2)).astimezone(timezone(timedelta(hours=9)))
    assert accept(ctx(), {}, Answer(params={"datetime": inside.strftime("%Y-%m-%dT%H:%M")}))
    said = refused(accept, Answer(params={"datetime": beyond.strftime("%Y-%m-%dT%H:%M")}))
    assert ("90日" in said) == (days == 90) and ("1年" in said) == (days == 366)


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("typed,expected", [
    ("12/24 10:00", "2026-12-24T01:00:00+00:00"),
    ("１２／２４　１８：３０", "2026-12-24T09:30:00+00:00"),  # full-width, as phones type it
    ("2027/1/5", "2027-01-05T01:00:00+00:00"),  # no time: 10:00
    ("1/5 9:00", "2027-01-05T00:00:00+00:00"),  # January typed in December is next January
])
def test_typed_times_are_read_the_same_way_by_every_step(step, typed, expected):
    accept = STEPS[step][0]
    assert accept(ctx(), {}, Answer(text=typed)) == expected


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("typed,locale,expected", [
    ("あした", "ja", "2026-12-02T01:00:00+00:00"),  # a day alone: 10:00
    ("来週の火曜 14時", "ja", "2026-12-08T05:00:00+00:00"),
    ("火曜の朝7時", "ja", "2026-12-07T22:00:00+00:00"),  # today is Tuesday: the next one
    ("next Friday 7pm", "en", "2026-12-04T10:00:00+00:00"),
    ("thứ Sáu 7 giờ tối", "vi", "2026-12-04T10:00:00+00:00"),
    ("24/12 às 18h30", "pt_BR", "2026-12-24T09:30:00+00:00"),  # day first in Brazil
    ("12/24 18:30", "pt_BR", "2026-12-24T09:30:00+00:00"),  # and read either way when only one fits
    ("下周三下午两点", "zh_Hans", "2026-12-09T05:00:00+00:00"),
])
def test_dates_and_times_in_the_residents_own_words(step, typed, locale, expected):
    assert STEPS[step][0](ctx(locale), {}, Answer(text=typed)) == expected


@pytest.mark.parametrize("step", STEPS)
def test_a_past_time_is_refused_in_the_residents_language(step):
    said = refused(STEPS[step][0], Answer(text="2026/11/30 10:00"), locale="en")
    assert said == "That time has already passed. Please choose a time in the future."
