"""After 「助けが必要」 in a safety check: what is needed, in the resident's words, sent on to
their leaders (who were already told that they need help)."""
from __future__ import annotations

from bot.core.i18n import N_
from bot.core.models import SafetyCheck
from bot.core.replies import Reply, Text
from bot.core.vocab import SafetyStatus
from bot.services import safety
from conversations import common
from conversations.engine import Flow, Option, Step
from handlers.context import Ctx

SKIP = "skip"


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    check = ctx.session.get(SafetyCheck, int(data["check_id"]))
    note = data.get("note")
    if check is not None and note and note != SKIP and check.ended_at is None:
        ctx.apply(safety.answer(ctx.session, check, ctx.resident, SafetyStatus.HELP, ctx.now, note=note))
    return [Text(ctx.t(_told(data)) + "\n" + ctx.t(N_("If your life is in danger, call 119 (fire and ambulance) now.")))]


def _told(data: dict) -> str:
    """Who knows, truthfully: the resident's leaders, else (no association in the bot) the center."""
    if int(data.get("leaders") or 0):
        return N_("Your association's leaders have been told.")
    return N_("The center can see that you need help (you are not in an association here, so no leader was told).")


def ask_note(ctx: Ctx, data: dict) -> str:
    return ctx.t(_told(data)) + "\n" + ctx.t(N_("What do you need? Write it in one message (for example: “I cannot walk, I am at home”), or tap “Skip”."))


FLOW = Flow(
    name="safety_help",
    first="note",
    on_finish=finish,
    steps={
        "note": Step(ask=ask_note,
                     options=[Option(SKIP, N_("Skip"))],
                     accept=common.free_text(safety.NOTE_MAX, N_("Please write what you need, or tap “Skip”."), single_line=True),
                     next=None),
    },
)
