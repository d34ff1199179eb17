"""Provider webhooks: status callbacks and inbound SMS, signed by the provider (Twilio's
X-Twilio-Signature over the public URL, rebuilt from PUBLIC_URL, and the form fields).
Status callbacks are buffered in Redis and applied in batches by a worker (sending/receipts.py)."""

from __future__ import annotations

from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import select

from alerting import current
from alerting.audit import record
from alerting.db import db
from alerting.models import InboundMessage, Message
from alerting.phones import mask
from alerting.sending import receipts
from alerting.sending.provider import signature_valid
from alerting.sending.status import opt_in, opt_out

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
START_WORDS = {"START", "YES", "UNSTOP"}
HELP_WORDS = {"HELP", "INFO"}
HELP_TEXT = (
    "Municipal SMS alerts for your registered places. Reply STOP to stop all alerts, "
    "START to get them again."
)
STOP_TEXT = "You will get no more alerts. Reply START to get them again."
START_TEXT = "You will get alerts again. Reply STOP to stop them."


def _signed_params() -> dict[str, str]:
    """The form fields, or 403 when the signature does not match the public URL."""
    settings = current.settings()
    url = settings.public_url + request.path
    if request.query_string:
        url += "?" + request.query_string.decode()
    params = request.form.to_dict()
    if not signature_valid(settings, url, params, request.headers.get("X-Twilio-Signature", "")):
        abort(403)
    return params


def _twiml(text: str | None) -> Response:
    body = f"<Message>{escape(text)}</Message>" if text else ""
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
        mimetype="application/xml",
    )


def _receipt(message_id: int | None) -> Response | tuple[str, int]:
    """Buffer a signed status callback, or refuse one the database cannot store with 400 and
    the reason: the provider's log shows it, and a 4xx (unlike a 5xx) is not retried."""
    params = _signed_params()
    reason = receipts.refusal(message_id, params)
    if reason:
        return Response(f"Receipt refused: {reason}\n", status=400, mimetype="text/plain")
    receipts.accept(current_app, message_id, params)
    return "", 204


@bp.post("/twilio/status/<int:message_id>")
def status(message_id: int):
    return _receipt(message_id)


@bp.post("/twilio/status")
def status_by_sid():
    return _receipt(None)


def classify(body: str) -> str:
    word = " ".join(body.split()).upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return "reply"


@bp.post("/twilio/inbound")
def inbound():
    params = _signed_params()
    phone = params.get("From", "").strip()
    body = params.get("Body", "")
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not phone:
        abort(400)
    session = db()
    if sid and session.scalar(select(InboundMessage.id).where(InboundMessage.provider_sid == sid)):
        return _twiml(None)  # a retried webhook: handled already
    kind = classify(body)
    alert_id = None
    reply = None
    if kind == "stop":
        opt_out(session, phone, "sms")
        reply = STOP_TEXT
    elif kind == "start":
        opt_in(session, phone, "sms")
        reply = START_TEXT
    elif kind == "help":
        reply = HELP_TEXT
    else:
        alert_id = session.scalar(
            select(Message.alert_id)
            .where(Message.phone == phone, Message.provider_sid.is_not(None))
            .order_by(Message.id.desc())
            .limit(1)
        )
        record(session, f"sms:{mask(phone)}", "alert.reply", f"alert:{alert_id}")
    session.add(
        InboundMessage(
            provider_sid=sid or None, phone=phone, body=body, kind=kind, alert_id=alert_id
        )
    )
    session.commit()
    return _twiml(reply)
