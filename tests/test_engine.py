"""The conversation engine on a small flow of its own: date questions, typed choices, paging,
validation, and the resident's data only touched by on_finish."""
from __future__ import annotations

from datetime import date

import pytest

from handlers.context import Ctx
from bot.core.db import utcnow
from bot.core.i18n import N_
from bot.delivery.inbound import Inbound
from bot.core.models import Resident
from bot.core.replies import Choice, DateQuestion, Question, Text
from conversations import engine
from conversations.engine import Answer, Flow, Invalid, Option, Step

finished: list[dict] = []


def accept_day(ctx, data, answer: Answer) -> str:
    raw = answer.params.get("date") or (answer.text or "").strip()
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise Invalid(N_("Please choose from the buttons below.")) from None
    if day < ctx.now.date():
        raise Invalid(N_("Please choose from the buttons below."))
    return day.isoformat()


FLOW = Flow(
    name="test_flow",
    first="when",
    on_finish=lambda ctx, data: finished.append(data) or [Text("done")],
    steps={
        "when": Step(ask=N_("Which area?"), date_mode="date", options=[Option("any", N_("Skip"))],
                     accept=accept_day, next="pick"),
        "pick": Step(ask=N_("Which area?"), options=[Option(f"v{i}", f"Item {i}", literal=True) for i in range(30)],
                     next=None),
    },
)


@pytest.fixture
def ctx(db):
    session = db.Session()
    with session.begin():
        r = Resident(line_user_id="U" + "5" * 32, channel="line", locale="en")
        session.add(r)
        session.flush()
    session.begin()
    c = Ctx(session=session, config=db_config(db), inbound=Inbound(event_id="x", kind="message"), now=utcnow(), resident=r)
    yield c
    session.rollback()
    session.close()


def db_config(db):
    from bot.core.config import Config

    return Config(database_url=db.url)


def test_date_question_then_paged_choices(ctx):
    finished.clear()
    [q] = engine.start(ctx, FLOW)
    assert isinstance(q, DateQuestion) and q.mode == "date"
    assert [c.label for c in q.choices] == ["Skip", "Cancel"]
    # a date in the past is refused with the reason, and the same step asked again
    out = engine.handle(ctx, FLOW, Answer(params={"date": "2000-01-01"}))
    assert isinstance(out[0], Text) and isinstance(out[1], DateQuestion)
    assert ctx.conversation.step == "when"
    out = engine.handle(ctx, FLOW, Answer(params={"date": "2099-12-24"}))
    page1 = out[-1]
    assert isinstance(page1, Question) and len(page1.choices) == 13
    assert page1.choices[-2].label == "More…"
    out = engine.handle(ctx, FLOW, Answer(value=engine.option_key(engine.MORE)))
    assert out[-1].choices[0].label == "Item 11"
    out = engine.handle(ctx, FLOW, Answer(text="item 12"))  # typed, any case
    # the flow's last sentence gets a way on (the menu): a flow never ends in a dead end
    assert out == [Question("done", (Choice("Menu", "a=show_menu"),))]
    assert finished == [{"when": "2099-12-24", "pick": "v12"}]
    assert ctx.conversation is None


SHORT = Flow(
    name="test_short",
    first="what",
    on_finish=lambda ctx, data: finished.append(data) or [Text("done")],
    steps={"what": Step(ask=N_("What would you like to change?"),
                        options=[Option("a", "A", literal=True), Option("b", "B", literal=True)], next=None)},
)


@pytest.mark.parametrize("special", [engine.DONE, engine.MORE])
def test_a_done_or_more_button_at_a_step_that_shows_none_is_refused(ctx, special):
    """(Found by tests/test_fuzz_conversations.py: an old or forged "Done" at a question with one
    answer finished the flow without its answers, and the resident got the apology.)"""
    finished.clear()
    engine.start(ctx, SHORT)
    out = engine.handle(ctx, SHORT, Answer(value=engine.option_key(special)))
    assert "no longer valid" in out[0].text and [c.label for c in out[1].choices] == ["A", "B", "Cancel"]
    assert ctx.conversation.step == "what" and finished == []
    engine.handle(ctx, SHORT, Answer(value=engine.option_key("b")))
    assert finished == [{"what": "b"}]


def test_typed_date_and_skip_option(ctx):
    finished.clear()
    engine.start(ctx, FLOW)
    engine.handle(ctx, FLOW, Answer(text="Skip"))
    assert ctx.conversation.data["when"] == "any"
    engine.start(ctx, FLOW)
    engine.handle(ctx, FLOW, Answer(text="2099-01-02"))
    assert ctx.conversation.data["when"] == "2099-01-02"


def test_unknown_choice_value_is_refused(ctx):
    engine.start(ctx, FLOW)
    engine.handle(ctx, FLOW, Answer(text="any"))
    out = engine.handle(ctx, FLOW, Answer(value=engine.option_key("v999")))
    assert "no longer valid" in out[0].text
    assert ctx.conversation.step == "pick"
