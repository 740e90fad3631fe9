"""Circulars in the console, end to end: a leader writes and sends one (form → preview → send),
members get the notice in LINE (the fake LINE API) and tap 「読みました」, the console's status
shows it; paper households are marked by hand, the unread reminded (once a day), the CSV and the
print sheet; a 班長 sees and marks only their 班, other associations see nothing, staff see
all; the roster; sign-in and CSRF."""
from __future__ import annotations

import html as htmllib
import json
import re

import pytest
from sqlalchemy import func, select

from bot.services import circulars
from bot.core.i18n import t
from bot.core.models import (AuditEntry, Association, Circular, CircularRecipient, Household, Membership, OutboxMessage,
                        Resident, StaffAccount)
from tests.console_support import PASSWORD, csrf, sign_in
from tests.support import buttons, card, run_worker

MEMBER_JA = "U" + "a1" * 16
MEMBER_EN = "U" + "a2" * 16
HANCHO = "U" + "a3" * 16
LEADER = "U" + "a4" * 16
MINATO_MEMBER = "U" + "a5" * 16


@pytest.fixture
def env(accounts, joined, clock):
    """あさひ町内会 (ASAHI-2026): 1番 田中 (1班, 花子), 2番 Smith (2班, Emma), 3番 佐藤 (2班, the 班長
    in LINE), paper households 4番 鈴木 (2班) and 5番 山本 (1班); a resident 会長 without a
    household. みなと自治会 (MINATO-2026): one member. Console accounts: "tanaka" (staff),
    "asahi" (会長 of ASAHI), "han2" (班長 of 2班), "minato" (会長 of MINATO)."""
    runner = accounts.test_cli_runner()
    for args in (["staff", "create", "han2", "--role", "han_leader", "--association", "ASAHI-2026", "--han", "2班",
                  "--password", PASSWORD],
                 ["staff", "create", "minato", "--role", "leader", "--association", "MINATO-2026",
                  "--password", PASSWORD]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    joined(MEMBER_JA, name="花子", locale_label="日本語")
    joined(MEMBER_EN, name="Emma")
    joined(HANCHO, name="佐藤", locale_label="日本語")
    joined(LEADER, name="会長さん", locale_label="日本語")
    joined(MINATO_MEMBER, name="港", locale_label="日本語")
    db = accounts.extensions["tsunagari"].db
    with db.session() as s:
        a = s.scalar(select(Association).where(Association.join_code == "ASAHI-2026"))
        m = s.scalar(select(Association).where(Association.join_code == "MINATO-2026"))
        h1 = Household(association_id=a.id, label="1番 田中", han="1班")
        h2 = Household(association_id=a.id, label="2番 Smith", han="2班")
        h3 = Household(association_id=a.id, label="3番 佐藤", han="2班")
        paper2 = Household(association_id=a.id, label="4番 鈴木（紙）", han="2班", paper=True)
        paper1 = Household(association_id=a.id, label="5番 山本（紙）", han="1班", paper=True)
        hm = Household(association_id=m.id, label="港1番", han="1班")
        s.add_all([h1, h2, h3, paper2, paper1, hm])
        s.flush()
        rid = {u: s.scalar(select(Resident.id).where(Resident.line_user_id == u))
               for u in (MEMBER_JA, MEMBER_EN, HANCHO, LEADER, MINATO_MEMBER)}
        ms = {
            MEMBER_JA: Membership(resident_id=rid[MEMBER_JA], association_id=a.id, household_id=h1.id),
            MEMBER_EN: Membership(resident_id=rid[MEMBER_EN], association_id=a.id, household_id=h2.id),
            HANCHO: Membership(resident_id=rid[HANCHO], association_id=a.id, role="han_leader", household_id=h3.id),
            LEADER: Membership(resident_id=rid[LEADER], association_id=a.id, role="leader"),
            MINATO_MEMBER: Membership(resident_id=rid[MINATO_MEMBER], association_id=m.id, household_id=hm.id),
        }
        s.add_all(ms.values())
        s.flush()
        return {"app": accounts, "bot": accounts.extensions["tsunagari"], "db": db, "asahi": a.id, "minato": m.id,
                "h1": h1.id, "h2": h2.id, "h3": h3.id, "paper2": paper2.id, "paper1": paper1.id,
                "membership": {u: x.id for u, x in ms.items()}}


# -- helpers -------------------------------------------------------------------------------------

def signed(env, username: str):
    """Signed in, the console in English (its words; the notices stay Japanese)."""
    c = env["app"].test_client()
    assert sign_in(c, username).status_code == 302
    return english(c)


def english(c):
    c.post("/console/language", data={"locale": "en", "csrf_token": csrf(c, "/console/circulars"),
                                      "back": "/console/circulars"})
    return c


def press(line, user, data):
    assert line.post([line.postback_event(user, data)]).status_code == 200


def html(resp) -> str:
    return resp.get_data(as_text=True)


def row(page: str, household_id: int) -> str:
    m = re.search(rf'<tr id="h{household_id}">(.*?)</tr>', page, re.S)
    assert m, f"no row for household {household_id}"
    return m.group(1)


FORM = {"title": "清掃のお知らせ", "body": "12月7日(日)9時から公園を清掃します。\n軍手をお持ちください。",
        "link": "https://example.jp/map", "question": "attendance", "choices": "", "deadline": "2026-12-06T18:00",
        "audience": "whole", "han": "", "remind_days": "1"}


def preview(c, **fields):
    data = dict(FORM, csrf_token=csrf(c, "/console/circulars/new"), step="preview")
    data.update(fields)
    return c.post("/console/circulars/new", data=data)


def compose(c, **fields) -> int | None:
    """Preview, then send from the preview page's form (as a browser posts it); the new id."""
    r = preview(c, **fields)
    assert r.status_code == 200, html(r)
    page = html(r)
    form = dict(re.findall(r'<input type="hidden" name="([A-Za-z_]+)" value="([^"]*)"', page))
    form["association"] = re.findall(r'<input type="hidden" name="association" value="(\d+)"', page)
    form["step"] = "send"
    form = {k: ([htmllib.unescape(x) for x in v] if isinstance(v, list) else htmllib.unescape(v)) for k, v in form.items()}
    r = c.post("/console/circulars/new", data=form)
    assert r.status_code == 303, html(r)
    m = re.search(r"/console/circulars/(\d+)$", r.location)
    return int(m.group(1)) if m else None


# -- the tests -------------------------------------------------------------------------------------

def test_a_leader_sends_members_read_paper_is_marked_reminded_and_exported(env, line, fake_line):
    bot, db = env["bot"], env["db"]
    c = signed(env, "asahi")
    assert c.get("/console/circulars/new").status_code == 200
    r = preview(c)
    page = html(r)
    assert r.status_code == 200
    # the notice as members see it in LINE (the bot's own words), the full text, who gets it
    assert "あさひ町内会からの回覧板" in page and "読みました" in page and "全文を読む" in page
    assert "軍手をお持ちください。" in page and "https://example.jp/map" in page
    assert 'data-testid="members">4<' in page  # 花子, Emma, 佐藤 and the 会長 (no household: counted alone)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Circular)) == 0  # nothing sent by the preview

    cid = compose(c)
    assert cid is not None
    landing = html(c.get(f"/console/circulars/{cid}"))
    assert "清掃のお知らせ" in landing and "0 / 6" in landing
    with db.read() as s:
        circ = s.get(Circular, cid)
        assert circ.question == "attendance" and circ.link_url == "https://example.jp/map"
        assert circ.body == FORM["body"] and circ.created_by_id is None
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.target == f"circular:{cid}")) == "send_circular"

    # members get the notice; 花子 taps 「読みました」 in LINE
    run_worker(bot)
    for user in (MEMBER_JA, MEMBER_EN, HANCHO, LEADER):
        assert "清掃のお知らせ" in json.dumps(card(fake_line, user), ensure_ascii=False)
    assert "清掃のお知らせ" not in json.dumps(fake_line.messages_to(MINATO_MEMBER), ensure_ascii=False)
    press(line, MEMBER_JA, buttons(card(fake_line, MEMBER_JA))["読みました"])

    page = html(c.get(f"/console/circulars/{cid}"))
    assert "✔" in row(page, env["h1"]) and "花子" in row(page, env["h1"])
    assert "✔" not in row(page, env["h2"])
    assert 'data-testid="read-count">1 / 6<' in page

    # the paper household 4番 signed the sheet and ticked 出席
    tok = csrf(c, f"/console/circulars/{cid}")
    r = c.post(f"/console/circulars/{cid}/paper/{env['paper2']}", data={"csrf_token": tok, "answer": "出席"})
    assert r.status_code == 303
    with db.read() as s:
        tl = circulars.tally(s, s.get(Circular, cid))
        assert (tl.read, tl.households, tl.answers) == (2, 6, {"出席": 1})
    page = html(c.get(f"/console/circulars/{cid}"))
    assert "✔" in row(page, env["paper2"]) and "出席" in row(page, env["paper2"])
    assert 'data-testid="read-count">2 / 6<' in page
    # an answer that is not one of the options is refused
    assert c.post(f"/console/circulars/{cid}/paper/{env['paper1']}",
                  data={"csrf_token": tok, "answer": "たぶん"}).status_code == 400
    # a household that is not paper cannot be marked by hand
    r = c.post(f"/console/circulars/{cid}/paper/{env['h2']}", data={"csrf_token": tok}, follow_redirects=True)
    assert t("en", "That household is not on this circular's paper list.").replace("'", "&#39;") in html(r)

    # remind the unread: Emma, 佐藤 and the 会長 (no household) — not 花子's household
    r = c.post(f"/console/circulars/{cid}/remind", data={"csrf_token": tok}, follow_redirects=True)
    assert "Reminder sent to 3 members who have not read it." in html(r)
    run_worker(bot)
    assert "Reminder: 清掃のお知らせ" in json.dumps(fake_line.messages_to(MEMBER_EN), ensure_ascii=False)
    assert "リマインド" not in json.dumps(fake_line.messages_to(MEMBER_JA), ensure_ascii=False)
    with db.read() as s:
        queued = s.scalar(select(func.count()).select_from(OutboxMessage))
    r = c.post(f"/console/circulars/{cid}/remind", data={"csrf_token": tok}, follow_redirects=True)
    assert t("en", "A reminder for this circular was already sent today.") in html(r)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == queued  # nothing more

    # the CSV: BOM, the CLI's columns, one row per recipient
    r = c.get(f"/console/circulars/{cid}/csv")
    assert r.status_code == 200 and r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    assert r.data.startswith(b"\xef\xbb\xbf")
    lines = r.data.decode("utf-8-sig").splitlines()
    assert lines[0] == "世帯,班,表示名,既読,回答,紙"
    assert "4番 鈴木（紙）,2班,,済,出席,紙" in lines and "1番 田中,1班,花子,済,," in lines
    assert "2番 Smith,2班,Emma,,," in lines and "5番 山本（紙）,1班,,,," in lines

    # the print sheet: the paper households' sign-off table
    r = c.get(f"/console/circulars/{cid}/print")
    sheet = html(r)
    assert r.status_code == 200 and "確認欄" in sheet and "清掃のお知らせ" in sheet
    assert "4番 鈴木（紙）" in sheet and "5番 山本（紙）" in sheet and "2番 Smith" not in sheet
    assert "出席 / 欠席 / 未定" in sheet

    # the list
    listing = html(c.get("/console/circulars"))
    assert "清掃のお知らせ" in listing and f'data-testid="read-{cid}">2 / 6<' in listing
    with db.read() as s:
        actions = set(s.scalars(select(AuditEntry.action)))
    assert {"send_circular", "mark_paper", "remind_circular", "export_circular_csv"} <= actions


def test_a_preview_sends_once(env):
    c = signed(env, "asahi")
    r = preview(c)
    page = html(r)
    form = {k: htmllib.unescape(v) for k, v in re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page)}
    form["step"] = "send"
    assert c.post("/console/circulars/new", data=form).status_code == 303
    again = c.post("/console/circulars/new", data=form, follow_redirects=True)  # a double click
    assert "already sent" in html(again)
    with env["db"].read() as s:
        assert s.scalar(select(func.count()).select_from(Circular)) == 1


def test_a_block_leader_sees_and_marks_only_their_block(env, line, fake_line):
    leader = signed(env, "asahi")
    cid = compose(leader, question="none")
    only1 = compose(leader, title="1班だけ", question="none", audience="han", han=f"{env['asahi']}:1班")
    c = signed(env, "han2")
    listing = html(c.get("/console/circulars"))
    assert f'data-testid="read-{cid}">0 / 3<' in listing  # 2番, 3番, 4番 (paper)
    assert "1班だけ" not in listing
    assert c.get(f"/console/circulars/{only1}").status_code == 403
    page = html(c.get(f"/console/circulars/{cid}"))
    assert "2番 Smith" in page and "4番 鈴木（紙）" in page
    assert "1番 田中" not in page and "5番 山本（紙）" not in page
    assert "/remind" not in page  # reminding is the 会長's
    tok = csrf(c, f"/console/circulars/{cid}")
    assert c.post(f"/console/circulars/{cid}/paper/{env['paper1']}", data={"csrf_token": tok}).status_code == 403
    assert c.post(f"/console/circulars/{cid}/paper/{env['paper2']}", data={"csrf_token": tok}).status_code == 303
    with env["db"].read() as s:
        marked = dict(s.execute(select(CircularRecipient.household_id, CircularRecipient.marked_by_leader).where(
            CircularRecipient.circular_id == cid, CircularRecipient.resident_id.is_(None))).all())
    assert marked == {env["paper2"]: True, env["paper1"]: False}
    assert c.post(f"/console/circulars/{cid}/remind", data={"csrf_token": tok}).status_code == 403
    assert c.get("/console/circulars/new").status_code == 403
    assert c.get("/console/circulars/roster").status_code == 403
    lines = c.get(f"/console/circulars/{cid}/csv").data.decode("utf-8-sig").splitlines()
    assert len(lines) == 4 and all(",2班," in x for x in lines[1:])
    sheet = html(c.get(f"/console/circulars/{cid}/print"))
    assert "4番 鈴木（紙）" in sheet and "5番 山本（紙）" not in sheet
    assert c.get(f"/console/circulars/{only1}/csv").status_code == 403


def test_other_associations_get_403_and_staff_see_all(env):
    asahi = signed(env, "asahi")
    cid = compose(asahi)
    other = signed(env, "minato")
    assert "清掃のお知らせ" not in html(other.get("/console/circulars"))
    for path in (f"/console/circulars/{cid}", f"/console/circulars/{cid}/csv", f"/console/circulars/{cid}/print"):
        assert other.get(path).status_code == 403, path
    tok = csrf(other, "/console/circulars")
    assert other.post(f"/console/circulars/{cid}/paper/{env['paper2']}", data={"csrf_token": tok}).status_code == 403
    assert other.post(f"/console/circulars/{cid}/remind", data={"csrf_token": tok}).status_code == 403
    # a leader sends for their own association only
    assert preview(other, association=str(env["asahi"])).status_code == 403
    assert preview(other, audience="han", han=f"{env['asahi']}:2班").status_code == 403
    assert other.get(f"/console/circulars/roster?association={env['asahi']}").status_code == 403
    assert other.get("/console/circulars/999999").status_code == 404

    staff = signed(env, "tanaka")
    assert preview(staff).status_code == 400  # staff choose the association(s)
    assert compose(staff, title="センターからの回覧", all_associations="1") is None  # two circulars: back to the list
    listing = html(staff.get("/console/circulars"))
    assert listing.count("センターからの回覧") == 2 and "清掃のお知らせ" in listing
    assert "1番 田中" in html(staff.get(f"/console/circulars/{cid}"))
    with env["db"].read() as s:
        to = sorted(s.scalars(select(Circular.association_id).where(Circular.title == "センターからの回覧")))
    assert to == sorted([env["asahi"], env["minato"]])
    assert "センターからの回覧" in html(other.get("/console/circulars"))  # minato sees its own copy


def test_signed_out_visitors_and_missing_csrf_tokens_are_refused(env):
    c = env["app"].test_client()
    for path in ("/console/circulars", "/console/circulars/1", "/console/circulars/new", "/console/circulars/roster",
                 "/console/circulars/1/csv", "/console/circulars/1/print"):
        r = c.get(path)
        assert r.status_code == 302 and r.location.startswith("/console/login"), path
    for path in ("/console/circulars/new", "/console/circulars/roster", "/console/circulars/1/remind",
                 f"/console/circulars/1/paper/{env['paper2']}"):
        assert c.post(path, data={}).status_code in (400, 401), path
    leader = signed(env, "asahi")
    cid = compose(leader)
    for path, data in ((f"/console/circulars/{cid}/remind", {}),
                       (f"/console/circulars/{cid}/paper/{env['paper2']}", {"answer": "出席"}),
                       ("/console/circulars/new", dict(FORM, step="preview")),
                       ("/console/circulars/roster", {"action": "add_household", "label": "x"})):
        assert leader.post(path, data=data).status_code == 400, path
    anon = env["app"].test_client()
    tok = csrf(anon, "/console/login")
    for path in (f"/console/circulars/{cid}/remind", "/console/circulars/roster"):
        assert anon.post(path, data={"csrf_token": tok}).status_code == 401, path
    with env["db"].read() as s:
        assert s.scalar(select(Circular.last_reminded_on).where(Circular.id == cid)) is None


def test_compose_keeps_the_input_when_something_is_wrong_and_sends_to_one_block(env, fake_line):
    c = signed(env, "asahi")
    r = preview(c, title="", body="本文はここです", link="http://example.jp", question="choices", choices="はい",
                deadline="2026-11-30T10:00")
    page = html(r)
    assert r.status_code == 400
    assert "本文はここです</textarea>" in page and 'value="http://example.jp"' in page and 'value="はい"' in page
    assert t("en", "Please write a title.") in page
    assert t("en", "Please write 2 to 6 choices of up to 20 characters, separated by “、”.") in page
    assert t("en", "That time has already passed. Please choose a time in the future.") in page
    assert 'aria-invalid="true"' in page
    r = preview(c, audience="han", han="")
    assert r.status_code == 400
    # own choices, to 班 2 only
    r = preview(c, question="choices", choices="参加、不参加", audience="han", han=f"{env['asahi']}:2班")
    assert 'data-testid="members">2<' in html(r)  # Emma and 佐藤
    cid = compose(c, title="2班の集まり", question="choices", choices="参加、不参加", audience="han",
                  han=f"{env['asahi']}:2班")
    run_worker(env["bot"])
    with env["db"].read() as s:
        circ = s.get(Circular, cid)
        assert (circ.han, circ.choices, circ.question) == ("2班", ["参加", "不参加"], "choices")
    assert "2班の集まり" in json.dumps(fake_line.messages_to(MEMBER_EN), ensure_ascii=False)
    assert "2班の集まり" not in json.dumps(fake_line.messages_to(MEMBER_JA), ensure_ascii=False)
    page = html(c.get(f"/console/circulars/{cid}"))
    assert "参加 / 不参加" in page and "1番 田中" not in page


def test_the_roster_households_members_and_block_leaders(env, line, fake_line):
    c = signed(env, "asahi")
    page = html(c.get("/console/circulars/roster"))
    assert "1番 田中" in page and "花子" in page and "Emma" in page and "港1番" not in page
    assert "会長さん" in page  # not yet in a household
    tok = csrf(c, "/console/circulars/roster")
    a = env["asahi"]
    r = c.post("/console/circulars/roster", data={"csrf_token": tok, "association": a, "action": "add_household",
                                                   "label": "6番 高橋", "han": "3班", "paper": "1"})
    assert r.status_code == 303
    r = c.post("/console/circulars/roster", data={"csrf_token": tok, "association": a, "action": "add_household",
                                                   "label": "  ", "han": ""}, follow_redirects=True)
    assert t("en", "Please write how you know the household, e.g. 5番 山本.") in html(r)
    r = c.post("/console/circulars/roster", data={"csrf_token": tok, "association": a, "action": "add_household",
                                                   "label": "7番 中村", "han": "3班"})
    with env["db"].read() as s:
        rows = {h.label: (h.han, h.paper) for h in s.scalars(select(Household).where(Household.association_id == a))}
        h7 = s.scalar(select(Household.id).where(Household.label == "7番 中村"))
        h6 = s.scalar(select(Household.id).where(Household.label == "6番 高橋"))
    assert rows["6番 高橋"] == ("3班", True) and rows["7番 中村"] == ("3班", False) and "" not in rows
    ms = env["membership"]
    # put the 会長 in 7番; nobody can be put in a paper household or another association's
    assert c.post("/console/circulars/roster", data={"csrf_token": tok, "association": a, "action": "assign",
                                                     "member": ms[LEADER], "household": h7}).status_code == 303
    r = c.post("/console/circulars/roster", data={"csrf_token": tok, "association": a, "action": "assign",
                                                  "member": ms[MEMBER_EN], "household": h6}, follow_redirects=True)
    assert "“6番 高橋” is a paper household" in html(r)
    assert c.post("/console/circulars/roster", data={"csrf_token": tok, "association": a, "action": "assign",
                                                     "member": ms[MINATO_MEMBER], "household": h7}).status_code == 403
    assert c.post("/console/circulars/roster", data={"csrf_token": tok, "association": env["minato"],
                                                     "action": "add_household", "label": "x"}).status_code == 403
    # name 花子 班長 (of 1班), then unname her; the 会長 keeps their role
    assert c.post("/console/circulars/roster", data={"csrf_token": tok, "association": a, "action": "han_leader",
                                                     "member": ms[MEMBER_JA], "make": "yes"}).status_code == 303
    with env["db"].read() as s:
        got = {m.id: (m.role, m.household_id) for m in s.scalars(select(Membership))}
    assert got[ms[MEMBER_JA]][0] == "han_leader" and got[ms[LEADER]] == ("leader", h7)
    assert got[ms[MEMBER_EN]][1] == env["h2"]  # not moved into the paper household
    # 花子, now 班長 of 1班, signs in from LINE and sees 1班 only
    leader = signed(env, "asahi")
    cid = compose(leader, question="none")
    from tests import support

    ln = support.Line(env["app"].test_client(), fake_line)  # the console's app: links with its https address
    ln.say(MEMBER_JA, "管理画面")
    url = re.search(r"https://tsunagari\.example\.jp(/console/link/\S+)", ln.last_text(MEMBER_JA)).group(1)
    hanako = env["app"].test_client()
    tok2 = re.search(r'name="csrf_token" value="([^"]+)"', html(hanako.get(url))).group(1)
    assert hanako.post(url, data={"csrf_token": tok2}).status_code == 302
    english(hanako)
    page = html(hanako.get(f"/console/circulars/{cid}"))
    assert "1番 田中" in page and "2番 Smith" not in page
    r = c.post("/console/circulars/roster", data={"csrf_token": tok, "association": a, "action": "han_leader",
                                                  "member": ms[LEADER], "make": "no"}, follow_redirects=True)
    assert "会長さん is the association" in html(r)
    assert c.post("/console/circulars/roster", data={"csrf_token": tok, "association": a, "action": "han_leader",
                                                     "member": ms[MEMBER_JA], "make": "no"}).status_code == 303
    with env["db"].read() as s:
        assert s.get(Membership, ms[LEADER]).role == "leader"
        assert s.get(Membership, ms[MEMBER_JA]).role == "member"
        actions = set(s.scalars(select(AuditEntry.action)))
    assert {"add_household", "assign_household", "set_han_leader", "unset_han_leader"} <= actions
    assert hanako.get(f"/console/circulars/{cid}").status_code == 302  # no longer a leader: signed out
    # staff choose the association
    staff = signed(env, "tanaka")
    assert "港1番" in html(staff.get(f"/console/circulars/roster?association={env['minato']}"))


def test_a_paper_mark_made_by_mistake_is_undone(env):
    """The 会長 marks two paper households, then undoes one mark: it counts as unread (and
    without an answer) again in the status, the tally and the CSV, and the undo is audited."""
    c = signed(env, "asahi")
    cid = compose(c)
    tok = csrf(c, f"/console/circulars/{cid}")
    paper1, paper2 = env["paper1"], env["paper2"]
    assert c.post(f"/console/circulars/{cid}/paper/{paper2}", data={"csrf_token": tok, "answer": "出席"}).status_code == 303
    assert c.post(f"/console/circulars/{cid}/paper/{paper1}", data={"csrf_token": tok}).status_code == 303
    page = html(c.get(f"/console/circulars/{cid}"))
    assert f"/console/circulars/{cid}/paper/{paper2}/unmark" in row(page, paper2)
    assert 'aria-label="Undo the mark of 4番 鈴木（紙）"' in row(page, paper2)
    assert f"/paper/{env['h2']}/unmark" not in page  # LINE households have no mark to undo
    assert 'data-testid="read-count">2 / 6<' in page

    r = c.post(f"/console/circulars/{cid}/paper/{paper2}/unmark", data={"csrf_token": tok})
    assert r.status_code == 303 and r.location.endswith(f"/console/circulars/{cid}#h{paper2}")
    page = html(c.get(r.location))
    assert "The mark of “4番 鈴木（紙）” was undone: it counts as not read again." in page
    assert "✔" not in row(page, paper2) and "Mark read" in row(page, paper2)
    assert "<td>-</td>" in row(page, paper2) and " selected" not in row(page, paper2)  # no answer any more
    assert "/unmark" not in row(page, paper2)
    assert "✔" in row(page, paper1) and "/unmark" in row(page, paper1)  # the other mark stays
    assert 'data-testid="read-count">1 / 6<' in page
    with env["db"].read() as s:
        got = s.scalar(select(CircularRecipient).where(CircularRecipient.circular_id == cid,
                                                       CircularRecipient.household_id == paper2))
        assert (got.read_at, got.answer, got.answered_at, got.marked_by_leader) == (None, None, None, False)
        tl = circulars.tally(s, s.get(Circular, cid))
        assert (tl.read, tl.households, tl.answers) == (1, 6, {})
        assert "4番 鈴木（紙）" in tl.unread and "5番 山本（紙）" not in tl.unread
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "unmark_paper"))
        assert entry.target == f"circular:{cid}" and entry.actor.startswith("staff:")
        assert entry.detail["household"] == paper2 and entry.detail["answer"] == "出席" and entry.detail["read_at"]
    lines = c.get(f"/console/circulars/{cid}/csv").data.decode("utf-8-sig").splitlines()
    assert "4番 鈴木（紙）,2班,,,," in lines and "5番 山本（紙）,1班,,済,,紙" in lines
    # the sheet is still there to mark again
    assert c.post(f"/console/circulars/{cid}/paper/{paper2}", data={"csrf_token": tok, "answer": "欠席"}).status_code == 303
    with env["db"].read() as s:
        assert circulars.tally(s, s.get(Circular, cid)).answers == {"欠席": 1}
    assert c.post(f"/console/circulars/{cid}/paper/{paper2}/unmark", data={"csrf_token": tok}).status_code == 303

    # nothing to undo: said so, nothing written
    r = c.post(f"/console/circulars/{cid}/paper/{paper2}/unmark", data={"csrf_token": tok}, follow_redirects=True)
    assert "“4番 鈴木（紙）” was not marked as read; nothing changed." in html(r)
    r = c.post(f"/console/circulars/{cid}/paper/{env['h2']}/unmark", data={"csrf_token": tok}, follow_redirects=True)
    assert t("en", "That household is not on this circular's paper list.").replace("'", "&#39;") in html(r)
    with env["db"].read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "unmark_paper")) == 2


def test_only_those_who_may_mark_may_undo_a_mark(env):
    leader = signed(env, "asahi")
    cid = compose(leader)
    tok = csrf(leader, f"/console/circulars/{cid}")
    for hh in (env["paper1"], env["paper2"]):
        assert leader.post(f"/console/circulars/{cid}/paper/{hh}", data={"csrf_token": tok}).status_code == 303

    def marked() -> dict[int, bool]:
        with env["db"].read() as s:
            return dict(s.execute(select(CircularRecipient.household_id, CircularRecipient.marked_by_leader).where(
                CircularRecipient.circular_id == cid, CircularRecipient.resident_id.is_(None))).all())

    # another association's leader: 403, and the mark stays
    other = signed(env, "minato")
    other_tok = csrf(other, "/console/circulars")
    assert other.post(f"/console/circulars/{cid}/paper/{env['paper2']}/unmark",
                      data={"csrf_token": other_tok}).status_code == 403
    # signed out: 401; without the CSRF token: 400
    anon = env["app"].test_client()
    assert anon.post(f"/console/circulars/{cid}/paper/{env['paper2']}/unmark",
                     data={"csrf_token": csrf(anon, "/console/login")}).status_code == 401
    assert leader.post(f"/console/circulars/{cid}/paper/{env['paper2']}/unmark", data={}).status_code == 400
    assert marked() == {env["paper1"]: True, env["paper2"]: True}
    # the 班長 of 2班 undoes 2班's mark, not 1班's
    han = signed(env, "han2")
    han_tok = csrf(han, f"/console/circulars/{cid}")
    assert han.post(f"/console/circulars/{cid}/paper/{env['paper1']}/unmark",
                    data={"csrf_token": han_tok}).status_code == 403
    assert han.post(f"/console/circulars/{cid}/paper/{env['paper2']}/unmark",
                    data={"csrf_token": han_tok}).status_code == 303
    assert marked() == {env["paper1"]: True, env["paper2"]: False}
    # staff may, for every association
    staff = signed(env, "tanaka")
    assert staff.post(f"/console/circulars/{cid}/paper/{env['paper1']}/unmark",
                      data={"csrf_token": csrf(staff, f"/console/circulars/{cid}")}).status_code == 303
    assert marked() == {env["paper1"]: False, env["paper2"]: False}
    with env["db"].read() as s:
        actors = list(s.scalars(select(AuditEntry.actor).where(AuditEntry.action == "unmark_paper")
                                .order_by(AuditEntry.id)))
        ids = dict(s.execute(select(StaffAccount.username, StaffAccount.id)).all())
    assert actors == [f"staff:{ids['han2']}", f"staff:{ids['tanaka']}"]


# -- a photo and translations ----------------------------------------------------------------------

GPS = 0x8825


def phone_photo(padding: int = 0) -> bytes:
    """A JPEG as a phone makes it: the camera's make, a rotation and where it was taken (EXIF
    GPS); `padding` bytes after the picture make the file larger without changing the picture."""
    import io

    from PIL import Image

    img = Image.new("RGB", (2400, 1800), (30, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # orientation: rotate 90°
    exif[GPS] = {1: "N", 2: (35.0, 41.0, 22.0), 3: "E", 4: (139.0, 41.0, 30.0)}
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    raw = out.getvalue() + b"\0" * padding
    with Image.open(io.BytesIO(raw)) as im:  # the test photo really says where it was taken
        assert im.getexif().get_ifd(GPS)[2] == (35.0, 41.0, 22.0)
    return raw


def upload(raw: bytes, name: str = "IMG_0001.JPG"):
    import io

    return (io.BytesIO(raw), name, "image/jpeg")


def media_count(env) -> int:
    from bot.core.models import Media

    with env["db"].read() as s:
        return s.scalar(select(func.count()).select_from(Media))


TR_EN = {"tr_en_title": "Park clean-up", "tr_en_body": "Sunday 7 December from 9:00 we clean the park.\nPlease bring gloves."}


def test_a_circular_with_a_photo_and_translations_reaches_members(env, fake_line):
    import io

    from PIL import Image

    from bot.core.models import Media
    from tests import support

    c = signed(env, "asahi")
    form = c.get("/console/circulars/new").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in form and 'name="photo"' in form and 'accept="image/jpeg,image/png"' in form
    assert 'name="tr_en_title"' in form and 'name="tr_vi_body"' in form and 'name="tr_ja_title"' not in form

    r = preview(c, photo=upload(phone_photo()), **TR_EN)
    page = html(r)
    assert r.status_code == 200, page
    token = re.search(r'<input type="hidden" name="photo_token" value="([^"]+)"', page).group(1)
    assert f'src="/m/{token}/preview.jpg"' in page and f'src="/m/{token}.jpg"' in page  # the notice and the full text
    english = page.split('data-testid="language-en">')[1].split("</section>")[0]
    assert "Park clean-up" in english and "Circular from あさひ町内会" in english and "Read it all" in english
    assert f'src="/m/{token}.jpg"' in english and "Please bring gloves." in english
    assert 'data-testid="missing"' not in page  # the one English reader has a translation
    assert 'data-testid="translations"><span lang="en">English</span>' in page
    with env["db"].read() as s:
        assert s.scalar(select(func.count()).select_from(Circular)) == 0  # nothing sent by the preview
        stored = s.scalar(select(Media).where(Media.token == token))
        data = stored.data
    # the stored photo: upright, scaled, and no metadata at all (no place, no camera)
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (1200, 1600)
        assert not im.getexif() and not im.getexif().get_ifd(GPS) and "exif" not in im.info

    cid = compose(c, photo=upload(phone_photo()), **TR_EN)  # preview, then "Send now" from the preview
    with env["db"].read() as s:
        circ = s.get(Circular, cid)
        assert circ.translations == {"en": {"title": TR_EN["tr_en_title"], "body": TR_EN["tr_en_body"]}}
        sent_photo = s.get(Media, circ.image_id)
        token, data = sent_photo.token, sent_photo.data
        detail = s.scalar(select(AuditEntry.detail).where(AuditEntry.action == "send_circular"))
    assert detail["photo"] is True and detail["translations"] == ["en"]
    run_worker(env["bot"])
    # Emma reads English: the translated notice, with the photo on top (https, as LINE needs)
    bubble = card(fake_line, MEMBER_EN)
    assert bubble["hero"]["url"] == f"https://tsunagari.example.jp/m/{token}.jpg"
    notice = json.dumps(bubble, ensure_ascii=False)
    assert "Park clean-up" in notice and "清掃のお知らせ" not in notice and "Not translated" not in notice
    # 花子 reads Japanese: the Japanese notice, the same photo
    bubble_ja = card(fake_line, MEMBER_JA)
    assert bubble_ja["hero"]["url"] == f"https://tsunagari.example.jp/m/{token}.jpg"
    assert "清掃のお知らせ" in json.dumps(bubble_ja, ensure_ascii=False)
    # "Read it all" in English: the English text and the photo itself
    ln = support.Line(env["app"].test_client(), fake_line)
    press(ln, MEMBER_EN, buttons(card(fake_line, MEMBER_EN))["Read it all"])
    assert "Please bring gloves." in json.dumps(fake_line.messages_to(MEMBER_EN), ensure_ascii=False)
    images = [m for m in fake_line.messages_to(MEMBER_EN) if m["type"] == "image"]
    assert images[-1]["originalContentUrl"] == f"https://tsunagari.example.jp/m/{token}.jpg"
    # what LINE fetches has no metadata either
    got = ln.client.get(f"/m/{token}.jpg")
    assert got.status_code == 200 and got.data == data
    with Image.open(io.BytesIO(got.data)) as im:
        assert not im.getexif()
    # the status page says it has a photo and an English translation
    status = html(c.get(f"/console/circulars/{cid}"))
    assert f"/m/{token}/preview.jpg" in status and 'data-testid="translations"><span lang="en">English</span>' in status


def test_translations_reach_the_members_of_each_language_and_the_others_get_a_note(env, fake_line):
    c = signed(env, "asahi")
    # English and Vietnamese translations; nobody reads Vietnamese, one member reads English
    r = preview(c, question="none", **TR_EN, tr_vi_title="Dọn dẹp công viên", tr_vi_body="Chủ nhật 9 giờ.")
    page = html(r)
    assert r.status_code == 200, page
    assert 'data-testid="language-vi"' in page and "Dọn dẹp công viên" in page
    cid = compose(c, question="none", tr_vi_title="Dọn dẹp công viên", tr_vi_body="Chủ nhật 9 giờ.")
    run_worker(env["bot"])
    with env["db"].read() as s:
        assert set(s.get(Circular, cid).translations) == {"vi"}
    # without an English translation, Emma gets the Japanese with the note, in English
    notice = json.dumps(card(fake_line, MEMBER_EN), ensure_ascii=False)
    assert "清掃のお知らせ" in notice and "Not translated into your language" in notice
    assert "Dọn dẹp" not in json.dumps(fake_line.messages_to(MEMBER_JA), ensure_ascii=False)
    # and the preview said so
    page = html(preview(c, question="none"))
    assert 'data-testid="missing">No translation yet for: English' in page


def test_a_bad_photo_or_translation_is_refused_and_nothing_typed_is_lost(env):
    from bot.core import media
    c = signed(env, "asahi")
    typed = dict(title="夏祭りの地図", body="会場の地図です。\n雨天中止。", link="https://example.jp/natsu", **TR_EN,
                 tr_ko_title="여름 축제", tr_ko_body="회장 지도입니다.")

    def kept(page: str) -> bool:
        return ('value="夏祭りの地図"' in page and "会場の地図です。\n雨天中止。</textarea>" in page
                and 'value="https://example.jp/natsu"' in page and 'value="Park clean-up"' in page
                and "Please bring gloves.</textarea>" in page and 'value="여름 축제"' in page
                and "회장 지도입니다.</textarea>" in page)

    refused = "The photo must be a JPEG or PNG picture of at most 10 MB."
    # not a picture
    r = preview(c, photo=upload(b"%PDF-1.4 this is not a picture", "notes.jpg"), **typed)
    page = html(r)
    assert r.status_code == 400 and refused in page and kept(page)
    assert 'id="photo-error"' in page and 'aria-invalid="true"' in page and " open>" in page  # translations shown
    assert media_count(env) == 0
    # a real photo, but too big (the server's limit, the same as for photos sent in LINE)
    big = phone_photo(padding=media.MAX_UPLOAD_BYTES)
    assert media.MAX_UPLOAD_BYTES < len(big) < media.MAX_UPLOAD_BYTES + 1_000_000
    r = preview(c, photo=upload(big), **typed)
    assert r.status_code == 400 and refused in html(r) and kept(html(r)) and media_count(env) == 0
    # far too big for the form to be read at all: a page that says why
    r = preview(c, photo=upload(phone_photo(padding=media.MAX_UPLOAD_BYTES + 1_500_000)), **typed)
    assert r.status_code == 413 and "The photo is too large" in html(r) and "at most 10 MB" in html(r)

    # a translation too long: refused, the photo attached at the same time is kept
    long_text = dict(typed, tr_en_body="x" * 2001)
    r = preview(c, photo=upload(phone_photo()), **long_text)
    page = html(r)
    assert r.status_code == 400
    assert "English: " + t("en", "Please keep it under {max} characters (it is {n} now).", max=2000, n=2001) in page
    assert 'id="tr_en_body-error"' in page and 'value="여름 축제"' in page and 'value="夏祭りの地図"' in page
    token = re.search(r'<input type="hidden" name="photo_token" value="([^"]+)"', page).group(1)
    assert f"/m/{token}/preview.jpg" in page and media_count(env) == 1
    # a title without its text
    r = preview(c, photo_token=token, **dict(typed, tr_en_body=""))
    assert r.status_code == 400
    assert "English: please write both the title and the text of the translation, or leave both empty." in html(r)
    # corrected: the photo comes along without being sent again
    r = preview(c, photo_token=token, **typed)
    assert r.status_code == 200 and f"/m/{token}/preview.jpg" in html(r) and "여름 축제" in html(r)
    # and can be removed
    r = preview(c, photo_token=token, remove_photo="1", **typed)
    assert r.status_code == 200 and "/m/" not in html(r) and 'name="photo_token" value=""' in html(r)
    # a photo that is gone (tidied away) is said to be gone
    r = preview(c, photo_token="x" * 32, **typed)
    assert r.status_code == 400 and "The photo is no longer available. Please attach it again." in html(r)
    assert media_count(env) == 1
    with env["db"].read() as s:
        assert s.scalar(select(func.count()).select_from(Circular)) == 0


def test_only_those_who_write_circulars_may_attach_a_photo(env):
    """A 班長, another association's leader and a signed-out visitor are refused before the photo
    is stored; staff may."""
    han = signed(env, "han2")
    data = dict(FORM, step="preview", photo=upload(phone_photo()), **TR_EN)
    r = han.post("/console/circulars/new", data=dict(data, csrf_token=csrf(han, "/console/circulars")))
    assert r.status_code == 403
    anon = env["app"].test_client()
    r = anon.post("/console/circulars/new", data=dict(data, photo=upload(phone_photo()),
                                                      csrf_token=csrf(anon, "/console/login")))
    assert r.status_code == 401
    assert media_count(env) == 0
    other = signed(env, "minato")
    assert preview(other, association=str(env["asahi"]), photo=upload(phone_photo()), **TR_EN).status_code == 403
    staff = signed(env, "tanaka")
    r = preview(staff, association=str(env["asahi"]), photo=upload(phone_photo()), **TR_EN)
    assert r.status_code == 200 and "Park clean-up" in html(r)


def test_the_photo_limit_shown_is_the_one_the_server_applies(env):
    """The empty compose forms (circular and announcement) state the same photo limit as the
    server applies, and their check in the browser uses it (not the webhook's 1 MB limit)."""
    from bot.core import media
    c = signed(env, "tanaka")
    for path in ("/console/circulars/new", "/console/announcements/new"):
        page = html(c.get(path))
        assert "A JPEG or PNG picture, up to 10 MB." in page, path
        assert re.search(rf'(var limit = |"photo_limit": ){media.MAX_UPLOAD_BYTES}\b', page), path


def test_own_choices_are_translated_per_language_and_answers_kept_in_japanese(env, fake_line):
    """A leader translates the circular and its own choices into English: Emma answers with
    English buttons, the answer is kept as the Japanese choice (the tally counts one answer),
    and what she is told back is English. A translation with the wrong number of choices is
    refused with everything typed kept; a language with no choices translated is named."""
    from tests import support

    c = signed(env, "asahi")
    own = {"question": "choices", "choices": "参加、不参加、未定"}
    tr = {"tr_en_title": "Park clean-up", "tr_en_body": "We clean the park on Sunday.",
          "tr_vi_title": "Dọn công viên", "tr_vi_body": "Chủ nhật dọn công viên."}
    bad = preview(c, **own, **tr, tr_en_choices="Yes, No")
    page = html(bad)
    assert bad.status_code == 400
    assert "English: please translate each of the 3 choices, in the same order." in htmllib.unescape(page)
    assert 'value="Yes, No"' in page and 'value="Park clean-up"' in page  # nothing typed is lost
    good = preview(c, **own, **tr, tr_en_choices="Going, Not going, Not sure")
    page = htmllib.unescape(html(good))
    assert good.status_code == 200
    assert 'data-testid="choices-missing"' in page and "Tiếng Việt" in page.split('data-testid="choices-missing"')[1][:200]
    cid = compose(c, **own, **tr, tr_en_choices="Going, Not going, Not sure")
    with env["db"].read() as s:
        circ = s.get(Circular, cid)
        assert circ.choices == ["参加", "不参加", "未定"]
        assert circ.translations["en"]["choices"] == ["Going", "Not going", "Not sure"]
        assert "choices" not in circ.translations["vi"]
    run_worker(env["bot"])
    ln = support.Line(env["app"].test_client(), fake_line)
    press(ln, MEMBER_EN, buttons(card(fake_line, MEMBER_EN))["Answer"])
    assert fake_line.quick_labels(MEMBER_EN) == ["Going", "Not going", "Not sure"]
    ln.tap(MEMBER_EN, "Not going")
    assert "“Not going” is recorded" in ln.last_text(MEMBER_EN)
    with env["db"].read() as s:
        kept = s.scalar(select(CircularRecipient.answer).where(
            CircularRecipient.circular_id == cid, CircularRecipient.answer.is_not(None)))
        assert kept == "不参加"
        assert circulars.tally(s, s.get(Circular, cid)).answers == {"不参加": 1}
    press(ln, MEMBER_EN, buttons(card(fake_line, MEMBER_EN))["Answer"])
    assert ln.last_text(MEMBER_EN).startswith("Your answer now: Not going")
    # 花子 reads Japanese: the Japanese choices
    press(ln, MEMBER_JA, buttons(card(fake_line, MEMBER_JA))["回答する"])
    assert fake_line.quick_labels(MEMBER_JA) == ["参加", "不参加", "未定"]
