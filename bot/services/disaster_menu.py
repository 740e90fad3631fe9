"""Disaster mode: while a safety check runs, the residents it asked see the disaster menu under
the chat (answer the check, shelters, emergency information, contact), in their language; when
it ends, the menu of their language again. A drill switches to the drill's menu (the same
buttons, its chat bar saying it is a drill).

The switch is LINE's bulk link (`POST /v2/bot/richmenu/bulk/link`, 500 users a call), queued as
outbox rows (`OutboxKind.RICHMENU`, payload `{"richMenuId": …, "bulk": true}`) and sent by the
worker like every other call, retried on 429/5xx. `SafetyCheck.menu_state` records where it is:
`start` queues the links (switching) in the transaction that starts the check; the clock's
`disaster_menus` job (`advance`) marks it switched once those rows are done, queues the links
back when the check has ended (restoring; `end` does it at once when it can), and marks it
restored. Each step changes the state in the transaction that queues its rows, so a process
killed between any two steps leaves nothing half-done, and nothing is queued twice
(`dedupe_key`). The links back wait until the switch is done, so they cannot overtake it.

A resident still asked by another running check keeps the disaster menu. Residents of a
language whose disaster menu was not deployed get the default language's; when there is no
disaster menu at all, nothing is queued (and the state still moves on)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.models import OutboxMessage, Resident, RichMenu, SafetyAnswer, SafetyCheck
from bot.core.vocab import Channel, MenuKind, MenuState, OutboxKind, OutboxStatus
from bot.services import Audit, Bulk, Outcome

BATCH = 500  # LINE's bulk link limit
LIVE = (MenuState.SWITCHING, MenuState.SWITCHED)


def menu_ids(session: Session, kind: str) -> dict[str, str]:
    return dict(session.execute(select(RichMenu.locale, RichMenu.rich_menu_id).where(RichMenu.kind == kind)).all())


def kind_of(check: SafetyCheck) -> str:
    return MenuKind.DRILL if check.drill else MenuKind.DISASTER


def _disaster_ids(session: Session, kind: str, default_locale: str) -> tuple[dict[str, str], str | None]:
    ids = menu_ids(session, kind) or (menu_ids(session, MenuKind.DISASTER) if kind == MenuKind.DRILL else {})
    return ids, ids.get(default_locale) or next(iter(sorted(ids.values())), None)


def _source(check: SafetyCheck, phase: str) -> str:
    return f"safety:{check.id}:menu:{phase}"


def _queue(out: Outcome, check: SafetyCheck, phase: str, groups: dict[str | None, list[str]]) -> int:
    """One bulk per menu (None: unlink, back to the default menu), 500 users a row."""
    calls = 0
    for rid, users in sorted(groups.items(), key=lambda kv: kv[0] or ""):
        if not users:
            continue
        out.bulks.append(Bulk(Channel.LINE, tuple(users), (), source=_source(check, phase), kind=OutboxKind.RICHMENU,
                              rank=0 if phase == "switch" else 1, payload=({"richMenuId": rid or "", "bulk": True},),
                              dedupe_key=f"{_source(check, phase)}:{rid or 'default'}"))
        calls += (len(users) + BATCH - 1) // BATCH
    return calls


def switch(session: Session, check: SafetyCheck, members, default_locale: str = "ja") -> Outcome:
    """Queue the links of `members` ((id, LINE user id, channel, locale), as `safety.audience`
    gives them) to the disaster (or drill) menu of their language."""
    out = Outcome()
    ids, fallback = _disaster_ids(session, kind_of(check), default_locale)
    groups: dict[str | None, list[str]] = {}
    for _, user_id, channel, locale in members:
        rid = ids.get(locale, fallback)
        if channel == Channel.LINE and rid:
            groups.setdefault(rid, []).append(user_id)
    check.menu_state = MenuState.SWITCHING
    calls = _queue(out, check, "switch", groups)
    out.facts["menu_calls"] = calls
    out.audit.append(Audit("disaster_menu_switch", f"safety_check:{check.id}",
                           {"residents": sum(len(v) for v in groups.values()), "calls": calls, "kind": kind_of(check)}))
    return out


def _rows_done(session: Session, check: SafetyCheck, phase: str) -> bool:
    return session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.source == _source(check, phase),
        OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING))).limit(1)) is None


def _restore(session: Session, check: SafetyCheck) -> Outcome:
    """Queue the links back to the menu of each resident's language, for those no other running
    check keeps in disaster mode."""
    out = Outcome()
    others = select(SafetyAnswer.resident_id).join(SafetyCheck, SafetyCheck.id == SafetyAnswer.check_id).where(
        SafetyCheck.id != check.id, SafetyCheck.ended_at.is_(None), SafetyCheck.menu_state.in_(LIVE),
        SafetyAnswer.resident_id.is_not(None))
    stmt = (select(Resident.line_user_id, Resident.locale).join(SafetyAnswer, SafetyAnswer.resident_id == Resident.id)
            .where(SafetyAnswer.check_id == check.id, Resident.channel == Channel.LINE, Resident.following.is_(True),
                   Resident.id.not_in(others)).order_by(Resident.id))
    normal = menu_ids(session, MenuKind.NORMAL)
    groups: dict[str | None, list[str]] = {}
    for user_id, locale in session.execute(stmt):
        groups.setdefault(normal.get(locale), []).append(user_id)
    check.menu_state = MenuState.RESTORING
    calls = _queue(out, check, "restore", groups)
    out.facts["menu_calls"] = calls
    out.audit.append(Audit("disaster_menu_restore", f"safety_check:{check.id}",
                           {"residents": sum(len(v) for v in groups.values()), "calls": calls}))
    return out


def on_end(session: Session, check: SafetyCheck) -> Outcome:
    """The check has ended: back to the everyday menus now if the switch is done (else the
    clock does it once it is)."""
    if check.menu_state == MenuState.SWITCHED or (check.menu_state == MenuState.SWITCHING
                                                  and _rows_done(session, check, "switch")):
        return _restore(session, check)
    return Outcome()


def _moving(session: Session) -> list[SafetyCheck]:
    return list(session.scalars(select(SafetyCheck).where(
        SafetyCheck.menu_state.in_((MenuState.SWITCHING, MenuState.RESTORING))
        | ((SafetyCheck.menu_state == MenuState.SWITCHED) & SafetyCheck.ended_at.is_not(None)))
        .order_by(SafetyCheck.id)))


def pending(session: Session) -> bool:
    """Anything for `advance` to do (a read: an idle minute takes no write lock)."""
    return bool(_moving(session))


def advance(session: Session, now: datetime) -> Outcome:
    """The clock: each check's menu state one step on, where its rows allow."""
    out = Outcome()
    moved: dict[int, str] = {}
    for check in _moving(session):
        if check.menu_state == MenuState.SWITCHING and _rows_done(session, check, "switch"):
            check.menu_state = MenuState.SWITCHED
        if check.menu_state == MenuState.SWITCHED and check.ended_at is not None:
            out.merge(_restore(session, check))
        elif check.menu_state == MenuState.RESTORING and _rows_done(session, check, "restore"):
            check.menu_state = MenuState.RESTORED
        moved[check.id] = check.menu_state
    out.facts["states"] = moved
    return out


def live_kinds(session: Session) -> dict[int, str]:
    """Resident id → the menu kind disaster mode shows them now (running checks, switched or
    switching), for a redeploy and for a resident who changes language meanwhile."""
    stmt = (select(SafetyAnswer.resident_id, SafetyCheck.drill).join(SafetyCheck, SafetyCheck.id == SafetyAnswer.check_id)
            .where(SafetyCheck.ended_at.is_(None), SafetyCheck.menu_state.in_(LIVE), SafetyAnswer.resident_id.is_not(None))
            .order_by(SafetyCheck.id))
    out: dict[int, str] = {}
    for rid, drill in session.execute(stmt):
        if out.get(rid) != MenuKind.DISASTER:  # a real check wins over a drill
            out[rid] = MenuKind.DRILL if drill else MenuKind.DISASTER
    return out
