"""The feature services called directly, with a session and no HTTP: what each step changes and
whom it tells, in whose language (bot.services.aid, bot.services.events)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.core.config import Config
from bot.core.models import Area, Event, Resident
from bot.core.replies import Card, Text
from bot.core.vocab import OfferStatus, RequestStatus
from bot.services import aid, events, mutual_aid

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
CONFIG = Config()


@pytest.fixture
def people(db):
    session = db.Session()
    session.begin()
    area = session.scalar(select(Area).where(Area.code == "minato"))  # the demo city's
    made = {}
    for key, locale, nick in (("asker", "ja", "はなこ"), ("helper", "en", "Hiro"), ("other", "vi", "Lan")):
        r = Resident(line_user_id=f"U{key:0>32}"[:33], locale=locale, nickname=nick, area_id=area.id, consent_at=NOW)
        session.add(r)
        made[key] = r
    session.flush()
    yield session, made
    session.rollback()
    session.close()


def _request(session, asker):
    return mutual_aid.create_request(session, asker, category="dog", description="犬の散歩をお願いしたいです",
                                     when_at=None, anonymous=False, now=NOW)


def test_an_offer_tells_the_asker_in_their_language_and_names_the_helper(people):
    session, p = people
    req = _request(session, p["asker"])
    made, out = aid.offer(session, p["helper"], req.id, "I can come at 9", CONFIG, NOW)
    assert made.status == OfferStatus.PENDING
    [notice] = out.notices
    assert notice.resident is p["asker"] and notice.about is p["helper"]
    [card] = notice.replies
    assert isinstance(card, Card) and "Hiro" in card.body and "I can come at 9" in card.body
    assert card.title == "手伝えるご近所さんがいます！" or "ご近所" in card.title


def test_accepting_one_offer_matches_it_and_tells_every_helper_once(people):
    session, p = people
    req = _request(session, p["asker"])
    first, _ = aid.offer(session, p["helper"], req.id, None, CONFIG, NOW)
    aid.offer(session, p["other"], req.id, None, CONFIG, NOW)
    match, out = aid.accept(session, p["asker"], first.id, CONFIG, NOW)
    assert match.request.status == RequestStatus.MATCHED
    told = {n.resident.nickname: n for n in out.notices}
    assert set(told) == {"Hiro", "Lan"}
    assert isinstance(told["Hiro"].replies[0], Card) and "はなこ" in told["Hiro"].replies[0].body
    assert isinstance(told["Lan"].replies[0], Text) and "Cảm ơn" in told["Lan"].replies[0].text  # Vietnamese
    with pytest.raises(mutual_aid.AidError):
        aid.accept(session, p["asker"], first.id, CONFIG, NOW)  # twice: refused, nobody told again


def test_cancelling_tells_the_helpers_with_the_reason(people):
    session, p = people
    req = _request(session, p["asker"])
    aid.offer(session, p["helper"], req.id, None, CONFIG, NOW)
    out = aid.cancel(session, p["asker"], req.id, NOW, why=aid.DID_NOT_HAPPEN)
    [notice] = out.notices
    assert notice.resident is p["helper"] and "did not work out" in notice.replies[0].text
    assert out.audit == [] and req.status == RequestStatus.CANCELLED


def test_a_new_place_tells_only_who_is_coming_and_drops_the_stale_translated_place(people):
    session, p = people
    ev = Event(title="餅つき", place="公民館", starts_at=NOW + timedelta(days=5), created_at=NOW,
               translations={"en": {"title": "Mochi", "place": "Community hall"}})
    session.add(ev)
    session.flush()
    events.sign_up(session, ev.id, p["helper"], party_size=1, note=None, now=NOW)
    out = events.update_event(session, ev, {"place": "体育館", "title": "餅つき"}, CONFIG, NOW)
    assert out.facts == {"changed": ["place", "translations"], "moved": True, "told": 1, "promoted": 0}
    [notice] = out.notices
    assert notice.resident is p["helper"] and "体育館" in notice.replies[0].text
    assert "Community hall" not in notice.replies[0].text and ev.translations == {"en": {"title": "Mochi"}}
    assert [a.action for a in out.audit] == ["update_event"] and ev.version == 2
    same = events.update_event(session, ev, {"place": "体育館"}, CONFIG, NOW)
    assert same.notices == [] and same.audit == [] and ev.version == 2  # nothing changed: nobody told
