"""Sending under faults: every phone gets at most one SMS when the provider is slower than our
timeout, when workers are SIGKILLed mid-send, when answers come late, when an alert is cancelled
while its messages are being retried."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime

from sqlalchemy import select, update
from stack import (
    configure,
    stack_fixture,  # noqa: F401  (the `stack` fixture)
    wait_for,
)
from test_sending import LATER, add_many, message_states, post_alert, summary

from alerting.models import Alert, Message
from alerting.sending.fanout import claim, store


def created_at(m: dict) -> float:
    return datetime.fromisoformat(m["created_at"].replace("Z", "+00:00")).timestamp()


def test_a_provider_slower_than_the_timeout_gets_each_message_once(
    app, session, client, api_key, stack
):
    configure(app, sms_rate_per_second=200.0, sms_timeout_s=1.0, sweep_interval_s=0.3)
    phones = add_many(session, 100)
    s = stack(workers=1, latency_ms=1500)  # every answer comes after our timeout
    alert_id = post_alert(client, api_key).json["id"]
    wait_for(
        lambda: summary(client, api_key, alert_id)["status"] == "completed",
        timeout=40,
        message="completed",
    )
    assert Counter(m["to"] for m in s.sim.messages()) == Counter(phones)  # one each
    assert message_states(session, alert_id) == Counter({"delivered": 100})
    session.expire_all()
    sids = {m.provider_sid for m in session.scalars(select(Message))}
    assert sids == {m["sid"] for m in s.sim.messages()}  # each row adopted its provider id


def test_a_timed_out_message_the_provider_rewrote_is_found_and_not_sent_again(
    app, session, client, api_key, stack
):
    """A Messaging Service with Smart Encoding (Twilio's default for new services) stores
    "Evakuer - ikke bruk "heisen"" for "Evakuer – ikke bruk «heisen»": the lookup after a
    timeout must still recognise it, or every phone gets the evacuation twice."""
    configure(app, sms_rate_per_second=200.0, sms_timeout_s=1.0, sweep_interval_s=0.3)
    phones = add_many(session, 20)
    service = {"TWILIO_MESSAGING_SERVICE_SID": "MG" + "a" * 32}
    # every answer comes after our timeout, and the receipts (which carry our message id) after
    # the lookup
    s = stack(workers=1, env=service, latency_ms=1500, callback_delay_ms=4000)
    text = "Evakuer – ikke bruk «heisen» … gå ut nå"
    alert_id = post_alert(client, api_key, message={"default": text, "nb": text}).json["id"]
    wait_for(
        lambda: summary(client, api_key, alert_id)["status"] == "completed",
        timeout=40,
        message="completed",
    )
    sent = s.sim.messages()
    assert {m["body"] for m in sent} == {'Evakuer - ikke bruk "heisen" ... gå ut nå'}
    assert Counter(m["to"] for m in sent) == Counter(phones)  # one each
    assert message_states(session, alert_id) == Counter({"delivered": 20})


def sending_ids(session, alert_id: int) -> set[int]:
    session.expire_all()
    return set(
        session.scalars(
            select(Message.id).where(Message.alert_id == alert_id, Message.status == "sending")
        )
    )


def test_workers_killed_mid_send_send_no_phone_twice_and_claims_are_taken_over_fast(
    app, session, client, api_key, stack, capsys
):
    # a CLAIM_TIMEOUT far beyond the test: the dead workers' claims must be taken over through
    # their lapsed leases, not by waiting the claims out
    configure(
        app, sms_rate_per_second=50.0, send_batch=50, sweep_interval_s=1.0, claim_timeout_s=600
    )
    phones = add_many(session, 600)
    s = stack(workers=2)
    s.wait_workers(2)
    started = time.time()
    alert_id = post_alert(client, api_key, category="fire", severity="extreme", expires=LATER).json[
        "id"
    ]
    takeovers = []
    for kills in range(3):
        wait_for(lambda k=kills: len(s.sim.messages()) >= 100 + 120 * k, timeout=60, interval=0.5)
        alive = [w for w in s.workers if w.process.poll() is None]
        alive[kills % len(alive)].kill()
        killed_at = time.time()
        held = sending_ids(session, alert_id)  # the dead job's claims (and the live one's)
        s.start_worker()
        wait_for(
            lambda h=held: not h & sending_ids(session, alert_id),
            timeout=40,
            interval=0.2,
            message="the dead job's claims taken over",
        )
        takeovers.append(time.time() - killed_at)
    wait_for(
        lambda: summary(client, api_key, alert_id)["status"] == "completed",
        timeout=120,
        message="completed after the kills",
    )
    received = Counter(m["to"] for m in s.sim.messages())
    assert set(received) == set(phones)
    twice = sum(1 for n in received.values() if n > 1)
    last = max(created_at(m) for m in s.sim.messages()) - started
    with capsys.disabled():
        print(
            f"\n[3 SIGKILLs, 600 phones at 50/s] two SMS: {twice}, claims taken over after "
            f"{', '.join(f'{t:.1f}' for t in takeovers)} s, last SMS at {last:.1f} s"
        )
    assert twice == 0
    # a lease lapses 5 s after the job's last heartbeat and the sweep runs every second (plus
    # room for a loaded test machine): far below the 600 s CLAIM_TIMEOUT
    assert max(takeovers) < 20
    assert message_states(session, alert_id) == Counter({"delivered": 600})


def claimed_row(app, session, job_id: str) -> tuple[int, list]:
    """One message of a sending alert, claimed by `job_id`."""
    alert = Alert(
        category="water", severity="minor", title="t", texts={"default": "x"}, area_geojson="{}"
    )
    alert.status = "sending"
    session.add(alert)
    session.flush()
    session.add(Message(alert_id=alert.id, phone="+4790000001", body="x", status="pending"))
    session.commit()
    rows = claim(app.extensions["alerting.engine"], alert.id, 0, 10**9, 10, job_id)
    return alert.id, rows


def test_a_late_answer_never_overwrites_a_row_claimed_again(app, session):
    alert_id, first = claimed_row(app, session, "send-a")
    engine = app.extensions["alerting.engine"]
    with engine.begin() as conn:  # the claim timed out and was reconciled: nothing was sent
        conn.execute(update(Message).values(status="pending", next_attempt_at=None))
    second = claim(engine, alert_id, 0, 10**9, 10, "send-b")
    assert [m.id for m in second] == [first[0].id]
    store(app, [("ok", first[0], "SM" + "a" * 32, "queued")])  # job a's answer, late
    session.expire_all()
    row = session.get(Message, first[0].id)
    assert (row.status, row.provider_sid, row.claimed_by) == ("sending", None, "send-b")
    store(app, [("ok", second[0], "SM" + "b" * 32, "queued")])
    session.expire_all()
    row = session.get(Message, first[0].id)
    assert (row.status, row.provider_sid) == ("queued", "SM" + "b" * 32)


def test_a_cancelled_alert_sends_nothing_more_even_its_retries(
    app, session, client, api_key, stack
):
    configure(app, sms_rate_per_second=100.0, send_batch=100, sweep_interval_s=0.3)
    add_many(session, 60)
    s = stack(workers=1, mps=5)  # most sends are turned away (429) and wait for a retry
    alert_id = post_alert(client, api_key).json["id"]
    wait_for(lambda: len(s.sim.messages()) >= 5, timeout=20, message="the first sends")
    wait_for(lambda: message_states(session, alert_id)["pending"] > 0, message="retries waiting")
    response = client.post(
        f"/api/v1/alerts/{alert_id}/cancel", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert response.status_code == 200
    cancelled_at = time.time()
    wait_for(
        lambda: not ({"pending", "sending"} & set(+message_states(session, alert_id))),
        timeout=15,
        message="every message final",
    )
    time.sleep(3.0)  # the retries were due within ~1-2 s: give them the chance to go wrongly
    late = [m for m in s.sim.messages() if created_at(m) > cancelled_at + 0.2]
    assert late == []
    states = message_states(session, alert_id)
    assert states["cancelled"] > 0
    assert states["cancelled"] + states["delivered"] == 60
    assert states["delivered"] == len(s.sim.messages())


def test_one_state_table_and_an_unknown_message_is_only_resent_after_a_lookup():
    from alerting.models import ALERT_STATES, FINAL_MESSAGE_STATES, MESSAGE_STATES
    from alerting.sending.states import ALERT_TRANSITIONS, ALLOWED_TRANSITIONS

    assert set(ALLOWED_TRANSITIONS) == set(MESSAGE_STATES)
    assert set(ALERT_TRANSITIONS) == set(ALERT_STATES)
    assert all(not ALLOWED_TRANSITIONS[s] for s in FINAL_MESSAGE_STATES)
    # a message whose request may have reached the provider goes back to `pending` (and so
    # to a new send) only through reconciliation, never straight to a new claim
    assert "sending" not in ALLOWED_TRANSITIONS["unknown"]
    assert "pending" in ALLOWED_TRANSITIONS["unknown"]
    assert "cancelled" not in ALLOWED_TRANSITIONS["sent"]
