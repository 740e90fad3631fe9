"""The authorization matrix: every LINE action and every console page × every role, each
asserted allowed or refused by its effect (a row written, a conversation started, a page
served), not by the wording of a reply.

Roles: a resident who is a plain member of あさひ町内会; a member of another association; the
班長 of あさひ's 2班; the 会長 of あさひ; center staff (console only: staff have no LINE role); a
visitor who is signed out (console) or has not joined (LINE). The command line is for the
server's operators only (whoever can run `flask --app bot …` can read the database anyway), so
it has no roles of its own."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.models import (
    Association, Circular, CircularRecipient, ConsoleLink, ConversationState, Membership, OutboxMessage, Resident,
)
from tests.test_circulars import (  # noqa: F401  (fixtures)
    HAN_LEADER, LEADER, MEMBER_JA, OUTSIDER, assoc, clock, run_worker, send,
)

NEWCOMER = "U" + "99" * 16
LINE_ROLES = ("member", "other_association", "han_leader", "leader", "not_joined")
USER_OF = {"member": MEMBER_JA, "other_association": OUTSIDER, "han_leader": HAN_LEADER, "leader": LEADER,
           "not_joined": NEWCOMER}


@pytest.fixture
def world(line, fake_line, bot, db, runner, assoc, clock):
    """あさひ (with a circular to the whole association), OUTSIDER in みなと, NEWCOMER not joined."""
    with db.session() as s:
        minato = s.scalar(select(Association).where(Association.join_code == "MINATO-2026"))
        rid = s.scalar(select(Resident.id).where(Resident.line_user_id == OUTSIDER))
        s.add(Membership(resident_id=rid, association_id=minato.id, role="member"))
    fake_line.profiles[NEWCOMER] = {"displayName": "New", "language": "ja"}
    line.follow(NEWCOMER)
    cid = send(runner)
    run_worker(bot)
    return {"circular": cid, **assoc}


def _rid(db, user):
    with db.session() as s:
        return s.scalar(select(Resident.id).where(Resident.line_user_id == user))


def _flow(db, user):
    with db.session() as s:
        return s.scalar(select(ConversationState.flow).join(Resident, Resident.id == ConversationState.resident_id)
                        .where(Resident.line_user_id == user))


def act_write_circular(line, db, w, user):
    line.say(user, "回覧板を作る")
    return _flow(db, user) == "compose_circular"


def act_roster(line, db, w, user):
    line.say(user, "名簿")
    return _flow(db, user) == "roster"


def act_circular_status(line, db, w, user):
    line.say(user, "回覧板の状況")
    return "清掃のお知らせ" in str(line.fake.messages_to(user)[-1])


def act_console_link(line, db, w, user):
    line.say(user, "管理画面")
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(ConsoleLink).where(ConsoleLink.resident_id == _rid(db, user))) > 0


def act_manage_events(line, db, w, user):
    line.say(user, "イベント管理")
    return "Only association leaders" not in line.last_text(user) and "町内会の役員" not in line.last_text(user) \
        and _flow(db, user) != "onboarding"


def act_read_circular(line, db, w, user):
    line.post([line.postback_event(user, f"a=circ&x=read&c={w['circular']}")])
    with db.session() as s:
        return s.scalar(select(CircularRecipient.read_at).where(
            CircularRecipient.circular_id == w["circular"], CircularRecipient.resident_id == _rid(db, user))) is not None


def act_mark_paper(line, db, w, user):
    line.post([line.postback_event(user, f"a=circ&x=pmark&c={w['circular']}&h={w['paper']}")])
    with db.session() as s:
        return s.scalar(select(CircularRecipient.read_at).where(
            CircularRecipient.circular_id == w["circular"], CircularRecipient.household_id == w["paper"],
            CircularRecipient.resident_id.is_(None))) is not None


def act_remind_unread(line, db, w, user):
    with db.session() as s:
        before = s.scalar(select(func.count()).select_from(OutboxMessage)) or 0
    line.post([line.postback_event(user, f"a=circ&x=remind&c={w['circular']}")])
    with db.session() as s:
        reminded = s.scalar(select(Circular.last_reminded_on).where(Circular.id == w["circular"])) is not None
        return reminded and (s.scalar(select(func.count()).select_from(OutboxMessage)) or 0) > before


LINE_MATRIX = {
    "write_circular": (act_write_circular, {"leader"}),
    "roster": (act_roster, {"leader"}),
    "circular_status": (act_circular_status, {"leader", "han_leader"}),
    "console_link": (act_console_link, {"leader", "han_leader"}),
    "manage_events": (act_manage_events, {"leader"}),
    "read_circular": (act_read_circular, {"member", "han_leader", "leader"}),
    "mark_paper_household": (act_mark_paper, {"leader", "han_leader"}),  # the paper household is in 2班
    "remind_unread": (act_remind_unread, {"leader"}),
}


@pytest.mark.parametrize("role", LINE_ROLES)
@pytest.mark.parametrize("action", list(LINE_MATRIX))
def test_line_action_allowed_or_refused(action, role, line, db, world):
    perform, allowed = LINE_MATRIX[action]
    assert perform(line, db, world, USER_OF[role]) == (role in allowed), f"{action} by {role}"
