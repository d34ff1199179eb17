"""Which phones of an alert are called: every fixed line of a resident inside the area (they get
no SMS), and, when the alert asks for it (`call_undelivered_after`), every mobile whose SMS is
still not delivered that many minutes after the alert started, once per phone.

A call's row is a message with channel `voice` whose body is the spoken text in the language of
one of its residents that Twilio has a voice for (else the default text); quiet hours, declined
categories and opt-outs apply as for SMS. The rows are inserted like SMS rows (one per phone per
channel, so planning again adds nothing) and the call dispatcher is woken.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from alerting.models import Alert, Message, Resident, utcnow
from alerting.sending.planning import LOAD_CHUNK, Person, insert_ignore, load_people, message_rows
from alerting.sending.queues import redis_for
from alerting.sending.states import SENDING_ALERT_STATES
from alerting.sending.voice import wake
from alerting.sending.voice_twiml import spoken_texts, voiced

# SMS statuses that mean "not delivered (yet)" for the undelivered-after-N-minutes calls: not
# delivered, not opted out, not cancelled, and not held back for quiet hours
NOT_DELIVERED = ("sending", "unknown", "queued", "accepted", "sent", "undelivered", "failed")


def call_texts(alert: Alert) -> dict[str, str]:
    return voiced(spoken_texts(alert.texts, alert.spoken_texts))


def write_calls(
    session: Session,
    alert: Alert,
    phones: dict[str, list[Person]],
    opted: set[str],
    zone: ZoneInfo,
) -> int:
    """Insert the call rows of these phones and wake the dispatcher; how many phones were left
    out (every resident on it declined the category)."""
    if not phones:
        return 0
    rows, declined = message_rows(alert, phones, opted, zone, call_texts(alert), "voice")
    engine = current_app.extensions["alerting.engine"]
    stmt = insert_ignore(engine)
    with engine.begin() as conn:
        for start in range(0, len(rows), LOAD_CHUNK):
            conn.execute(stmt, rows[start : start + LOAD_CHUNK])
    if any(r["status"] == "pending" for r in rows):
        wake(redis_for(current_app.extensions["alerting.settings"].redis_url))
    return declined


def plan_calls(
    session: Session, alert: Alert, resident_ids: list[int], opted: set[str], zone: ZoneInfo
) -> int:
    """The fixed lines of the residents inside the area (`resident_ids`), one call each."""
    inside = set(resident_ids)
    landlines: set[str] = set()
    for start in range(0, len(resident_ids), LOAD_CHUNK):
        part = resident_ids[start : start + LOAD_CHUNK]
        landlines.update(
            session.scalars(
                select(Resident.phone).where(Resident.id.in_(part), Resident.reachable.is_(False))
            )
        )
    groups: dict[str, list[Person]] = {}
    for phone, _reachable, person in load_people(
        session, phones=landlines, reachable=False
    ).values():
        if person.id in inside:
            groups.setdefault(phone, []).append(person)
    return write_calls(session, alert, groups, opted, zone)


def call_undelivered(session: Session) -> int:
    """For the sweep: calls to the mobiles whose SMS is not delivered `call_undelivered_after`
    minutes after their alert started; how many were planned."""
    now = utcnow()
    alerts = session.scalars(
        select(Alert).where(
            Alert.call_undelivered_after.is_not(None),
            Alert.status.in_(SENDING_ALERT_STATES),
            Alert.started_at.is_not(None),
        )
    ).all()
    planned = 0
    for alert in alerts:
        if alert.started_at + timedelta(minutes=alert.call_undelivered_after) > now:
            continue
        called = select(Message.phone).where(
            Message.alert_id == alert.id, Message.channel == "voice"
        )
        waiting = session.execute(
            select(Message.phone, Message.resident_id, Message.language).where(
                Message.alert_id == alert.id,
                Message.channel == "sms",
                Message.status.in_(NOT_DELIVERED),
                Message.phone.not_in(called),
            )
        ).all()
        if not waiting:
            continue
        people = load_people(session, {r.resident_id for r in waiting if r.resident_id})
        phones: dict[str, list[Person]] = {}
        for phone, resident_id, language in waiting:
            found = people.get(resident_id)
            person = found[2] if found else Person(0, language, frozenset(), False, None, None)
            phones[phone] = [person]
        zone = ZoneInfo(current_app.extensions["alerting.settings"].timezone)
        write_calls(session, alert, phones, set(), zone)
        planned += len(phones)
    return planned


def calls_still_to_plan(session: Session, alert: Alert) -> bool:
    """Whether the alert will still call undelivered mobiles (it must not complete before)."""
    if alert.call_undelivered_after is None or alert.started_at is None:
        return False
    if alert.started_at + timedelta(minutes=alert.call_undelivered_after) <= utcnow():
        return False  # the sweep has planned them (it runs before the completion check)
    return session.scalar(
        select(
            select(Message.id)
            .where(
                and_(
                    Message.alert_id == alert.id,
                    Message.channel == "sms",
                    Message.status.in_(NOT_DELIVERED),
                )
            )
            .exists()
        )
    )
