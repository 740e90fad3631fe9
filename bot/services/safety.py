"""Safety checks (安否確認): ask every resident in scope at once whether they are safe, turn
「助けが必要」 into a message to their leaders at once, and show who has not answered.

* `start` records one row per resident asked (and per paper household of the associations in
  scope, which leaders mark by phone or visit) and queues the question as multicasts of 500 per
  language, urgent: through quiet hours, before anything else in the outbox. A drill (訓練) is
  the same check, marked as a drill in every message, its answers kept with it.
* `answer` records a resident's answer (changeable while the check runs); 「助けが必要」 tells
  the resident's 会長 and 班長 in LINE at once, with the household and the note, never a LINE
  account.
* `households` is the leaders' list: per household safe / needs help / evacuated / no answer,
  the households that need help first, then those that have not answered.
* `reask_due` (the clock) asks the unanswered once more after the check's `reask_minutes`.
* 「避難しています」 asks which shelter (`conversations/safety_shelter.py`): `evacuated_to` records it on
  the answer, `by_shelter` counts who is where for the leaders, the console and its CSV.
* Disaster mode: `start` switches the rich menu of everyone asked to disaster mode's (a drill's
  to the drill's), `end` switches it back (`bot.services.disaster_menu`); `emergency_info` and
  `contact` are two of its buttons' answers.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.core import jma
from bot.core.config import Config
from bot.core.db import bulk_insert
from bot.core.errors import UserError
from bot.core.i18n import N_, t
from bot.core.names import is_japanese
from bot.core.models import (Announcement, Area, HelperProfile, Household, Membership, Resident, SafetyAnswer,
                             SafetyCheck, Shelter, SupportNeed, shown_label)
from bot.core.refs import ref
from bot.core.replies import Choice, Question, Text, postback
from bot.core.vocab import AnnouncementStatus, Channel, Role, SafetyStatus, SupportKind
from bot.services import Audit, Bulk, Outcome, announcements, disaster_menu

BATCH = 500  # LINE's multicast limit
NOTE_MAX = 200
STATUS_WORDS = {
    SafetyStatus.SAFE: N_("I am safe"),
    SafetyStatus.HELP: N_("I need help"),
    SafetyStatus.EVACUATED: N_("I have evacuated"),
}
SUPPORT_LABELS = {
    SupportKind.ALONE: N_("I live alone"),
    SupportKind.MOBILITY: N_("Hard to walk far"),
    SupportKind.MEDICAL: N_("Medical needs"),
    SupportKind.HEARING: N_("Hard of hearing"),
    SupportKind.LANGUAGE: N_("Need my language"),
}
STATUS_NAMES = {
    SafetyStatus.SAFE: N_("Safe"),
    SafetyStatus.HELP: N_("Needs help"),
    SafetyStatus.EVACUATED: N_("Evacuated"),
    None: N_("No answer yet"),
}


class SafetyError(UserError):
    pass


def _scope_filter(stmt, scope: dict):
    if scope.get("areas"):
        stmt = stmt.join(Area, Area.id == Resident.area_id).where(Area.code.in_(scope["areas"]))
    elif scope.get("association"):
        stmt = stmt.join(Membership, Membership.resident_id == Resident.id).where(
            Membership.association_id == scope["association"])
    return stmt


def audience(session: Session, scope: dict) -> list[tuple[int, str, str, str]]:
    """The residents a check in `scope` asks: (id, LINE user id, channel, locale)."""
    stmt = select(Resident.id, Resident.line_user_id, Resident.channel, Resident.locale).where(
        Resident.following.is_(True), Resident.consent_at.is_not(None))
    return [tuple(r) for r in session.execute(_scope_filter(stmt, scope).order_by(Resident.id))]


def active(session: Session) -> list[SafetyCheck]:
    return list(session.scalars(select(SafetyCheck).where(SafetyCheck.ended_at.is_(None)).order_by(SafetyCheck.id)))


def _about(check: SafetyCheck, locale: str, headline: str) -> list[str]:
    """The lines that say what a check is: drill or not, `headline`, the JMA's event that
    prepared it, the center's note (marked as Japanese for other readers)."""
    lines = [t(locale, N_("[DRILL] This is a safety-check drill."))] if check.drill else []
    lines.append(t(locale, headline))
    if check.event:
        lines.append(jma.describe(check.event, locale))
    if check.note:
        lines.append(check.note if locale in ("ja", "ja_easy") or not is_japanese(check.note)
                     else t(locale, N_("From the center (in Japanese): {note}"), note=check.note))
    return lines


def question(check: SafetyCheck, locale: str, *, shelters_open: bool = False) -> Question:
    """The question every resident gets, with the three answers as buttons naming the check
    (and, when a shelter is open, a button for the open shelters nearest them)."""
    lines = _about(check, locale, N_("Safety check: are you safe? Please tap one answer."))
    lines.append(t(locale, N_("You can also type “safe”, “need help” or “evacuated”.")))
    choices = tuple(Choice(t(locale, STATUS_WORDS[s]), postback(a="sf", x="a", k=ref(check), v=s.value))
                    for s in SafetyStatus)
    if shelters_open:
        choices += (Choice(t(locale, N_("Open shelters")), postback(a="sh", x="list")),)
    return Question("\n".join(lines), choices)


def start(session: Session, scope: dict, now: datetime, *, drill: bool = False, note: str | None = None,
          started_by: str = "cli", reask_minutes: int = 30, event: dict | None = None,
          default_locale: str = "ja") -> tuple[SafetyCheck, Outcome]:
    """Start a check: one row per resident asked and per paper household in scope; the question
    queued urgently; their rich menu switched to disaster mode's. `event`: what the JMA reported
    (a check prepared from its feeds). Facts: residents, paper_households, messages, menu_calls."""
    if not (scope.get("all") or scope.get("areas") or scope.get("association")):
        raise SafetyError(N_("Choose who is asked: everyone, areas or an association."))
    check = SafetyCheck(scope=scope, drill=drill, note=(note or "").strip()[:NOTE_MAX] or None, started_by=started_by,
                        reask_minutes=reask_minutes, created_at=now, event=event)
    session.add(check)
    session.flush()
    members = audience(session, scope)
    # A resident's household and association (their first membership, or the one in scope).
    memberships = select(Membership.resident_id, Membership.association_id, Membership.household_id)
    if scope.get("association"):
        memberships = memberships.where(Membership.association_id == scope["association"])
    homes: dict[int, tuple[int, int | None]] = {}
    for rid, aid, hid in session.execute(memberships.order_by(Membership.id.desc())):
        homes[rid] = (aid, hid)
    paper_stmt = select(Household.id, Household.association_id).where(Household.paper.is_(True))
    if scope.get("association"):
        paper_stmt = paper_stmt.where(Household.association_id == scope["association"])
    elif scope.get("areas"):
        paper_stmt = paper_stmt.where(False)  # paper households have no area of their own: their association's check
    paper = list(session.execute(paper_stmt))
    rows = [(check.id, rid, *homes.get(rid, (None, None)), False, now) for rid, _, _, _ in members]
    rows += [(check.id, None, aid, hid, False, now) for hid, aid in paper]
    bulk_insert(session, SafetyAnswer.__table__,
                ("check_id", "resident_id", "association_id", "household_id", "household_too", "created_at"), rows)
    out = Outcome()
    out.facts.update(residents=len(members), paper_households=len(paper),
                     messages=_ask(out, check, members, "ask", _shelters_open(session)))
    out.audit.append(Audit("start_safety_check", f"safety_check:{check.id}",
                           {"scope": scope, "drill": drill, "residents": len(members), "paper": len(paper)}))
    menus = disaster_menu.switch(session, check, members, default_locale)
    out.facts["menu_calls"] = menus.facts["menu_calls"]
    return check, out.merge(menus)


def _shelters_open(session: Session) -> bool:
    return session.scalar(select(Shelter.id).where(Shelter.is_open.is_(True)).limit(1)) is not None


def _ask(out: Outcome, check: SafetyCheck, members, tag: str, shelters_open: bool = False) -> int:
    by_language: dict[tuple[str, str], list[str]] = {}
    for _, user_id, channel, locale in members:
        by_language.setdefault((channel, locale), []).append(user_id)
    calls = 0
    for (channel, locale), ids in sorted(by_language.items()):
        step = BATCH if channel == Channel.LINE else 1
        replies = (question(check, locale, shelters_open=shelters_open),)
        for i in range(0, len(ids), step):
            out.bulks.append(Bulk(channel, tuple(ids[i:i + step]), replies, source=f"safety:{check.id}", rank=0,
                                  dedupe_key=f"safety:{check.id}:{tag}:{channel}:{locale}:{i // step}"))
            calls += 1
    return calls


def row_of(session: Session, check: SafetyCheck, resident: Resident) -> SafetyAnswer:
    row = session.scalar(select(SafetyAnswer).where(SafetyAnswer.check_id == check.id,
                                                    SafetyAnswer.resident_id == resident.id))
    if row is None:
        raise SafetyError(N_("You were not asked in this safety check."))
    return row


def answer(session: Session, check: SafetyCheck, resident: Resident, status: SafetyStatus, now: datetime, *,
           note: str | None = None, household_too: bool = False) -> Outcome:
    """Record the resident's answer; 「助けが必要」 tells their leaders at once. Facts: status,
    `answer` (the row), `leaders` (the resident's leaders in LINE, for 「助けが必要」), leaders_told,
    helpers_asked."""
    if check.ended_at is not None:
        raise SafetyError(N_("This safety check has ended. If you need help now, call 119 (fire and ambulance) or 110 (police)."))
    row = row_of(session, check, resident)
    first_help = status == SafetyStatus.HELP and (row.status != SafetyStatus.HELP or (note and note != row.note))
    row.status, row.answered_at, row.household_too = status.value, now, household_too or row.household_too
    if status != SafetyStatus.EVACUATED:
        row.shelter_id = None  # the shelter goes with 「避難しています」 only
    if note is not None:
        row.note = note.strip()[:NOTE_MAX] or None
    out = Outcome()
    told = 0
    helpers = 0
    leaders = leaders_of(session, row) if status == SafetyStatus.HELP else []
    if first_help:
        for leader in leaders:
            out.tell(leader, Text(_help_message(session, check, row, resident, leader.locale)), about=resident)
            told += 1
        if row.responder_id is None:
            skip = {r.id for r in leaders}
            for helper in helpers_near(session, resident)[:HELPERS_ASKED]:
                if helper.id in skip:
                    continue
                out.tell(helper, Question(_helper_message(session, check, row, resident, helper.locale), (
                    Choice(t(helper.locale, N_("I am going")), postback(a="sf", x="go", r=ref(row))),)), about=resident)
                helpers += 1
    out.facts.update(status=status.value, answer=row, leaders=len(leaders), leaders_told=told, helpers_asked=helpers)
    return out


HELPERS_ASKED = 10  # registered helpers nearby asked to go to someone who needs help


def noted(row: SafetyAnswer, locale: str, said: str | None = None) -> list:
    """What a resident reads after their answer: thanks, what was noted, and (when they live
    in a household of an association and did not say so yet) a button to cover the household."""
    said = said or t(locale, N_("Thank you. We have noted: {status}. You can change your answer until the check ends."),
                     status=t(locale, STATUS_NAMES[SafetyStatus(row.status)]))
    if row.household_id is None or row.household_too:
        return [Text(said)]
    return [Question(said + "\n" + t(locale, N_("Does this answer cover everyone in your household?")),
                     (Choice(t(locale, N_("My household too")), postback(a="sf", x="hh", r=ref(row))),))]


def evacuated_to(session: Session, check: SafetyCheck, resident: Resident, shelter: Shelter | None, *,
                 place: str | None = None) -> SafetyAnswer:
    """After 「避難しています」: the shelter the resident is at (or, not listed, the place in their
    words, kept as the answer's note). Returns the row."""
    if check.ended_at is not None:
        raise SafetyError(N_("This safety check has ended. If you need help now, call 119 (fire and ambulance) or 110 (police)."))
    row = row_of(session, check, resident)
    if row.status != SafetyStatus.EVACUATED:
        raise SafetyError(N_("Your answer is no longer “evacuated”, so no shelter was noted."))
    row.shelter_id = shelter.id if shelter is not None else None
    if place is not None:
        row.note = place.strip()[:NOTE_MAX] or None
    return row


def by_shelter(session: Session, check: SafetyCheck, association_id: int | None = None,
               han: str | None = None) -> list[tuple[Shelter | None, int]]:
    """Residents who evacuated, by the shelter they said (None: not said or not listed), the
    fullest first; of one association (and 班) when given."""
    stmt = (select(SafetyAnswer.shelter_id, func.count()).select_from(SafetyAnswer)
            .where(SafetyAnswer.check_id == check.id, SafetyAnswer.status == SafetyStatus.EVACUATED.value))
    if association_id is not None:
        stmt = stmt.where(SafetyAnswer.association_id == association_id)
    if han:
        stmt = stmt.join(Household, Household.id == SafetyAnswer.household_id).where(Household.han == han)
    counts = list(session.execute(stmt.group_by(SafetyAnswer.shelter_id)))
    found = {s.id: s for s in session.scalars(select(Shelter).where(Shelter.id.in_([i for i, _ in counts if i])))}
    rows = [(found.get(i) if i else None, n) for i, n in counts]
    return sorted(rows, key=lambda x: (x[0] is None, -x[1], x[0].position if x[0] else 0))


def helpers_near(session: Session, resident: Resident) -> list[Resident]:
    """Registered helpers (the mutual-aid registry, notices on) in the resident's area, and in
    the neighbouring areas for those who help nearby; those of the same area first."""
    if resident.area_id is None:
        return []
    area = session.get(Area, resident.area_id)
    neighbour_ids = list(session.scalars(select(Area.id).where(Area.code.in_(area.neighbours or [])))) if area else []
    stmt = (select(Resident, HelperProfile.nearby).join(HelperProfile, HelperProfile.resident_id == Resident.id)
            .where(HelperProfile.notices.is_(True), Resident.following.is_(True), Resident.id != resident.id,
                   Resident.area_id.in_([resident.area_id, *neighbour_ids])))
    found = [(r.area_id != resident.area_id, r.id, r) for r, nearby in session.execute(stmt)
             if r.area_id == resident.area_id or nearby]
    return [r for _, _, r in sorted(found, key=lambda x: (x[0], x[1]))]


def _helper_message(session: Session, check: SafetyCheck, row: SafetyAnswer, resident: Resident, locale: str) -> str:
    area = session.get(Area, resident.area_id) if resident.area_id else None
    lines = [t(locale, N_("[DRILL] This is a safety-check drill."))] if check.drill else []
    lines.append(t(locale, N_("Safety check: a neighbour in {area} needs help. Can you go? The first to tap is asked to go; "
                              "the others are told."), area=area.name(locale) if area else "-"))
    if row.note:
        lines.append(t(locale, N_("They wrote: {note}"), note=row.note))
    return "\n".join(lines)


def respond(session: Session, row: SafetyAnswer, helper: Resident, now: datetime) -> Outcome:
    """A helper taps 「向かいます」: the first is matched (told who and where, and the resident and
    their leaders are told someone is coming); a later one is thanked. Facts: matched, and
    `reply`, what the helper is answered (in their language)."""
    check = session.get(SafetyCheck, row.check_id)
    out = Outcome()
    if check is None or check.ended_at is not None or row.status != SafetyStatus.HELP:
        raise SafetyError(N_("Thank you — this person no longer needs help from the safety check."))
    if row.responder_id is not None:
        out.facts["matched"] = row.responder_id == helper.id
        out.facts["reply"] = t(helper.locale, N_("You said you are going. Thank you.") if out.facts["matched"] else
                               N_("Thank you — another neighbour is already on the way."))
        return out
    row.responder_id = helper.id
    resident = session.get(Resident, row.resident_id) if row.resident_id else None
    household = session.get(Household, row.household_id) if row.household_id else None
    home = household.shown(helper.locale) if household else None
    lines = [t(helper.locale, N_("Thank you. Please go to {name}."), name=resident.nickname if resident else "-")]
    if home:
        lines.append(t(helper.locale, N_("Household: {household}"), household=home))
    if row.note:
        lines.append(t(helper.locale, N_("They wrote: {note}"), note=row.note))
    lines.append(t(helper.locale, N_("Their association's leaders know; call 119 if it is an emergency.")))
    out.facts["reply"] = "\n".join(lines)
    if resident is not None:
        out.tell(resident, Text(t(resident.locale, N_("A neighbour, {name}, is on the way to you."),
                                  name=helper.nickname or "-")), about=helper)
        for leader in leaders_of(session, row):
            out.tell(leader, Text(t(leader.locale, N_("Safety check: {helper} is on the way to {name}."),
                                    helper=helper.nickname or "-", name=resident.nickname or "-")), about=resident)
    out.facts["matched"] = True
    out.audit.append(Audit("safety_helper_going", f"safety_answer:{row.id}", {"check": row.check_id}))
    return out


def leaders_of(session: Session, row: SafetyAnswer) -> list[Resident]:
    """The 会長 of the resident's association and the 班長 of their 班, in LINE."""
    if row.association_id is None:
        return []
    han = session.scalar(select(Household.han).where(Household.id == row.household_id)) if row.household_id else None
    stmt = (select(Resident).join(Membership, Membership.resident_id == Resident.id)
            .outerjoin(Household, Household.id == Membership.household_id)
            .where(Membership.association_id == row.association_id, Resident.following.is_(True),
                   Membership.role.in_((Role.LEADER, Role.HAN_LEADER)), Resident.id != row.resident_id))
    found = []
    for resident, role, their_han in session.execute(stmt.add_columns(Membership.role, Household.han)).all():
        if role == Role.LEADER or (role == Role.HAN_LEADER and han is not None and their_han == han):
            found.append(resident)
    return found


def _help_message(session: Session, check: SafetyCheck, row: SafetyAnswer, resident: Resident, locale: str) -> str:
    household = session.get(Household, row.household_id) if row.household_id else None
    home = household.shown(locale) if household else None
    lines = []
    if check.drill:
        lines.append(t(locale, N_("[DRILL] This is a safety-check drill.")))
    lines.append(t(locale, N_("Safety check: {name} needs help."), name=resident.nickname or "-"))
    if home:
        lines.append(t(locale, N_("Household: {household}"), household=home))
    if row.note:
        lines.append(t(locale, N_("They wrote: {note}"), note=row.note))
    need = session.scalar(select(SupportNeed).where(SupportNeed.resident_id == resident.id))
    if need is not None and need.leaders_may_see:
        said = [t(locale, SUPPORT_LABELS[SupportKind(k)]) for k in need.needs or [] if k in SupportKind.__members__.values()]
        lines.append(t(locale, N_("Registered as needing help: {needs}"), needs=", ".join(said + ([need.note] if need.note else []))))
    lines.append(t(locale, N_("Type “Safety status” for the list of your households.")))
    return "\n".join(lines)


@dataclass(frozen=True)
class HouseholdStatus:
    household: str
    han: str | None
    paper: bool
    status: str | None  # the most urgent answer of its people: help, then no answer, evacuated, safe
    names: tuple[str, ...]
    notes: tuple[str, ...]
    label_names: tuple[tuple[str, str], ...] = ()  # the label in other languages (Household.names)
    support: tuple[str, ...] = ()  # SupportKind values of its people registered as needing help
    registered: bool = False  # someone in it is registered as needing help (and let the reader know)
    shelters: tuple[int, ...] = ()  # the shelters its people said they evacuated to (Shelter ids)

    def shown(self, locale: str, fallback: str = "en") -> str:
        return shown_label(self.household, dict(self.label_names), locale, fallback)


_URGENCY = {SafetyStatus.HELP: 0, None: 1, SafetyStatus.EVACUATED: 2, SafetyStatus.SAFE: 3}


def households(session: Session, check: SafetyCheck, association_id: int, han: str | None = None, *,
               staff: bool = False) -> list[HouseholdStatus]:
    """The leaders' list: one line per household of the association (paper households too), the
    most urgent first, and within each, those with someone registered as needing help (the
    support register; its details only where the resident let leaders see them, or for the
    center's `staff`). A resident who answered for the household covers those who did not."""
    stmt = (select(Household.id, Household.label, Household.names, Household.han, Household.paper, SafetyAnswer.status,
                   SafetyAnswer.household_too, SafetyAnswer.note, Resident.nickname, SupportNeed.needs,
                   SupportNeed.leaders_may_see, SafetyAnswer.shelter_id)
            .select_from(SafetyAnswer)
            .join(Household, Household.id == SafetyAnswer.household_id)
            .outerjoin(Resident, Resident.id == SafetyAnswer.resident_id)
            .outerjoin(SupportNeed, SupportNeed.resident_id == SafetyAnswer.resident_id)
            .where(SafetyAnswer.check_id == check.id, Household.association_id == association_id))
    if han:
        stmt = stmt.where(Household.han == han)
    grouped: dict[int, dict] = {}
    for hid, label, label_names, h, paper, status, too, note, nick, needs, shared, shelter in session.execute(stmt):
        g = grouped.setdefault(hid, {"label": label, "han": h, "paper": paper, "rows": [], "notes": [], "names": [],
                                     "support": [], "registered": False, "label_names": label_names or {},
                                     "shelters": []})
        if shelter and status == SafetyStatus.EVACUATED.value and shelter not in g["shelters"]:
            g["shelters"].append(shelter)
        g["rows"].append((SafetyStatus(status) if status else None, too))
        if note:
            g["notes"].append(note)
        if nick:
            g["names"].append(nick)
        if needs is not None and (staff or shared):  # registered, and the reader may know it
            g["registered"] = True
            g["support"] += [k for k in needs or [] if k not in g["support"]]
    out = []
    for g in grouped.values():
        answers = g["rows"]
        covering = [s for s, too in answers if too and s is not None]
        statuses = [s if s is not None or not covering else min(covering, key=_URGENCY.get) for s, _ in answers]
        worst = min(statuses, key=lambda s: _URGENCY[s])
        out.append(HouseholdStatus(g["label"], g["han"], g["paper"], worst.value if worst else None,
                                   tuple(g["names"]), tuple(g["notes"]), tuple(sorted(g["label_names"].items())),
                                   tuple(g["support"]), g["registered"], tuple(g["shelters"])))
    return sorted(out, key=lambda x: (_URGENCY[SafetyStatus(x.status) if x.status else None], not x.registered,
                                      x.han or "", x.household))


def tally(session: Session, check: SafetyCheck) -> dict[str, int]:
    """Residents (and paper households) by answer: {"safe": n, "help": n, "evacuated": n, "none": n}."""
    counts = dict(session.execute(select(SafetyAnswer.status, func.count()).where(
        SafetyAnswer.check_id == check.id).group_by(SafetyAnswer.status)).all())
    return {"safe": counts.get("safe", 0), "help": counts.get("help", 0), "evacuated": counts.get("evacuated", 0),
            "none": counts.get(None, 0)}


def mark_household(session: Session, check: SafetyCheck, household: Household, status: SafetyStatus, now: datetime,
                   by: str) -> int:
    """A leader marks a household (paper, or reached by phone or a visit): every unanswered row
    of it takes the status. Returns the rows marked."""
    result = session.execute(update(SafetyAnswer).where(
        SafetyAnswer.check_id == check.id, SafetyAnswer.household_id == household.id, SafetyAnswer.status.is_(None)
    ).values(status=status.value, answered_at=now, marked_by=by[:64], household_too=True))
    return result.rowcount or 0


def _reask_ready(check: SafetyCheck, now: datetime) -> bool:
    return check.reasked_at is None and check.reask_minutes > 0 and \
        now >= check.created_at + timedelta(minutes=check.reask_minutes)


def reask_pending(session: Session, now: datetime) -> bool:
    return any(_reask_ready(c, now) for c in active(session))


def reask_due(session: Session, now: datetime) -> Outcome:
    """Ask once more those who have not answered, `reask_minutes` after a check started."""
    out = Outcome()
    for check in active(session):
        if not _reask_ready(check, now):
            continue
        stmt = (select(Resident.id, Resident.line_user_id, Resident.channel, Resident.locale)
                .join(SafetyAnswer, SafetyAnswer.resident_id == Resident.id)
                .where(SafetyAnswer.check_id == check.id, SafetyAnswer.status.is_(None), Resident.following.is_(True)))
        members = [tuple(r) for r in session.execute(stmt)]
        check.reasked_at = now
        n = _ask(out, check, members, "reask", _shelters_open(session))
        out.facts[check.id] = len(members)
        out.audit.append(Audit("reask_safety_check", f"safety_check:{check.id}", {"residents": len(members), "messages": n}))
    return out


def end(session: Session, check: SafetyCheck, now: datetime, by: str) -> Outcome:
    if check.ended_at is not None:
        raise SafetyError(N_("This safety check has ended. If you need help now, call 119 (fire and ambulance) or 110 (police)."))
    check.ended_at = now
    out = Outcome()
    out.facts.update(tally(session, check))
    out.audit.append(Audit("end_safety_check", f"safety_check:{check.id}", dict(out.facts)))
    return out.merge(disaster_menu.on_end(session, check))


# -- disaster mode's buttons ------------------------------------------------------------------

EMERGENCY_HOURS = 24  # an urgent announcement is "emergency information" this long


def emergency_info(session: Session, resident: Resident, config: Config, now: datetime) -> str:
    """「緊急情報」: what the running check said (the JMA's report, the center's line) and the
    latest urgent announcement of the last day, in the resident's language."""
    locale = resident.locale
    lines: list[str] = []
    checks = active(session)
    if checks:
        lines += _about(checks[-1], locale, N_("A safety check is running. Please answer it if you have not yet."))
    ann = session.scalar(select(Announcement).where(
        Announcement.urgent.is_(True), Announcement.status != AnnouncementStatus.CANCELLED,
        Announcement.created_at >= now - timedelta(hours=EMERGENCY_HOURS), Announcement.created_at <= now)
        .order_by(Announcement.created_at.desc()).limit(1))
    if ann is not None:
        lines.append(t(locale, N_("The center's latest urgent notice:")))
        lines.append(announcements.text_for(ann, locale, session, config))
    if not lines:
        lines.append(t(locale, N_("There is no emergency information from the center now.")))
    lines.append(t(locale, N_("If you need help now, call 119 (fire and ambulance) or 110 (police).")))
    return "\n".join(lines)


def contact(config: Config, locale: str) -> str:
    """「連絡先」: the center's phone number, and the emergency numbers."""
    lines = []
    if config.center_phone:
        lines.append(t(locale, N_("The center's phone number: {phone}"), phone=config.center_phone))
    else:
        lines.append(t(locale, N_("To reach the center, ask your association's leader.")))
    lines.append(t(locale, N_("If you need help now, call 119 (fire and ambulance) or 110 (police).")))
    return "\n".join(lines)
