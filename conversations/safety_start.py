"""「安否確認を始める」: an association's leader (会長) starts a safety check of their own members in
LINE — a drill or the real thing, then a confirmation that says how many will be asked."""
from __future__ import annotations

from bot.core.i18n import N_
from bot.core.replies import Reply, Text
from bot.services import safety
from conversations.engine import NO, YES, Flow, Option, Step
from conversations.roster import led_association
from handlers.context import Ctx

REAL, DRILL, GO, STOP = "real", "drill", "go", "stop"


def _named(ctx: Ctx, data: dict) -> dict:
    assoc = led_association(ctx)
    n = len(safety.audience(ctx.session, {"association": assoc.id})) if assoc else 0
    return {"n": n, "association": assoc.shown(ctx.locale, ctx.config.fallback_language) if assoc else "-"}


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    assoc = led_association(ctx)
    if data.get("confirm") != GO or assoc is None:
        return [Text(ctx.t(N_("No safety check was started.")))]
    check, outcome = safety.start(ctx.session, {"association": assoc.id}, ctx.now, drill=data.get("kind") == DRILL,
                                  started_by=f"leader:{ctx.resident.id}")
    ctx.apply(outcome)
    return [Text(ctx.t(N_("Started: {n} members are being asked now. Type “Safety status” to see who has answered."),
                       n=outcome.facts["residents"]))]


FLOW = Flow(
    name="safety_start",
    first="kind",
    on_finish=finish,
    steps={
        "kind": Step(ask=N_("Start a safety check of your association's members: the real thing, or a drill (訓練)?"),
                     options=[Option(REAL, N_("Real")), Option(DRILL, N_("Drill"))], next="confirm"),
        "confirm": Step(ask=N_("Ask all {n} members of {association} now, also during their quiet hours?"), ask_named=_named,
                        options=[Option(GO, N_("Yes, ask now"), says=YES), Option(STOP, N_("No"), says=NO)], next=None),
    },
)
