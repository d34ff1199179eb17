"""The periodic sweep (run by every worker process, one at a time through a Redis lock):

1. plans alerts that are due (scheduled ones whose `send_at` has come, or whose plan job vanished,
   follow-ups too: a plan that died halfway is finished);
2. takes over the claims of send jobs that are gone (`sending` by a job with neither a lease nor
   a place in a queue: a worker killed mid-send, seconds after its last heartbeat) or that got no
   answer within CLAIM_TIMEOUT: they become `unknown`, since the provider may hold them, and are
   reconciled with the provider before any resend (alerting.sending.reconcile);
3. cancels what still waits in a cancelled alert, and re-queues due `pending` and `unknown`
   SMS that no queued job and no running (leased) job covers: a worker killed mid-send, a
   Redis that lost its queues, a retry or a quiet-hours hold that became due; plans the calls
   to mobiles still undelivered after their alert's `call_undelivered_after` minutes, and wakes
   the call dispatcher when a call is due (alerting.sending.voice);
4. asks the provider for the status of messages whose receipt has not come within
   RECEIPT_TIMEOUT (a lost callback), or at once when Redis lost the receipt buffer
   (alerting.sending.receipt_poll);
5. moves alerts on: `sending → sent` when nothing waits, `→ completed` when every message is final
   or `sent` with no report coming (the provider was asked about it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from datetime import timedelta

from flask import Flask
from sqlalchemy import and_, or_, select, update

from alerting.audit import record
from alerting.cap.feeds import schedule_feeds
from alerting.models import FINAL_MESSAGE_STATES, Alert, Message, utcnow
from alerting.retention import schedule_retention
from alerting.sending.planning import (
    enqueue_plan,
    enqueue_ranges,
    parse_send_job_id,
    send_job_data,
)
from alerting.sending.queues import LEASES, QUEUES, URGENT, queue, queue_name, redis_for
from alerting.sending.receipt_poll import poll_lost_receipts, silent
from alerting.sending.receipts import drain_if_stranded
from alerting.sending.states import SENDING_ALERT_STATES, sources
from alerting.sending.status import message_counts
from alerting.sending.voice import has_work, wake
from alerting.sending.voice_plan import call_undelivered, calls_still_to_plan

log = logging.getLogger(__name__)

GRACE_S = 2.0  # planning inserts rows a moment before it enqueues their job
LOCK = "alerting:sweep-lock"


def live_jobs(conn) -> set[str]:
    """Ids of jobs waiting in our queues or running with a fresh lease."""
    now = time.time()
    conn.zremrangebyscore(LEASES, "-inf", now)
    ids = {m.decode() if isinstance(m, bytes) else m for m in conn.zrange(LEASES, 0, -1)}
    for name in QUEUES:
        ids.update(queue(name, conn).get_job_ids())
    return ids


def _covered(ranges: list[tuple[int, int]], message_id: int) -> bool:
    return any(lo <= message_id <= hi for lo, hi in ranges)


def sweep(app: Flask) -> dict[str, int]:
    settings = app.extensions["alerting.settings"]
    conn = redis_for(settings.redis_url)
    now = utcnow()
    stats = {"planned": 0, "timed_out": 0, "requeued": 0, "polled": 0, "completed": 0}
    stats["calls_planned"] = 0
    live = live_jobs(conn)
    ranges: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for job_id in live:
        parsed = parse_send_job_id(job_id)
        if parsed:
            ranges[parsed[0]].append((parsed[1], parsed[2]))

    drain_if_stranded(app)
    with app.app_context():
        session = app.extensions["alerting.sessionmaker"]()
        try:
            # 1. due alerts without a plan job
            due = session.scalars(
                select(Alert).where(
                    Alert.status == "scheduled",
                    or_(Alert.send_at.is_(None), Alert.send_at <= now),
                    Alert.created_at <= now - timedelta(seconds=GRACE_S),
                )
            ).all()
            for alert in due:
                if f"plan-{alert.id}" not in live:
                    enqueue_plan(alert)
                    stats["planned"] += 1

            # 2. claims whose job is gone, or that got no answer
            cutoff = now - timedelta(seconds=settings.claim_timeout_s)
            settled = now - timedelta(seconds=GRACE_S)  # claims made after `live` was read
            stats["timed_out"] = session.execute(
                update(Message)
                .where(
                    Message.status.in_(sources("no_answer")),
                    Message.claimed_at < settled,
                    or_(
                        Message.claimed_at < cutoff,
                        Message.claimed_by.is_(None),
                        Message.claimed_by.not_in(live),
                    ),
                )
                .values(status="unknown", error_code="no answer", updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            session.commit()

            # 3. what waits in a cancelled alert (a retry that came back after the cancel) is
            # cancelled; due messages no job covers are re-queued (`unknown` ones whatever the
            # alert's status: the job reconciles them)
            stopped = select(Alert.id).where(Alert.status.not_in(SENDING_ALERT_STATES))
            session.execute(
                update(Message)
                .where(Message.status.in_(sources("cancel")), Message.alert_id.in_(stopped))
                .values(status="cancelled", updated_at=now)
                .execution_options(synchronize_session=False)
            )
            session.commit()
            rows = session.execute(
                select(Message.id, Message.alert_id, Alert.category)
                .join(Alert, Alert.id == Message.alert_id)
                .where(
                    or_(
                        and_(
                            Message.status == "pending",
                            or_(
                                Message.next_attempt_at.is_(None),
                                Message.next_attempt_at <= now,
                            ),
                            Alert.status.in_(SENDING_ALERT_STATES),
                        ),
                        Message.status == "unknown",
                    ),
                    Message.channel == "sms",  # calls: the dispatcher, woken below
                    Message.updated_at <= now - timedelta(seconds=GRACE_S),
                )
                .order_by(Message.alert_id, Message.id)
            ).all()
            jobs: dict[str, list] = defaultdict(list)
            batch = max(1, settings.send_batch)
            current: tuple[int, str, int, int, int] | None = None  # alert, queue, lo, hi, n
            for mid, alert_id, category in rows:
                if _covered(ranges[alert_id], mid):
                    continue
                stats["requeued"] += 1
                if current and current[0] == alert_id and current[4] < batch:
                    current = (alert_id, current[1], current[2], mid, current[4] + 1)
                    continue
                if current:
                    jobs[current[1]].append(
                        send_job_data(current[0], current[2], current[3], current[1] == URGENT)
                    )
                current = (alert_id, queue_name(category), mid, mid, 1)
            if current:
                jobs[current[1]].append(
                    send_job_data(current[0], current[2], current[3], current[1] == URGENT)
                )
            for name, datas in jobs.items():
                enqueue_ranges(name, datas, conn)
            stats["calls_planned"] = call_undelivered(session)  # alerting.sending.voice_plan
            if has_work(app.extensions["alerting.engine"]):
                wake(conn)

            # 4. receipts that never came (lost callbacks, a Redis that lost its buffer): ask
            stats["polled"] = poll_lost_receipts(app, session, now)

            # 5. alerts that are done
            active = session.scalars(select(Alert).where(Alert.status.in_(("sending", "sent"))))
            for alert in active.all():
                counts = message_counts(session, alert.id)
                waiting = sum(counts.get(s, 0) for s in ("pending", "sending", "unknown"))
                open_ = sum(n for s, n in counts.items() if s not in FINAL_MESSAGE_STATES)
                open_ -= silent(session, alert.id)  # `sent`, asked about: no report is coming
                if open_ == 0 and calls_still_to_plan(session, alert):
                    continue  # undelivered SMS are called once the alert's minutes are up
                if open_ == 0:
                    alert.status, alert.completed_at = "completed", now
                    record(session, "system", "alert.completed", f"alert:{alert.id}", counts=counts)
                    stats["completed"] += 1
                elif waiting == 0 and alert.status == "sending":
                    alert.status = "sent"
                    record(session, "system", "alert.sent", f"alert:{alert.id}")
            session.commit()
        finally:
            session.close()
    schedule_retention(conn)  # at most hourly, as a bulk job (alerting.retention)
    schedule_feeds(conn, settings.cap_feeds, settings.cap_feed_interval_s)  # alerting.cap.feeds
    return stats


def try_sweep(app: Flask) -> dict[str, int] | None:
    """Sweep unless another process swept within the interval."""
    settings = app.extensions["alerting.settings"]
    conn = redis_for(settings.redis_url)
    px = max(100, int(settings.sweep_interval_s * 900))
    if not conn.set(LOCK, "1", nx=True, px=px):
        return None
    return sweep(app)


def start_sweeper(app: Flask, stop: threading.Event) -> threading.Thread:
    """A daemon thread sweeping every SWEEP_INTERVAL seconds until `stop` is set."""

    def run() -> None:
        while not stop.wait(app.extensions["alerting.settings"].sweep_interval_s):
            try:
                stats = try_sweep(app)
                if stats and any(stats.values()):
                    log.info("sweep: %s", stats)
            except Exception:  # a sweep must never kill the worker; the next one retries
                log.exception("sweep failed")

    thread = threading.Thread(target=run, name="alerting-sweep", daemon=True)
    thread.start()
    return thread
