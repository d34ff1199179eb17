"""Provider webhooks: status callbacks and inbound SMS, signed by the provider (Twilio's
X-Twilio-Signature over the public URL, rebuilt from PUBLIC_URL, and the form fields).
Inbound keywords (STOP, STOPP, START, HJELP, ...) and their answers are in alerting/keywords.py.
Status callbacks are buffered in Redis and applied in batches by a worker (sending/receipts.py);
a call's status callbacks and key presses are applied at once (sending/voice_status.py)."""

from __future__ import annotations

from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerting import current
from alerting.audit import record
from alerting.db import db
from alerting.keywords import classify, reply_text
from alerting.limits_http import check_call_fields, check_inbound_fields
from alerting.models import InboundMessage, Message, Resident
from alerting.phones import mask
from alerting.sending import receipts
from alerting.sending.provider import signature_valid
from alerting.sending.status import opt_in, opt_out

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


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


def _language(session: Session, phone: str) -> str:
    """The language the register has for this phone (its first resident), else the default."""
    language = session.scalar(
        select(Resident.language).where(Resident.phone == phone).order_by(Resident.id).limit(1)
    )
    return language or current.settings().default_language


def _last_alert(session: Session, phone: str) -> int | None:
    """The alert this number last received: a reply is about it."""
    return session.scalar(
        select(Message.alert_id)
        .where(Message.phone == phone, Message.provider_sid.is_not(None))
        .order_by(Message.id.desc())
        .limit(1)
    )


@bp.post("/twilio/inbound")
def inbound():
    params = _signed_params()
    check_inbound_fields(params)
    phone = params.get("From", "").strip()
    body = params.get("Body", "")
    sid = params.get("MessageSid") or params.get("SmsSid") or None
    if not phone:
        abort(400)
    return _twiml(receive_sms(phone, body, sid, "sms"))


def receive_sms(phone: str, body: str, sid: str | None, source: str) -> str | None:
    """An SMS from a phone through any provider: kept once per provider id, STOP opts the
    number out everywhere, START back in; returns our answer to it (None: none, or a retried
    webhook handled already)."""
    session = db()
    kind = classify(body)
    alert_id = _last_alert(session, phone) if kind == "reply" else None
    session.add(
        InboundMessage(provider_sid=sid, phone=phone, body=body, kind=kind, alert_id=alert_id)
    )
    try:
        # first, before any effect: the unique provider id makes a retried webhook, even one
        # racing the first delivery, stop here (PostgreSQL holds it until the first commits)
        session.flush()
    except IntegrityError:
        session.rollback()
        return None  # a retried webhook: handled already
    if kind == "stop":
        opt_out(session, phone, source)
    elif kind == "start":
        opt_in(session, phone, source)
    elif kind == "reply":
        record(session, f"sms:{mask(phone)}", "alert.reply", f"alert:{alert_id}")
    reply = None
    if kind != "reply":
        reply = reply_text(kind, _language(session, phone), current.settings().default_language)
    session.commit()
    return reply


def _call_try() -> int:
    """The try a voice callback is about (`?try=N` in the URL it was given), else 400."""
    value = request.args.get("try", "")
    if not (value.isdigit() and len(value) <= 6):
        abort(400)
    return int(value)


@bp.post("/twilio/voice/status/<int:message_id>")
def voice_status(message_id: int):
    """A call's status callback (alerting.sending.voice_status), applied at once: calls are few,
    and the end of one frees its slot for the next."""
    from alerting.sending.voice import release
    from alerting.sending.voice_status import apply_call_status

    params = _signed_params()
    check_call_fields(params)
    attempt = _call_try()
    with current_app.extensions["alerting.engine"].begin() as conn:
        applied = apply_call_status(conn, current.settings(), message_id, attempt, params)
    if not applied.found:
        return Response("No such call\n", status=404, mimetype="text/plain")
    if applied.ended:
        release(current_app, message_id, attempt)
    return "", 204


@bp.post("/twilio/voice/gather/<int:message_id>")
def voice_gather(message_id: int):
    """The `<Gather>` action: the key the recipient pressed; 1 confirms they heard it."""
    from alerting.sending.voice_status import acknowledge
    from alerting.sending.voice_twiml import thanks_twiml

    params = _signed_params()
    check_call_fields(params)
    with current_app.extensions["alerting.engine"].begin() as conn:
        voice = acknowledge(conn, current.settings(), message_id, params)
    if voice is None:
        return Response("No such call\n", status=404, mimetype="text/plain")
    confirmed = params.get("Digits", "").strip() == "1"
    return Response(thanks_twiml(voice, confirmed), mimetype="application/xml")
