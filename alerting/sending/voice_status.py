"""A call's status as Twilio reports it (status callbacks, or a lookup when one was lost), and
its key press, applied to its message row.

Calls use the message states SMS use: `queued` once Twilio took the call, `sent` while it rings
or is answered, `delivered` when it was answered and ended (completed), `failed` when Twilio
could not place it. A busy or unanswered call is tried again VOICE_RETRY_MINUTES later (back to
`pending`, its call SID cleared so the next call can be stored) until VOICE_MAX_TRIES calls
were made; then it is `undelivered` with `busy` / `no-answer` as its code. A completed call is
never made again. Every callback is kept as an event; one of an earlier try (its `try` in the
callback URL is not the row's attempt) changes nothing else, so a late busy of try 1 cannot
undo the call of try 2. Status only moves forward within a try.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, and_, func, insert, select, update

from alerting.config import Settings
from alerting.models import Alert, DeliveryEvent, Message, utcnow
from alerting.sending.states import SENDING_ALERT_STATES, receipt_sources
from alerting.sending.voice_twiml import Voice, voice_for

M = Message.__table__
# Twilio's call statuses → ours; "retry": busy or unanswered, tried again while tries are left
CALL_STATUS = {
    "queued": "queued",
    "initiated": "queued",
    "ringing": "sent",
    "in-progress": "sent",
    "completed": "delivered",
    "busy": "retry",
    "no-answer": "retry",
    "failed": "failed",
    "canceled": "failed",
}
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
# where a try stands while its call is with Twilio (a retry leaves from any of them)
IN_CALL = ("sending", "unknown", "queued", "accepted", "sent")


@dataclass(frozen=True)
class Applied:
    """What a call status did: whether the row exists, and whether the call it reports ended
    (its concurrency slot is free again)."""

    found: bool
    ended: bool = False


def _event(conn: Connection, message_id: int, sid: str, status: str, params: dict) -> None:
    conn.execute(
        insert(DeliveryEvent.__table__),
        {
            "message_id": message_id,
            "provider_sid": sid,
            "status": status[:20] or "?",
            "error_code": params.get("ErrorCode") or None,
            "payload": dict(params),
            "received_at": utcnow(),
        },
    )


def apply_call_status(
    conn: Connection, settings: Settings, message_id: int, attempt: int, params: dict[str, str]
) -> Applied:
    """Record one call status of try `attempt` of a voice message and move the row on (see the
    module docstring). The caller commits, then frees the call's slot when `ended`."""
    row = conn.execute(
        select(M.c.attempts, Alert.status)
        .join(Alert, Alert.id == M.c.alert_id)
        .where(M.c.id == message_id, M.c.channel == "voice")
    ).first()
    if row is None:
        return Applied(found=False)
    raw = (params.get("CallStatus") or "").lower()
    sid = params.get("CallSid") or ""
    _event(conn, message_id, sid, raw, params)
    ended = raw in FINAL_CALL_STATUSES
    ours = CALL_STATUS.get(raw)
    if attempt != row.attempts or ours is None:
        return Applied(found=True, ended=ended)
    now = utcnow()
    this_try = and_(M.c.id == message_id, M.c.attempts == attempt)
    if ours == "retry":
        again = row.attempts < settings.voice_max_tries and row.status in SENDING_ALERT_STATES
        values = (
            {
                "status": "pending",
                "next_attempt_at": now + timedelta(minutes=settings.voice_retry_minutes),
                "provider_sid": None,
            }
            if again
            else {"status": "undelivered"}
        )
        conn.execute(
            update(M)
            .where(this_try, M.c.status.in_(IN_CALL))
            .values(error_code=raw, updated_at=now, **values)
        )
        return Applied(found=True, ended=ended)
    conn.execute(
        update(M)
        .where(this_try, M.c.status.in_([s for s in receipt_sources(ours) if s != "pending"]))
        .values(
            status=ours,
            error_code=raw if ours == "failed" else None,
            provider_sid=func.coalesce(M.c.provider_sid, sid or None),
            sent_at=func.coalesce(M.c.sent_at, now),
            updated_at=now,
        )
    )
    return Applied(found=True, ended=ended)


def acknowledge(
    conn: Connection, settings: Settings, message_id: int, params: dict[str, str]
) -> Voice | None:
    """A key press on a call of this message: "1" is the recipient confirming they heard it
    (the first press counts; a press is kept as an event either way). Returns the message's
    voice for the answer, None when there is no such voice message."""
    row = conn.execute(
        select(M.c.language).where(M.c.id == message_id, M.c.channel == "voice")
    ).first()
    if row is None:
        return None
    digits = (params.get("Digits") or "").strip()
    _event(conn, message_id, params.get("CallSid") or "", f"pressed {digits}"[:20], params)
    if digits == "1":
        conn.execute(
            update(M)
            .where(M.c.id == message_id, M.c.acknowledged_at.is_(None))
            .values(acknowledged_at=utcnow())
        )
    return voice_for(row.language, settings.default_language)
