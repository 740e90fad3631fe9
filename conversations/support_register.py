"""「要支援登録」 / "support register": a resident who may need help in a disaster says so
beforehand — what applies, a note, who may see it — with their consent; they are then listed
first in a safety check. The same word shows, changes or removes the registration."""
from __future__ import annotations

from sqlalchemy import select

from bot.core.i18n import N_
from bot.core.models import SupportNeed
from bot.core.replies import Reply, Text
from bot.core.vocab import SupportKind
from bot.services import safety
from conversations import common
from conversations.engine import Flow, Option, Step, YES, NO
from handlers.context import Ctx

SKIP, LEADERS, STAFF, AGREE, DECLINE = "skip", "leaders", "staff", "agree", "decline"
KIND_LABELS = safety.SUPPORT_LABELS

accept_note = common.free_text(200, N_("Please write up to 200 characters, or tap “Skip”."), single_line=True)


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    if data.get("consent") != AGREE:
        return [Text(ctx.t(N_("Nothing was registered.")))]
    row = ctx.session.scalar(select(SupportNeed).where(SupportNeed.resident_id == ctx.resident.id))
    if row is None:
        row = SupportNeed(resident_id=ctx.resident.id, created_at=ctx.now, consent_at=ctx.now)
        ctx.session.add(row)
    row.needs = [SupportKind(k).value for k in data["needs"]]
    row.note = None if data.get("note") in (None, SKIP) else data["note"]
    row.leaders_may_see = data["who"] == LEADERS
    row.consent_at = ctx.now
    ctx.session.flush()
    return [Text(ctx.t(N_("Registered. In a safety check your association's leaders (or the center) will look for you first. "
                          "To change or remove it, send “Support register” again.")))]


def remove(ctx: Ctx) -> bool:
    assert ctx.resident is not None
    row = ctx.session.scalar(select(SupportNeed).where(SupportNeed.resident_id == ctx.resident.id))
    if row is None:
        return False
    ctx.session.delete(row)
    ctx.session.flush()
    return True


FLOW = Flow(
    name="support_register",
    first="needs",
    on_finish=finish,
    steps={
        "needs": Step(ask=N_("In a disaster, who should be checked on first? If any of these apply to you, tap them, then “Done”."),
                      options=[Option(k.value, label) for k, label in KIND_LABELS.items()], collect=True, next="note"),
        "note": Step(ask=N_("Anything the people who come to help should know? (For example: “I use a wheelchair”, “oxygen at home”.)"),
                     options=[Option(SKIP, N_("Skip"))], accept=accept_note, next="who"),
        "who": Step(ask=N_("Who may see this?"),
                    options=[Option(LEADERS, N_("Leaders and center")), Option(STAFF, N_("The center only"))],
                    next="consent"),
        "consent": Step(ask=N_("We keep this only to help you in a disaster, show it only to those you chose, and delete it when you ask "
                               "(“Support register” → remove, or “Delete my data”). Register?"),
                        options=[Option(AGREE, N_("Yes, register"), says=YES), Option(DECLINE, N_("No"), says=NO)],
                        next=None),
    },
)
