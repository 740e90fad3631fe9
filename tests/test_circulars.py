"""Electronic circulars end to end: send → deliver (batched, per language) → read → answer →
remind → tally (LINE and paper households together), privacy and the web page."""
from __future__ import annotations

import json
import pytest
from sqlalchemy import select

from bot import services
from bot.services import circulars
from bot.core.db import utcnow
from bot.core.models import Association, Circular, CircularRecipient, Household, Membership, OutboxMessage, Resident
from scheduler import circular_jobs
from tests import support
from tests.support import buttons, card, run_worker

LEADER = "U" + "11" * 16
HAN_LEADER = "U" + "22" * 16
MEMBER_EN = "U" + "33" * 16
MEMBER_JA = "U" + "44" * 16
OUTSIDER = "U" + "55" * 16


@pytest.fixture
def assoc(db, joined, clock):
    """あさひ町内会: 2 households in 班 1 (the leader's with the Japanese member), 1 in 班 2 (the
    English member, whose 班長 is HAN_LEADER), and a paper household in 班 2."""
    joined(LEADER, name="会長", locale_label="日本語")
    joined(HAN_LEADER, name="班長", locale_label="日本語")
    joined(MEMBER_EN, name="Emma")
    joined(MEMBER_JA, name="花子", locale_label="日本語")
    joined(OUTSIDER, name="Other")
    with db.session() as s:
        a = s.scalar(select(Association).where(Association.join_code == "ASAHI-2026"))
        h1 = Household(association_id=a.id, label="1番 田中", han="1班")
        h2 = Household(association_id=a.id, label="2番 Smith", han="2班")
        h3 = Household(association_id=a.id, label="3番 佐藤", han="2班")
        paper = Household(association_id=a.id, label="4番 鈴木（紙）", han="2班", paper=True)
        s.add_all([h1, h2, h3, paper])
        s.flush()
        ids = {u: s.scalar(select(Resident.id).where(Resident.line_user_id == u)) for u in (LEADER, HAN_LEADER, MEMBER_EN, MEMBER_JA)}
        s.add_all([
            Membership(resident_id=ids[LEADER], association_id=a.id, role="leader", household_id=h1.id),
            Membership(resident_id=ids[MEMBER_JA], association_id=a.id, role="member", household_id=h1.id),
            Membership(resident_id=ids[MEMBER_EN], association_id=a.id, role="member", household_id=h2.id),
            Membership(resident_id=ids[HAN_LEADER], association_id=a.id, role="han_leader", household_id=h3.id),
        ])
        return {"id": a.id, "h1": h1.id, "h2": h2.id, "h3": h3.id, "paper": paper.id}


def send(runner, *extra) -> int:
    result = runner.invoke(args=["circulars", "send", "--association", "ASAHI-2026", "--title", "清掃のお知らせ",
                                 "--body", "12月7日(日)9時から公園を清掃します。\n軍手をお持ちください。", *extra])
    assert result.exit_code == 0, result.output
    return int(result.output.split()[1])


def text_of(bubble):
    return "\n".join(x.get("text", "") for x in bubble["body"]["contents"])


def press(line, user, data):
    assert line.post([line.postback_event(user, data)]).status_code == 200


def test_send_read_answer_and_tally_per_household_with_paper(line, fake_line, bot, db, runner, assoc, clock, tmp_path):
    cid = send(runner, "--question", "attendance", "--deadline", "2026-12-06T18:00")
    run_worker(bot)
    # everyone in the association got a notice; the outsider did not
    for user in (LEADER, HAN_LEADER, MEMBER_EN, MEMBER_JA):
        assert "清掃のお知らせ" in card(fake_line, user)["body"]["contents"][0]["text"]
    assert not fake_line.messages_to(OUTSIDER)[-1:] or "清掃" not in json.dumps(fake_line.messages_to(OUTSIDER), ensure_ascii=False)
    en = card(fake_line, MEMBER_EN)
    assert "Not translated into your language" in text_of(en)
    assert "Please read by Sun, Dec 6, 2026, 6:00 PM" in text_of(en)
    # 読んだ, twice: recorded once
    press(line, MEMBER_JA, buttons(card(fake_line, MEMBER_JA))["読みました"])
    assert line.last_text(MEMBER_JA).startswith("ありがとうございます。読んだことを記録しました")
    press(line, MEMBER_JA, buttons(card(fake_line, MEMBER_JA))["読みました"])
    assert "すでに" in line.last_text(MEMBER_JA)
    # answer, then change it
    press(line, MEMBER_EN, buttons(en)["Answer"])
    line.tap(MEMBER_EN, "Attending")
    assert "“Attending” is recorded" in line.last_text(MEMBER_EN)
    press(line, MEMBER_EN, buttons(en)["Answer"])
    assert "Your answer now: Attending" in line.last_text(MEMBER_EN)  # kept as 出席, shown in English
    line.tap(MEMBER_EN, "Not attending")
    # the paper household signs the sheet; the leader marks it
    assert runner.invoke(args=["circulars", "mark", str(cid), "--household", str(assoc["paper"]), "--answer", "出席"]).exit_code == 0
    with db.session() as s:
        tl = circulars.tally(s, s.get(Circular, cid))
    # households: 1番 (read through 花子), 2番 (Emma answered), 3番 (班長, unread), 4番 (paper, marked)
    assert (tl.read, tl.households) == (3, 4)
    assert tl.answers == {"欠席": 1, "出席": 1}
    assert tl.unread == ["3番 佐藤"]
    out = tmp_path / "status.csv"
    assert runner.invoke(args=["circulars", "status", str(cid), "--csv", str(out)]).exit_code == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "4番 鈴木（紙）,2班,,済,出席,紙" in raw.decode("utf-8-sig")
    # after the deadline answers cannot change
    clock.move_to("2026-12-06 18:01:00+09:00", tick=False)
    press(line, MEMBER_EN, buttons(en)["Answer"])
    line.tap(MEMBER_EN, "Attending")
    assert "deadline for answers has passed" in line.last_text(MEMBER_EN)


def test_translations_given_by_the_sender_are_used(line, fake_line, bot, db, runner, assoc, clock, tmp_path):
    tr = tmp_path / "tr.json"
    tr.write_text(json.dumps({"en": {"title": "Park cleaning", "body": "Sunday 9:00 in the park."}}), encoding="utf-8")
    send(runner, "--translations", str(tr))
    run_worker(bot)
    en = card(fake_line, MEMBER_EN)
    assert en["body"]["contents"][0]["text"] == "Park cleaning"
    assert "Not translated" not in text_of(en)
    press(line, MEMBER_EN, buttons(en)["Read it all"])
    assert any("Sunday 9:00 in the park." in t for t in fake_line.texts_to(MEMBER_EN)[-3:])


def test_identical_notices_go_as_multicasts_of_500_per_language(bot, db, assoc, clock):
    with db.session() as s:
        a = s.get(Association, assoc["id"])
        for i in range(1100):
            r = Resident(line_user_id=f"U{i:032x}", channel="line", locale="en" if i % 2 else "ja",
                         consent_at=utcnow(), following=True)
            s.add(r)
            s.flush()
            s.add(Membership(resident_id=r.id, association_id=a.id))
        circ = Circular(association_id=a.id, title="t", body="b", created_at=utcnow())
        s.add(circ)
        s.flush()
        result = services.apply(s, circulars.send(s, circ, bot.config, utcnow()), "test").facts
    # 1,100 + 4 joined members: 553 read Japanese, 551 English -> 2 multicasts per language
    assert result["members"] == 1104 and result["messages"] == 4
    with db.session() as s:
        sizes = sorted(len(r.recipients) for r in s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("circ:%"))))
    assert sizes == [51, 53, 500, 500]


def test_remind_the_unread_once_a_day_and_automatically_before_the_deadline(line, fake_line, bot, db, runner, assoc, clock):
    cid = send(runner, "--deadline", "2026-12-05T18:00")
    run_worker(bot)
    press(line, MEMBER_JA, buttons(card(fake_line, MEMBER_JA))["読みました"])  # household 1 has read
    result = runner.invoke(args=["circulars", "remind", str(cid)])
    assert "reminder queued for 2 members" in result.output  # Emma and the 班長, not the leader's household
    assert runner.invoke(args=["circulars", "remind", str(cid)]).exit_code == 1  # once a day
    run_worker(bot)
    assert "Reminder: 清掃のお知らせ" in json.dumps(fake_line.messages_to(MEMBER_EN), ensure_ascii=False)
    assert "リマインド" not in json.dumps(fake_line.messages_to(LEADER), ensure_ascii=False)
    # the automatic one: the day before the deadline, from 9:00, once
    clock.move_to("2026-12-04 08:59:00+09:00", tick=False)
    with db.session() as s:
        assert circular_jobs.auto_remind(s, bot.config, utcnow()) == 0
    clock.move_to("2026-12-04 09:00:00+09:00", tick=False)
    with db.session() as s:
        assert circular_jobs.auto_remind(s, bot.config, utcnow()) == 2
    with db.session() as s:
        assert circular_jobs.auto_remind(s, bot.config, utcnow()) == 0


def test_leader_sees_status_and_reminds_in_line_han_leader_only_their_han(line, fake_line, bot, db, runner, assoc, clock):
    send(runner)
    run_worker(bot)
    line.say(LEADER, "回覧板の状況")
    st = card(fake_line, LEADER)
    assert "既読：0 / 4" in text_of(st)
    press(line, LEADER, buttons(st)["未読の方に再送"])
    assert line.last_text(LEADER) == "まだ読んでいない4人に再送しました。"
    line.say(HAN_LEADER, "回覧板の状況")
    han_card = card(fake_line, HAN_LEADER)
    body = text_of(han_card)
    assert "1番 田中" not in body and "3番 佐藤" in body and "既読：0 / 3" in body  # only 班 2
    press(line, HAN_LEADER, f"a=circ&x=remind&c={support.ref_of(db, Circular, 1)}")
    assert line.last_text(HAN_LEADER) == "再送できるのは町内会の会長だけです。"
    line.say(MEMBER_EN, "circular status")
    assert "Only association leaders" in line.last_text(MEMBER_EN)


def test_outsiders_and_forged_buttons_see_nothing(line, fake_line, bot, db, runner, assoc, clock):
    cid = send(runner, "--question", "choices:はい,いいえ")
    run_worker(bot)
    c = support.ref_of(db, Circular, cid)
    for data in (f"a=circ&x=full&c={c}", f"a=circ&x=read&c={c}", f"a=circ&x=av&c={c}&v=0"):
        press(line, OUTSIDER, data)
        assert line.last_text(OUTSIDER) in ("That circular was not found.", "その回覧板は見つかりませんでした。")
    for data in ("a=circ&x=full&c=x", f"a=circ&x=read&c={cid}"):
        press(line, OUTSIDER, data)  # not a reference (an id alone names nothing): nothing, and the menu
        assert fake_line.texts_to(OUTSIDER)[-2] in ("That button is from an earlier message and no longer works.",
                                                    "それは前のメッセージのボタンで、いまは使えません。")
    press(line, OUTSIDER, f"a=circ&x=full&c={cid}.AAAAAAAA")  # a reference, but not this circular's
    assert fake_line.texts_to(OUTSIDER)[-2] in ("This circular is no longer available, so nothing was done.",
                                                "この回覧板はもうありません。何も変更していません。")
    with db.session() as s:
        assert s.scalar(select(CircularRecipient).where(CircularRecipient.read_at.is_not(None))) is None


def test_web_page_read_button_counts_as_read_and_archive_finds_it(app_factory, line, fake_line, bot, db, runner, assoc,
                                                                  clock):
    cid = send(runner)
    with db.session() as s:
        rid = s.scalar(select(Resident.id).where(Resident.line_user_id == MEMBER_EN))
        token = s.scalar(select(CircularRecipient.token).where(CircularRecipient.circular_id == cid,
                                                               CircularRecipient.resident_id == rid))
    client = line.client
    assert client.get("/c/not-a-real-token-at-all-000").status_code == 404
    page = client.get(f"/c/{token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "清掃のお知らせ" in html and "軍手をお持ちください" in html and "Not translated" in html
    assert page.headers["Cache-Control"] == "no-store"
    with db.session() as s:  # opening the page is not reading it (link previewers open it too)
        assert s.scalar(select(CircularRecipient.read_at).where(CircularRecipient.token == token)) is None
    assert "I have read it" in html
    browser = {"User-Agent": "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36"}
    assert client.post(f"/c/{token}", data={"how": "button"}, headers=browser).status_code == 303
    with db.session() as s:
        assert s.scalar(select(CircularRecipient.read_at).where(CircularRecipient.token == token)) is not None
    assert "Thank you. We have noted that you read it." in client.get(f"/c/{token}").get_data(as_text=True)
    line.say(MEMBER_JA, "回覧板")
    assert "清掃のお知らせ" in json.dumps(fake_line.messages_to(MEMBER_JA)[-1], ensure_ascii=False)
    line.say(MEMBER_JA, "回覧板 軍手")
    assert "清掃のお知らせ" in json.dumps(fake_line.messages_to(MEMBER_JA)[-1], ensure_ascii=False)
    line.say(MEMBER_JA, "回覧板 盆踊り")
    assert "盆踊り" in line.last_text(MEMBER_JA)


def test_leader_writes_a_circular_in_line_for_one_han(line, fake_line, bot, db, runner, assoc, clock, tmp_path):
    line.say(MEMBER_EN, "write a circular")
    assert "Only the association's leader" in line.last_text(MEMBER_EN)
    line.say(LEADER, "回覧板を作る")
    line.say(LEADER, "防災訓練")
    line.say(LEADER, "12月14日に防災訓練を行います。")
    line.say(LEADER, "javascript:alert(1)")
    assert "https://" in fake_line.texts_to(LEADER)[-2]
    line.tap(LEADER, "リンクなし")
    line.tap(LEADER, "写真なし")
    line.tap(LEADER, "選択肢を作る")
    line.say(LEADER, "参加、不参加")
    line.tap(LEADER, "期限なし")
    assert fake_line.quick_labels(LEADER)[:3] == ["町内会全体", "1班", "2班"]
    line.tap(LEADER, "2班")
    assert "宛先：2班" in line.last_text(LEADER) and "質問：参加、不参加" in line.last_text(LEADER)
    line.tap(LEADER, "送信")
    assert "LINEの会員2人に送りました。紙で回す世帯：1" in line.last_text(LEADER)
    run_worker(bot)
    assert "防災訓練" in json.dumps(fake_line.messages_to(MEMBER_EN), ensure_ascii=False)
    assert "防災訓練" not in json.dumps(fake_line.messages_to(MEMBER_JA), ensure_ascii=False)  # 班 1
    with db.session() as s:
        cid = s.scalar(select(Circular.id).where(Circular.title == "防災訓練"))
    out = tmp_path / "sheet.html"
    assert runner.invoke(args=["circulars", "print", str(cid), "--out", str(out)]).exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert "防災訓練" in html and "4番 鈴木（紙）" in html and "確認印" in html and "参加 / 不参加" in html
    assert "1番 田中" not in html


def test_paper_households_are_marked_in_line_and_answers_shared_only_when_public(line, fake_line, bot, db, runner, assoc, clock):
    cid = send(runner, "--question", "attendance", "--public-answers")
    run_worker(bot)
    line.say(HAN_LEADER, "回覧板の状況")
    press(line, HAN_LEADER, buttons(card(fake_line, HAN_LEADER))["紙の世帯の既読を記録"])
    assert fake_line.quick_labels(HAN_LEADER)[0] == "4番 鈴木（紙）"
    line.tap(HAN_LEADER, "4番 鈴木（紙）")
    assert "「4番 鈴木（紙）」を既読にしました" in fake_line.texts_to(HAN_LEADER)[-2]
    with db.session() as s:
        assert circulars.tally(s, s.get(Circular, cid)).read == 1
    press(line, OUTSIDER, f"a=circ&x=pmark&c={support.ref_of(db, Circular, cid)}&h={support.ref_of(db, Household, assoc['paper'])}")  # not a leader: nothing
    assert "見つかりません" in line.last_text(OUTSIDER) or "not found" in line.last_text(OUTSIDER)
    press(line, MEMBER_EN, buttons(card(fake_line, MEMBER_EN))["Answer"])
    line.tap(MEMBER_EN, "Attending")
    assert line.last_text(MEMBER_EN) == "Answers so far: Attending 1"  # the tally is kept in Japanese


def test_read_per_member_when_the_association_wants_it(line, fake_line, bot, db, runner, assoc, clock):
    assert runner.invoke(args=["circulars", "read-per", "--association", "ASAHI-2026", "member"]).exit_code == 0
    cid = send(runner)
    run_worker(bot)
    press(line, MEMBER_JA, buttons(card(fake_line, MEMBER_JA))["読みました"])
    with db.session() as s:
        tl = circulars.tally(s, s.get(Circular, cid))
    # 4 members in LINE + 1 paper household; 花子 read, her household's leader did not
    assert (tl.read, tl.households) == (1, 5)
    assert "会長" in tl.unread


def _photo_with_location() -> bytes:
    """A JPEG as a phone makes it: EXIF with GPS coordinates and a rotation."""
    import io

    from PIL import Image

    img = Image.new("RGB", (3000, 2000), (200, 120, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90°
    exif[0x8825] = {1: "N", 2: (35.0, 41.0, 22.0), 3: "E", 4: (139.0, 41.0, 30.0)}  # GPS
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_leader_attaches_a_photo_which_loses_its_location_and_reaches_members(
        app_factory, fake_line, db, runner, assoc, clock, tmp_path):
    import io

    from PIL import Image

    from bot.core.models import Media
    from tests import support

    app = app_factory(public_base_url="https://tsunagari.example.jp")
    bot = app.extensions["tsunagari"]
    line = support.Line(app.test_client(), fake_line)
    line.say(LEADER, "回覧板を作る")
    line.say(LEADER, "夏祭りの地図")
    line.say(LEADER, "会場の地図です。")
    line.tap(LEADER, "リンクなし")
    assert "写真" in line.last_text(LEADER)
    line.send_image(LEADER, b"this is not a picture")
    assert "その写真は使えません" in fake_line.texts_to(LEADER)[-2]
    line.send_image(LEADER, None)  # LINE no longer has it
    assert "その写真は使えません" in fake_line.texts_to(LEADER)[-2]
    line.send_image(LEADER, _photo_with_location())
    line.tap(LEADER, "質問なし")
    line.tap(LEADER, "期限なし")
    line.tap(LEADER, "町内会全体")
    assert "（写真つき）" in line.last_text(LEADER)
    line.tap(LEADER, "送信")
    run_worker(bot)
    with db.session() as s:
        circ = s.scalar(select(Circular).where(Circular.title == "夏祭りの地図"))
        stored = s.get(Media, circ.image_id)
        token, data, preview = stored.token, stored.data, stored.preview
        assert s.scalar(select(sa_func_count()).select_from(Media)) == 1  # the refused ones were never stored
    with Image.open(io.BytesIO(data)) as im:
        assert max(im.size) <= 1600 and im.size[1] > im.size[0]  # upright (was rotated), scaled
        assert not im.getexif()  # no location, no metadata at all
    assert len(preview) < 1024 * 1024
    # Members get the notice with the photo on top (https, as LINE requires) …
    bubble = card(fake_line, MEMBER_EN)
    assert bubble["hero"]["url"] == f"https://tsunagari.example.jp/m/{token}.jpg"
    # … and the photo itself with the full text.
    press(line, MEMBER_JA, buttons(card(fake_line, MEMBER_JA))["全文を読む"])
    images = [m for m in fake_line.messages_to(MEMBER_JA) if m["type"] == "image"]
    assert images[-1]["previewImageUrl"].endswith(f"/m/{token}/preview.jpg")
    # The photo is served to LINE; an unknown one is not.
    got = line.client.get(f"/m/{token}.jpg")
    assert got.status_code == 200 and got.mimetype == "image/jpeg" and got.data == data
    assert line.client.get(f"/m/{token}/preview.jpg").data == preview
    assert line.client.get("/m/nope.jpg").status_code == 404
    # The print sheet carries it inside the file.
    out = tmp_path / "sheet.html"
    assert runner.invoke(args=["circulars", "print", str(circ.id), "--out", str(out)]).exit_code == 0
    assert "data:image/jpeg;base64," in out.read_text(encoding="utf-8")


def test_unused_photos_are_deleted_and_other_photos_are_never_downloaded(line, fake_line, bot, db, runner, assoc, clock):
    from datetime import timedelta

    from bot.core.models import Media
    from scheduler.housekeeping import tidy

    line.send_image(MEMBER_JA, _photo_with_location())  # not in a flow that takes a photo
    assert not [c for c in fake_line.calls if c.path.endswith("/content")]
    line.say(LEADER, "回覧板を作る")
    line.say(LEADER, "件名")
    line.say(LEADER, "本文")
    line.tap(LEADER, "リンクなし")
    line.send_image(LEADER, _photo_with_location())
    line.say(LEADER, "やめる")  # the leader gives up: the photo is used by nothing
    with db.session() as s:
        assert s.scalar(select(sa_func_count()).select_from(Media)) == 1
        assert tidy(s, utcnow() + timedelta(days=2))["photos"] == 1
        assert s.scalar(select(sa_func_count()).select_from(Media)) == 0


def test_cli_sends_a_circular_with_a_photo(fake_line, bot, db, runner, assoc, clock, tmp_path):
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"GIF89a-not-really")
    result = runner.invoke(args=["circulars", "send", "--association", "ASAHI-2026", "--title", "t", "--body", "b",
                                 "--image", str(bad)])
    assert result.exit_code != 0 and "--image" in result.output
    good = tmp_path / "map.jpg"
    good.write_bytes(_photo_with_location())
    cid = send(runner, "--image", str(good))
    with db.session() as s:
        assert s.get(Circular, cid).image_id is not None


def sa_func_count():
    from sqlalchemy import func

    return func.count()


def test_leader_keeps_the_roster_in_line(line, fake_line, bot, db, runner, assoc, clock):
    from bot.core.models import Household

    line.say(MEMBER_JA, "名簿")
    assert "会長だけ" in line.last_text(MEMBER_JA)
    line.say(HAN_LEADER, "名簿")  # a 班長 is not the 会長
    assert "会長だけ" in line.last_text(HAN_LEADER)
    with db.session() as s:  # 花子 starts without a household
        m = s.scalar(select(Membership).join(Resident).where(Resident.line_user_id == MEMBER_JA))
        m.household_id = None
    # Put 花子 in a new household of a new 班.
    line.say(LEADER, "名簿")
    line.tap(LEADER, "会員の世帯を決める")
    assert fake_line.quick_labels(LEADER)[0] == "花子"  # members without a household come first
    line.say(LEADER, "だれか")
    assert "ボタンから会員を選んで" in fake_line.texts_to(LEADER)[-2]
    line.tap(LEADER, "花子")
    assert fake_line.quick_labels(LEADER)[0] == "新しい世帯"
    line.tap(LEADER, "新しい世帯")
    line.say(LEADER, "5番 山本")
    assert "班なし" in fake_line.quick_labels(LEADER) and "2班" in fake_line.quick_labels(LEADER)
    line.say(LEADER, "3班")
    assert "花子さんを世帯「5番 山本」に入れました" in line.last_text(LEADER)
    # A paper household, then a 班長 for the new 班.
    line.say(LEADER, "名簿")
    line.tap(LEADER, "紙の世帯を追加")
    line.say(LEADER, "6番 高橋")
    line.tap(LEADER, "3班")
    assert "紙で回す世帯「6番 高橋」" in line.last_text(LEADER)
    line.say(LEADER, "名簿")
    line.tap(LEADER, "班長を決める")
    line.tap(LEADER, "花子（5番 山本）")
    line.tap(LEADER, "はい、班長にする")
    assert "花子さんを班長にしました" in line.last_text(LEADER)
    with db.session() as s:
        m = s.scalar(select(Membership).join(Resident).where(Resident.line_user_id == MEMBER_JA))
        hh = s.get(Household, m.household_id)
        assert (hh.label, hh.han, hh.paper, m.role) == ("5番 山本", "3班", False, "han_leader")
        paper = s.scalar(select(Household).where(Household.label == "6番 高橋"))
        assert paper.paper and paper.han == "3班"
    # The new 班長 sees only 班 3: 花子's household and the paper one.
    cid = send(runner)
    line.say(MEMBER_JA, "回覧板の状況")
    status = json.dumps(fake_line.messages_to(MEMBER_JA)[-1], ensure_ascii=False)
    assert "6番 高橋" in status and "4番 鈴木" not in status
    # Leaving half-way changes nothing.
    line.say(LEADER, "名簿")
    line.tap(LEADER, "紙の世帯を追加")
    line.say(LEADER, "やめる")
    with db.session() as s:
        assert s.scalar(select(sa_func_count()).select_from(Household).where(Household.paper.is_(True))) == 2
    assert cid


def test_cli_lists_the_roster_and_sets_roles_and_households(bot, db, runner, assoc, clock):
    out = runner.invoke(args=["circulars", "members", "--association", "ASAHI-2026"]).output
    assert "花子" in out and "paper household" in out and "4番 鈴木（紙）" in out
    line_of = next(x for x in out.splitlines() if "Emma" in x)
    member_id = line_of.split()[1]
    assert runner.invoke(args=["circulars", "role", "--association", "ASAHI-2026", "--member", member_id,
                               "leader"]).exit_code == 0
    assert runner.invoke(args=["circulars", "assign", "--association", "ASAHI-2026", "--member", member_id,
                               "--household", str(assoc["h1"])]).exit_code == 0
    bad = runner.invoke(args=["circulars", "assign", "--association", "ASAHI-2026", "--member", member_id,
                              "--household", "99999"])
    assert bad.exit_code != 0
    with db.session() as s:
        m = s.get(Membership, int(member_id))
        assert (m.role, m.household_id) == ("leader", assoc["h1"])


def test_photos_of_announcements_are_kept(runner, bot, db, fake_line, assoc, clock, tmp_path):
    from datetime import timedelta

    from bot.core.models import Announcement, Media
    from scheduler.housekeeping import tidy

    pic = tmp_path / "p.jpg"
    pic.write_bytes(_photo_with_location())
    assert runner.invoke(args=["announce", "--text", "写真つきのお知らせ", "--image", str(pic)]).exit_code == 0
    with db.session() as s:
        tidy(s, utcnow() + timedelta(days=3))
        image_id = s.scalar(select(Announcement.image_id))
        assert image_id is not None and s.get(Media, image_id) is not None


def test_a_paper_mark_made_by_mistake_is_undone(bot, db, runner, assoc, clock):
    cid = send(runner, "--question", "attendance")
    with db.session() as s:
        circ, paper = s.get(Circular, cid), s.get(Household, assoc["paper"])
        circulars.mark_paper(s, circ, paper, answer="出席", now=utcnow())
        assert circulars.tally(s, circ).answers == {"出席": 1}
        undone, out = circulars.unmark_paper(s, circ, paper)
        assert undone is not None and undone.answer == "出席" and undone.read_at is not None
        [entry] = out.audit
        assert (entry.action, entry.detail["answer"]) == ("unmark_paper", "出席")
        tl = circulars.tally(s, circ)
        assert (tl.read, tl.answers) == (0, {}) and "4番 鈴木（紙）" in tl.unread
        row = s.scalar(select(CircularRecipient).where(CircularRecipient.circular_id == cid,
                                                       CircularRecipient.household_id == assoc["paper"]))
        assert (row.read_at, row.answer, row.answered_at, row.marked_by_leader) == (None, None, None, False)
        assert circulars.unmark_paper(s, circ, paper)[0] is None  # nothing to undo
        with pytest.raises(circulars.CircularError):  # a household in LINE has no paper mark
            circulars.unmark_paper(s, circ, s.get(Household, assoc["h2"]))


def test_a_circular_sent_from_the_cli_is_audited_like_one_from_the_console(runner, db, assoc, clock):
    """One service creates and sends circulars (bot.services.circulars.create_and_send)."""
    from bot.core.models import AuditEntry

    cid = send(runner)
    with db.read() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "send_circular", AuditEntry.target == f"circular:{cid}"))
        assert entry is not None and entry.actor == "cli"
        assert entry.detail["members"] == 4 and entry.detail["paper"] == 1 and entry.detail["photo"] is False


def test_the_leader_has_read_her_own_circular_and_sees_who_answered_what(line, fake_line, bot, db, assoc, clock,
                                                                          runner, tmp_path):
    line.say(LEADER, "回覧板を作る")
    line.say(LEADER, "清掃のお知らせ")
    line.say(LEADER, "日曜に清掃をします。")
    line.tap(LEADER, "リンクなし")
    line.tap(LEADER, "写真なし")
    line.tap(LEADER, "選択肢を作る")
    line.say(LEADER, "参加、不参加")
    line.tap(LEADER, "期限なし")
    line.tap(LEADER, "1班")  # 班 1 has no paper household
    line.tap(LEADER, "送信")
    said = line.last_text(LEADER)
    assert "紙で回す世帯はありません" in said and "紙で回す世帯：0" not in said
    assert fake_line.quick_labels(LEADER) == ["回覧板の状況"]  # a next step, not a dead end
    run_worker(bot)
    press(line, MEMBER_JA, buttons(card(fake_line, MEMBER_JA))["回答する"])
    line.tap(MEMBER_JA, "参加")
    with db.session() as s:
        cid = s.scalar(select(Circular.id).where(Circular.title == "清掃のお知らせ"))
    press(line, LEADER, "a=circ&x=status")  # the button under 「送りました」
    body = json.dumps(card(fake_line, LEADER), ensure_ascii=False)
    assert "既読：1 / 1" in body  # the leader's household: she wrote it, she has read it
    assert "・参加: 1 (1番 田中)" in body and "未読：" not in body
    out = tmp_path / "sheet.html"
    assert runner.invoke(args=["circulars", "print", str(cid), "--out", str(out)]).exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert "発行日：" in html and "回覧期限：なし" in html
    assert html.count('class="blank"') == 10 and "紙で回す世帯は名簿に登録されていません" in html


def test_the_notice_carries_the_text_and_a_long_one_is_opened_before_it_can_be_marked_read(line, fake_line, bot, runner,
                                                                                             assoc, clock):
    send(runner)  # a short circular: its whole text in the notice, and 「読みました」 under it
    run_worker(bot)
    short = card(fake_line, MEMBER_JA)
    assert "12月7日(日)9時から公園を清掃します。" in text_of(short) and "読みました" in buttons(short)
    long_body = "防災訓練のお知らせです。" * 40
    out = runner.invoke(args=["circulars", "send", "--association", "ASAHI-2026", "--title", "防災訓練", "--body", long_body])
    assert out.exit_code == 0, out.output
    run_worker(bot)
    notice = card(fake_line, MEMBER_JA)
    assert "防災訓練のお知らせです。" in text_of(notice) and "…" in text_of(notice)
    assert list(buttons(notice))[0] == "全文を読む" and "読みました" not in buttons(notice)
    press(line, MEMBER_JA, buttons(notice)["全文を読む"])
    assert "読みました" in fake_line.quick_labels(MEMBER_JA)  # after the whole text
