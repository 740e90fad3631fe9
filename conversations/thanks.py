"""Saying thanks: how long the help took (hours go to the helper's time bank), and an optional
word of thanks passed on to them."""
from __future__ import annotations

import re
import unicodedata

from bot.services import mutual_aid, timebank
from bot.services import aid
from bot.core import answers
from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.replies import Reply, Text
from conversations import common
from conversations.engine import Answer, Flow, Invalid, Option, Step

SKIP = "skip"
DONE, NOT_YET = "done", "not_yet"


def hours_options(ctx: Ctx, data: dict) -> list[Option]:
    return [Option("30", N_("30 minutes")), Option("60", N_("1 hour")), Option("90", N_("1.5 hours")),
            Option("120", N_("2 hours")), Option("180", N_("3 hours"))]


def accept_hours(ctx: Ctx, data: dict, answer: Answer) -> str:
    text = unicodedata.normalize("NFKC", answer.text or "").strip().lower().replace(",", ".")  # 1,5 in pt/id/vi
    m = re.match(r"^(\d{1,4}(?:\.\d{1,3})?)\s*(h|hours?|時間)?$", text, re.ASCII)
    n = answers.number(answer.text or "", ctx.locale)  # 「二時間」, "two hours", "dalawa"
    minutes = round(float(m[1]) * 60) if m else (n * 60 if n is not None else 0)
    if 0 < minutes <= timebank.MAX_MINUTES:
        return str(minutes)
    raise Invalid(N_("Please choose from the buttons, or type the hours as a number (for example 1.5)."))


accept_note = common.free_text(200, N_("Please write up to 200 characters, or tap “Skip”."), single_line=True)


def early_named(ctx: Ctx, data: dict) -> dict:
    return {"when": data.get("when", "")}


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    if data.get("early") == NOT_YET:  # thanks before the help took place: nothing recorded
        return [Text(ctx.t(N_("All right, nothing is recorded. After the help, tap “Done: say thanks” on your request.")))]
    note = None if data.get("note") in (None, SKIP) else data["note"]
    try:
        helper, minutes, outcome = aid.thanks(ctx.session, ctx.resident, int(data["request_id"]), int(data["hours"]),
                                              note, ctx.now)
    except mutual_aid.AidError as exc:
        return [Text(exc.render(ctx.locale, ctx.config.tz_name))]
    except timebank.LedgerError:
        return [Text(ctx.t(N_("Thanks for this request have already been recorded.")))]
    ctx.apply(outcome)
    return [Text(ctx.t(N_("Thank you! We passed on your thanks and recorded {hours} for {name}."),
                       hours=timebank.format_hours(minutes, ctx.locale), name=helper.nickname or "-"))]


FLOW = Flow(
    name="thanks",
    first="early",  # handlers.aid starts at "hours" unless the help was planned for later than now
    on_finish=finish,
    steps={
        "early": Step(ask=N_("The help was planned for {when}, which has not come yet. Has it already taken place?"),
                      ask_named=early_named, options=[Option(DONE, N_("Yes, it took place")), Option(NOT_YET, N_("Not yet"))],
                      next={DONE: "hours", NOT_YET: None}),
        "hours": Step(ask=N_("About how long did the help take?"), options=hours_options, accept=accept_hours, next="note"),
        "note": Step(ask=N_("Would you like to add a word of thanks? It will be passed on."),
                     options=[Option(SKIP, N_("Skip"))], accept=accept_note, next=None),
    },
)
