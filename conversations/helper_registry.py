"""The helper registry (like Kitakyushu's 経験マスター): what a resident is glad to help with,
where and when. Matching new requests are then sent to them (a few a day at most)."""
from __future__ import annotations

from sqlalchemy import select

from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.models import HelperProfile
from bot.core.replies import Reply, Text
from bot.core.vocab import HelperDays, HelperTimes
from conversations.ask_help import category_options
from conversations import common
from conversations.engine import Flow, Option, Step

SKIP = "skip"


accept_skills = common.free_text(200, N_("Please write up to 200 characters, or tap “Skip”."), single_line=True)


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    profile = ctx.session.scalar(select(HelperProfile).where(HelperProfile.resident_id == ctx.resident.id))
    if profile is None:
        profile = HelperProfile(resident_id=ctx.resident.id)
        ctx.session.add(profile)
    profile.categories = list(data["categories"])
    profile.skills = None if data.get("skills") == SKIP else data.get("skills")
    profile.nearby = data["where"] == "nearby"
    profile.days = data["days"]
    profile.times = data["times"]
    profile.notices = True
    profile.updated_at = ctx.now
    ctx.session.flush()
    return [Text(ctx.t(N_("Thank you for registering! When a neighbour asks for something you can do, we will let you know (at most a few times a day, never during your quiet hours).")))]


FLOW = Flow(
    name="helper_registry",
    first="categories",
    on_finish=finish,
    steps={
        "categories": Step(ask=N_("What could you help with? Tap all that apply, then “Done”."),
                           options=category_options, collect=True, next="skills"),
        "skills": Step(ask=N_("Anything you are especially good at? (For example: “I can fix bicycles”.)"),
                       options=[Option(SKIP, N_("Skip"))], accept=accept_skills, next="where"),
        "where": Step(ask=N_("Where?"), options=[Option("mine", N_("My area only")), Option("nearby", N_("My area and nearby"))],
                      next="days"),
        "days": Step(ask=N_("Which days?"), options=[Option(HelperDays.ANY, N_("Any day")), Option(HelperDays.WEEKDAYS, N_("Weekdays")),
                                                     Option(HelperDays.WEEKENDS, N_("Weekends"))], next="times"),
        "times": Step(ask=N_("What time of day?"), options=[Option(HelperTimes.ANY, N_("Any time")), Option(HelperTimes.MORNING, N_("Mornings")),
                                                            Option(HelperTimes.AFTERNOON, N_("Afternoons")), Option(HelperTimes.EVENING, N_("Evenings"))],
                      next=None),
    },
)
