"""A call's status callbacks and key presses: signed against PUBLIC_URL (with the `?try=N` the
call was given), applied once, a late callback of an earlier try changing nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from webhook_helpers import sign

from alerting.models import Alert, DeliveryEvent, Message

SID = "CA" + "b" * 32


@pytest.fixture
def call(session) -> Message:
    """A landline's call of a water alert, its second try with Twilio."""
    alert = Alert(
        category="water",
        severity="minor",
        title="t",
        texts={"default": "x"},
        area_geojson="{}",
        status="sending",
    )
    session.add(alert)
    session.flush()
    msg = Message(
        alert_id=alert.id,
        phone="+4755000001",
        body="x",
        channel="voice",
        status="queued",
        attempts=2,
        provider_sid=SID,
    )
    session.add(msg)
    session.commit()
    return msg


def status(value: str, sid: str = SID) -> dict[str, str]:
    return {
        "CallSid": sid,
        "CallStatus": value,
        "AccountSid": "AC" + "0" * 32,
        "To": "+4755000001",
        "From": "+15005550006",
        "ApiVersion": "2010-04-01",
    }


def post(client, app, path, params, signature=None):
    headers = {"X-Twilio-Signature": sign(app, path, params) if signature is None else signature}
    return client.post(path, data=params, headers=headers)


def row(session, msg):
    session.expire_all()
    return session.get(Message, msg.id)


def events(session) -> int:
    return session.scalar(select(func.count()).select_from(DeliveryEvent))


def test_forged_call_callbacks_and_key_presses_are_403_and_change_nothing(
    app, client, session, call
):
    path = f"/webhooks/twilio/voice/status/{call.id}?try=2"
    completed = status("completed")
    assert client.post(path, data=completed).status_code == 403
    assert post(client, app, path, completed, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    # signed for another status, another try (the query string is signed) or another call
    assert post(client, app, path, completed, sign(app, path, status("busy"))).status_code == 403
    other_try = sign(app, f"/webhooks/twilio/voice/status/{call.id}?try=1", completed)
    assert post(client, app, path, completed, other_try).status_code == 403
    press = f"/webhooks/twilio/voice/gather/{call.id}?try=2"
    pressed = status("in-progress") | {"Digits": "1"}
    forged = sign(app, press, status("in-progress") | {"Digits": "2"})
    assert post(client, app, press, pressed, forged).status_code == 403
    got = row(session, call)
    assert (got.status, got.acknowledged_at, got.attempts) == ("queued", None, 2)
    assert events(session) == 0


def test_signed_call_statuses_move_forward_and_a_late_one_of_an_earlier_try_is_kept_only(
    app, client, session, call
):
    path = f"/webhooks/twilio/voice/status/{call.id}"
    assert post(client, app, path + "?try=1", status("busy", "CA" + "c" * 32)).status_code == 204
    assert row(session, call).status == "queued"  # try 1's busy: an event, nothing else
    for value in ("ringing", "in-progress", "completed", "ringing"):
        assert post(client, app, path + "?try=2", status(value)).status_code == 204
    got = row(session, call)
    assert (got.status, got.error_code) == ("delivered", None)
    assert events(session) == 5
    assert post(client, app, path + "?try=x", status("busy")).status_code == 400
    missing = f"/webhooks/twilio/voice/status/{call.id + 1}?try=1"
    assert post(client, app, missing, status("busy")).status_code == 404
    assert row(session, call).status == "delivered"


def test_a_busy_call_waits_for_its_next_try_and_the_last_busy_one_is_undelivered(
    app, client, session, call
):
    path = f"/webhooks/twilio/voice/status/{call.id}?try=2"
    assert post(client, app, path, status("busy")).status_code == 204
    got = row(session, call)
    assert (got.status, got.error_code, got.provider_sid) == ("pending", "busy", None)
    assert got.next_attempt_at is not None
    got.status, got.attempts, got.provider_sid = "sent", 3, SID  # the third call rings
    session.commit()
    third = f"/webhooks/twilio/voice/status/{call.id}?try=3"
    assert post(client, app, third, status("no-answer")).status_code == 204
    got = row(session, call)
    assert (got.status, got.error_code) == ("undelivered", "no-answer")  # VOICE_MAX_TRIES


def test_pressing_1_acknowledges_once_and_answers_in_the_messages_voice(app, client, session, call):
    path = f"/webhooks/twilio/voice/gather/{call.id}?try=2"
    answer = post(client, app, path, status("in-progress") | {"Digits": "1"})
    assert answer.status_code == 200
    assert answer.mimetype == "application/xml"
    assert '<Say language="nb-NO"' in answer.get_data(as_text=True)
    first = row(session, call).acknowledged_at
    assert first is not None
    post(client, app, path, status("in-progress") | {"Digits": "1"})
    assert row(session, call).acknowledged_at == first
