"""Vonage's side of the simulator: the SMS API (`POST /sms/json`), the Reports API records the
app looks messages up in (`GET /v2/reports/records`), and signed delivery receipts and inbound
SMS (Vonage's signed webhooks: every field sorted, `&key=value` with `&` and `=` in values made
`_`, HMAC-SHA256 with the signature secret, hex, as `sig`, next to `timestamp` and `nonce`).

Messages go into the same state as Twilio's (same phones, opt-outs and outcomes), marked
`provider: vonage`, so a test sees what each phone got from either provider.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .aio import form_or_json, json_answer
from .callbacks import Dispatcher
from .state import ApiError, Message, State, Step

# Twilio's codes the shared state produces → the SMS API's `status` and `error-text`
SMS_STATUSES: dict[int, tuple[str, str]] = {
    20429: ("1", "Throughput Rate Exceeded - please wait [ 1000 ] and retry"),
    21211: ("3", "Invalid Message: invalid to address"),
    21212: ("15", "Illegal Sender Address - rejected"),
    21602: ("2", "Missing text param"),
    21603: ("2", "Missing from param"),
    21604: ("2", "Missing to param"),
    21606: ("15", "Illegal Sender Address - rejected"),
    21610: ("7", "Number barred"),
    21612: ("29", "Non White-listed Destination - rejected"),
    21614: ("3", "Invalid Message: not a mobile number"),
    21617: ("12", "Message too long"),
}
# the delivery-receipt `status` and `err-code` of our plan's steps
DLR_STATUSES = {"sent": "accepted", "delivered": "delivered", "undelivered": "expired"}
DLR_ERRORS = {30003: "2", 30005: "3", 30006: "12", 30008: "99"}


def sign(params: Mapping[str, str], secret: str) -> str:
    """Vonage's signature (HMAC-SHA256 flavour) of webhook fields."""
    digest = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    for key in sorted(params):
        value = str(params[key]).replace("&", "_").replace("=", "_")
        digest.update(f"&{key}={value}".encode())
    return digest.hexdigest()


def new_message_id() -> str:
    """Shaped like Vonage's: 16 upper-case hex digits."""
    return os.urandom(8).hex().upper()


def _e164(number: str) -> str:
    number = number.strip()
    return "+" + number if number.isdigit() else number


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


class VonageApi:
    """Routes /sms/json and /v2/reports/records; builds and signs its webhooks."""

    def __init__(self, state: State, dispatcher: Dispatcher) -> None:
        self.state = state
        self.dispatcher = dispatcher
        dispatcher.vonage = self  # it posts this side's receipts

    def handles(self, path: str) -> bool:
        return path in ("/sms/json", "/v2/reports/records")

    def handle(self, req: web.BaseRequest, body: bytes) -> web.Response:
        fields = form_or_json(req, body) if body else {}
        if req.path == "/sms/json" and req.method == "POST":
            if not self._authorized(req.headers.get("Authorization", ""), fields):
                return self._sms_answer({"status": "4", "error-text": "Bad Credentials"})
            return self._send(fields)
        if req.path == "/v2/reports/records" and req.method == "GET":
            if not self._authorized(req.headers.get("Authorization", ""), dict(req.query)):
                return json_answer({"title": "Unauthorized", "type": "UNAUTHORIZED"}, 401)
            return self._records(req.query)
        return json_answer({"title": "Method not allowed"}, 405)

    def _authorized(self, header: str, fields: Mapping[str, Any]) -> bool:
        """api_key/api_secret in the fields or HTTP Basic, as the SDK sends them."""
        cfg = self.state.config
        key, secret = str(fields.get("api_key", "")), str(fields.get("api_secret", ""))
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                key, _, secret = base64.b64decode(encoded.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
        return hmac.compare_digest(key, cfg.vonage_api_key) and hmac.compare_digest(
            secret, cfg.vonage_api_secret
        )

    @staticmethod
    def _sms_answer(message: dict[str, str]) -> web.Response:
        return json_answer({"message-count": "1", "messages": [message]})

    def _send(self, fields: Mapping[str, Any]) -> web.Response:
        to = str(fields.get("to", ""))
        sender = str(fields.get("from", ""))
        callback = str(fields.get("callback", "")) if fields.get("status-report-req") else ""
        params = {
            "To": _e164(to) if to else "",
            "From": _e164(sender) if sender.isdigit() else sender,
            "Body": str(fields.get("text", "")),
            "StatusCallback": callback,
        }
        result = self.state.create(params, sid=new_message_id(), provider="vonage")
        if isinstance(result, ApiError):
            status, text = SMS_STATUSES.get(result.code, ("3", "Invalid Message"))
            return self._sms_answer({"status": status, "error-text": text})
        self.dispatcher.begin(result)
        answer = {
            "to": to,
            "message-id": result.sid,
            "status": "0",
            "remaining-balance": "100.00000000",
            "message-price": "0.03330000",
            "network": "24201",
        }
        if fields.get("client-ref"):
            answer["client-ref"] = str(fields["client-ref"])
        return self._sms_answer(answer)

    def _records(self, query: Mapping[str, str]) -> web.Response:
        """Reports API records of outbound SMS: filters `to`, `from`, `date_start`, `date_end`
        (ISO 8601), `include_message`; newest first."""
        to = _e164(query.get("to", "")) if query.get("to") else None
        sender = query.get("from")
        start = _iso(query.get("date_start")) or 0.0
        end = _iso(query.get("date_end")) or time.time() + 1
        with self.state.lock:
            source = (
                list(self.state.by_to.get(to, ())) if to else list(self.state.messages.values())
            )
            records = [
                self._record(m, query.get("include_message") == "true")
                for m in reversed(source)
                if m.provider == "vonage"
                and (sender is None or m.from_ == sender)
                and start <= m.created_us / 1e6 <= end
            ]
        return json_answer(
            {"request_status": "SUCCESS", "items_count": len(records), "records": records}
        )

    @staticmethod
    def _record(m: Message, include_message: bool) -> dict[str, Any]:
        record = {
            "account_id": "",
            "message_id": m.sid,
            "direction": "outbound",
            "from": m.from_,
            "to": m.to.lstrip("+"),
            "status": DLR_STATUSES.get(m.status, "submitted" if m.status == "queued" else m.status),
            "date_received": _when(m.created_us / 1e6),
        }
        if include_message:
            record["message_body"] = m.body
        return record

    # -- webhooks ---------------------------------------------------------------------------

    def signed(self, params: dict[str, str]) -> dict[str, str]:
        """`params` with `timestamp`, `nonce` and `sig` added."""
        params = {**params, "timestamp": str(int(time.time())), "nonce": os.urandom(8).hex()}
        params["sig"] = sign(params, self.state.config.vonage_signature_secret)
        return params

    def receipt(self, msg: Message, step: Step) -> dict[str, str]:
        """A delivery receipt for one step of the message's plan."""
        now = time.time()
        error = DLR_ERRORS.get(step.error_code or 0, "1") if step.error_code else "0"
        return self.signed(
            {
                "msisdn": msg.to.lstrip("+"),
                "to": msg.from_,
                "network-code": "24201",
                "messageId": msg.sid,
                "price": "0.03330000",
                "status": DLR_STATUSES.get(step.status, step.status),
                "scts": datetime.fromtimestamp(now, UTC).strftime("%y%m%d%H%M"),
                "err-code": error,
                "api-key": self.state.config.vonage_api_key,
                "message-timestamp": _when(now),
            }
        )

    def inbound(self, phone: str, to: str, body: str) -> dict[str, str]:
        """An inbound SMS webhook from `phone` to our number or name `to`."""
        words = body.split()
        return self.signed(
            {
                "msisdn": phone.lstrip("+"),
                "to": to,
                "messageId": new_message_id(),
                "text": body,
                "type": "unicode" if not body.isascii() else "text",
                "keyword": words[0].upper() if words else "",
                "api-key": self.state.config.vonage_api_key,
                "message-timestamp": _when(time.time()),
            }
        )


def _iso(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
