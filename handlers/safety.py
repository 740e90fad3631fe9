"""Safety checks in LINE (安否確認): the resident's one-tap (or typed) answer, a note with
「助けが必要」, "this answer covers my household", and the leaders' list of households
(「安否状況」). The rules are in `bot.services.safety`."""
from __future__ import annotations

from sqlalchemy import select

import conversations
from bot.core import refs, timefmt
from bot.core.i18n import N_
from bot.core.models import SafetyAnswer, SafetyCheck, SupportNeed
from bot.core.replies import Choice, Question, Reply, Text, postback
from bot.core.vocab import SafetyStatus, SupportKind
from bot.services import circulars
from bot.services import safety
from conversations import engine, safety_shelter
from conversations.roster import led_association
from handlers import buttons
from handlers.context import Ctx
from handlers.features import Feature, HelpLine, RichTile, Word
from handlers.shelters import SHELTER_WORDS

SAFE_WORDS = N_("safe|i am safe|i'm safe")
HELP_WORDS = N_("need help|i need help|help me")
EVACUATED_WORDS = N_("evacuated|i have evacuated|i evacuated")
STATUS_WORDS = N_("safety status")
SUPPORT_WORDS = N_("support register")
START_WORDS = N_("start safety check")
NOT_SAID = N_("not said")  # evacuated, the shelter not said
# Disaster mode's buttons (bot.services.disaster_menu) send these words.
ANSWER_WORDS = N_("answer safety check")
EMERGENCY_WORDS = N_("emergency information|emergency info")
CONTACT_WORDS = N_("contact the center|contact center")
# The shelters' button sends the shelters feature's word (「避難所」 / "shelters"): SHELTER_WORDS.


def _open_check(ctx: Ctx) -> tuple[SafetyCheck, SafetyAnswer] | None:
    """The latest running check that asked this resident, with their row."""
    assert ctx.resident is not None
    row = ctx.session.execute(
        select(SafetyCheck, SafetyAnswer).join(SafetyAnswer, SafetyAnswer.check_id == SafetyCheck.id)
        .where(SafetyAnswer.resident_id == ctx.resident.id, SafetyCheck.ended_at.is_(None))
        .order_by(SafetyCheck.id.desc()).limit(1)).first()
    return (row[0], row[1]) if row else None


def _record(ctx: Ctx, check: SafetyCheck, status: SafetyStatus) -> list[Reply]:
    assert ctx.resident is not None
    facts = ctx.apply(safety.answer(ctx.session, check, ctx.resident, status, ctx.now)).facts
    if status == SafetyStatus.HELP:
        return engine.start(ctx, conversations.get("safety_help"), {"check_id": check.id, "leaders": facts["leaders"],
                                                                    "helpers": facts["helpers_asked"]})
    if status == SafetyStatus.EVACUATED:
        data = safety_shelter.initial_data(ctx, check)
        if data is not None:  # which shelter: the open ones nearest them
            return engine.start(ctx, conversations.get("safety_shelter"), data)
    return safety.noted(facts["answer"], ctx.locale)


def do_answer(ctx: Ctx, data: dict) -> list[Reply]:
    check = buttons.record(ctx, data, "k", SafetyCheck)
    try:
        status = SafetyStatus(data.get("v", ""))
    except ValueError:
        raise safety.SafetyError(buttons.STALE) from None
    return _record(ctx, check, status)


def do_household(ctx: Ctx, data: dict) -> list[Reply]:
    row = buttons.record(ctx, data, "r", SafetyAnswer)
    assert ctx.resident is not None
    if row.resident_id != ctx.resident.id:
        raise safety.SafetyError(buttons.STALE)
    row.household_too = True
    return [Text(ctx.t(N_("Noted for your whole household. Thank you.")))]


def typed(status: SafetyStatus):
    def run(ctx: Ctx) -> list[Reply]:
        found = _open_check(ctx)
        if found is None:
            return [Text(ctx.t(N_("No safety check is running now. If you need help now, call 119 (fire and ambulance) or 110 (police).")))]
        return _record(ctx, found[0], status)
    return run


def answer_again(ctx: Ctx) -> list[Reply]:
    """「安否を答える」 (disaster mode's first button): the running check's question again."""
    found = _open_check(ctx)
    if found is None:
        return [Text(ctx.t(N_("No safety check is running now. If you need help now, call 119 (fire and ambulance) or 110 (police).")))]
    return [safety.question(found[0], ctx.locale)]


def emergency(ctx: Ctx) -> list[Reply]:
    assert ctx.resident is not None
    return [Text(safety.emergency_info(ctx.session, ctx.resident, ctx.config, ctx.now))]


def contact(ctx: Ctx) -> list[Reply]:
    return [Text(safety.contact(ctx.config, ctx.locale))]


def status(ctx: Ctx) -> list[Reply]:
    """「安否状況」: for a leader, the households of their association (or 班), the most urgent first."""
    assert ctx.resident is not None
    scopes = circulars.led_by(ctx.session, ctx.resident)
    if not scopes:
        return [Text(ctx.t(N_("Only association leaders and block leaders can see the safety status.")))]
    checks = safety.active(ctx.session)
    if not checks:
        return [Text(ctx.t(N_("No safety check is running now.")))]
    check = checks[-1]
    out: list[Reply] = []
    for assoc_id, han in scopes:
        homes = safety.households(ctx.session, check, assoc_id, han)
        counts = {key: sum(1 for h in homes if h.status == key) for key in ("help", None, "evacuated", "safe")}
        lines = [ctx.t(N_("[DRILL] This is a safety-check drill.")) if check.drill else "",
                 ctx.t(N_("Households: {help} need help, {none} no answer, {evacuated} evacuated, {safe} safe."),
                       help=counts["help"], none=counts[None], evacuated=counts["evacuated"], safe=counts["safe"])]
        evacuated = safety.by_shelter(ctx.session, check, assoc_id, han)
        shown = {s.id: s.shown(ctx.locale, ctx.config.fallback_language) for s, _ in evacuated if s is not None}
        if shown:
            lines.append(ctx.t(N_("Evacuated, by shelter: {shelters}"), shelters=timefmt.show_list(
                [f"{shown[s.id] if s else ctx.t(NOT_SAID)} {n}" for s, n in evacuated], ctx.locale)))
        for h in homes[:25]:
            if h.status == SafetyStatus.SAFE:
                continue
            name = ctx.t(safety.STATUS_NAMES[SafetyStatus(h.status) if h.status else None])
            if h.shelters:
                name += " → " + "・".join(shown.get(i, "-") for i in h.shelters)
            line = f"・{h.shown(ctx.locale, ctx.config.fallback_language)}{'（' + h.han + '）' if h.han and not han else ''}: {name}"
            if h.registered:
                line += " ★" + "・".join(ctx.t(safety.SUPPORT_LABELS[SupportKind(k)]) for k in h.support)
            if h.notes:
                line += " — " + " / ".join(h.notes)
            lines.append(line)
        out.append(Text("\n".join(x for x in lines if x)))
    return out


def support(ctx: Ctx) -> list[Reply]:
    """「要支援登録」: register, or see, change or remove the registration."""
    assert ctx.resident is not None
    row = ctx.session.scalar(select(SupportNeed).where(SupportNeed.resident_id == ctx.resident.id))
    if row is None:
        return engine.start(ctx, conversations.get("support_register"))
    kinds = [ctx.t(safety.SUPPORT_LABELS[SupportKind(k)]) for k in row.needs or [] if k in SupportKind.__members__.values()]
    lines = [ctx.t(N_("You are registered as someone to check on first in a disaster.")),
             ", ".join(kinds) if kinds else "", row.note or "",
             ctx.t(N_("Seen by: your leaders and the center")) if row.leaders_may_see else ctx.t(N_("Seen by: the center only"))]
    return [Question("\n".join(x for x in lines if x), (
        Choice(ctx.t(N_("Change")), postback(a="sf", x="chg", n=refs.ref(row))),
        Choice(ctx.t(N_("Remove")), postback(a="sf", x="rm", n=refs.ref(row)))))]


def _own_support(ctx: Ctx, data: dict) -> SupportNeed:
    row = buttons.record(ctx, data, "n", SupportNeed)
    assert ctx.resident is not None
    if row.resident_id != ctx.resident.id:
        raise safety.SafetyError(buttons.STALE)
    return row


def do_support_change(ctx: Ctx, data: dict) -> list[Reply]:
    _own_support(ctx, data)
    return engine.start(ctx, conversations.get("support_register"))


def do_support_remove(ctx: Ctx, data: dict) -> list[Reply]:
    ctx.session.delete(_own_support(ctx, data))
    return [Text(ctx.t(N_("Removed. Nothing about your needs is kept any more.")))]


def do_going(ctx: Ctx, data: dict) -> list[Reply]:
    """「向かいます」 from a registered helper nearby."""
    row = buttons.record(ctx, data, "r", SafetyAnswer)
    assert ctx.resident is not None
    return [Text(ctx.apply(safety.respond(ctx.session, row, ctx.resident, ctx.now)).facts["reply"])]


def start_check(ctx: Ctx) -> list[Reply]:
    """「安否確認を始める」: for an association's leader (会長) only."""
    if led_association(ctx) is None:
        return [Text(ctx.t(N_("Only an association's leader can start a safety check in LINE (the center can start one for everyone).")))]
    return engine.start(ctx, conversations.get("safety_start"))


def changed(ctx: Ctx, record: object) -> list[Reply]:
    return [Text(ctx.t(buttons.STALE))]


ACTIONS = {"a": do_answer, "hh": do_household, "chg": do_support_change, "rm": do_support_remove, "go": do_going}

FEATURE = Feature(
    name="safety", postback="sf", actions=ACTIONS, changed=changed,
    words=(Word(SAFE_WORDS, run=typed(SafetyStatus.SAFE)), Word(HELP_WORDS, run=typed(SafetyStatus.HELP)),
           Word(EVACUATED_WORDS, run=typed(SafetyStatus.EVACUATED)), Word(STATUS_WORDS, run=status),
           Word(SUPPORT_WORDS, run=support), Word(START_WORDS, run=start_check), Word(ANSWER_WORDS, run=answer_again),
           Word(EMERGENCY_WORDS, run=emergency), Word(CONTACT_WORDS, run=contact)),
    help=(HelpLine(N_("“Support register”: if you may need help in a disaster, be checked on first"), 75),
          HelpLine(N_("“Safety status”: during a safety check, who is safe, who needs help, who has not answered"), 60,
                   leaders=True),
          HelpLine(N_("“Start safety check”: ask your members whether they are safe (or a drill)"), 55, leaders=True)),
    flows=("safety_help", "support_register", "safety_start", "safety_shelter"),
    disaster_menu=(RichTile("answer", N_("Answer the safety check"), ANSWER_WORDS, "#B3261E", 10),
                   RichTile("shelters", N_("Shelters"), SHELTER_WORDS, "#0B6E4F", 20),
                   RichTile("emergency", N_("Emergency information"), EMERGENCY_WORDS, "#8A5A00", 30),
                   RichTile("contact", N_("Contact"), CONTACT_WORDS, "#1D4E89", 40)),
)
