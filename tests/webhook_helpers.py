"""Signed provider webhooks for tests: Twilio's signature over PUBLIC_URL, and one message that is
waiting for its receipt."""

from __future__ import annotations

from flask import Flask
from twilio.request_validator import RequestValidator

from alerting.models import Alert, Message

PUBLIC = "http://127.0.0.1:5000"  # the tests' PUBLIC_URL (conftest)


def sign(app: Flask, path: str, params: dict[str, str]) -> str:
    token = app.extensions["alerting.settings"].twilio_auth_token
    return RequestValidator(token).compute_signature(PUBLIC + path, params)


def sending_message(session) -> Message:
    """A water alert's message handed to the provider, its receipt not yet in."""
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
    msg = Message(alert_id=alert.id, phone="+4790000001", body="x", status="sending")
    session.add(msg)
    session.commit()
    return msg
