"""Asking the provider for receipts that never came (sweep step 4).

A message waiting for its receipt (`queued`, `accepted`, `sent`) is asked about once
RECEIPT_TIMEOUT has passed since its last news, and again after each further RECEIPT_TIMEOUT, at
most MAX_RECEIPT_POLLS times; after the last try, one the provider still does not report on is
recorded as `sent` without a report (a carrier without delivery reports), and nobody asks again.
A `sent` message the provider was asked about counts as done for its alert, so an alert whose
messages all stay `sent` completes after RECEIPT_TIMEOUT.

When Redis lost its data (a restart without persistence) the receipts buffered in it are gone:
a marker key that only Redis keeps tells, and then every message waiting for a receipt since
before the loss is asked about at once, in id order across sweeps, not after RECEIPT_TIMEOUT.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import func, select, update

from alerting.models import Message
from alerting.sending.provider import STATUS_MAP, fetch_statuses
from alerting.sending.queues import redis_for
from alerting.sending.states import RANK
from alerting.sending.status import apply_receipts

MAX_RECEIPT_POLLS = 3
MARKER = "alerting:receipts-marker"  # lost with Redis's data: the buffer may be lost too
LOST = "alerting:receipts-lost"  # "<lost before>|<last id asked about>" while catching up
WAITING = ("queued", "accepted", "sent")


def _lost_cursor(conn, now: datetime) -> tuple[datetime, int] | None:
    """(lost before, last id asked about) while a lost buffer is being made up for, else None."""
    if conn.set(MARKER, now.isoformat(), nx=True):
        conn.set(LOST, f"{now.isoformat()}|0")
    raw = conn.get(LOST)
    if raw is None:
        return None
    at, last = raw.decode().split("|")
    return datetime.fromisoformat(at), int(last)


def _due(session, where, limit: int) -> list[tuple[int, str, str, int]]:
    return session.execute(
        select(Message.id, Message.provider_sid, Message.status, Message.receipt_polls)
        .where(
            Message.status.in_(WAITING),
            Message.channel == "sms",  # lost call callbacks: alerting.sending.voice
            Message.provider_sid.is_not(None),
            Message.receipt_polls < MAX_RECEIPT_POLLS,
            *where,
        )
        .order_by(Message.id)
        .limit(limit)
    ).all()


def poll_lost_receipts(app: Flask, session, now: datetime, limit: int = 500) -> int:
    """Ask the provider about the messages whose receipt is overdue or was lost; how many."""
    settings = app.extensions["alerting.settings"]
    conn = redis_for(settings.redis_url)
    rows = []
    lost = _lost_cursor(conn, now)
    if lost:
        before, last = lost
        rows = _due(session, (Message.updated_at < before, Message.id > last), limit)
        if len(rows) < limit:
            conn.delete(LOST)
        else:
            conn.set(LOST, f"{before.isoformat()}|{rows[-1][0]}")
    asked = {r[0] for r in rows}
    cutoff = now - timedelta(seconds=settings.receipt_timeout_s)
    rows += [r for r in _due(session, (Message.updated_at < cutoff,), limit) if r[0] not in asked]
    if rows:
        _ask(app, rows, now)
    return len(rows)


def _ask(app: Flask, rows: list[tuple[int, str, str, int]], now: datetime) -> None:
    settings = app.extensions["alerting.settings"]
    found = asyncio.run(fetch_statuses(settings, [sid for _id, sid, _s, _n in rows]))
    with app.extensions["alerting.engine"].begin() as conn:
        # a try counts whatever the answer, and the next one waits RECEIPT_TIMEOUT again
        conn.execute(
            update(Message)
            .where(Message.id.in_([r[0] for r in rows]))
            .values(receipt_polls=Message.receipt_polls + 1, updated_at=now)
        )
        answers = []
        for message_id, sid, _status, polls in rows:
            status, code = found.get(sid, ("", ""))
            final = RANK.get(STATUS_MAP.get(status, ""), 0) == RANK["delivered"]
            if polls + 1 >= MAX_RECEIPT_POLLS and not final:
                status, code = "sent", ""  # no report will come: recorded as sent without one
            if status:
                params = {"MessageSid": sid, "MessageStatus": status, "Source": "poll"}
                if code:
                    params["ErrorCode"] = code
                answers.append((message_id, params))
        apply_receipts(conn, answers)


def silent(session, alert_id: int) -> int:
    """The alert's `sent` messages the provider was asked about: no report is coming for them."""
    return session.scalar(
        select(func.count()).where(
            Message.alert_id == alert_id, Message.status == "sent", Message.receipt_polls > 0
        )
    )
