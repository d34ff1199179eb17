"""Retention: personal data of past alerts does not outlive RETENTION_DAYS (default 90).

Once an alert is older than that (by when it was created) and nothing of it will be sent again,
its phone numbers (messages, the To/From of every provider callback, replies) are replaced by
their HMAC (alerting.suppression) and reply texts are dropped; `alerts.redacted_at` says when.
Statuses, error codes and counts stay, so the alert's report still adds up. The same run drops
the number from keyword replies (STOP, HELP, ...) received before the cut-off, and purges expired
sign-in codes with the IP addresses they were requested from, and the register's change log
older than a day (alerting.register_changes). Consent events are kept: they are
the proof of consent (and hold the HMAC once the resident deleted themselves).

Every sweep calls `schedule_retention`; at most once an hour it queues one job on the bulk queue,
so a long run never delays a send, and a second run finds nothing left to do.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import redis
from flask import Flask
from sqlalchemy import ColumnElement, bindparam, delete, select, update
from sqlalchemy.orm import Session

from alerting.models import Alert, DeliveryEvent, InboundMessage, Message, VerificationCode, utcnow
from alerting.register_changes import prune_changes
from alerting.sending.queues import BULK, job_context, queue
from alerting.suppression import phone_hasher

log = logging.getLogger(__name__)

RUN_EVERY_S = 3600
DUE_KEY = "alerting:retention-due"
# alerts none of whose messages will be sent again (a scheduled or sending alert still needs them)
FINISHED = ("sent", "completed", "cancelled")
CHUNK = 1000
# every process reads the register's change log on its next preview; one idle for longer than
# this reloads its cache whole
CHANGES_KEPT = timedelta(days=1)
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def schedule_retention(conn: redis.Redis) -> bool:
    """Queue the retention job unless it was queued within the last hour (by any process)."""
    if not conn.set(DUE_KEY, "1", nx=True, ex=RUN_EVERY_S):
        return False
    queue(BULK, conn).enqueue(
        "alerting.retention.retention_job",
        job_id=f"retention-{int(time.time())}",
        job_timeout=RUN_EVERY_S,
        result_ttl=0,
        failure_ttl=24 * 3600,
    )
    return True


def retention_job() -> None:
    """RQ entry point."""
    with job_context() as app:
        counts = apply_retention(app)
        if any(counts.values()):
            log.info("retention: %s", counts)


def apply_retention(app: Flask, now: datetime | None = None) -> dict[str, int]:
    """Redact every finished alert older than RETENTION_DAYS, old keyword replies and expired
    codes; returns how many alerts, messages, inbound rows and codes it changed."""
    now = now or utcnow()
    cutoff = now - timedelta(days=app.extensions["alerting.settings"].retention_days)
    counts = {"alerts": 0, "messages": 0, "inbound": 0, "codes": 0, "register_changes": 0}
    with app.app_context():
        session = app.extensions["alerting.sessionmaker"]()
        try:
            due = session.scalars(
                select(Alert.id)
                .where(
                    Alert.redacted_at.is_(None),
                    Alert.created_at < cutoff,
                    Alert.status.in_(FINISHED),
                )
                .order_by(Alert.id)
            ).all()
            for alert_id in due:
                counts["messages"] += _redact_messages(session, alert_id)
                counts["inbound"] += _redact_inbound(session, InboundMessage.alert_id == alert_id)
                session.execute(update(Alert).where(Alert.id == alert_id).values(redacted_at=now))
                session.commit()  # one alert per transaction: no long lock on a large table
                counts["alerts"] += 1
            counts["inbound"] += _redact_inbound(session, InboundMessage.received_at < cutoff)
            counts["codes"] = session.execute(
                delete(VerificationCode).where(VerificationCode.expires_at < now)
            ).rowcount
            session.commit()
            counts["register_changes"] = prune_changes(session, now - CHANGES_KEPT)
            session.commit()
        finally:
            session.close()
    return counts


def _redact_messages(session: Session, alert_id: int) -> int:
    """The alert's messages and their callbacks' payloads: numbers → HMAC (status untouched).
    A chunk per transaction, so a large alert never holds the write lock for long; a row once
    done no longer matches, so an interrupted run simply continues where it stopped."""
    hashed = phone_hasher()
    messages, events = Message.__table__, DeliveryEvent.__table__
    # updated_at is given so the column's onupdate does not pretend the status just changed
    set_phone = (
        update(messages)
        .where(messages.c.id == bindparam("b_id"))
        .values(phone=bindparam("b_phone"), updated_at=bindparam("b_updated"))
    )
    set_payload = (
        update(events)
        .where(events.c.id == bindparam("b_id"))
        .values(payload=bindparam("b_payload"))
    )
    done = last = 0
    while True:
        rows = session.execute(
            select(Message.id, Message.phone, Message.updated_at)
            .where(Message.alert_id == alert_id, Message.id > last, Message.phone.like("+%"))
            .order_by(Message.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return done
        last = rows[-1].id
        by_phone = {phone: hashed(phone) for _id, phone, _updated in rows}
        session.execute(
            set_phone,
            [{"b_id": i, "b_phone": by_phone[p], "b_updated": u} for i, p, u in rows],
        )
        payloads = session.execute(
            select(DeliveryEvent.id, DeliveryEvent.payload).where(
                DeliveryEvent.message_id.in_([row.id for row in rows])
            )
        ).all()
        changed = [
            {"b_id": i, "b_payload": hidden}
            for i, payload in payloads
            if (hidden := _hide_numbers(payload, by_phone, hashed)) != payload
        ]
        if changed:
            session.execute(set_payload, changed)
        session.commit()
        done += len(rows)


def _redact_inbound(session: Session, which: ColumnElement[bool]) -> int:
    """Inbound rows still holding a number: number → HMAC, and a reply's text is dropped."""
    rows = session.execute(
        select(InboundMessage.id, InboundMessage.phone, InboundMessage.kind, InboundMessage.body)
        .where(which, InboundMessage.phone.like("+%"))
        .order_by(InboundMessage.id)
    ).all()
    hashed = phone_hasher()
    values = [
        {"id": i, "phone": hashed(phone), "body": "" if kind == "reply" else body}
        for i, phone, kind, body in rows
    ]
    if values:
        session.execute(update(InboundMessage), values)  # the ORM's UPDATE by primary key
    return len(rows)


def _hide_numbers(
    payload: dict | None, known: dict[str, str], hashed: Callable[[str], str]
) -> dict:
    """A provider callback's fields with every phone number (To, From, ...) as its HMAC; the
    message's own number is usually `known` already."""
    return {
        key: (known.get(value) or hashed(value))
        if isinstance(value, str) and E164.match(value)
        else value
        for key, value in (payload or {}).items()
    }
