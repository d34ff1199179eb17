"""Provider throttling (429) and 5xx keep a message waiting until its category's deadline, not
for a number of tries (SMS_MAX_ATTEMPTS=3 made this storm fail 35 of 40 messages); the shared
limiter slows to what the provider accepts and speeds up again when the 429s stop."""

from __future__ import annotations

import time
from collections import Counter

from sqlalchemy import select
from stack import (
    configure,
    stack_fixture,  # noqa: F401  (the `stack` fixture)
    wait_for,
)
from staff_helpers import make_staff, sign_in
from test_sending import add_many, arrival_times, message_states, post_alert, summary

from alerting.models import Message
from alerting.sending.ratelimit import max_in_window

STORM_S = 15.0  # longer than 3 attempts used to last
STORM_MPS = 1


def test_a_429_storm_longer_than_the_attempts_delivers_every_phone_once_and_cheaply(
    app, session, client, api_key, stack
):
    configure(app, sms_rate_per_second=100.0, sweep_interval_s=0.3)
    phones = add_many(session, 40)
    s = stack(workers=2, mps=STORM_MPS)  # the provider takes 1/s; we may send 100/s
    alert_id = post_alert(client, api_key).json["id"]

    def requests_seen() -> int:
        stats = s.sim.stats()
        return stats["accepted"] + stats["rate_limited"]

    # the storm lasts this long from the first send, whatever we do (on a loaded machine the
    # workers took longer than the storm to start, and it was over before they sent anything)
    wait_for(requests_seen, timeout=30, message="sending started")
    time.sleep(STORM_S)
    storm_end = time.time()
    during = s.sim.stats()
    s.sim.configure(mps=0)  # the provider takes everything again
    wait_for(
        lambda: summary(client, api_key, alert_id)["status"] == "completed",
        timeout=40,
        message="completed after the storm",
    )
    assert Counter(m["to"] for m in s.sim.messages()) == Counter(phones)  # each exactly once
    assert message_states(session, alert_id) == Counter({"delivered": 40})
    requests = during["accepted"] + during["rate_limited"]
    print(f"storm: {requests} requests for {during['accepted']} accepted SMS")
    assert during["rate_limited"] > 0
    assert requests <= 3 * during["accepted"]  # the limiter followed the provider's rate
    after = [t for t in arrival_times(s.sim) if t > storm_end]
    assert max_in_window(after) > 3 * STORM_MPS  # and rose again once the 429s stopped


def test_a_message_throttled_past_its_deadline_fails_with_the_code_and_says_why(
    app, session, client, api_key, stack
):
    configure(
        app,
        sms_rate_per_second=50.0,
        send_deadline_bulk_minutes=0.1,  # a water alert gives up 6 s after it started
        sweep_interval_s=0.3,
    )
    phones = add_many(session, 30)
    s = stack(workers=1, mps=1)  # far too slow for 30 phones in 6 s
    alert_id = post_alert(client, api_key).json["id"]
    wait_for(
        lambda: summary(client, api_key, alert_id)["status"] == "completed",
        timeout=40,
        message="completed once the deadline passed",
    )
    got = Counter(m["to"] for m in s.sim.messages())
    assert all(n == 1 for n in got.values()) and set(got) <= set(phones)
    states = message_states(session, alert_id)
    assert states["delivered"] == len(got) and states["failed"] == 30 - len(got) > 0
    codes = set(
        session.scalars(
            select(Message.error_code).where(
                Message.alert_id == alert_id, Message.status == "failed"
            )
        )
    )
    assert codes == {"20429"}
    failures = summary(client, api_key, alert_id)["failures"]
    assert failures == [
        {"error_code": "20429", "count": 30 - len(got), "reason": "gave up after the deadline"}
    ]
    make_staff(app, "viewer@example.org", "viewer")
    sign_in(client, "viewer@example.org")
    page = client.get(f"/alerts/{alert_id}").get_data(as_text=True)
    assert "20429" in page and "gave up after the deadline" in page
