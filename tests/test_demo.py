"""The demo (`flask --app bot demo seed`): what it makes, that a second run changes nothing, the
console accounts' passwords printed at every run (and kept in instance/demo-accounts.json, 0600),
`staff password` keeping that file in step, and garbage areas that match the city's."""
from __future__ import annotations

import json
import re
import stat
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.cli import demo
from bot.core import garbage5374
from bot.core.config import ROOT
from bot.core.db import utcnow
from bot.core.models import (
    Area, Association, AuditEntry, Circular, CircularRecipient, Event, Household, Membership, OutboxMessage, Resident, Shelter,
    Signup, StaffAccount,
)
from bot.core.vocab import Audience, CircularQuestion, Role, StaffRole
from bot.services import circulars, garbage, residents, shelters
from tests.console_support import sign_in

TABLES = (Resident, Membership, Household, Event, Signup, Circular, CircularRecipient, StaffAccount, Shelter, OutboxMessage,
          AuditEntry)
PRINTED = re.compile(r"user (demo-\w+)\s+password (\S+)")


@pytest.fixture
def instance(app, tmp_path):
    """The app's instance folder in the test's own directory (never the repository's)."""
    app.instance_path = str(tmp_path / "instance")
    return tmp_path / "instance"


def seed_cli(runner) -> str:
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    return result.output


def counts(db) -> dict[str, int]:
    with db.session() as s:
        return {m.__name__: s.scalar(select(func.count()).select_from(m)) for m in TABLES}


def test_seed_twice_makes_everything_once_and_prints_the_same_accounts(runner, db, instance):
    first = seed_cli(runner)
    after_first = counts(db)
    second = seed_cli(runner)
    assert counts(db) == after_first
    assert after_first["Resident"] == 5 and after_first["Event"] == 2 and after_first["Circular"] == 1
    assert after_first["StaffAccount"] == 3 and after_first["Household"] == len(demo.HOUSEHOLDS)
    printed = [dict(PRINTED.findall(out)) for out in (first, second)]
    assert set(printed[0]) == {"demo-staff", "demo-kaicho", "demo-hancho"}
    assert printed[0] == printed[1]  # every run prints every account with its password
    for out in (first, second):
        assert "ASAHI-2026" in out and "MINATO-2026" in out
        assert "flask --app bot staff password USER" in out


def test_passwords_file_is_private_and_holds_only_the_demo_accounts(runner, instance):
    out = seed_cli(runner)
    path = instance / "demo-accounts.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == dict(PRINTED.findall(out))


def test_each_printed_password_signs_in(runner, app, instance):
    seed_cli(runner)
    for user, password in PRINTED.findall(seed_cli(runner)):
        client = app.test_client()
        assert sign_in(client, user, password).status_code == 302, user
        assert sign_in(app.test_client(), user, password + "x").status_code == 401
    # The 会長's account sees the demo circular among its association's.
    client = app.test_client()
    sign_in(client, "demo-kaicho", dict(PRINTED.findall(seed_cli(runner)))["demo-kaicho"])
    assert demo.CIRCULAR["title"] in client.get("/console/circulars").get_data(as_text=True)


def test_leaders_in_the_roster_and_in_the_console(runner, db, instance):
    seed_cli(runner)
    with db.session() as s:
        assoc = s.scalar(select(Association).where(Association.join_code == demo.DEMO_CODE))

        def member(user_id):
            return s.scalar(select(Membership).join(Resident).where(Resident.line_user_id == user_id))

        kaicho, hancho, hanako = member("web-demo-kaicho"), member("web-demo-hancho"), member("web-demo-hanako")
        assert (kaicho.role, hancho.role, hanako.role) == (Role.LEADER, Role.HAN_LEADER, Role.MEMBER)
        assert {m.association_id for m in (kaicho, hancho, hanako)} == {assoc.id}
        assert s.get(Household, hancho.household_id).han == "1班" == s.get(Household, hanako.household_id).han
        assert s.scalar(select(func.count()).select_from(Household).where(Household.paper.is_(True))) == 2
        accts = {a.username: a for a in s.scalars(select(StaffAccount))}
        assert (accts["demo-kaicho"].role, accts["demo-kaicho"].association_id) == (StaffRole.LEADER, assoc.id)
        assert (accts["demo-hancho"].role, accts["demo-hancho"].association_id, accts["demo-hancho"].han) == \
            (StaffRole.HAN_LEADER, assoc.id, "1班")
        assert (accts["demo-staff"].role, accts["demo-staff"].association_id) == (StaffRole.STAFF, None)
        assert s.scalar(select(Resident).where(Resident.line_user_id == "web-demo-new")).onboarded is False


def test_two_events_one_soon_with_seats_one_later(runner, db, instance):
    seed_cli(runner)
    now = utcnow()
    with db.session() as s:
        soon, later = s.scalars(select(Event).order_by(Event.starts_at)).all()
        assert now < soon.starts_at < now + timedelta(days=14) and soon.capacity and soon.audience == Audience.ALL
        assert later.starts_at > soon.starts_at + timedelta(days=14) and later.audience == Audience.ASSOCIATION
        kaicho = s.scalar(select(Resident.id).where(Resident.line_user_id == "web-demo-kaicho"))
        assert soon.created_by_id == later.created_by_id == kaicho
        going = s.scalars(select(Signup).where(Signup.event_id == soon.id)).all()
        assert [g.resident.nickname for g in going] == ["はなこ"]


def test_the_circular_shows_who_read_and_answered(runner, db, bot, instance):
    seed_cli(runner)
    with db.session() as s:
        circ = s.scalar(select(Circular))
        assert circ.sent_at is not None and circ.question == CircularQuestion.ATTENDANCE
        assert s.get(Resident, circ.created_by_id).line_user_id == "web-demo-kaicho"
        tally = circulars.tally(s, circ)
        assert tally.households == len(demo.HOUSEHOLDS)
        assert tally.read == 3  # the 会長 (who wrote it), the 班長 (answered), one paper household (marked)
        assert sorted(tally.unread) == ["3番 小林", "5番 Smith", "6番 高橋"]
        assert sum(tally.answers.values()) == 2
        # the members in the chat have its notice waiting in the outbox
        told = {u for row in s.scalars(select(OutboxMessage).where(OutboxMessage.source == f"circ:{circ.id}"))
                for u in row.recipients}
        assert {"web-demo-hanako", "web-demo-alex", "web-demo-hancho"} <= told


def test_alex_reads_the_demo_events_and_circular_in_english(runner, app, instance):
    """The demo's English-speaking resident sees the organiser's English, not Japanese with a
    "not translated" note."""
    seed_cli(runner)
    chat = app.test_client()
    for word, titles in (("events", ["Disaster drill and emergency cooking", "Asahi-cho clean-up"]),
                         ("circulars", ["Help clean the community hall"])):
        msgs = chat.post("/chat/api/send", json={"resident": "web-demo-alex", "text": word}).get_json()["messages"]
        asked = max(i for i, m in enumerate(msgs) if m["direction"] == "in")
        out = [m["payload"] for m in msgs[asked:] if m["direction"] == "out"]  # the answer to `word`
        cards = [c for p in out for c in p.get("cards", [])]
        assert [c["title"] for c in cards] == titles, out
        shown = json.dumps(cards, ensure_ascii=False)
        assert "Not translated" not in shown and not re.search(r"[\u3040-\u30ff]", shown), shown


def test_staff_password_generate_keeps_the_file_in_step(runner, app, instance):
    seed_cli(runner)
    result = runner.invoke(args=["staff", "password", "demo-hancho", "--generate"])
    assert result.exit_code == 0, result.output
    new = re.search(r"changed: (\S+)", result.output).group(1)
    assert json.loads((instance / "demo-accounts.json").read_text())["demo-hancho"] == new
    assert dict(PRINTED.findall(seed_cli(runner)))["demo-hancho"] == new
    assert sign_in(app.test_client(), "demo-hancho", new).status_code == 302
    # --password sets the one given; both at once is refused
    assert runner.invoke(args=["staff", "password", "demo-hancho", "--password", "Another-secret-42"]).exit_code == 0
    assert dict(PRINTED.findall(seed_cli(runner)))["demo-hancho"] == "Another-secret-42"
    both = runner.invoke(args=["staff", "password", "demo-hancho", "--password", "Another-secret-43", "--generate"])
    assert both.exit_code != 0 and "not both" in both.output


def test_a_password_changed_elsewhere_is_no_longer_printed(runner, db, instance):
    seed_cli(runner)
    with db.session() as s:
        acct = s.scalar(select(StaffAccount).where(StaffAccount.username == "demo-staff"))
        acct.password_hash = "scrypt:32768:8:1$nothing$0000"  # as the console's accounts page would change it
    out = seed_cli(runner)
    assert "demo-staff" not in dict(PRINTED.findall(out)) and "user demo-staff" in out
    assert "demo-staff" not in json.loads((instance / "demo-accounts.json").read_text())


def test_no_demo_accounts_beside_a_deployments_own(runner, db, accounts, instance):
    out = seed_cli(runner)
    assert PRINTED.findall(out) == [] and "none made" in out
    with db.session() as s:
        assert not s.scalars(select(StaffAccount).where(StaffAccount.username.like("demo-%"))).all()


def test_a_demo_resident_who_deleted_their_data_is_back_after_seed(runner, db, instance):
    seed_cli(runner)
    with db.session() as s:
        residents.delete_resident(s, s.scalar(select(Resident).where(Resident.line_user_id == "web-demo-kaicho")))
    seed_cli(runner)
    with db.session() as s:
        r = s.scalar(select(Resident).where(Resident.line_user_id == "web-demo-kaicho"))
        assert r.onboarded and r.nickname == "やまだ" and [m.role for m in r.memberships] == [Role.LEADER]
        assert s.scalar(select(func.count()).select_from(Circular)) == 1  # not sent again


def test_new_resident_slots_stop_at_the_cap(db):
    with db.session() as s:
        demo.seed(s)
        made = [demo.new_resident(s) for _ in range(demo.MAX_NEW)]
    ids = [r.line_user_id for r in made if r is not None]
    assert len(ids) == demo.MAX_NEW - 1  # web-demo-new is the first slot
    assert ids[0] == "web-demo-new-2" and ids[-1] == f"web-demo-new-{demo.MAX_NEW}"
    assert made[-1] is None


def test_garbage_areas_match_the_demo_city(db):
    cal = garbage5374.load_dir(ROOT / "data" / "garbage" / "demo")
    city = json.loads((ROOT / "data" / "cities" / "demo.json").read_text(encoding="utf-8"))
    assert sorted(cal.areas) == sorted(a["names"]["ja"] for a in city["areas"])
    with db.session() as s:
        demo.seed(s)
        hanako = s.scalar(select(Resident).where(Resident.line_user_id == "web-demo-hanako"))
        for area in s.scalars(select(Area)):
            assert garbage.suggested_areas(cal, area) == [area.names["ja"]], area.code
        (area,) = garbage.suggested_areas(cal, hanako.area)
        days = garbage.upcoming_text(cal, area, list(cal.categories)[:1], utcnow().date(), "ja")
        assert re.match(r"\d+/\d+\(.\) ", days), days  # 「12/2(水) 燃やすごみ」: days, not "no collection"


def test_two_shelters_open_for_a_sent_location(db):
    with db.session() as s:
        assert demo.seed_shelters(s, utcnow()) > 0
        assert demo.seed_shelters(s, utcnow()) == 0
        found = shelters.near_point(s, 35.6915, 139.75)
        assert [x.name for x, _ in found.shelters] == list(demo.OPEN_SHELTERS)
