"""The demo (`flask --app bot demo seed`): residents for the local web chat (channel "web"; never
used with a LINE channel), an association with a 会長, a 班長 and a roster of households (two on
paper), two events, a circular with a question that some have answered, the shelters of the
demo city (two open), and console accounts for the center and the two leaders.

Every function here is safe to run again: it adds what is missing and leaves the rest alone.
The console accounts' passwords are kept in `instance/demo-accounts.json` (mode 0600, only the
accounts the demo made), so that every run can print them."""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from bot import services
from bot.console import passwords
from bot.console.auth import hash_password
from bot.core.config import ROOT, Config
from bot.core.db import utcnow
from bot.core.models import (
    Area, Association, Circular, CircularRecipient, Event, Household, Membership, Resident, Shelter, StaffAccount,
)
from bot.core.vocab import Audience, Channel, CircularQuestion, EventStatus, Role, StaffRole
from bot.services import circulars, events, roster, shelters

DEMO_CODE = "ASAHI-2026"  # the demo association (data/cities/demo.json)
NEW_PREFIX = "web-demo-new"  # residents who have not joined yet: web-demo-new, web-demo-new-2, …
MAX_NEW = 20  # "+ New resident" slots in the web chat, web-demo-new included
ACCOUNTS_FILE = "demo-accounts.json"


@dataclass(frozen=True)
class DemoResident:
    user_id: str
    nickname: str | None  # None: not yet joined
    locale: str = "ja"
    area: str | None = None
    role: str = Role.MEMBER
    household: str | None = None  # label of their household in the demo association


# The association's roster: (label, 班, paper). Paper households have no one in LINE.
HOUSEHOLDS = (
    ("1番 山田", "1班", False),
    ("2番 佐藤", "1班", False),
    ("3番 小林", "1班", False),
    ("4番 鈴木", "1班", True),
    ("5番 Smith", "2班", False),
    ("6番 高橋", "2班", True),
)
DEMO_RESIDENTS = (
    DemoResident(NEW_PREFIX, None),
    DemoResident("web-demo-hanako", "はなこ", "ja", "asahi-1", household="3番 小林"),
    # next to はなこ: they can help each other
    DemoResident("web-demo-alex", "Alex", "en", "asahi-2", household="5番 Smith"),
    DemoResident("web-demo-kaicho", "やまだ", "ja", "asahi-1", Role.LEADER, "1番 山田"),  # the association's 会長
    DemoResident("web-demo-hancho", "さとう", "ja", "asahi-1", Role.HAN_LEADER, "2番 佐藤"),  # 1班's 班長
)
KAICHO, HANCHO = "web-demo-kaicho", "web-demo-hancho"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: str
    han: str | None = None


ACCOUNTS = (
    DemoAccount("demo-staff", "デモ職員", StaffRole.STAFF),
    DemoAccount("demo-kaicho", "やまだ（あさひ町内会 会長）", StaffRole.LEADER),
    DemoAccount("demo-hancho", "さとう（あさひ町内会 1班 班長）", StaffRole.HAN_LEADER, "1班"),
)


# -- residents and the roster ------------------------------------------------------------------

def seed(session: Session) -> list[str]:
    """The demo residents, their memberships, roles and households. A named resident who is
    missing or has deleted their data is made again; one who has joined is left as they are."""
    now = utcnow()
    assoc = session.scalar(select(Association).where(Association.join_code == DEMO_CODE))
    households = _households(session, assoc) if assoc is not None else {}
    names = []
    for d in DEMO_RESIDENTS:
        r = session.scalar(select(Resident).where(Resident.line_user_id == d.user_id))
        if r is None:
            r = Resident(line_user_id=d.user_id, channel=Channel.WEB, following=True, followed_at=now, locale=d.locale)
            session.add(r)
            session.flush()
        if d.nickname and not r.onboarded:
            r.nickname, r.locale, r.consent_at, r.following = d.nickname, d.locale, now, True
            area = session.scalar(select(Area).where(Area.code == d.area))
            r.area_id = area.id if area else None
            if assoc is not None:
                hh = households.get(d.household or "")
                session.add(Membership(resident_id=r.id, association_id=assoc.id, role=d.role,
                                       household_id=hh.id if hh else None))
        names.append(d.user_id)
    session.flush()
    return names


def _households(session: Session, assoc: Association) -> dict[str, Household]:
    have = {h.label: h for h in session.scalars(select(Household).where(Household.association_id == assoc.id))}
    for label, han, paper in HOUSEHOLDS:
        if label not in have:
            have[label], outcome = roster.add_household(session, assoc.id, label, han, paper)
            services.apply(session, outcome, "cli")
    return have


def demo_residents(session: Session) -> list[Resident]:
    return list(session.scalars(select(Resident).where(Resident.channel == Channel.WEB).order_by(Resident.id)))


def new_resident(session: Session) -> Resident | None:
    """A fresh web resident who has not joined (the web chat's "+ New resident"), or None when
    there are MAX_NEW of them already."""
    taken = set(session.scalars(select(Resident.line_user_id).where(Resident.line_user_id.startswith(NEW_PREFIX))))
    free = [uid for uid in (NEW_PREFIX, *(f"{NEW_PREFIX}-{n}" for n in range(2, MAX_NEW + 1))) if uid not in taken]
    if not free:
        return None
    r = Resident(line_user_id=free[0], channel=Channel.WEB, following=True, followed_at=utcnow())
    session.add(r)
    session.flush()
    return r


# -- events, the circular, shelters ------------------------------------------------------------

def _resident(session: Session, user_id: str) -> Resident | None:
    r = session.scalar(select(Resident).where(Resident.line_user_id == user_id))
    return r if r is not None and r.onboarded else None


def _local(now: datetime, tz_name: str, days: int, hour: int) -> datetime:
    """`hour` o'clock, `days` from today in the city's time zone, as aware UTC."""
    day = now.astimezone(ZoneInfo(tz_name)).date() + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(tz_name)).astimezone(timezone.utc)


EVENTS = (
    # (title, place, description, in days, from, to, capacity, for the association only)
    ("防災訓練と炊き出し", "あさひ小学校 体育館", "消火器の使い方と、非常食の炊き出しを体験します。動きやすい服装でどうぞ。",
     10, 10, 12, 20, False),
    ("あさひ町 清掃活動", "あさひ公園（集合）", "町内の道路と公園を清掃します。軍手とごみ袋は町内会で用意します。",
     40, 9, 11, None, True),
)
# The organiser's English, as a 会長 would add it for the association's English readers (readers
# of other languages get it as their fallback, or machine translated when that is on).
EVENTS_EN = {
    "防災訓練と炊き出し": {"title": "Disaster drill and emergency cooking", "place": "Asahi Elementary School gym",
                      "description": "Try a fire extinguisher and cook emergency food together. Wear clothes you can "
                                     "move in."},
    "あさひ町 清掃活動": {"title": "Asahi-cho clean-up", "place": "Asahi Park (meeting point)",
                     "description": "We clean the streets and the park of our neighbourhood. Gloves and bags are "
                                    "provided by the association."},
}


def seed_events(session: Session, config: Config, now: datetime) -> list[Event]:
    """Two events by the 会長: one soon with few seats (and a sign-up by はなこ), one later for the
    association. An event already there and still to come is kept; a past one is not reused."""
    kaicho = _resident(session, KAICHO)
    assoc = session.scalar(select(Association).where(Association.join_code == DEMO_CODE))
    made = []
    for title, place, description, days, start, end, capacity, members_only in EVENTS:
        ev = session.scalar(select(Event).where(Event.title == title, Event.status == EventStatus.SCHEDULED,
                                                Event.starts_at > now).limit(1))
        if ev is None:
            values = dict(title=title, place=place, description=description, organizer="あさひ町内会",
                          starts_at=_local(now, config.tz_name, days, start), ends_at=_local(now, config.tz_name, days, end),
                          capacity=capacity, ask_party_size=capacity is not None,
                          audience=Audience.ASSOCIATION if members_only and assoc else Audience.ALL,
                          association_id=assoc.id if assoc else None)
            ev, outcome = events.create_event(session, values, now, translations={"en": EVENTS_EN[title]},
                                              created_by_id=kaicho.id if kaicho else None)
            services.apply(session, outcome, "cli")
            hanako = _resident(session, "web-demo-hanako")
            if capacity and hanako is not None:
                events.sign_up(session, ev.id, hanako, party_size=2, note=None, now=now)
        made.append(ev)
    return made


CIRCULAR = {
    "title": "集会所の大掃除のお願い",
    "body": "来週の日曜日、集会所の大掃除を行います。手伝っていただける方を募集します。\n"
            "当日9時に集会所にお集まりください。参加できるかどうか、ボタンでお答えください。",
    "translations": {"en": {
        "title": "Help clean the community hall",
        "body": "Next Sunday we give the community hall a thorough clean, and we are looking for helpers.\n"
                "Please come to the hall at 9:00. Tell us with the buttons whether you can join.",
    }},
}


def seed_circular(session: Session, config: Config, now: datetime) -> Circular | None:
    """A circular from the 会長 with an attendance question, sent once: the 班長 has answered,
    a paper household is marked from the signed sheet, the others have not read it yet."""
    kaicho = _resident(session, KAICHO)
    assoc = session.scalar(select(Association).where(Association.join_code == DEMO_CODE))
    if kaicho is None or assoc is None:
        return None
    circ = session.scalar(select(Circular).where(Circular.association_id == assoc.id,
                                                 Circular.title == CIRCULAR["title"]).limit(1))
    if circ is not None:
        return circ
    values = dict(association_id=assoc.id, question=CircularQuestion.ATTENDANCE, deadline=now + timedelta(days=7),
                  **CIRCULAR)
    circ, _, outcome = circulars.create_and_send(session, values, config, now, created_by_id=kaicho.id)
    services.apply(session, outcome, "cli")
    hancho = _resident(session, HANCHO)
    if hancho is not None:
        row = session.scalar(select(CircularRecipient).where(CircularRecipient.circular_id == circ.id,
                                                             CircularRecipient.resident_id == hancho.id))
        if row is not None:
            circulars.set_answer(session, circ, row, circulars.answer_options(circ, "ja")[0], now)
    paper = session.scalar(select(Household).where(Household.association_id == assoc.id, Household.paper.is_(True))
                           .order_by(Household.id).limit(1))
    if paper is not None:
        outcome = circulars.mark_paper(session, circ, paper, answer=circulars.answer_options(circ, "ja")[1], now=now)
        services.apply(session, outcome, "cli")
    return circ


OPEN_SHELTERS = ("あさひ小学校", "川辺町コミュニティセンター")  # open in the demo: a sent location finds them


def seed_shelters(session: Session, now: datetime) -> int:
    """The demo city's shelters (data/shelters/demo.csv), two of them open, when there are none."""
    if session.scalar(select(Shelter.id).limit(1)) is not None:
        return 0
    sites, report = shelters.read_csv((ROOT / "data" / "shelters" / "demo.csv").read_bytes())
    shelters.store(session, sites, report, now)
    for name in OPEN_SHELTERS:
        for found in shelters.find(session, name)[:1]:
            services.apply(session, shelters.set_open(session, found, True, now), "cli")
    return report.added


# -- console accounts and their passwords -------------------------------------------------------

@dataclass(frozen=True)
class AccountLine:
    account: DemoAccount
    password: str | None  # None: not known to the demo (the account was not made by it, or changed since)


def accounts_file(instance_path: str | os.PathLike) -> Path:
    return Path(instance_path) / ACCOUNTS_FILE


def read_passwords(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def write_passwords(path: Path, values: dict[str, str]) -> None:
    """Written whole, readable by its owner only (0600), replacing the file in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (json.dumps(values, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(tmp, path)


def remember_password(instance_path: str | os.PathLike, username: str, password: str) -> bool:
    """After `staff password`: keep the file in step for an account the demo made. True if it did."""
    path = accounts_file(instance_path)
    known = read_passwords(path)
    if username not in known:
        return False
    known[username] = password
    write_passwords(path, known)
    return True


def new_password(username: str) -> str:
    while True:
        password = secrets.token_urlsafe(12)
        if passwords.english(password, username) is None:
            return password


def seed_accounts(session: Session, instance_path: str | os.PathLike) -> list[AccountLine]:
    """The demo's console accounts. They are made only while the console has no account but the
    demo's own (a deployment's accounts are never joined by one with a printed password); a
    password is printed only while it is still the one the demo made."""
    path = accounts_file(instance_path)
    known = read_passwords(path)
    names = {a.username for a in ACCOUNTS}
    others = session.scalar(select(StaffAccount.id).where(StaffAccount.username.not_in(names)).limit(1)) is not None
    assoc = session.scalar(select(Association).where(Association.join_code == DEMO_CODE))
    lines = []
    for a in ACCOUNTS:
        acct = session.scalar(select(StaffAccount).where(StaffAccount.username == a.username))
        if acct is None and not others and (a.role == StaffRole.STAFF or assoc is not None):
            known[a.username] = new_password(a.username)
            acct = StaffAccount(username=a.username, display_name=a.display_name, password_hash=hash_password(known[a.username]),
                                role=a.role, association_id=None if a.role == StaffRole.STAFF else assoc.id, han=a.han)
            session.add(acct)
        if acct is None:
            continue
        password = known.get(a.username)
        if password is not None and not check_password_hash(acct.password_hash, password):
            password = None  # changed in the console since: not printed, not kept
            known.pop(a.username)
        lines.append(AccountLine(a, password))
    session.flush()
    kept = {k: v for k, v in known.items() if k in names}
    if kept != read_passwords(path) or (kept and not path.exists()):
        write_passwords(path, kept)
    return lines
