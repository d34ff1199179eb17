"""Retention: after RETENTION_DAYS an alert keeps its counts and report, but its phone numbers
(messages, receipt payloads, replies) become HMACs and reply texts go; expired sign-in codes and
their IP addresses are purged; consent events are kept as the proof of consent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from alerting.models import (
    Alert,
    ConsentEvent,
    DeliveryEvent,
    InboundMessage,
    Message,
    VerificationCode,
    utcnow,
)
from alerting.retention import apply_retention
from alerting.sending.queues import BULK, queue
from alerting.sending.sweep import sweep
from alerting.suppression import phone_hmac

PHONE = "+4790000001"
OTHER = "+4790000002"


def alert_with_traffic(session, age_days: float, phone: str = PHONE) -> Alert:
    """A completed alert `age_days` old: one delivered message, its receipt and a reply."""
    created = utcnow() - timedelta(days=age_days)
    alert = Alert(
        category="water",
        severity="minor",
        title=f"{age_days} days ago",
        texts={"default": "Water off"},
        area_geojson="{}",
        status="completed",
        created_at=created,
        recipients=1,
    )
    session.add(alert)
    session.flush()
    message = Message(
        alert_id=alert.id,
        phone=phone,
        body="Water off",
        status="delivered",
        provider_sid=f"SM{alert.id:032d}",
        updated_at=created,
    )
    session.add(message)
    session.flush()
    session.add(
        DeliveryEvent(
            message_id=message.id,
            provider_sid=message.provider_sid,
            status="delivered",
            payload={"To": phone, "From": "Alerting", "MessageStatus": "delivered"},
        )
    )
    session.add(
        InboundMessage(
            provider_sid=f"SMin{alert.id}",
            phone=phone,
            body="Is the water safe?",
            kind="reply",
            alert_id=alert.id,
            received_at=created,
        )
    )
    session.commit()
    return alert


def test_old_alerts_keep_counts_but_no_phone_numbers(app, session):
    old = alert_with_traffic(session, 91)
    recent = alert_with_traffic(session, 10, phone=OTHER)
    apply_retention(app)
    session.expire_all()
    hashed = phone_hmac(PHONE)
    message = session.scalar(select(Message).where(Message.alert_id == old.id))
    assert (message.phone, message.status, message.provider_sid) == (
        hashed,
        "delivered",
        f"SM{old.id:032d}",
    )
    event = session.scalar(select(DeliveryEvent).where(DeliveryEvent.message_id == message.id))
    assert event.payload == {"To": hashed, "From": "Alerting", "MessageStatus": "delivered"}
    reply = session.scalar(select(InboundMessage).where(InboundMessage.alert_id == old.id))
    assert (reply.phone, reply.body, reply.kind) == (hashed, "", "reply")
    alert = session.get(Alert, old.id)
    assert alert.redacted_at is not None and alert.recipients == 1
    # the recent alert is untouched
    assert session.scalar(select(Message.phone).where(Message.alert_id == recent.id)) == OTHER
    assert session.get(Alert, recent.id).redacted_at is None
    assert session.scalar(
        select(InboundMessage.body).where(InboundMessage.alert_id == recent.id)
    ) == ("Is the water safe?")


def test_retention_days_is_a_setting(app, session):
    alert = alert_with_traffic(session, 10)
    app.extensions["alerting.settings"].retention_days = 7
    apply_retention(app)
    session.expire_all()
    assert session.scalar(select(Message.phone)) == phone_hmac(PHONE)
    assert session.get(Alert, alert.id).redacted_at is not None


def test_alerts_still_sending_are_not_redacted(app, session):
    alert = alert_with_traffic(session, 91)
    alert.status = "sending"
    session.commit()
    apply_retention(app)
    session.expire_all()
    assert session.scalar(select(Message.phone)) == PHONE


def test_old_keyword_replies_lose_the_number_but_consent_events_stay(app, session):
    long_ago = utcnow() - timedelta(days=120)
    session.add(
        InboundMessage(
            provider_sid="SMk", phone=PHONE, body="STOP", kind="stop", received_at=long_ago
        )
    )
    session.add(ConsentEvent(phone=PHONE, action="opt_out", source="sms", at=long_ago))
    session.commit()
    apply_retention(app)
    session.expire_all()
    row = session.scalar(select(InboundMessage))
    assert (row.phone, row.kind) == (phone_hmac(PHONE), "stop")
    assert session.scalar(select(ConsentEvent.phone)) == PHONE  # proof of consent, kept


def test_expired_sign_in_codes_and_their_ips_are_purged(app, session):
    now = utcnow()
    session.add(
        VerificationCode(
            phone=PHONE, code_hash="x", ip="203.0.113.9", expires_at=now - timedelta(minutes=1)
        )
    )
    session.add(
        VerificationCode(
            phone=OTHER, code_hash="y", ip="203.0.113.7", expires_at=now + timedelta(9)
        )
    )
    session.commit()
    apply_retention(app)
    session.expire_all()
    assert session.scalars(select(VerificationCode.ip)).all() == ["203.0.113.7"]


def test_a_second_run_changes_nothing(app, session):
    alert_with_traffic(session, 91)
    first = apply_retention(app)
    assert first["alerts"] == 1 and first["messages"] == 1
    session.expire_all()
    assert apply_retention(app) == {
        "alerts": 0,
        "messages": 0,
        "inbound": 0,
        "codes": 0,
        "register_changes": 0,
    }
    assert session.scalar(select(Message.phone)) == phone_hmac(PHONE)  # not hashed twice


def test_the_sweep_schedules_retention_at_most_hourly(app, session):
    alert_with_traffic(session, 91)
    sweep(app)
    sweep(app)
    with app.app_context():
        jobs = [j for j in queue(BULK).jobs if j.func_name == "alerting.retention.retention_job"]
        assert len(jobs) == 1
        jobs[0].perform()
    session.expire_all()
    assert session.scalar(select(Message.phone)) == phone_hmac(PHONE)


@pytest.mark.parametrize("key", ["test-secret-key", "another-key"])
def test_the_hmac_is_keyed_by_secret_key_and_hides_the_number(app, key):
    settings = app.extensions["alerting.settings"]
    with app.app_context():
        first = phone_hmac(PHONE)
        settings.secret_key = key
        second = phone_hmac(PHONE)
    assert len(first) == 64 and "90000001" not in first
    assert (first == second) == (key == "test-secret-key")


def test_delete_me_after_retention_also_anonymises_the_redacted_rows(app, session):
    from alerting.portal.privacy import delete_phone

    alert_with_traffic(session, 91)
    apply_retention(app)
    delete_phone(session, PHONE)
    session.commit()
    session.expire_all()
    assert session.scalar(select(Message.phone)).startswith("deleted-")
    assert session.scalar(select(InboundMessage.phone)).startswith("deleted-")
    assert session.scalar(select(DeliveryEvent.payload)) == {}
