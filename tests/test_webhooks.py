"""Status callbacks: signed against PUBLIC_URL, forward only, every callback kept, found by our id
even when the receipt beats the stored SID."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from webhook_helpers import sending_message, sign

from alerting.models import DeliveryEvent, Message
from alerting.sending.receipts import drain


def post(client, app, path, params, signature=None):
    """POST a (signed) webhook, then apply the buffered receipts as a worker would."""
    headers = {"X-Twilio-Signature": sign(app, path, params) if signature is None else signature}
    response = client.post(path, data=params, headers=headers)
    drain(app)
    return response


@pytest.fixture
def message(session):
    return sending_message(session)


def receipt(status, sid="SM" + "a" * 32, **extra):
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "To": "+4790000001",
        "From": "Alerting",
        **extra,
    }


def state(session, message):
    session.expire_all()
    return session.get(Message, message.id)


def events(session):
    return session.scalar(select(func.count()).select_from(DeliveryEvent))


def test_unsigned_and_forged_callbacks_are_403_and_change_nothing(app, client, session, message):
    path = f"/webhooks/twilio/status/{message.id}"
    params = receipt("delivered")
    assert client.post(path, data=params).status_code == 403
    assert post(client, app, path, params, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    # signed for other parameters (a forged status) or another URL
    good = sign(app, path, receipt("sent"))
    assert post(client, app, path, params, signature=good).status_code == 403
    other = sign(app, f"/webhooks/twilio/status/{message.id + 1}", params)
    assert post(client, app, path, params, signature=other).status_code == 403
    assert state(session, message).status == "sending"
    assert events(session) == 0


def test_receipt_before_the_sid_is_stored_finds_its_row(app, client, session, message):
    path = f"/webhooks/twilio/status/{message.id}"
    assert post(client, app, path, receipt("sent")).status_code == 204
    row = state(session, message)
    assert row.status == "sent" and row.provider_sid == "SM" + "a" * 32


def test_out_of_order_duplicated_and_replayed_receipts(app, client, session, message):
    path = f"/webhooks/twilio/status/{message.id}"
    delivered = receipt("delivered")
    for params in (delivered, receipt("sent"), delivered, receipt("queued"), delivered):
        assert post(client, app, path, params).status_code == 204
        assert state(session, message).status == "delivered"
    assert events(session) == 5  # every callback is kept
    # a final status never changes, even to another final one
    post(client, app, path, receipt("undelivered", ErrorCode="30005"))
    row = state(session, message)
    assert row.status == "delivered" and row.error_code is None


def test_failed_receipt_keeps_the_error_code(app, client, session, message):
    path = f"/webhooks/twilio/status/{message.id}"
    post(client, app, path, receipt("undelivered", ErrorCode="30003"))
    row = state(session, message)
    assert (row.status, row.error_code) == ("undelivered", "30003")


def test_receipt_by_sid_without_our_id(app, client, session, message):
    message = state(session, message)
    message.provider_sid, message.status = "SM" + "b" * 32, "queued"
    session.commit()
    params = receipt("delivered", sid="SM" + "b" * 32)
    assert post(client, app, "/webhooks/twilio/status", params).status_code == 204
    assert state(session, message).status == "delivered"


def test_receipt_for_an_unknown_message_is_accepted_and_ignored(app, client, session):
    assert post(client, app, "/webhooks/twilio/status/999999", receipt("sent")).status_code == 204
    assert events(session) == 0


def test_signature_uses_public_url_not_the_request_host(app, client, session, message):
    path = f"/webhooks/twilio/status/{message.id}"
    params = receipt("sent")
    token = app.extensions["alerting.settings"].twilio_auth_token
    as_seen = RequestValidator(token).compute_signature("http://localhost" + path, params)
    assert post(client, app, path, params, signature=as_seen).status_code == 403


def test_receipts_are_buffered_until_a_worker_applies_them(app, client, session, message):
    path = f"/webhooks/twilio/status/{message.id}"
    params = receipt("delivered")
    response = client.post(
        path, data=params, headers={"X-Twilio-Signature": sign(app, path, params)}
    )
    assert response.status_code == 204
    assert state(session, message).status == "sending"  # not yet: buffered in Redis
    assert drain(app) == 1
    assert state(session, message).status == "delivered"


def test_without_redis_the_webhook_applies_the_receipt_itself(app, client, session, message):
    app.extensions["alerting.settings"].redis_url = "unix:///nonexistent/redis.sock"
    path = f"/webhooks/twilio/status/{message.id}"
    params = receipt("sent")
    response = client.post(
        path, data=params, headers={"X-Twilio-Signature": sign(app, path, params)}
    )
    assert response.status_code == 204
    assert state(session, message).status == "sent"


LONG_SID = "SM" + "c" * 98  # 100 characters: no provider id is that long


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"MessageSid": LONG_SID, "SmsSid": LONG_SID}, "MessageSid"),
        ({"ErrorCode": "3" * 25}, "ErrorCode"),
        ({"To": "+4790000001\x00"}, "NUL"),
        ({"MessageStatus": "delivered-to-the-handset-at-last"}, "MessageStatus"),
    ],
)
def test_unstorable_receipts_are_refused_with_a_reason_and_block_nothing(
    app, client, session, message, fields, reason
):
    path = f"/webhooks/twilio/status/{message.id}"  # ids beyond the range: test_bad_input
    bad = post(client, app, path, receipt("undelivered", **fields))
    assert bad.status_code == 400  # a 4xx: the provider logs it and does not retry it
    assert reason in bad.get_data(as_text=True)
    # the next receipt is buffered and applied as ever
    assert post(client, app, path, receipt("delivered")).status_code == 204
    assert state(session, message).status == "delivered"


def test_receipt_by_sid_without_any_sid_is_refused(app, client, session, message):
    params = {"MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
    response = post(client, app, "/webhooks/twilio/status", params)
    assert response.status_code == 400
    assert "MessageSid" in response.get_data(as_text=True)


def buffer(client, app, path, params):
    """POST a signed webhook and leave it in the buffer (a drain applies many at once)."""
    headers = {"X-Twilio-Signature": sign(app, path, params)}
    assert client.post(path, data=params, headers=headers).status_code == 204


def test_one_batch_moves_each_message_to_its_furthest_status_and_keeps_every_event(
    app, client, session
):
    rows = [sending_message(session) for _ in range(4)]
    late, forward, two_finals, done = rows
    done.status = "delivered"
    session.commit()
    sid = {row.id: f"SM{row.id:032d}" for row in rows}
    arrivals = [
        (late, "delivered", {}),
        (forward, "sent", {}),
        (two_finals, "undelivered", {"ErrorCode": "30005"}),
        (late, "sent", {}),  # late: must not move `delivered` back
        (forward, "delivered", {}),
        (two_finals, "delivered", {}),  # a final never changes, even within one batch
        (done, "sent", {}),
    ]
    for row, status, extra in arrivals:
        buffer(
            client, app, f"/webhooks/twilio/status/{row.id}", receipt(status, sid[row.id], **extra)
        )
    # by SID only, after a receipt of this batch stored that SID
    buffer(client, app, "/webhooks/twilio/status", receipt("delivered", sid[forward.id]))
    assert drain(app) == len(arrivals) + 1
    got = {row.id: (state(session, row).status, state(session, row).error_code) for row in rows}
    assert got == {
        late.id: ("delivered", None),
        forward.id: ("delivered", None),
        two_finals.id: ("undelivered", "30005"),
        done.id: ("delivered", None),
    }
    assert state(session, late).provider_sid == sid[late.id]
    assert events(session) == len(arrivals) + 1  # every callback kept, each once
    assert drain(app) == 0  # and the batch is gone: nothing is applied twice


def test_a_late_sent_in_a_later_batch_does_not_move_delivered_back(app, client, session, message):
    path = f"/webhooks/twilio/status/{message.id}"
    buffer(client, app, path, receipt("delivered"))
    assert drain(app) == 1
    buffer(client, app, path, receipt("sent"))
    assert drain(app) == 1
    assert state(session, message).status == "delivered"
    assert events(session) == 2


def test_only_a_post_to_the_status_path_is_a_receipt(app, client, message):
    path = f"/webhooks/twilio/status/{message.id}"
    params = receipt("delivered")
    signed = {"X-Twilio-Signature": sign(app, path, params)}
    assert client.get(path, headers=signed).status_code == 404
    for other in (path + "/", path + "x", "/webhooks/twilio/status/", "/webhooks/twilio/statusx"):
        assert client.post(other, data=params, headers=signed).status_code == 404
    assert drain(app) == 0
