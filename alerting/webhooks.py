"""Provider webhooks: status callbacks and inbound SMS, signed by the provider (Twilio's
X-Twilio-Signature over the public URL, rebuilt from PUBLIC_URL, and the form fields).
Inbound keywords (STOP, STOPP, START, HJELP, ...) and their answers are in alerting/keywords.py.
SMS status callbacks are answered in front of Flask (`StatusCallbacks`), buffered in Redis and
applied in batches by a worker (sending/receipts.py); a call's status callbacks and key presses
are applied at once (sending/voice_status.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from flask import Blueprint, Flask, Response, abort, current_app, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerting import current
from alerting.audit import record
from alerting.db import db
from alerting.ids import is_id
from alerting.keywords import classify, reply_text
from alerting.limits_http import MAX_REQUEST_BYTES, check_call_fields, check_inbound_fields
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


STATUS_PATH = "/webhooks/twilio/status"  # + "/<our message id>", or alone (found by its SID)
FORM = "application/x-www-form-urlencoded"


class StatusCallbacks:
    """Twilio's SMS status callbacks, answered in front of Flask: they are most of the app's
    requests during a send (two per message), and the least possible work is the signature
    check, the `refusal` check and one append to the Redis buffer (receipts.accept). No Flask
    request context, session, login, CSRF or security headers (no browser reads a 204). Every
    other request goes on to Flask; so does a path with an id the database cannot hold (404)."""

    def __init__(self, wsgi_app: Callable, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "POST" or not path.startswith(STATUS_PATH):
            return self.wsgi_app(environ, start_response)
        tail = path[len(STATUS_PATH) :]
        digits = tail[1:]
        if tail and not (tail[0] == "/" and _id_text(digits)):
            return self.wsgi_app(environ, start_response)
        message_id = int(digits) if tail else None
        status, text = self.answer(environ, path, message_id)
        headers = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(text))),
        ]
        start_response(status, headers if text else [])
        return [text]

    def answer(self, environ: dict, path: str, message_id: int | None) -> tuple[str, bytes]:
        body = _body(environ)
        if body is None:
            return "413 Request Entity Too Large", b"Request body too large\n"
        params: dict[str, str] = {}
        if environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() == FORM:
            for key, value in parse_qsl(body.decode(errors="replace"), keep_blank_values=True):
                params.setdefault(key, value)  # the first of a repeated field, as Flask's form
        settings = self.app.extensions["alerting.settings"]
        url = settings.public_url + path
        query = environ.get("QUERY_STRING", "")
        if query:
            url += "?" + query.encode("latin-1").decode(errors="replace")
        if not signature_valid(settings, url, params, environ.get("HTTP_X_TWILIO_SIGNATURE", "")):
            return "403 Forbidden", b"Forbidden\n"
        reason = receipts.refusal(message_id, params)
        if reason:
            # a 4xx (unlike a 5xx) is not retried; the provider's log shows why
            return "400 Bad Request", f"Receipt refused: {reason}\n".encode()
        receipts.accept(self.app, message_id, params)
        return "204 No Content", b""


def _id_text(text: str) -> bool:
    """Whether `text` is a row id in digits (the `<int:...>` of Flask's routes)."""
    return text.isascii() and text.isdigit() and len(text) <= 10 and is_id(int(text))


def _body(environ: dict) -> bytes | None:
    """The request body, or None when it is over MAX_REQUEST_BYTES; without a length only a
    body the server marked as complete (chunked) is read, as Werkzeug does."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH", "")
    if length.isascii() and length.isdigit():
        if len(length) > 12 or int(length) > MAX_REQUEST_BYTES:
            return None
        return stream.read(int(length))
    if not environ.get("wsgi.input_terminated"):
        return b""
    body = stream.read(MAX_REQUEST_BYTES + 1)
    return None if len(body) > MAX_REQUEST_BYTES else body


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
