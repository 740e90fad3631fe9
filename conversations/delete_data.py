"""「データ削除」: confirm, then remove everything that identifies the resident. The
confirmation is composed before the data goes, so it arrives in their language."""
from __future__ import annotations

from bot.services import leaving, residents
from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.replies import Reply, Text
from conversations.engine import Flow, NO, Option, Step, YES

DELETE, KEEP = "delete", "keep"


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    if data.get("confirm") != DELETE:
        return [Text(ctx.t(N_("Nothing was deleted.")))]
    goodbye = Text(
        ctx.t(
            N_(
                "Your data has been deleted: your name, area, language, memberships and conversations. "
                "If you want to use Tsunagari again, just send any message."
            )
        )
    )
    assert ctx.resident is not None
    ctx.apply(leaving.leave_everything(ctx.session, ctx.config, ctx.resident, ctx.now))
    residents.delete_resident(ctx.session, ctx.resident)
    ctx.resident = None
    ctx.erased = True
    return [goodbye]


FLOW = Flow(
    name="delete_data",
    first="confirm",
    on_finish=finish,
    steps={
        "confirm": Step(
            ask=N_(
                "This deletes your name, area, language, association memberships and conversations with this bot. "
                "It cannot be undone. Delete everything?"
            ),
            options=[Option(DELETE, N_("Yes, delete"), says=YES), Option(KEEP, N_("No, keep"), says=NO)],
            next=None,
        ),
    },
)
