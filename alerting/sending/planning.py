"""Planning: turn an alert into message rows (one per distinct phone), then enqueue send jobs.

Recipients come only from `Register.target(area)` (the preview's function). Rows are inserted in
chunks with INSERT ... ON CONFLICT DO NOTHING on (alert_id, phone), so planning can run again after
a crash without doubling anything, and each chunk's send job is enqueued as soon as the chunk is
committed: the first SMS leaves while the rest is still being planned.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from time import time as unix_time
from zoneinfo import ZoneInfo

from flask import current_app
from rq import Queue, get_current_job
from sqlalchemy import Engine, Select, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from alerting import current
from alerting.areas import parse_area
from alerting.audit import record
from alerting.db import db
from alerting.models import LIFE_SAFETY, Alert, Message, OptOut, Resident, utcnow
from alerting.sending.queues import (
    BULK,
    LEASES,
    URGENT,
    job_context,
    queue,
    queue_name,
    redis_for,
)
from alerting.sending.states import sources
from alerting.sending.status import message_counts

FIRST_CHUNK = 200  # small, so the first send job is queued within milliseconds
LOAD_CHUNK = 5000  # resident ids per IN (...) query
SEND_JOB_TIMEOUT = 3600


@dataclass
class Person:
    """What planning needs of a resident."""

    id: int
    language: str
    declined: frozenset[str]
    paused: bool
    quiet_start: time | None
    quiet_end: time | None


def wants(person: Person, category: str) -> bool:
    """Declined categories and pause never apply to life-safety alerts."""
    if category in LIFE_SAFETY:
        return True
    return not person.paused and category not in person.declined


def quiet_until(person: Person, now_local: datetime) -> datetime | None:
    """The local end of the quiet period `now_local` is in, else None."""
    start, end = person.quiet_start, person.quiet_end
    if start is None or end is None or start == end:
        return None
    t = now_local.time().replace(tzinfo=None)
    today = now_local.date()
    if start < end:
        inside = start <= t < end
        end_day = today
    else:  # over midnight, e.g. 22:00-07:00
        inside = t >= start or t < end
        end_day = today if t < end else today + timedelta(days=1)
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=now_local.tzinfo)


def choose(
    people: Sequence[Person], category: str, texts: dict[str, str], zone: ZoneInfo, now: datetime
) -> tuple[Person, str, datetime | None] | None:
    """For the residents sharing one phone (by id): who the message is for, in which language
    (the first who has a text in their language, else `default`) and until when it is held for
    quiet hours (non-urgent only, and only when every one of them is in quiet hours).
    None when every one of them declined this category or paused."""
    eligible = [p for p in people if wants(p, category)]
    if not eligible:
        return None
    chosen = next((p for p in eligible if p.language in texts), None)
    language = chosen.language if chosen else "default"
    held = None
    if category not in LIFE_SAFETY:
        now_local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
        ends = [quiet_until(p, now_local) for p in eligible]
        if all(ends):
            held = min(ends).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    return chosen or eligible[0], language, held


def load_people(
    session, resident_ids: Iterable[int] = (), phones: Iterable[str] = (), reachable: bool = True
) -> dict[int, tuple[str, bool, Person]]:
    """id → (phone, reachable, Person) for residents with these ids or on these phones (reachable
    ones only; with `reachable=False` the fixed lines only), read in chunks."""
    columns = (
        Resident.id,
        Resident.phone,
        Resident.reachable,
        Resident.language,
        Resident.declined_categories,
        Resident.paused,
        Resident.quiet_start,
        Resident.quiet_end,
    )
    queries = []
    ids = [int(i) for i in resident_ids]
    for i in range(0, len(ids), LOAD_CHUNK):
        queries.append(select(*columns).where(Resident.id.in_(ids[i : i + LOAD_CHUNK])))
    numbers = list(phones)
    for i in range(0, len(numbers), LOAD_CHUNK):
        queries.append(
            select(*columns).where(
                Resident.phone.in_(numbers[i : i + LOAD_CHUNK]), Resident.reachable == reachable
            )
        )
    out: dict[int, tuple[str, bool, Person]] = {}
    for query in queries:
        for rid, phone, reachable, lang, declined, paused, qs, qe in session.execute(query):
            person = Person(rid, lang or "", frozenset(declined or ()), bool(paused), qs, qe)
            out[rid] = (phone, bool(reachable), person)
    return out


def message_rows(
    alert: Alert,
    phones: dict[str, list[Person]],
    opted_out: set[str],
    zone: ZoneInfo,
    texts: dict[str, str] | None = None,
    channel: str = "sms",
) -> tuple[list[dict], int]:
    """Rows to insert, due ones first, and how many phones were left out (declined/paused);
    `texts` (default: the alert's SMS texts) are what a `channel` message says."""
    now = utcnow()
    texts = alert.texts if texts is None else texts
    due, later, skipped, declined = [], [], [], 0
    for phone, people in phones.items():
        choice = choose(sorted(people, key=lambda p: p.id), alert.category, texts, zone, now)
        if choice is None:
            declined += 1
            continue
        person, language, held = choice
        row = {
            "alert_id": alert.id,
            "phone": phone,
            "resident_id": person.id or None,
            "language": language,
            "body": texts.get(language) or texts["default"],
            "channel": channel,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": held,
            "updated_at": now,
        }
        if phone in opted_out:
            row["status"] = "skipped"
            skipped.append(row)
        elif held:
            later.append(row)
        else:
            due.append(row)
    return due + later + skipped, declined


def insert_ignore(engine: Engine):
    table = Message.__table__
    conflict = ["alert_id", "phone", "channel"]
    if engine.dialect.name == "postgresql":
        return pg_insert(table).on_conflict_do_nothing(index_elements=conflict)
    return sqlite_insert(table).on_conflict_do_nothing(index_elements=conflict)


def send_job_id(alert_id: int, lo: int, hi: int) -> str:
    """`send-{alert}-{lo}-{hi}-{random}`: the sweep reads the range back from the id."""
    return f"send-{alert_id}-{lo}-{hi}-{secrets.token_hex(4)}"


def parse_send_job_id(job_id: str) -> tuple[int, int, int] | None:
    parts = job_id.split("-")
    if len(parts) != 5 or parts[0] != "send":
        return None
    try:
        return int(parts[1]), int(parts[2]), int(parts[3])
    except ValueError:
        return None


def send_job_data(alert_id: int, lo: int, hi: int, urgent: bool):
    return Queue.prepare_data(
        "alerting.sending.fanout.send_range",
        args=(alert_id, lo, hi, urgent),
        job_id=send_job_id(alert_id, lo, hi),
        timeout=SEND_JOB_TIMEOUT,
        result_ttl=0,
        failure_ttl=24 * 3600,
    )


def enqueue_send(conn, alert_id: int, lo: int, hi: int, urgent: bool, at_front=False) -> None:
    queue(URGENT if urgent else BULK, conn).enqueue(
        "alerting.sending.fanout.send_range",
        alert_id,
        lo,
        hi,
        urgent,
        job_id=send_job_id(alert_id, lo, hi),
        job_timeout=SEND_JOB_TIMEOUT,
        result_ttl=0,
        failure_ttl=24 * 3600,
        at_front=at_front,
    )


def enqueue_ranges(name: str, jobs: list, conn=None) -> None:
    """Enqueue send jobs in one pipeline (`enqueue_many`)."""
    if not jobs:
        return
    q = queue(name, conn)
    with q.connection.pipeline() as pipe:
        q.enqueue_many(jobs, pipeline=pipe)
        pipe.execute()


class PlanWriter:
    """Inserts rows chunk by chunk and enqueues one send job per chunk as soon as it is stored;
    the first chunk is small so the first SMS leaves within milliseconds."""

    def __init__(self, alert: Alert) -> None:
        self.alert = alert
        self.engine: Engine = current_app.extensions["alerting.engine"]
        self.queue = queue_name(alert.category)
        self.urgent = self.queue == URGENT
        self.size = max(1, current.settings().send_batch)
        self.stmt = insert_ignore(self.engine)
        self.first = True
        self.last_hi = 0
        self.cancelled = False

    def write(self, rows: list[dict]) -> None:
        start = 0
        while start < len(rows) and not self.cancelled:
            n = min(FIRST_CHUNK, self.size) if self.first else self.size
            self._insert(rows[start : start + n])
            self.first = False
            start += n

    def _insert(self, part: list[dict]) -> None:
        alert_id = self.alert.id
        with self.engine.begin() as conn:
            status = conn.scalar(select(Alert.status).where(Alert.id == alert_id))
            if status == "cancelled":
                self.cancelled = True
                return
            conn.execute(self.stmt, part)
            hi = conn.scalar(select(func.max(Message.id)).where(Message.alert_id == alert_id))
        if hi and hi > self.last_hi and any(r["status"] == "pending" for r in part):
            enqueue_ranges(self.queue, [send_job_data(alert_id, self.last_hi + 1, hi, self.urgent)])
        self.last_hi = max(self.last_hi, hi or 0)


def finish_plan(session, alert: Alert, declined: int, **detail) -> None:
    """Counts, status `sending` (or `completed` when nobody is left to send to), audit."""
    counts = message_counts(session, alert.id)
    skipped = counts.get("skipped", 0)
    recipients = sum(counts.values()) - skipped
    now = utcnow()
    values = {
        "status": "sending",
        "recipients": recipients,
        "skipped": skipped,
        "started_at": alert.started_at or now,
    }
    if recipients == 0:
        values.update(status="completed", completed_at=now)
    session.execute(
        update(Alert).where(Alert.id == alert.id, Alert.status == "scheduled").values(values)
    )
    record(
        session,
        "system",
        "alert.planned",
        f"alert:{alert.id}",
        recipients=recipients,
        skipped=skipped,
        declined=declined,
        **detail,
    )
    session.commit()
    if session.scalar(select(Alert.status).where(Alert.id == alert.id)) == "cancelled":
        cancel_pending(session, alert.id)
        session.commit()


def cancel_pending(session, alert_id: int) -> int:
    """The alert's messages not yet handed to the provider become `cancelled`."""
    return session.execute(
        update(Message)
        .where(Message.alert_id == alert_id, Message.status.in_(sources("cancel")))
        .values(status="cancelled", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount


def plan_area_alert(session, alert: Alert) -> None:
    """Plan an alert with an area: its recipients are whoever the register puts inside.

    Streams: each round takes the next residents (by id), finds every resident of the area on
    their phones, and writes those phones' rows, so the first send job is queued after one small
    round rather than after reading the whole area."""
    area = parse_area(alert.area_geojson)
    ids = [int(i) for i in current.register().target(area).resident_ids]
    in_area = set(ids)
    opted = set(session.scalars(select(OptOut.phone)))
    zone = ZoneInfo(current.settings().timezone)
    writer = PlanWriter(alert)
    planned: set[str] = set()
    declined, pos, step = 0, 0, FIRST_CHUNK
    while pos < len(ids) and not writer.cancelled:
        part = ids[pos : pos + step]
        pos, step = pos + step, LOAD_CHUNK
        phones = (
            set(
                session.scalars(
                    select(Resident.phone).where(Resident.id.in_(part), Resident.reachable)
                )
            )
            - planned
        )
        if not phones:
            continue
        groups: dict[str, list[Person]] = {}
        for phone, _reachable, person in load_people(session, phones=phones).values():
            if person.id in in_area:
                groups.setdefault(phone, []).append(person)
        rows, skipped_out = message_rows(alert, groups, opted, zone)
        declined += skipped_out
        writer.write(rows)
        planned |= phones
    if not writer.cancelled:
        from alerting.sending.voice_plan import plan_calls  # calls build on this module

        declined += plan_calls(session, alert, ids, opted, zone)
    finish_plan(session, alert, declined)


def follow_up_recipients(alert: Alert) -> Select:
    """The parent's messages a follow-up goes to: those in `follow_up_statuses`, else all that
    were not skipped or cancelled; one per phone, by the channel that reached it (a mobile that
    was also called when its SMS stayed undelivered gets an SMS, a landline a call)."""

    def chosen(*columns):
        query = select(*columns).where(Message.alert_id == alert.parent_id)
        if alert.follow_up_statuses:
            return query.where(Message.status.in_(alert.follow_up_statuses))
        return query.where(Message.status.not_in(("skipped", "cancelled")))

    texted = chosen(Message.phone).where(Message.channel == "sms")
    query = chosen(Message.phone, Message.resident_id, Message.language, Message.channel).where(
        or_(Message.channel == "sms", Message.phone.not_in(texted))
    )
    return query.order_by(Message.id)


def plan_follow_up(session, alert: Alert) -> None:
    """Plan a follow-up: exactly the parent's recipients (see `follow_up_recipients`), still
    skipping numbers that opted out since."""
    from alerting.sending.voice_plan import write_calls  # calls build on this module

    parent = session.execute(follow_up_recipients(alert)).all()
    people = load_people(session, {r.resident_id for r in parent if r.resident_id})
    phones: dict[str, dict[str, list[Person]]] = {"sms": {}, "voice": {}}
    for phone, resident_id, language, channel in parent:
        found = people.get(resident_id)
        person = found[2] if found else Person(0, language, frozenset(), False, None, None)
        phones[channel][phone] = [person]
    opted = set(session.scalars(select(OptOut.phone)))
    zone = ZoneInfo(current.settings().timezone)
    rows, declined = message_rows(alert, phones["sms"], opted, zone)
    PlanWriter(alert).write(rows)
    declined += write_calls(session, alert, phones["voice"], opted, zone)
    finish_plan(session, alert, declined, follow_up_of=alert.parent_id)


def plan(alert_id: int) -> None:
    """Plan an alert or follow-up that is due (idempotent: a run after one that died halfway
    adds only what is missing)."""
    session = db()
    alert = session.get(Alert, alert_id)
    if alert is None or alert.status != "scheduled":
        return
    if alert.send_at is not None and alert.send_at > utcnow():
        return
    if alert.exercise:
        from alerting.exercises import plan_exercise  # exercises build on this module

        plan_exercise(session, alert)
    elif alert.parent_id is None:
        plan_area_alert(session, alert)
    else:
        plan_follow_up(session, alert)


def plan_job(alert_id: int) -> None:
    """RQ entry point; holds a lease so the sweep knows the plan is being made."""
    job = get_current_job()
    with job_context() as app:
        conn = redis_for(app.extensions["alerting.settings"].redis_url)
        if job is not None:
            conn.zadd(LEASES, {job.id: unix_time() + 600})
        try:
            plan(alert_id)
        finally:
            if job is not None:
                conn.zrem(LEASES, job.id)


def enqueue_plan(alert: Alert) -> None:
    queue(queue_name(alert.category)).enqueue(
        "alerting.sending.planning.plan_job",
        alert.id,
        job_id=f"plan-{alert.id}",
        job_timeout=SEND_JOB_TIMEOUT,
        result_ttl=0,
        failure_ttl=24 * 3600,
    )
