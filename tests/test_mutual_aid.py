"""Mutual aid end to end through signed webhooks and the fake LINE API: ask → offer → accept →
relay → done → hours, and what must not happen on the way."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.core.models import HelpOffer, HelpRequest, LedgerEntry, Resident
from scheduler import aid_jobs
from tests import support
from tests.support import run_worker

ASKER = "U" + "a1" * 16
HELPER = "U" + "b2" * 16
OTHER = "U" + "c3" * 16
FAR = "U" + "d4" * 16


def card_buttons(msg: dict) -> dict[str, str]:
    """label -> postback data, for a flex bubble or the first bubble of a carousel."""
    contents = msg["contents"]
    bubble = contents["contents"][0] if contents.get("type") == "carousel" else contents
    return {b["action"]["label"]: b["action"]["data"] for b in bubble.get("footer", {}).get("contents", [])}


def bubbles(msg: dict) -> list[dict]:
    contents = msg["contents"]
    return contents["contents"] if contents.get("type") == "carousel" else [contents]


def bubble_text(bubble: dict) -> str:
    return "\n".join(c.get("text", "") for c in bubble["body"]["contents"])


def last_flex(fake, user) -> dict:
    flex = [m for m in fake.messages_to(user) if m["type"] == "flex"]
    assert flex, f"no card for {user}"
    return flex[-1]


def press(line, user, data):
    resp = line.post([line.postback_event(user, data)])
    assert resp.status_code == 200
    return resp


def ask(line, fake, user=ASKER, text="Rubbish to the collection point", when="anytime", anonymous=False):
    line.say(user, "ask for help")
    line.tap(user, "Taking out rubbish")
    line.say(user, text)
    if when == "anytime":
        line.tap(user, "Any time")
    else:
        action = fake.last_message_to(user)["quickReply"]["items"][0]["action"]
        assert action["type"] == "datetimepicker"
        line.post([line.postback_event(user, action["data"], {"datetime": when})])
    line.tap(user, "Anonymous" if anonymous else fake.quick_labels(user)[0])
    assert "Please check your request" in line.last_text(user)
    line.tap(user, "Post it")
    assert line.last_text(user).startswith("Posted!")


def offer(line, fake, helper, message=None):
    """`helper` browses and offers on the first request shown."""
    line.say(helper, "offer help")
    press(line, helper, card_buttons(last_flex(fake, helper))["I can help"])
    if message:
        line.say(helper, message)
    else:
        line.tap(helper, "Send, no message")


@pytest.fixture
def people(joined):
    joined(ASKER, name="Asako")
    joined(HELPER, name="Hiro")
    joined(OTHER, name="Oto")
    return ASKER, HELPER, OTHER


def test_ask_offer_accept_relay_thanks_and_hours(line, fake_line, bot, db, people, clock):
    ask(line, fake_line, when="2026-12-03T09:30")
    # a neighbour browses and offers, with a short message
    line.say(HELPER, "offer help")
    carousel = last_flex(fake_line, HELPER)
    assert "Asako" in bubble_text(bubbles(carousel)[0]) or "Asako" in bubbles(carousel)[0]["body"]["contents"][0]["text"]
    press(line, HELPER, card_buttons(carousel)["I can help"])
    line.say(HELPER, "I can come at 9:30")
    assert line.last_text(HELPER).startswith("Thank you! Your offer has been sent")
    run_worker(bot)
    offer_msg = last_flex(fake_line, ASKER)
    assert "Hiro offers to help" in bubble_text(bubbles(offer_msg)[0])
    assert "I can come at 9:30" in bubble_text(bubbles(offer_msg)[0])
    press(line, ASKER, card_buttons(offer_msg)["Yes, please"])
    # both get the match, with each other's nickname
    assert "You are matched with Hiro" in bubble_text(bubbles(last_flex(fake_line, ASKER))[0])
    run_worker(bot)
    helper_match = last_flex(fake_line, HELPER)
    assert "You are matched with Asako" in bubble_text(bubbles(helper_match)[0])
    # relay: the helper writes, the asker receives it from the bot
    press(line, HELPER, card_buttons(helper_match)["Message Asako"])
    line.say(HELPER, "See you at 9:30 at the corner, see https://example.org")
    run_worker(bot)
    relayed = last_flex(fake_line, ASKER)
    assert "Message from Hiro" in bubble_text(bubbles(relayed)[0])
    assert "https://example.org" in bubble_text(bubbles(relayed)[0])
    assert all(b["action"]["type"] == "postback" for b in bubbles(relayed)[0]["footer"]["contents"])
    # after the date, both are asked how it went
    clock.shift(timedelta(days=2, hours=3))
    with db.session() as s:
        assert aid_jobs.follow_up(s, bot.config, support_now()) == 1
    with db.session() as s:
        assert aid_jobs.follow_up(s, bot.config, support_now()) == 0  # once
    run_worker(bot)
    followup = last_flex(fake_line, ASKER)
    press(line, ASKER, card_buttons(followup)["Yes: say thanks"])
    line.tap(ASKER, "1.5 hours")
    line.say(ASKER, "Thank you so much!")
    assert "recorded 1.5 hours for Hiro" in line.last_text(ASKER)
    run_worker(bot)
    assert any("Asako says thank you! 1.5 hours added" in t and "Thank you so much!" in t for t in fake_line.texts_to(HELPER))
    line.say(HELPER, "thanks record")
    assert "1.5 hours of help given" in line.last_text(HELPER)
    with db.session() as s:
        assert s.scalar(select(func.sum(LedgerEntry.minutes))) == 0  # the ledger balances
        assert s.scalar(select(HelpRequest.status)) == "done"


def support_now():
    from bot.core.db import utcnow

    return utcnow()


def test_no_line_user_id_or_real_name_reaches_another_resident(line, fake_line, bot, db, people, clock):
    fake_line.profiles[ASKER]["displayName"] = "山田 本名"
    ask(line, fake_line, anonymous=True)
    line.say(HELPER, "offer help")
    card = bubbles(last_flex(fake_line, HELPER))[0]
    shown = bubble_text(card)
    assert "A neighbour" in shown and "Asako" not in shown  # anonymous until accepted
    press(line, HELPER, card_buttons(last_flex(fake_line, HELPER))["I can help"])
    line.tap(HELPER, "Send, no message")
    run_worker(bot)
    press(line, ASKER, card_buttons(last_flex(fake_line, ASKER))["Yes, please"])
    run_worker(bot)
    import json

    for user, other in ((ASKER, HELPER), (HELPER, ASKER)):
        everything = json.dumps(fake_line.messages_to(user), ensure_ascii=False)
        assert other not in everything
        assert "山田" not in everything and "本名" not in everything


def test_other_offerers_are_thanked_and_only_one_match(line, fake_line, bot, db, people, clock):
    ask(line, fake_line)
    for helper in (HELPER, OTHER):
        offer(line, fake_line, helper)
    run_worker(bot)
    offers = [m for m in fake_line.messages_to(ASKER) if m["type"] == "flex"][-2:]
    accept_first = card_buttons(offers[0])["Yes, please"]
    accept_second = card_buttons(offers[1])["Yes, please"]
    press(line, ASKER, accept_first)
    press(line, ASKER, accept_second)
    assert "already matched" in line.last_text(ASKER)
    run_worker(bot)
    assert any("matched with another neighbour" in t for t in fake_line.texts_to(OTHER))
    with db.session() as s:
        assert sorted(s.scalars(select(HelpOffer.status))) == ["accepted", "closed"]


def test_concurrent_accepts_make_exactly_one_match(app_factory, line, fake_line, bot, db, people, clock):
    ask(line, fake_line)
    for helper in (HELPER, OTHER):
        offer(line, fake_line, helper)
    run_worker(bot)
    offers = [m for m in fake_line.messages_to(ASKER) if m["type"] == "flex"][-2:]
    datas = [card_buttons(o)["Yes, please"] for o in offers]
    clients = [support.Line(app_factory().test_client(), fake_line) for _ in datas]
    barrier = threading.Barrier(len(datas))

    def accept(c, data):
        barrier.wait()
        c.post([c.postback_event(ASKER, data)])

    threads = [threading.Thread(target=accept, args=pair) for pair in zip(clients, datas)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    with db.session() as s:
        assert sorted(s.scalars(select(HelpOffer.status))) == ["accepted", "closed"]
        req = s.scalar(select(HelpRequest))
        assert req.status == "matched"
        assert req.matched_offer_id == s.scalar(select(HelpOffer.id).where(HelpOffer.status == "accepted"))


def test_requests_are_shown_to_neighbouring_areas_only(line, fake_line, bot, db, joined, people, clock):
    # Asako lives in Minato-machi; Kawabe-cho is next to it, Sakuradai is not.
    joined(FAR, name="Far")
    with db.session() as s:
        from bot.core.models import Area

        far = s.scalar(select(Resident).where(Resident.line_user_id == FAR))
        far.area_id = s.scalar(select(Area.id).where(Area.code == "sakura"))
        s.scalar(select(Resident).where(Resident.line_user_id == HELPER)).area_id = s.scalar(
            select(Area.id).where(Area.code == "kawabe"))
    ask(line, fake_line)
    line.say(HELPER, "offer help")
    assert last_flex(fake_line, HELPER)["contents"]["type"] == "carousel"
    line.say(FAR, "offer help")
    assert "No open requests near you" in line.last_text(FAR)


def test_browse_pages_ten_at_a_time_soonest_first_and_filters(line, fake_line, bot, db, joined, people, clock):
    from bot.services import mutual_aid
    from bot.core.db import utcnow

    with db.session() as s:
        asker = s.scalar(select(Resident).where(Resident.line_user_id == ASKER))
        other = s.scalar(select(Resident).where(Resident.line_user_id == OTHER))
        for i in range(12):
            who = asker if i < 5 else other
            when = None if i % 3 == 0 else utcnow() + timedelta(days=12 - i)
            if mutual_aid.open_count(s, who) >= 5:
                who.area_id = asker.area_id
                s.add(HelpRequest(requester_id=who.id, category="shopping" if i % 2 else "garden",
                                  description=f"req {i}", when_at=when, area_id=asker.area_id, status="open",
                                  created_at=utcnow(), closes_at=when or utcnow() + timedelta(days=14)))
            else:
                mutual_aid.create_request(s, who, category="shopping" if i % 2 else "garden",
                                          description=f"req {i}", when_at=when, anonymous=False, now=utcnow())
    line.say(HELPER, "offer help")
    first = last_flex(fake_line, HELPER)
    assert len(bubbles(first)) == 10
    labels = [i["action"]["label"] for i in first["quickReply"]["items"]]
    assert labels == ["More requests", "Choose a category"]
    descs = [bubble_text(b).split("\n")[1] for b in bubbles(first)]
    dated = [d for d in descs]
    assert dated[0] == "req 11"  # the soonest date first
    more = first["quickReply"]["items"][0]["action"]["data"]
    press(line, HELPER, more)
    assert len(bubbles(last_flex(fake_line, HELPER))) == 2
    press(line, HELPER, "a=aid&x=page&p=0&c=garden")
    shown = [bubble_text(b) for b in bubbles(last_flex(fake_line, HELPER))]
    assert shown and all("Garden work" in s or "garden" in s.lower() for s in shown)


def test_bad_inputs_change_nothing(line, fake_line, bot, db, people, clock):
    line.say(ASKER, "ask for help")
    line.tap(ASKER, "Shopping")
    line.say(ASKER, "x" * 5000)
    assert "under 200 characters" in fake_line.texts_to(ASKER)[-2]
    line.say(ASKER, "   ")
    line.say(ASKER, "Milk and bread")
    action = fake_line.last_message_to(ASKER)["quickReply"]["items"][0]["action"]
    line.post([line.postback_event(ASKER, action["data"], {"datetime": "2026-11-30T10:00"})])  # the past
    assert "already passed" in fake_line.texts_to(ASKER)[-2]
    line.say(ASKER, "cancel")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(HelpRequest)) == 0


def test_offer_on_a_request_just_cancelled_is_refused(line, fake_line, bot, db, people, clock):
    ask(line, fake_line)
    line.say(HELPER, "offer help")
    offer_button = card_buttons(last_flex(fake_line, HELPER))["I can help"]
    line.say(ASKER, "my requests")
    cancel = card_buttons(last_flex(fake_line, ASKER))["Cancel this request"]
    press(line, ASKER, cancel)
    line.tap(ASKER, "Yes, cancel it")
    assert line.last_text(ASKER) == "Your request has been cancelled."
    press(line, HELPER, offer_button)  # the stale card
    assert line.last_text(HELPER) == "Sorry, this request is no longer open."
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(HelpOffer)) == 0


def test_at_most_five_open_requests(line, fake_line, bot, db, people, clock):
    for i in range(5):
        ask(line, fake_line, text=f"need {i}")
    line.say(ASKER, "ask for help")
    assert "already have 5 open requests" in fake_line.texts_to(ASKER)[-1] or any(
        "already have 5 open requests" in t for t in fake_line.texts_to(ASKER)[-3:])


def test_open_ended_request_closes_after_14_days_and_requester_is_told(line, fake_line, bot, db, people, clock):
    ask(line, fake_line)
    clock.shift(timedelta(days=13))
    with db.session() as s:
        assert aid_jobs.close_due(s, bot.config, support_now()) == 0
    clock.shift(timedelta(days=1, minutes=1))
    with db.session() as s:
        assert aid_jobs.close_due(s, bot.config, support_now()) == 1
    run_worker(bot)
    assert "closed without a helper" in line.last_text(ASKER)


def test_reported_twice_a_request_is_hidden(line, fake_line, bot, db, people, clock):
    ask(line, fake_line)
    for user in (HELPER, OTHER):
        line.say(user, "offer help")
        press(line, user, card_buttons(last_flex(fake_line, user))["Report"])
        assert "staff will look" in line.last_text(user)
    with db.session() as s:
        assert s.scalar(select(HelpRequest.status)) == "hidden"
    line.say(HELPER, "offer help")
    assert "No open requests" in line.last_text(HELPER)


def test_blocked_person_sees_nothing_more(line, fake_line, bot, db, people, clock):
    ask(line, fake_line)
    offer(line, fake_line, HELPER)
    run_worker(bot)
    press(line, ASKER, card_buttons(last_flex(fake_line, ASKER))["Block this person"])
    assert line.last_text(ASKER).startswith("Blocked.")
    ask(line, fake_line, text="another")
    line.say(HELPER, "offer help")
    assert "No open requests" in line.last_text(HELPER)


def test_helper_registry_notices_respect_quiet_hours_and_daily_cap(line, fake_line, bot, db, people, clock, time_machine):
    line.say(HELPER, "helper registry")
    line.tap(HELPER, "Taking out rubbish")
    assert "✓ Taking out rubbish" in fake_line.quick_labels(HELPER)
    line.tap(HELPER, "Done")
    line.tap(HELPER, "Skip")
    line.tap(HELPER, "My area and nearby")
    line.tap(HELPER, "Any day")
    line.tap(HELPER, "Any time")
    assert "Thank you for registering" in line.last_text(HELPER)
    before = len(fake_line.messages_to(HELPER))
    # 22:00 Tokyo: inside the default quiet hours (21:00-8:00)
    time_machine.move_to("2026-12-01 22:00:00+09:00", tick=False)
    ask(line, fake_line, text="first")
    run_worker(bot)
    assert len(fake_line.messages_to(HELPER)) == before  # held until morning
    time_machine.move_to("2026-12-02 08:01:00+09:00", tick=False)
    run_worker(bot)
    notice = last_flex(fake_line, HELPER)
    assert "Someone nearby needs a hand" in bubble_text(bubbles(notice)[0])
    for i in range(4):
        ask(line, fake_line, text=f"more {i}")
    run_worker(bot)
    notices = [m for m in fake_line.messages_to(HELPER) if m["type"] == "flex"
               and "Someone nearby" in bubble_text(bubbles(m)[0])]
    assert len(notices) == 3  # the daily cap
    press(line, HELPER, card_buttons(notice)["Stop these notices"])
    assert "not send you these notices" in line.last_text(HELPER)


def test_staff_can_record_hours_and_close_requests(line, fake_line, bot, db, runner, people, clock):
    ask(line, fake_line)
    offer(line, fake_line, HELPER)
    run_worker(bot)
    press(line, ASKER, card_buttons(last_flex(fake_line, ASKER))["Yes, please"])
    with db.session() as s:
        req_id = s.scalar(select(HelpRequest.id))
    result = runner.invoke(args=["aid", "record-hours", str(req_id), "2"])
    assert result.exit_code == 0, result.output
    assert "2 hours" in result.output
    assert runner.invoke(args=["aid", "record-hours", str(req_id), "2"]).exit_code == 1  # once
    line.say(HELPER, "thanks record")
    assert "2 hours of help given" in line.last_text(HELPER)
    ask(line, fake_line, text="to close")
    with db.session() as s:
        other_id = s.scalar(select(HelpRequest.id).where(HelpRequest.status == "open"))
    assert runner.invoke(args=["aid", "close", str(other_id)]).exit_code == 0
    with db.session() as s:
        assert s.get(HelpRequest, other_id).status == "closed"


def test_deleting_my_data_removes_my_requests_offers_and_messages_but_keeps_the_ledger_balanced(
        line, fake_line, bot, db, people, clock):
    from bot.core.models import Block, HelperProfile, LedgerAccount, RelayMessage, Report

    ask(line, fake_line)
    offer(line, fake_line, HELPER)
    run_worker(bot)
    press(line, ASKER, card_buttons(last_flex(fake_line, ASKER))["Yes, please"])
    press(line, ASKER, card_buttons(last_flex(fake_line, ASKER))["Message Hiro"])
    line.say(ASKER, "Thanks, see you")
    press(line, ASKER, f"a=aid&x=done&r={support.ref_of(db, HelpRequest, 1)}")
    line.tap(ASKER, "1 hour")
    line.tap(ASKER, "Skip")
    line.say(HELPER, "delete my data")
    line.tap(HELPER, "Yes, delete")
    with db.session() as s:
        helper_gone = s.scalar(select(Resident).where(Resident.line_user_id == HELPER)) is None
        assert helper_gone
        assert s.scalar(select(func.count()).select_from(HelpOffer)) == 0
        assert s.scalar(select(func.count()).select_from(RelayMessage)) == 0
        assert s.scalar(select(func.count()).select_from(HelperProfile)) == 0
        assert s.scalar(select(func.count()).select_from(Report)) == 0
        assert s.scalar(select(func.count()).select_from(Block)) == 0
        # the hours stay in the ledger, on an account no longer linked to anyone
        assert s.scalar(select(func.sum(LedgerEntry.minutes))) == 0
        assert all(a.resident_id is None or a.kind == "resident" for a in s.scalars(select(LedgerAccount)))


def register_helper(line, user):
    line.say(user, "helper registry")
    line.tap(user, "Taking out rubbish")
    line.tap(user, "Done")
    line.tap(user, "Skip")
    line.tap(user, "My area and nearby")
    line.tap(user, "Any day")
    line.tap(user, "Any time")


def test_a_held_notice_is_dropped_when_the_request_is_no_longer_open(line, fake_line, bot, db, people, time_machine):
    register_helper(line, HELPER)
    time_machine.move_to("2026-12-01 22:00:00+09:00", tick=False)
    ask(line, fake_line, text="Secret rubbish errand")
    line.say(ASKER, "delete my data")
    line.tap(ASKER, "Yes, delete")
    time_machine.move_to("2026-12-02 08:05:00+09:00", tick=False)
    run_worker(bot)
    import json

    assert "Secret rubbish errand" not in json.dumps(fake_line.messages_to(HELPER), ensure_ascii=False)


def test_when_the_helper_leaves_the_request_opens_again_and_the_asker_is_told(line, fake_line, bot, db, people, clock):
    ask(line, fake_line)
    offer(line, fake_line, HELPER)
    run_worker(bot)
    press(line, ASKER, card_buttons(last_flex(fake_line, ASKER))["Yes, please"])
    line.say(HELPER, "delete my data")
    line.tap(HELPER, "Yes, delete")
    run_worker(bot)
    assert "can no longer do it" in line.last_text(ASKER)
    with db.session() as s:
        req = s.scalar(select(HelpRequest))
        assert req.status == "open" and req.matched_offer_id is None
    line.say(OTHER, "offer help")
    assert "Rubbish to the collection point" in json_dump(fake_line.messages_to(OTHER)[-1])


def json_dump(obj):
    import json

    return json.dumps(obj, ensure_ascii=False)


def test_a_message_to_someone_who_left_line_is_not_claimed_as_sent(line, fake_line, bot, db, people, clock):
    ask(line, fake_line)
    offer(line, fake_line, HELPER)
    run_worker(bot)
    press(line, ASKER, card_buttons(last_flex(fake_line, ASKER))["Yes, please"])
    line.unfollow(HELPER)
    press(line, ASKER, card_buttons(last_flex(fake_line, ASKER))["Message Hiro"])
    line.say(ASKER, "Are you there?")
    assert "cannot receive messages right now" in line.last_text(ASKER)


def test_followups_wait_for_the_morning(line, fake_line, bot, db, people, time_machine):
    time_machine.move_to("2026-12-01 10:00:00+09:00", tick=False)
    ask(line, fake_line, when="2026-12-01T20:00")
    offer(line, fake_line, HELPER)
    run_worker(bot)
    press(line, ASKER, card_buttons(last_flex(fake_line, ASKER))["Yes, please"])
    run_worker(bot)
    time_machine.move_to("2026-12-01 22:30:00+09:00", tick=False)
    with db.session() as s:
        assert aid_jobs.follow_up(s, bot.config, support_now()) == 1
    before = len(fake_line.messages_to(ASKER))
    run_worker(bot)
    assert len(fake_line.messages_to(ASKER)) == before  # 22:30 is in the quiet hours
    time_machine.move_to("2026-12-02 08:00:00+09:00", tick=False)
    run_worker(bot)
    assert "How did it go?" in json_dump(fake_line.messages_to(ASKER)[-1])


def test_thanks_before_the_planned_day_ask_first_and_record_nothing_when_not_yet(line, fake_line, bot, db, people, clock):
    ask(line, fake_line, when="2026-12-03T09:30")  # today is 1 December
    line.say(HELPER, "offer help")
    press(line, HELPER, card_buttons(last_flex(fake_line, HELPER))["I can help"])
    line.tap(HELPER, "Send, no message")
    run_worker(bot)
    press(line, ASKER, card_buttons(last_flex(fake_line, ASKER))["Yes, please"])
    line.say(ASKER, "my requests")
    mine = last_flex(fake_line, ASKER)
    press(line, ASKER, card_buttons(mine)["Done: say thanks"])  # two days early
    assert "planned for Thu, Dec 3, 2026, 9:30 AM, which has not come yet" in line.last_text(ASKER)
    assert fake_line.quick_labels(ASKER)[:2] == ["Yes, it took place", "Not yet"]
    line.tap(ASKER, "Not yet")
    assert line.last_text(ASKER).startswith("All right, nothing is recorded.")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == 0
        assert s.scalar(select(HelpRequest.status)) == "matched"
    press(line, ASKER, card_buttons(mine)["Done: say thanks"])  # it did happen early, after all
    line.tap(ASKER, "Yes, it took place")
    line.tap(ASKER, "1 hour")
    line.tap(ASKER, "Skip")
    assert "recorded 1 hour for Hiro" in line.last_text(ASKER)
