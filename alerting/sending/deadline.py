"""When a message the provider keeps turning away for now (429, 5xx, a refused connection)
stops mattering: its category's deadline after the alert started (SEND_DEADLINE_MINUTES for
life-safety alerts, SEND_DEADLINE_BULK_MINUTES for the rest). Until then it waits and is tried
again however often that takes; a storm of 429s longer than any fixed number of attempts must
not make a warning `failed`. After the deadline it is `failed` with the provider's code, and the
alert says it gave up after the deadline."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerting.config import Settings
from alerting.models import Message
from alerting.sending.provider import TRANSIENT_CODES
from alerting.sending.queues import is_urgent

GAVE_UP = "gave up after the deadline"
API_TRANSIENT = {c for c in TRANSIENT_CODES if c < 30000}  # 300xx are delivery receipts' codes


def send_deadline(settings: Settings, category: str, started_at: datetime) -> datetime:
    """Until when a turned-away message of this alert is tried again (UTC, naive)."""
    if is_urgent(category):
        minutes = settings.send_deadline_minutes
    else:
        minutes = settings.send_deadline_bulk_minutes
    return started_at + timedelta(minutes=minutes)


def retried_until_deadline(code: str | None) -> bool:
    """Whether a message failed with `code` was retried until its deadline: the codes of
    answers that prove the provider did not take it (HTTP 429 and 5xx, Twilio's 20429, 20500,
    20503, a refused connection) and `timeout` (no answer, and the provider did not hold the
    message when asked); every other code fails at once. (30001 is transient at the
    API too, but also a delivery receipt's code, so it is not told apart here.)"""
    if not code:
        return False
    if code in ("connection", "timeout") or (code.isdigit() and int(code) in API_TRANSIENT):
        return True
    return code.isdigit() and len(code) == 3 and (code == "429" or code.startswith("5"))


def failures(session: Session, alert_id: int) -> list[dict]:
    """Why an alert's messages failed: a count per provider code, most frequent first, and
    for the codes retried until the deadline, that it gave up then."""
    rows = session.execute(
        select(Message.error_code, func.count())
        .where(Message.alert_id == alert_id, Message.status == "failed")
        .group_by(Message.error_code)
        .order_by(func.count().desc(), Message.error_code)
    ).all()
    return [
        {
            "error_code": code,
            "count": n,
            "reason": GAVE_UP if retried_until_deadline(code) else None,
        }
        for code, n in rows
    ]
