"""An association's roster: households (in a 班 or not, in LINE or on paper), who lives in
which, and members' roles. Called by the leader's 「名簿」 flow in LINE, the console's roster
and resident pages; each change is audited the same way whoever made it."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import Household, Membership, Resident
from bot.core.vocab import Role
from bot.services import Audit, Outcome
from bot.services import console_sessions


class RosterError(UserError):
    pass


def add_household(session: Session, association_id: int, label: str, han: str | None,
                  paper: bool, names: dict[str, str] | None = None) -> tuple[Household, Outcome]:
    """A new household; `paper`: it gets circulars on paper (its sign-offs are marked by hand);
    `names`: its label in other languages ({"en": "No. 5 Yamamoto"}), for leaders who read them."""
    hh = Household(association_id=association_id, label=label, han=han, paper=paper,
                   names={k: v for k, v in (names or {}).items() if v})
    session.add(hh)
    session.flush()
    return hh, Outcome(audit=[Audit("add_household", f"household:{hh.id}",
                                    {"association": association_id, "han": han, "paper": paper})])


def assign_household(session: Session, member: Membership, household: Household) -> Outcome:
    """Put a member in a household of their association. A paper household is not for members
    in LINE (they read in LINE)."""
    if household.association_id != member.association_id:
        raise RosterError(N_("That household is no longer in the roster."))
    if household.paper:
        raise RosterError(N_("“{label}” is a paper household: members in LINE cannot be put in it."),
                          label=household.label)
    member.household_id = household.id
    session.flush()
    return Outcome(audit=[Audit("assign_household", f"membership:{member.id}", {"household": household.id})])


def set_han_leader(session: Session, member: Membership, make: bool) -> Outcome:
    """Name a member 班長 (block leader), or make them a plain member again. The association's
    leader keeps their role."""
    if member.role == Role.LEADER:
        name = session.scalar(select(Resident.nickname).where(Resident.id == member.resident_id)) or "?"
        raise RosterError(N_("{name} is the association's leader; their role stays."), name=name)
    _change(session, member, Role.HAN_LEADER if make else Role.MEMBER)
    return Outcome(audit=[Audit("set_han_leader" if make else "unset_han_leader", f"membership:{member.id}")])


def set_role(session: Session, member: Membership, role: str) -> Outcome:
    """Any role (staff, or a leader within what they may give): member, 班長 or leader."""
    was = _change(session, member, role)
    if was == role:
        return Outcome(facts={"changed": False})
    return Outcome(facts={"changed": True}, audit=[Audit(
        "set_member_role", f"membership:{member.id}",
        {"resident": member.resident_id, "association": member.association_id, "role": role, "was": was})])


def _change(session: Session, member: Membership, role: str) -> str:
    was = member.role
    if was != role:
        member.role = role
        # a leader's or 班長's role taken away ends their console sessions
        console_sessions.role_changed(session, member.resident_id, was, role)
        session.flush()
    return was
