"""Vonage's webhooks: delivery receipts (DLR) and inbound SMS, signed the way Vonage signs
webhooks (`sig` over every other field with VONAGE_SIGNATURE_SECRET, HMAC-SHA256, checked with
the SDK's own `Auth.check_signature`).

A webhook is refused (403) unless its signature matches, its `timestamp` is within
MAX_SKEW_S of our clock and its signature was not seen before (kept in Redis for twice that):
a captured request replayed later, or at once, changes nothing. Then it takes the paths
Twilio's do: receipts land on the same message rows through the same buffer
(alerting.sending.receipts), and STOP/START on either provider opt the number out/in
everywhere (alerting.webhooks.receive_sms). Vonage sends no reply from our answer, so the
answer to a keyword goes out as a transactional SMS.
"""

from __future__ import annotations

import time

import redis
from flask import Blueprint, Response, abort, current_app, request
from vonage import Auth

from alerting import current
from alerting.limits_http import check_inbound_fields
from alerting.sending import receipts, send_transactional
from alerting.sending.queues import redis_for
from alerting.webhooks import receive_sms

bp = Blueprint("vonage_webhooks", __name__, url_prefix="/webhooks/vonage")

MAX_SKEW_S = 300
SEEN = "alerting:vonage-webhook-seen:"  # + signature
# a delivery receipt's status → the status name the receipt path reads (Twilio's words)
DLR_STATUSES = {
    "accepted": "sent",
    "buffered": "sent",
    "delivered": "delivered",
    "expired": "undelivered",
    "failed": "failed",
    "rejected": "failed",
}


def _fields() -> dict[str, str]:
    """The webhook's fields (query string, form or JSON, as Vonage may send any)."""
    fields = request.args.to_dict() | request.form.to_dict()
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            abort(400, "The body is not a JSON object.")
        fields |= {str(k): str(v) for k, v in body.items()}
    return fields


def _verified() -> dict[str, str]:
    """The fields of a genuine, fresh, first-seen webhook; else 403."""
    settings = current.settings()
    fields = _fields()
    secret = settings.vonage_signature_secret
    if not secret or not fields.get("sig"):
        abort(403)
    auth = Auth(
        api_key=settings.vonage_api_key or "-", signature_secret=secret, signature_method="sha256"
    )
    try:
        stamp = int(fields.get("timestamp", ""))
    except ValueError:
        abort(403)
    if abs(time.time() - stamp) > MAX_SKEW_S or not auth.check_signature(dict(fields)):
        abort(403)
    if fields.get("api-key") and fields["api-key"] != settings.vonage_api_key:
        abort(403)
    try:
        first = redis_for(settings.redis_url).set(
            SEEN + fields["sig"].lower(), "1", nx=True, ex=2 * MAX_SKEW_S
        )
    except redis.RedisError:
        abort(503)  # cannot tell a replay: Vonage tries again later
    if not first:
        abort(403)
    return fields


def _e164(msisdn: str) -> str:
    msisdn = msisdn.strip()
    return "+" + msisdn if msisdn.isdigit() else msisdn


@bp.route("/dlr", methods=["GET", "POST"])
@bp.route("/dlr/<int:message_id>", methods=["GET", "POST"])
def delivery_receipt(message_id: int | None = None):
    """A receipt: for the message in its URL, or (the account's default webhook) for the
    message holding its `messageId`."""
    fields = _verified()
    params = {k: v for k, v in fields.items() if k != "sig"}
    params["MessageSid"] = fields.get("messageId", "")
    params["MessageStatus"] = DLR_STATUSES.get(fields.get("status", "").lower(), "")
    if fields.get("err-code", "0") not in ("", "0"):
        params["ErrorCode"] = f"vonage-{fields['err-code']}"
    reason = receipts.refusal(message_id, params)
    if reason:
        return Response(f"Receipt refused: {reason}\n", status=400, mimetype="text/plain")
    receipts.accept(current_app, message_id, params)
    return "", 204


@bp.route("/inbound", methods=["GET", "POST"])
def inbound():
    fields = _verified()
    phone = _e164(fields.get("msisdn", ""))
    sid = fields.get("messageId") or None
    check_inbound_fields({"From": phone, "MessageSid": sid or ""})
    if not fields.get("msisdn"):
        abort(400, "msisdn is required.")
    reply = receive_sms(phone, fields.get("text", ""), sid, "sms")
    if reply:
        send_transactional(phone, reply)
    return "", 204
