"""Settings: change language, area, association, nickname or quiet hours."""
from __future__ import annotations

from datetime import time

from sqlalchemy import select

from bot.services import residents, richmenu
from bot.services.announcements import TOPICS
from bot.core import timefmt
from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.models import Area
from bot.core.replies import Reply, Text
from conversations import common
from conversations.engine import Flow, Option, Step, branch

WHAT = {
    "language": "language",
    "area": "area",
    "association": "association",
    "nickname": "nickname",
    "quiet": "quiet",
    "digest": "digest",
    "topics": "topics",
}


def what_options(ctx: Ctx, data: dict) -> list[Option]:
    return [
        Option("language", N_("Language")),
        Option("area", N_("Area")),
        Option("association", N_("Association")),
        Option("nickname", N_("Name")),
        Option("quiet", N_("Quiet hours")),
        Option("digest", N_("How notices come")),
        Option("topics", N_("Topics")),
    ]


def topic_options(ctx: Ctx, data: dict) -> list[Option]:
    return [Option(code, label) for code, label in TOPICS.items()]


def topics_initial(ctx: Ctx) -> dict:
    return {"topics": list(ctx.resident.interests or [])} if ctx.resident is not None else {}


def association_options(ctx: Ctx, data: dict) -> list[Option]:
    opts = [Option(common.SKIP, N_("Keep as it is"))]
    if ctx.resident is not None and ctx.resident.memberships:
        opts.append(Option(common.LEAVE, N_("Leave my association")))
    return opts


def summary(ctx: Ctx) -> str:
    r = ctx.resident
    assert r is not None
    fb = ctx.config.fallback_language
    area = r.area.name(ctx.locale, fb) if r.area else ctx.t(N_("not set"))
    assoc = timefmt.show_list([m.association.shown(ctx.locale, fb) for m in r.memberships], ctx.locale) or ctx.t(N_("none"))
    if r.quiet_start is None or r.quiet_end is None:
        quiet = ctx.t(N_("none"))
    else:
        quiet = "–".join(timefmt.show_clock(time(m // 60, m % 60), ctx.locale) for m in (r.quiet_start, r.quiet_end))
    how = ctx.t(N_("once a day, in the morning")) if r.digest else ctx.t(N_("each as it comes"))
    topics = "、".join(ctx.t(TOPICS[c]) for c in (r.interests or []) if c in TOPICS) or ctx.t(N_("none"))
    return ctx.t(
        N_("Your settings:\nName: {name}\nArea: {area}\nAssociation: {association}\nQuiet hours: {quiet}"),
        name=r.nickname or "-", area=area, association=assoc, quiet=quiet,
    ) + "\n" + ctx.t(N_("Notices: {how}\nTopics: {topics}"), how=how, topics=topics)


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    r = ctx.resident
    assert r is not None
    what = data.get("what")
    if what == "language":
        r.locale = data["locale"]
        ctx.session.flush()
        ctx.apply(richmenu.link_later(ctx.session, r))  # the menu in the new language
    elif what == "area":
        area = ctx.session.scalar(select(Area).where(Area.code == data["area"]))
        if area is not None:
            r.area_id = area.id
            r.area = area
    elif what == "association":
        value = data.get("association")
        if value == common.LEAVE:
            residents.leave_associations(ctx.session, r)
        elif isinstance(value, int):
            if not residents.join_association(ctx.session, r, value, ctx.now):
                return [Text(ctx.t(N_("You are already a member of that association.")))]
        else:
            return [Text(ctx.t(N_("Nothing was changed.")))]
    elif what == "nickname":
        r.nickname = data["nickname"]
    elif what == "quiet":
        r.quiet_start, r.quiet_end = common.quiet_minutes(data["quiet"])
    elif what == "digest":
        r.digest = data["digest"] == "daily"
    elif what == "topics":
        r.interests = [c for c in data.get("topics") or [] if c != common.SKIP]
    ctx.session.flush()
    ctx.session.expire(r, ["memberships"])
    return [Text(ctx.t(N_("Saved.")) + "\n\n" + summary(ctx))]


def ask_what(ctx: Ctx, data: dict) -> str:
    return summary(ctx) + "\n\n" + ctx.t(N_("What would you like to change?"))


FLOW = Flow(
    name="settings",
    first="what",
    locale_key="locale",
    on_finish=finish,
    initial=topics_initial,
    steps={
        "what": Step(ask=ask_what, options=what_options, next=branch(WHAT, "what")),
        "language": Step(
            ask=N_("Which language?"), options=common.language_options, accept=common.accept_language,
            store="locale", next=None,
        ),
        "area": Step(ask=N_("Which area do you live in?"), options=common.area_options, accept=common.accept_area, next=None),
        "association": Step(
            ask=N_("To join an association, type the join code your association gave you."),
            options=association_options, accept=common.accept_join_code, next=None,
        ),
        "nickname": Step(ask=N_("Type the name your neighbours should see."), accept=common.accept_nickname, next=None),
        "quiet": Step(
            ask=N_("Quiet hours: we hold ordinary notices during these hours and send them in the morning. Urgent notices still arrive."),
            options=common.quiet_options, accept=common.accept_quiet, next=None,
        ),
        "digest": Step(
            ask=N_("Notices from the city and the center: each as it comes, or all together once a day in the morning? Urgent notices always come at once."),
            options=[Option("each", N_("Each as it comes")), Option("daily", N_("Once a day"))], next=None,
        ),
        "topics": Step(
            ask=N_("Which topics interest you? Some notices go only to those who chose their topic. Tap to choose, then “Done”."),
            options=topic_options, collect=True, next=None,
        ),
    },
)
