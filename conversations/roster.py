"""An association's leader keeps the roster in LINE (「名簿」): put a member in a household
(an existing one or a new one, in a 班 or not), add a household that gets the circular on
paper, or name a member 班長. Only the 会長 (role "leader") may; every step can be left with
「やめる」 and nothing changes before the last one."""
from __future__ import annotations

from sqlalchemy import select

from handlers.context import Ctx
from bot.core.i18n import N_
from bot.core.models import Association, Household, Membership, Resident, shown_label
from bot.core.replies import Reply, Text
from bot.core.vocab import Role
from bot.services import roster
from conversations import common
from conversations.engine import Answer, Flow, Invalid, Option, Step, branch

NEW = "__new"
NO_HAN = "__none"


def led_association(ctx: Ctx) -> Association | None:
    if ctx.resident is None:
        return None
    assoc_id = ctx.session.scalar(
        select(Membership.association_id).where(Membership.resident_id == ctx.resident.id, Membership.role == Role.LEADER)
        .order_by(Membership.id).limit(1))
    return ctx.session.get(Association, assoc_id) if assoc_id else None


def _assoc_id(ctx: Ctx) -> int:
    assoc = led_association(ctx)
    if assoc is None:
        raise Invalid(N_("Only the association's leader can change the roster."))
    return assoc.id


def member_options(ctx: Ctx, data: dict) -> list[Option]:
    assoc = led_association(ctx)
    if assoc is None:
        return []
    rows = ctx.session.execute(
        select(Membership.id, Resident.nickname, Household.label, Household.names)
        .join(Resident, Resident.id == Membership.resident_id)
        .outerjoin(Household, Household.id == Membership.household_id)
        .where(Membership.association_id == assoc.id, Resident.consent_at.is_not(None))
        .order_by(Household.label.is_not(None), Resident.nickname)  # members without a household first
    )
    fb = ctx.config.fallback_language
    return [Option(str(mid), f"{name or '?'}（{shown_label(label, names, ctx.locale, fb)}）" if label else (name or "?"),
                   literal=True) for mid, name, label, names in rows]


def household_options(ctx: Ctx, data: dict) -> list[Option]:
    assoc = led_association(ctx)
    if assoc is None:
        return []
    opts = [Option(NEW, N_("New household"))]
    rows = ctx.session.execute(
        select(Household.id, Household.label, Household.names, Household.han)
        .where(Household.association_id == assoc.id, Household.paper.is_(False))
        .order_by(Household.han, Household.label))
    fb = ctx.config.fallback_language
    for hid, label, names, han in rows:
        shown = shown_label(label, names, ctx.locale, fb)
        opts.append(Option(str(hid), f"{shown}（{han}）" if han else shown, literal=True, aliases=(label,)))
    return opts


def han_options(ctx: Ctx, data: dict) -> list[Option]:
    assoc = led_association(ctx)
    hans = sorted(set(ctx.session.scalars(
        select(Household.han).where(Household.association_id == assoc.id, Household.han.is_not(None))))) if assoc else []
    return [Option(NO_HAN, N_("No block"))] + [Option(h, h, literal=True) for h in hans]


def accept_member(ctx: Ctx, data: dict, answer: Answer) -> str:
    raise Invalid(N_("Please choose a member from the buttons (tap “More…” to see more)."))


_han_text = common.free_text(30, N_("Please write the name of the block, e.g. 3班."), single_line=True)
_label_text = common.free_text(60, N_("Please write how you know the household, e.g. 5番 山本."), single_line=True)


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    try:
        assoc_id = _assoc_id(ctx)
    except Invalid as exc:
        return [Text(ctx.t(exc.msgid))]
    han = None if data.get("han") in (None, NO_HAN) else data["han"]
    if data["what"] == "paper":
        ctx.apply(roster.add_household(ctx.session, assoc_id, data["label"], han, paper=True)[1])
        return [Text(ctx.t(N_("Added the paper household “{label}”. Print its circulars with the sheet and mark them here."),
                           label=data["label"]))]
    member = ctx.session.get(Membership, int(data["member"]))
    if member is None or member.association_id != assoc_id:
        return [Text(ctx.t(N_("That member has left the association.")))]
    name = ctx.session.scalar(select(Resident.nickname).where(Resident.id == member.resident_id)) or "?"
    if data["what"] == "han_leader":
        try:
            ctx.apply(roster.set_han_leader(ctx.session, member, data["make"] == "yes"))
        except roster.RosterError as exc:
            return [Text(exc.render(ctx.locale, ctx.config.tz_name))]
        if member.role == Role.HAN_LEADER and member.household_id is None:
            return [Text(ctx.t(N_("{name} is now a block leader. Put them in a household of their block too, so they see that block."), name=name))]
        return [Text(ctx.t(N_("{name} is now a block leader.") if member.role == Role.HAN_LEADER else N_("{name} is no longer a block leader."), name=name))]
    if data["household"] == NEW:
        household, out = roster.add_household(ctx.session, assoc_id, data["label"], han, paper=False)
        ctx.apply(out)
    else:
        household = ctx.session.get(Household, int(data["household"]))
        if household is None or household.association_id != assoc_id:
            return [Text(ctx.t(N_("That household is no longer in the roster.")))]
    try:
        ctx.apply(roster.assign_household(ctx.session, member, household))
    except roster.RosterError as exc:
        return [Text(exc.render(ctx.locale, ctx.config.tz_name))]
    return [Text(ctx.t(N_("{name} is now in the household “{label}”. One member reading a circular counts for the household."),
                       name=name, label=household.shown(ctx.locale, ctx.config.fallback_language)))]


def _after_household(data: dict) -> str | None:
    return "label" if data.get("household") == NEW else None


_after_household.targets = ("label", None)  # type: ignore[attr-defined]


def accept_household(ctx: Ctx, data: dict, answer: Answer) -> str:
    raise Invalid(N_("Please choose a household from the buttons, or “New household”."))


FLOW = Flow(
    name="roster",
    first="what",
    on_finish=finish,
    steps={
        "what": Step(ask=N_("Roster of your association: what would you like to do?"),
                     options=[Option("household", N_("Member's household")), Option("paper", N_("Add paper household")),
                              Option("han_leader", N_("Name block leader"))],
                     next=branch({"household": "member", "paper": "label", "han_leader": "member"}, "what")),
        "member": Step(ask=N_("Which member?"), options=member_options, accept=accept_member,
                       next=branch({"household": "household", "han_leader": "make"}, "what")),
        "make": Step(ask=N_("Make them a block leader?"),
                     options=[Option("yes", N_("Yes, block leader")), Option("no", N_("No, a member"))], next=None),
        "household": Step(ask=N_("Which household do they belong to?"), options=household_options, accept=accept_household,
                          next=_after_household),
        "label": Step(ask=N_("How do you call the household? (e.g. 5番 山本)"),
                      accept=_label_text, next="han"),
        "han": Step(ask=N_("Which block (班) is it in? Choose, or type a new one."), options=han_options,
                    accept=_han_text, next=None),
    },
)
