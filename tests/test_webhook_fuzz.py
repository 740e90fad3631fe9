"""Whatever arrives, correctly signed or not, the webhook answers 200 or 4xx, never 5xx."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings, strategies as st

from tests.support import event_id

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)), max_leaves=8)

events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["message", "follow", "unfollow", "postback", "join", "leave", "memberJoined",
                                 "unsend", "beacon", "videoPlayComplete", "things", "whatever"]),
        "mode": st.sampled_from(["active", "standby", "weird"]),
        "timestamp": st.integers(min_value=0, max_value=2**41),
        "webhookEventId": st.builds(event_id),
        "deliveryContext": st.fixed_dictionaries({"isRedelivery": st.booleans()}),
        "source": st.one_of(
            st.fixed_dictionaries({"type": st.just("user"), "userId": st.sampled_from(["U" + "1" * 32, "U" + "2" * 32])}),
            st.fixed_dictionaries({"type": st.just("group"), "groupId": st.just("C" + "3" * 32)}),
            json_values,
        ),
    },
    optional={
        "replyToken": st.text(max_size=40),
        "message": st.one_of(
            st.fixed_dictionaries({"type": st.just("text"), "id": st.just("1"), "text": st.text(max_size=300),
                                   "quoteToken": st.just("q")}),
            json_values,
        ),
        "postback": st.one_of(st.fixed_dictionaries({"data": st.text(max_size=320)}), json_values),
        "follow": st.one_of(st.fixed_dictionaries({"isUnblocked": st.booleans()}), json_values),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=st.lists(events, max_size=4))
def test_signed_random_events_never_cause_a_server_error(line, batch):
    resp = line.post(batch)
    assert resp.status_code in (200, 400), resp.data


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=400),
       signature=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=60))  # what HTTP can carry
def test_random_bytes_and_signatures_are_refused(line, body, signature):
    resp = line.client.post("/callback", data=body, headers={"X-Line-Signature": signature})
    assert resp.status_code == 400


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values)
def test_signed_random_json_is_200_or_400(line, body):
    resp = line.post([], body=json.dumps(body).encode())
    assert resp.status_code in (200, 400)


# Any user ID and any timestamp: only LINE-shaped IDs reach a table, and only events within the
# accepted age (WEBHOOK_MAX_EVENT_AGE_SECONDS) are recorded.
user_ids = st.one_of(st.text(max_size=40),
                     st.text(alphabet="0123456789abcdefABCDEF", min_size=30, max_size=34).map(lambda h: "U" + h),
                     st.just("U" + "a" * 5000), st.sampled_from(["U" + "1" * 32, "U" + "2" * 32]))
ages = st.one_of(st.integers(min_value=-60, max_value=7200), st.integers(min_value=0, max_value=10**9))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=st.lists(st.tuples(user_ids, ages), min_size=1, max_size=4))
def test_user_ids_and_ages_are_checked_at_the_boundary(line, db, batch):
    import re
    import time

    from sqlalchemy import select

    from bot.core.models import InboundEvent, Resident

    with db.session() as s:
        before = set(s.scalars(select(InboundEvent.webhook_event_id)))
    now_ms = int(time.time() * 1000)
    events = []
    for user, age in batch:
        ev = {"type": "follow", "mode": "active", "timestamp": now_ms - age * 1000, "webhookEventId": event_id(),
              "deliveryContext": {"isRedelivery": False}, "source": {"type": "user", "userId": user},
              "replyToken": "x", "follow": {"isUnblocked": False}}
        events.append(ev)
    assert line.post(events).status_code in (200, 400)
    with db.session() as s:
        assert all(re.fullmatch(r"U[0-9a-f]{32}", u) for u in s.scalars(select(Resident.line_user_id)))
        recorded = set(s.scalars(select(InboundEvent.webhook_event_id))) - before
    allowed = {ev["webhookEventId"] for ev, (user, age) in zip(events, batch)
               if age <= 3600 and (user == "" or re.fullmatch(r"U[0-9a-f]{32}", user))}  # "": no user given
    assert recorded <= allowed
