"""A new personal reminder: what and when in one line (「毎週火曜 7:00 燃えるごみ」), a check of
how it was understood, then saved. Leave at any step with 「やめる」."""
from __future__ import annotations

from bot.services import reminders
from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.recurrence import Rule, describe
from bot.core.replies import Reply, Text
from conversations.engine import Answer, Flow, Invalid, Option, Step, YES, branch


def accept_line(ctx: Ctx, data: dict, answer: Answer) -> dict:
    try:
        rule, title = reminders.read(answer.text or "", ctx.now, ctx.config.tz_name, ctx.locale)
    except reminders.ReminderError as exc:
        raise Invalid(exc.msgid, **exc.named) from None
    return {"rule": rule.to_json(), "title": title}


def confirm_text(ctx: Ctx, data: dict) -> str:
    r = data["what"]
    return ctx.t(N_("Remind you {when}: “{title}”?"), when=describe(Rule.from_json(r["rule"]), ctx.locale),
                 title=r["title"])


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    r = data["what"]
    try:
        reminders.create(ctx.session, ctx.resident, Rule.from_json(r["rule"]), r["title"], ctx.now, ctx.config)
    except reminders.ReminderError as exc:
        return [Text(exc.render(ctx.locale, ctx.config.tz_name))]
    return [Text(ctx.t(N_("Saved. See or delete your reminders with “Reminders”.")))]


FLOW = Flow(
    name="reminder_new",
    first="what",
    on_finish=finish,
    steps={
        "what": Step(ask=N_("When, and what? Write it in one line, for example:\n“every Tuesday 7:00 burnable garbage”\n“12/24 10:00 street clean-up”\n“every month on the 1st 9:00 pass on the circular”"),
                     accept=accept_line, next="confirm"),
        "confirm": Step(ask=confirm_text, options=[Option("save", N_("Save"), says=YES), Option("redo", N_("Write it again"))],
                        next=branch({"save": None, "redo": "what"}, "confirm")),
    },
)
