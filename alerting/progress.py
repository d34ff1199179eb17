"""What the alert page shows beside the counts while an alert goes out: how long what is left
takes at the rate limit, and which messages wait for residents' quiet hours to end (planning
holds them as `pending` with a `next_attempt_at`; a retry has tried at least once)."""

from __future__ import annotations

import math
from datetime import UTC
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerting.models import Message, utcnow


def held_by_quiet_hours(session: Session, alert_id: int, zone: ZoneInfo) -> list[dict]:
    """[{"until": "07:00" (local time in `zone`), "count": n}, ...], the earliest first."""
    rows = session.execute(
        select(Message.next_attempt_at, func.count())
        .where(
            Message.alert_id == alert_id,
            Message.status == "pending",
            Message.attempts == 0,
            Message.next_attempt_at > utcnow(),
        )
        .group_by(Message.next_attempt_at)
        .order_by(Message.next_attempt_at)
    ).all()
    held: dict[str, int] = {}
    for at, n in rows:
        local = at.replace(tzinfo=UTC).astimezone(zone).strftime("%H:%M")
        held[local] = held.get(local, 0) + n
    return [{"until": until, "count": n} for until, n in held.items()]


def seconds_left(counts: dict[str, int], held: int, rate_per_second: float) -> int:
    """How long the messages still to be handed over take at the rate limit, rounded up."""
    left = sum(counts.get(s, 0) for s in ("pending", "sending", "unknown")) - held
    return math.ceil(max(left, 0) / max(rate_per_second, 1e-9))
