"""The console's doors: signing in (password, one-time link from LINE), lockout and throttling,
CSRF on every form, session cookie flags, roles, and the audit log."""
from __future__ import annotations

import re

from sqlalchemy import select

from bot.core.models import AuditEntry, Association, Membership, Resident, StaffAccount

from tests.console_support import PASSWORD, sign_in


def test_signed_out_visitors_are_sent_to_sign_in_and_passwords_work(accounts):
    c = accounts.test_client()
    r = c.get("/console/")
    assert r.status_code == 302 and r.location.startswith("/console/login")
    assert sign_in(c, "tanaka", "wrong password").status_code == 401
    r = sign_in(c, "tanaka")
    assert r.status_code == 302
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    page = c.get("/console/").get_data(as_text=True)
    assert "ダッシュボード" in page and "登録している住民" in page
    with accounts.extensions["tsunagari"].db.read() as s:
        stored = s.scalar(select(StaffAccount.password_hash).where(StaffAccount.username == "tanaka"))
        assert stored.startswith("scrypt:") and PASSWORD not in stored
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "sign_in")) == "sign_in"


def test_every_form_needs_its_csrf_token(accounts):
    c = accounts.test_client()
    r = c.post("/console/login", data={"username": "tanaka", "password": PASSWORD})
    assert r.status_code == 400
    sign_in(c, "tanaka")
    assert c.post("/console/logout").status_code == 400  # no token: still signed in
    assert c.get("/console/").status_code == 200


def test_repeated_failures_make_the_account_wait_a_little(accounts, time_machine):
    """No lock anyone could set off: after a few failures each try waits a little longer (here
    4 s after the fifth), with the answer a wrong password gets; then the right one works."""
    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)
    c = accounts.test_client()
    for _ in range(5):
        assert sign_in(c, "asahi", "guess").status_code == 401
    assert sign_in(c, "asahi").status_code == 401  # must wait, even with the right password
    time_machine.shift(5)
    assert sign_in(c, "asahi").status_code == 302


def test_many_failures_from_one_address_are_throttled(accounts):
    c = accounts.test_client()
    for n in range(20):
        sign_in(c, f"nobody{n}", "x")
    assert sign_in(c, "tanaka").status_code == 429


def test_a_leader_signs_in_from_line_with_a_one_time_link(console_app, line, fake_line, joined):
    from tests import support

    leader = "U" + "d1" * 16
    other = "U" + "d2" * 16
    joined(leader, name="会長", locale_label="日本語")
    joined(other, name="住民", locale_label="日本語")
    bot = console_app.extensions["tsunagari"]
    with bot.db.session() as s:
        a = s.scalar(select(Association).where(Association.join_code == "ASAHI-2026"))
        rid = s.scalar(select(Resident.id).where(Resident.line_user_id == leader))
        s.add(Membership(resident_id=rid, association_id=a.id, role="leader"))
    ln = support.Line(console_app.test_client(), fake_line)
    ln.say(other, "管理画面")
    assert "役員とセンターの職員" in ln.last_text(other)
    ln.say(leader, "管理画面")
    url = re.search(r"https://tsunagari\.example\.jp(/console/link/\S+)", ln.last_text(leader)).group(1)
    c = console_app.test_client()
    page = c.get(url)  # LINE's link preview fetches it: that must not sign anyone in
    assert page.status_code == 200 and c.get("/console/").status_code == 302
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    r = c.post(url, data={"csrf_token": token})
    assert r.status_code == 302
    assert "あさひ町内会" in c.get("/console/").get_data(as_text=True)
    again = console_app.test_client()
    assert again.get(url).status_code == 410  # used once
    # Leaders see the leader's pages, not staff ones.
    assert c.get("/console/").status_code == 200


def test_disabled_accounts_lose_their_session_at_once(accounts):
    c = accounts.test_client()
    sign_in(c, "tanaka")
    assert c.get("/console/").status_code == 200
    assert accounts.test_cli_runner().invoke(args=["staff", "disable", "tanaka"]).exit_code == 0
    assert c.get("/console/").status_code == 302


def test_english_is_available(accounts):
    c = accounts.test_client()
    sign_in(c, "tanaka")
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/console/").get_data(as_text=True)).group(1)
    c.post("/console/language", data={"locale": "en", "csrf_token": token, "back": "/console/"})
    page = c.get("/console/").get_data(as_text=True)
    assert "Dashboard" in page and "Residents following" in page and 'lang="en"' in page


def _token(c, path: str = "/console/") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', c.get(path).get_data(as_text=True)).group(1)


def _account_id(app, username: str) -> int:
    with app.extensions["tsunagari"].db.read() as s:
        return s.scalar(select(StaffAccount.id).where(StaffAccount.username == username))


def _signed_in(c) -> bool:
    r = c.get("/console/")
    assert r.status_code in (200, 302), r.status_code
    return r.status_code == 200


def test_a_new_password_ends_the_accounts_other_sessions(accounts):
    """Two browsers signed in as the same account: a new password set in one of them ends the
    other, and the one that set it stays signed in; other accounts are not touched."""
    here, there, leader = (accounts.test_client() for _ in range(3))
    for c, user in ((here, "tanaka"), (there, "tanaka"), (leader, "asahi")):
        assert sign_in(c, user).status_code == 302
    assert _signed_in(here) and _signed_in(there) and _signed_in(leader)
    tanaka = _account_id(accounts, "tanaka")
    stale = _token(there)
    r = here.post(f"/console/accounts/{tanaka}/password",
                  data={"password": "a brand new password", "csrf_token": _token(here, "/console/accounts")})
    assert r.status_code == 302
    page = here.get(r.location).get_data(as_text=True)
    assert "パスワードを変更しました" in page and "この画面はログインしたままです" in page
    assert _signed_in(here)  # the session that changed it stays
    assert not _signed_in(there)  # the other one is signed out …
    assert there.post("/console/logout", data={"csrf_token": stale}).status_code == 302
    assert there.post(f"/console/accounts/{tanaka}/password",
                      data={"password": "the attacker's choice", "csrf_token": _token(there, "/console/login")}
                      ).status_code == 401  # … and can do nothing any more
    assert _signed_in(leader)  # another account keeps its session
    assert sign_in(accounts.test_client(), "tanaka").status_code == 401  # the old password is gone
    assert sign_in(there, "tanaka", "a brand new password").status_code == 302 and _signed_in(there)

    # staff give the leader a new password: the leader's session ends, staff stay
    asahi = _account_id(accounts, "asahi")
    r = here.post(f"/console/accounts/{asahi}/password",
                  data={"password": "leader's new password", "csrf_token": _token(here, "/console/accounts")})
    assert "asahi" in here.get(r.location).get_data(as_text=True)
    assert not _signed_in(leader) and _signed_in(here) and _signed_in(there)
    # from the command line: every session of the account ends
    result = accounts.test_cli_runner().invoke(args=["staff", "password", "tanaka", "--password", "a third password!"])
    assert result.exit_code == 0, result.output
    assert not _signed_in(here) and not _signed_in(there)
    with accounts.extensions["tsunagari"].db.read() as s:
        entries = list(s.execute(select(AuditEntry.target, AuditEntry.detail)
                                 .where(AuditEntry.action == "reset_password").order_by(AuditEntry.id)))
    assert entries == [("account:tanaka", {"sessions_ended": True}), ("account:asahi", {"sessions_ended": True})]


def test_a_session_signed_without_a_record_on_the_server_signs_no_one_in(accounts):
    """Cookies of the versions before server-side sessions (validly signed, no session record)
    are signed out by the upgrade: everyone signs in once more."""
    tanaka = _account_id(accounts, "tanaka")
    old = accounts.test_client()
    with old.session_transaction() as sess:
        sess["console"] = {"kind": "staff", "id": tanaka}
    assert not _signed_in(old)
    with old.session_transaction() as sess:  # nor a made-up session token
        sess["console"] = {"kind": "staff", "id": tanaka, "epoch": 0, "sid": "x" * 43}
    assert not _signed_in(old)
    assert sign_in(old, "tanaka").status_code == 302 and _signed_in(old)


def test_a_disabled_account_enabled_again_does_not_get_its_old_sessions_back(accounts):
    staff, leader = accounts.test_client(), accounts.test_client()
    sign_in(staff, "tanaka")
    sign_in(leader, "asahi")
    asahi = _account_id(accounts, "asahi")
    for active in ("0", "1"):
        r = staff.post(f"/console/accounts/{asahi}/active",
                       data={"active": active, "csrf_token": _token(staff, "/console/accounts")})
        assert r.status_code == 302
    assert not _signed_in(leader)
    assert sign_in(leader, "asahi").status_code == 302 and _signed_in(leader)
    # the same from the command line (enabled again by staff in the console)
    assert accounts.test_cli_runner().invoke(args=["staff", "disable", "asahi"]).exit_code == 0
    staff.post(f"/console/accounts/{asahi}/active", data={"active": "1", "csrf_token": _token(staff, "/console/accounts")})
    assert not _signed_in(leader)


def test_the_dashboard_tells_staff_when_the_clock_stops_runs_are_missed_or_messages_fail(accounts, time_machine):
    """Staff learn at once that nothing scheduled is going out (the clock's minute job is
    overdue), that announcement runs were missed, and that messages failed."""
    from datetime import timedelta

    from bot.core.db import utcnow
    from bot.core.models import Announcement, AnnouncementRun, OutboxMessage
    from scheduler import clock

    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)
    bot = accounts.extensions["tsunagari"]
    c = accounts.test_client()
    sign_in(c, "tanaka")
    sched = clock.build_scheduler(bot, blocking=False)
    sched.start(paused=True)  # a clock that ran, with its jobs in the database
    sched.shutdown(wait=False)
    assert 'data-testid="attention"' not in c.get("/console/").get_data(as_text=True)

    time_machine.shift(timedelta(minutes=10))  # and then stopped
    page = c.get("/console/").get_data(as_text=True)
    assert 'data-testid="clock-down"' in page and "2026/12/01(火) 10:01" in page  # when it was last due
    assert 'data-testid="missed-runs"' not in page and 'data-testid="failed-messages"' not in page

    now = utcnow()
    with bot.db.session() as s:
        ann = Announcement(text="お知らせ", translations={}, audience={"all": True}, status="done", created_at=now)
        s.add(ann)
        s.flush()
        s.add(AnnouncementRun(announcement_id=ann.id, fire_time=now - timedelta(hours=3), status="missed", created_at=now))
        s.add(OutboxMessage(channel="line", recipients=["U" + "0" * 32], payload=[], status="dead", next_attempt_at=now,
                            created_at=now))
    sched = clock.build_scheduler(bot, blocking=False)
    sched.start(paused=True)  # the clock is back
    sched.shutdown(wait=False)
    page = c.get("/console/").get_data(as_text=True)
    assert 'data-testid="clock-down"' not in page
    assert 'data-testid="missed-runs"' in page and 'data-testid="failed-messages"' in page

    leader = accounts.test_client()
    sign_in(leader, "asahi")
    assert 'data-testid="attention"' not in leader.get("/console/").get_data(as_text=True)  # staff only


def test_messages_this_month_count_recipients_not_replies(accounts, time_machine):
    """The quota figure: a multicast counts each recipient, a push one, a broadcast every
    follower, a reply nothing (replies are free); last month's sends do not count."""
    from datetime import timedelta

    from bot.console.dashboard import figures
    from bot.core.db import utcnow
    from bot.core.models import OutboxMessage

    time_machine.move_to("2026-12-15 10:00:00+09:00", tick=False)
    bot = accounts.extensions["tsunagari"]
    now = utcnow()
    with bot.db.session() as s:
        for i in range(4):
            s.add(Resident(line_user_id=f"U{i:032x}", channel="line", following=True, consent_at=now, locale="ja"))

        def sent(recipients, kind="push", reply_token=None, when=now):
            s.add(OutboxMessage(channel="line", recipients=recipients, payload=[], status="sent", kind=kind,
                                reply_token=reply_token, sent_at=when, next_attempt_at=when, created_at=when))

        sent([f"U{i:032x}" for i in range(3)])  # a multicast: 3
        sent(["U" + "1" * 32])  # a push: 1
        sent(["U" + "2" * 32], reply_token="r" * 32)  # a reply: free
        sent([], kind="broadcast")  # every follower: 4
        sent(["U" + "3" * 32] * 2, when=now - timedelta(days=20))  # last month
    with bot.db.read() as s:
        assert figures(s, bot.config)["sent_month"] == 3 + 1 + 4


def test_without_a_public_address_the_console_link_says_so_instead_of_a_dead_link(app, line, joined, db):
    leader = "U" + "d3" * 16
    joined(leader, name="会長", locale_label="日本語")
    with db.session() as s:
        a = s.scalar(select(Association).where(Association.join_code == "ASAHI-2026"))
        rid = s.scalar(select(Resident.id).where(Resident.line_user_id == leader))
        s.add(Membership(resident_id=rid, association_id=a.id, role="leader"))
    line.say(leader, "管理画面")
    said = line.last_text(leader)
    assert "/console/link/" not in said and "PUBLIC_BASE_URL" in said
