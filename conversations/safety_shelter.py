"""After 「避難しています」 in a safety check: which shelter the resident is at — the open shelters
nearest them as buttons (or typed by name), "other / not listed" (then the place in their own
words), or "skip". Recorded on their answer for the leaders' status and the center's tally."""
from __future__ import annotations

from sqlalchemy import select

from bot.core.i18n import N_, normalize_text
from bot.core.models import SafetyCheck, Shelter
from bot.core.replies import Reply, Text
from bot.core.vocab import SafetyStatus
from bot.services import safety, shelters
from conversations import common
from conversations.engine import Flow, Invalid, Option, Step, branch
from handlers.context import Ctx

OTHER = "other"
SKIP = "skip"
BUTTONS = 10  # + "other" + "skip" + "cancel" = 13, LINE's quick-reply limit


def initial_data(ctx: Ctx, check: SafetyCheck) -> dict | None:
    """The data the flow starts with: the check and the open shelters nearest the resident, or
    None when no shelter is open (then nothing is asked)."""
    found = shelters.for_resident(ctx.session, ctx.resident, BUTTONS)
    if not found.shelters:
        return None
    return {"check_id": check.id, "shelters": [s.id for s, _ in found.shelters], "origin": found.origin}


def _listed(ctx: Ctx, data: dict) -> list[Shelter]:
    ids = [int(i) for i in data.get("shelters") or []]
    rows = {s.id: s for s in ctx.session.scalars(select(Shelter).where(Shelter.id.in_(ids), Shelter.is_open.is_(True)))}
    return [rows[i] for i in ids if i in rows]


def shelter_options(ctx: Ctx, data: dict) -> list[Option]:
    fallback = ctx.config.fallback_language
    opts = [Option(str(s.id), s.shown(ctx.locale, fallback), literal=True,
                   aliases=(s.name, *(s.names or {}).values(), s.shown(ctx.locale, fallback))) for s in _listed(ctx, data)]
    return opts + [Option(OTHER, N_("Other / not listed")), Option(SKIP, N_("Skip"))]


def accept_shelter(ctx: Ctx, data: dict, answer) -> str:
    """A shelter's name typed (or a part of it): any open shelter, not only the buttons'."""
    typed = normalize_text(answer.text or "")
    if len(typed) >= 2:
        fallback = ctx.config.fallback_language
        hits = [s for s in shelters.open_shelters(ctx.session)
                if any(typed in normalize_text(n) for n in (s.name, s.shown(ctx.locale, fallback), *(s.names or {}).values()))]
        if len(hits) == 1:
            return str(hits[0].id)
    raise Invalid(N_("I could not find an open shelter by that name. Tap one of the buttons, “Other / not listed” or “Skip”."))


def ask_shelter(ctx: Ctx, data: dict) -> str:
    lines = [ctx.t(N_("Thank you. We have noted: {status}. You can change your answer until the check ends."),
                   status=ctx.t(safety.STATUS_NAMES[SafetyStatus.EVACUATED])),
             ctx.t(N_("Which shelter are you at? Tap it, or type its name."))]
    if data.get("origin") == "list":
        lines.append(ctx.t(N_("(The open shelters are in the order of the city's list: the bot does not know where "
                              "your area is.)")))
    return "\n".join(lines)


def finish(ctx: Ctx, data: dict) -> list[Reply]:
    assert ctx.resident is not None
    check = ctx.session.get(SafetyCheck, int(data["check_id"]))
    choice = str(data.get("shelter") or SKIP)
    try:
        if check is None:
            raise safety.SafetyError(N_("You were not asked in this safety check."))
        row = safety.row_of(ctx.session, check, ctx.resident)
        if choice == SKIP:
            return safety.noted(row, ctx.locale, ctx.t(N_("All right. Your answer “evacuated” is noted.")))
        if choice == OTHER:
            place = data.get("place")
            row = safety.evacuated_to(ctx.session, check, ctx.resident, None,
                                      place=None if place in (None, SKIP) else place)
            return safety.noted(row, ctx.locale, ctx.t(N_("Thank you. Your answer “evacuated” is noted.")))
        shelter = ctx.session.get(Shelter, int(choice))
        row = safety.evacuated_to(ctx.session, check, ctx.resident, shelter)
    except safety.SafetyError as exc:  # the check ended, or the answer changed, meanwhile
        return [Text(exc.render(ctx.locale, ctx.config.tz_name))]
    name = shelter.shown(ctx.locale, ctx.config.fallback_language) if shelter else "-"
    return safety.noted(row, ctx.locale, ctx.t(N_("Thank you. Noted: you are at {shelter}."), shelter=name))


FLOW = Flow(
    name="safety_shelter",
    first="shelter",
    on_finish=finish,
    steps={
        "shelter": Step(ask=ask_shelter, options=shelter_options, accept=accept_shelter,
                        next=branch({OTHER: "place", SKIP: None}, "shelter")),
        "place": Step(ask=N_("Where are you? Write the place in one message (for example: “my relatives' house”), or tap “Skip”."),
                      options=[Option(SKIP, N_("Skip"))],
                      accept=common.free_text(safety.NOTE_MAX, N_("Please write where you are, or tap “Skip”."),
                                              single_line=True),
                      next=None),
    },
)
