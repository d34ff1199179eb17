"""The alert service: create, follow up, cancel and summarise alerts (API, CLI and UI share it).

Creating an alert or a follow-up stores it and enqueues its plan (alerting.sending.planning) on
the queue of its urgency; a scheduled alert (send_at in the future), or one whose plan could not be
enqueued or died halfway, is planned by the worker's sweep when due.
Recipients come only from `Register.target(area)`, the function the preview uses.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerting import current
from alerting.areas import AreaError, parse_area
from alerting.audit import record
from alerting.auth import Principal
from alerting.ids import is_id
from alerting.languages import normalise_language
from alerting.models import (
    CATEGORIES,
    MESSAGE_STATES,
    SEVERITIES,
    Alert,
    Area,
    Message,
    OptOut,
    utcnow,
)
from alerting.sending.deadline import failures
from alerting.sending.planning import cancel_pending, enqueue_plan, follow_up_recipients
from alerting.sending.provider import sender_of
from alerting.sending.states import alert_may_become
from alerting.sending.status import message_counts
from alerting.timefmt import local_time
from alerting.validity import (
    ALL_CLEAR,
    CLOCK_SKEW,
    ValidityError,
    check_response_type,
    in_force_between,
    is_published,
    public_status,
    supersede,
    validity,
    withdraw,
)

log = logging.getLogger(__name__)

OPERATOR_CATEGORIES = ("water", "info", "test")
MAX_TEXT = 1600  # Twilio's limit for one message body
MAX_AREA_NAME = 200  # the width of alerts.area_name
MAX_TITLE = 200  # the width of alerts.title
_TIME_HINT = "use ISO 8601 in the years 1 to 9999 in UTC, e.g. 2026-12-01T10:00:00Z"


class AlertRefused(Exception):
    """An alert request we refuse: 403 (role) or 422 (bad input), 404 (no such alert)."""

    def __init__(self, status: int, error: str, detail: str = "") -> None:
        super().__init__(f"{error}: {detail}" if detail else error)
        self.status = status
        self.error = error
        self.detail = detail

    def as_dict(self) -> dict[str, str]:
        return {"error": self.error, "detail": self.detail}


def may_send(who: Principal, category: str) -> bool:
    if who.role == "operator":
        return category in OPERATOR_CATEGORIES
    return who.has_role("coordinator")


def _check_role(who: Principal, category: str) -> None:
    if not who.has_role("operator"):
        raise AlertRefused(403, "forbidden", "viewers cannot send alerts")
    if not may_send(who, category):
        raise AlertRefused(
            403,
            "forbidden",
            f"operators may send only {', '.join(OPERATOR_CATEGORIES)} alerts; "
            f"a {category} alert needs a coordinator",
        )


def check_category(value: Any) -> str:
    if value not in CATEGORIES:
        raise AlertRefused(422, "unknown category", f"choose one of {', '.join(CATEGORIES)}")
    return value


def check_severity(value: Any) -> str:
    if value not in SEVERITIES:
        raise AlertRefused(422, "unknown severity", f"choose one of {', '.join(SEVERITIES)}")
    return value


def check_title(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TITLE:
        raise AlertRefused(422, "missing title", f"give a title of 1 to {MAX_TITLE} characters")
    return value


def check_texts(texts: Any) -> dict[str, str]:
    """One text for all, or one per language with a default: stripped, languages normalised."""
    if isinstance(texts, str):
        texts = {"default": texts}
    if not isinstance(texts, dict):
        raise AlertRefused(422, "invalid message", 'send {"default": "...", "<lang>": "..."}')
    clean: dict[str, str] = {}
    for key, text in texts.items():
        if not isinstance(text, str) or not text.strip():
            raise AlertRefused(422, "empty message", f"the {key!r} text is empty")
        if len(text) > MAX_TEXT:
            raise AlertRefused(
                422,
                "message too long",
                f"the {key!r} text has {len(text)} characters; at most {MAX_TEXT}",
            )
        if key == "default":
            clean["default"] = text.strip()
            continue
        try:
            clean[normalise_language(key, "")] = text.strip()
        except ValueError as exc:
            raise AlertRefused(422, "unknown language", str(exc)) from None
    if "default" not in clean:
        raise AlertRefused(
            422,
            "missing default message",
            "give a default text for residents whose language has none",
        )
    return clean


def _check_fields(category: str, severity: str, title: str, texts: Any) -> dict[str, str]:
    check_category(category)
    check_severity(severity)
    check_title(title)
    return check_texts(texts)


MAX_CALL_DELAY = 24 * 60  # minutes: later than a day after sending, a call is no warning


def check_spoken_texts(value: Any) -> dict[str, str] | None:
    """The text calls speak per language ({"default": ..., "nb": ...}); None or {}: the SMS
    texts are spoken. Empty texts are left out (that language's SMS text is spoken)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise AlertRefused(
            422, "invalid spoken_texts", 'send {"default": "...", "<lang>": "..."} or leave it out'
        )
    clean: dict[str, str] = {}
    for key, text in value.items():
        if not isinstance(text, str):
            raise AlertRefused(422, "invalid spoken_texts", f"the {key!r} spoken text is no text")
        if not text.strip():
            continue
        if len(text) > MAX_TEXT:
            raise AlertRefused(
                422,
                "spoken text too long",
                f"the {key!r} spoken text has {len(text)} characters; at most {MAX_TEXT}",
            )
        try:
            lang = key if key == "default" else normalise_language(key, "")
        except ValueError as exc:
            raise AlertRefused(422, "unknown language", str(exc)) from None
        clean[lang] = text.strip()
    return clean or None


def check_call_delay(value: Any) -> int | None:
    """Minutes after which mobiles whose SMS is still undelivered are called; None: never."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_CALL_DELAY:
        raise AlertRefused(
            422,
            "invalid call_undelivered_after",
            f"call_undelivered_after is a number of minutes from 1 to {MAX_CALL_DELAY}, or null",
        )
    return value


def check_area_id(value: Any) -> int | None:
    """A saved area's id from a request: a number the database can hold, or refused."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise AlertRefused(422, "invalid area_id", "area_id is the number of a saved area")
    if not is_id(value):
        raise AlertRefused(422, "unknown area", f"there is no saved area {value}")
    return value


def check_exercise(value: Any) -> bool:
    if not isinstance(value, bool):
        raise AlertRefused(422, "invalid exercise", "exercise is true or false")
    return value


def check_area_name(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_AREA_NAME:
        raise AlertRefused(
            422, "invalid area_name", f"area_name is a text of at most {MAX_AREA_NAME} characters"
        )
    return value.strip()


def time_utc(value: datetime, field: str = "send_at") -> datetime:
    """A time as naive UTC (a time without offset is UTC already); refused, not a 500, when it
    cannot be written in UTC (0001-01-01T00:00+14:00 is in the year 0)."""
    try:
        return _naive_utc(value)
    except OverflowError:
        raise AlertRefused(422, f"invalid {field}", _TIME_HINT) from None


def parse_time(value: Any, field: str = "send_at") -> datetime | None:
    """ISO 8601 from a request (send_at, onset, expires), as naive UTC; None or "" is not given
    (send_at: now)."""
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):  # not a string, or not ISO 8601
        raise AlertRefused(422, f"invalid {field}", _TIME_HINT) from None
    return time_utc(parsed, field)


def _validity(
    category: str,
    response_type: Any,
    onset: datetime | None,
    expires: datetime | None,
    starts: datetime,
) -> tuple[str | None, datetime, datetime]:
    """(response_type, onset, expires) of a new alert, or refused with the reason (422)."""
    try:
        response_type = check_response_type(response_type)
        onset, expires = validity(
            category,
            response_type,
            time_utc(onset, "onset") if onset else None,
            time_utc(expires, "expires") if expires else None,
            starts=starts,
            now=utcnow(),
        )
    except ValidityError as exc:
        raise AlertRefused(422, exc.error, exc.detail) from None
    return response_type, onset, expires


def _scheduled(send_at: datetime | None) -> datetime | None:
    """send_at as naive UTC; None is now (so is a time within CLOCK_SKEW of now), and a time in
    the past is refused rather than sent at once."""
    send_at = time_utc(send_at) if send_at else None
    now = utcnow()
    if send_at is None or send_at <= now:
        if send_at is not None and send_at < now - CLOCK_SKEW:
            raise AlertRefused(
                422,
                "send_at is in the past",
                f"{local_time(send_at)} has passed; choose a later time or send now",
            )
        return None
    return send_at


def parse_only_statuses(value: Any) -> tuple[str, ...] | None:
    """Which of the parent's messages a follow-up goes to; None is all of them."""
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise AlertRefused(
            422,
            "invalid only_statuses",
            f"only_statuses is a list of message statuses: {', '.join(MESSAGE_STATES)}",
        )
    _check_statuses(value)
    return tuple(value)


def _check_statuses(values: list[str] | tuple[str, ...]) -> None:
    if set(values) - set(MESSAGE_STATES) or not values:
        raise AlertRefused(
            422, "unknown message status", f"choose from {', '.join(MESSAGE_STATES)}"
        )


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _enqueue_plan(alert: Alert) -> None:
    try:
        enqueue_plan(alert)
    except redis.RedisError:  # the sweep plans it once Redis is back
        log.warning("could not enqueue the plan of alert %s; the sweep will", alert.id)


def create_alert(
    session: Session,
    who: Principal,
    *,
    area: dict | None = None,
    area_id: int | None = None,
    category: str,
    severity: str,
    title: str,
    texts: dict[str, str],
    send_at: datetime | None = None,
    area_name: str = "",
    exercise: bool = False,
    draft: bool = False,
    onset: datetime | None = None,
    expires: datetime | None = None,
    response_type: str | None = None,
    spoken_texts: dict[str, str] | None = None,
    call_undelivered_after: int | None = None,
) -> Alert:
    """Store an alert and start sending it (or schedule it, or hold it for approval; or, as a
    `draft`, keep it for staff to review: an imported CAP alert); AlertRefused when not
    allowed. Landlines inside are called with `spoken_texts` (default: the SMS texts), and
    with `call_undelivered_after` so are mobiles whose SMS is undelivered after that long."""
    from alerting import approval, exercises  # both build on this module

    _check_role(who, category)
    texts = _check_fields(category, severity, title, texts)
    spoken_texts = check_spoken_texts(spoken_texts)
    call_undelivered_after = check_call_delay(call_undelivered_after)
    send_at = _scheduled(send_at)
    response_type, onset, expires = _validity(
        category, response_type, onset, expires, send_at or utcnow()
    )
    settings = current.settings()
    if (area is None) == (area_id is None):
        raise AlertRefused(422, "missing area", 'give either "area" (GeoJSON) or "area_id"')
    area_version = None
    if area_id is not None:
        saved = session.get(Area, area_id)
        if saved is None:
            raise AlertRefused(422, "unknown area", f"there is no saved area {area_id}")
        geojson, area_name = saved.geojson, area_name or saved.name
        area_version = saved.version
    else:
        geojson = json.dumps(area)
    try:
        geometry = parse_area(geojson, settings.max_area_km2, settings.max_area_vertices)
    except AreaError as exc:
        raise AlertRefused(422, exc.error, exc.detail) from None
    target = current.register().target(geometry)
    counts = exercises.test_group_counts(session, geometry) if exercise else target.counts
    pending = not draft and approval.policy(session).needs_approval(category, severity)
    alert = Alert(
        category=category,
        severity=severity,
        title=title.strip(),
        texts=texts,
        area_geojson=geojson,
        area_name=area_name,
        area_id=area_id,
        area_version=area_version,
        status="draft" if draft else "pending_approval" if pending else "scheduled",
        exercise=bool(exercise),
        sender=sender_of(settings),
        created_by=who.audit_name,
        send_at=send_at,
        onset=onset,
        expires=expires,
        response_type=response_type,
        recipients=counts["phones"] - counts["opted_out"] + counts.get("landlines", 0),
        skipped=counts["opted_out"],
        spoken_texts=spoken_texts,
        call_undelivered_after=call_undelivered_after,
    )
    session.add(alert)
    session.flush()
    record(
        session,
        who,
        "alert.create",
        f"alert:{alert.id}",
        category=category,
        severity=severity,
        title=alert.title,
        send_at=_iso(alert.send_at),
        onset=_iso(alert.onset),
        expires=_iso(alert.expires),
        response_type=alert.response_type,
        estimated_recipients=alert.recipients,
        status=alert.status,
        exercise=alert.exercise,
        spoken_texts=bool(spoken_texts),
        call_undelivered_after=call_undelivered_after,
    )
    session.commit()
    if not draft:
        _start(session, who, alert)
    return alert


def _start(session: Session, who: Principal, alert: Alert) -> None:
    """A stored alert goes out: it waits for approval, or is planned now (or by the sweep at
    its send_at)."""
    from alerting import approval

    if alert.status == "pending_approval":
        notified = approval.notify_approvers(session, alert)
        record(session, who, "alert.approval_requested", f"alert:{alert.id}", sms=notified)
        session.commit()
    elif alert.send_at is None:
        _enqueue_plan(alert)


def follow_up(
    session: Session,
    who: Principal,
    parent_id: int,
    *,
    title: str,
    texts: dict[str, str],
    category: str | None = None,
    severity: str | None = None,
    only_statuses: tuple[str, ...] | None = None,
    onset: datetime | None = None,
    expires: datetime | None = None,
    response_type: str | None = None,
) -> Alert:
    """An alert to exactly the parent's recipients (or those whose message is in
    `only_statuses`, e.g. ("undelivered", "failed") to resend to failures); opted-out numbers
    are still skipped. Planned and sent by the workers, like every alert.

    Without times of its own it is in force until the parent expires (a resend: exactly as
    long as the parent); an all-clear (response_type AllClear) ends the parent at once."""
    parent = session.get(Alert, parent_id, populate_existing=True)
    if parent is None:
        raise AlertRefused(404, "not found", f"there is no alert {parent_id}")
    category = category or parent.category
    severity = severity or parent.severity
    _check_role(who, category)
    texts = _check_fields(category, severity, title, texts)
    if only_statuses is not None:
        _check_statuses(only_statuses)
    now = utcnow()
    parent_onset, parent_expires = in_force_between(parent)
    if only_statuses is not None:
        if parent_expires <= now and not expires:
            raise AlertRefused(
                422,
                "the alert has ended",
                f"it was in force until {local_time(parent_expires)}; send a follow-up instead",
            )
        onset = onset or parent_onset
        response_type = response_type or parent.response_type
    if response_type != ALL_CLEAR and parent_expires > now:
        expires = expires or parent_expires
    response_type, onset, expires = _validity(category, response_type, onset, expires, now)
    alert = Alert(
        category=category,
        severity=severity,
        title=title.strip(),
        texts=texts,
        area_geojson=parent.area_geojson,
        area_name=parent.area_name,
        area_id=parent.area_id,
        parent_id=parent.id,
        follow_up_statuses=list(only_statuses) if only_statuses else None,
        exercise=parent.exercise,
        onset=onset,
        expires=expires,
        response_type=response_type,
        status="scheduled",
        sender=sender_of(current.settings()),
        created_by=who.audit_name,
    )
    phones = follow_up_recipients(alert).with_only_columns(Message.phone).subquery()
    alert.recipients = session.scalar(select(func.count()).select_from(phones))
    alert.skipped = session.scalar(
        select(func.count()).select_from(phones).join(OptOut, OptOut.phone == phones.c.phone)
    )
    alert.recipients -= alert.skipped
    session.add(alert)
    session.flush()
    record(
        session,
        who,
        "alert.follow_up",
        f"alert:{alert.id}",
        parent=parent.id,
        category=category,
        severity=severity,
        title=alert.title,
        only_statuses=list(only_statuses) if only_statuses else None,
        onset=_iso(alert.onset),
        expires=_iso(alert.expires),
        response_type=alert.response_type,
    )
    if response_type == ALL_CLEAR and parent.superseded_by is None:
        supersede(parent, alert)
        record(session, who, "alert.superseded", f"alert:{parent.id}", by=alert.id)
    session.commit()
    _enqueue_plan(alert)
    return alert


def send_draft(session: Session, who: Principal, alert_id: int) -> Alert:
    """Send a draft (an imported CAP alert) after review: from here on it is like any alert."""
    alert = session.get(Alert, alert_id, populate_existing=True)
    if alert is None:
        raise AlertRefused(404, "not found", f"there is no alert {alert_id}")
    _check_role(who, alert.category)
    if alert.status != "draft":
        raise AlertRefused(422, f"alert is {alert.status}", "only a draft can be sent this way")
    from alerting import approval

    pending = approval.policy(session).needs_approval(alert.category, alert.severity)
    alert.status = "pending_approval" if pending else "scheduled"
    record(session, who, "alert.send_draft", f"alert:{alert.id}", status=alert.status)
    session.commit()
    _start(session, who, alert)
    return alert


def cancel_alert(session: Session, who: Principal, alert_id: int) -> Alert:
    """Stop what has not been handed to the provider yet."""
    alert = session.get(Alert, alert_id, populate_existing=True)
    if alert is None:
        raise AlertRefused(404, "not found", f"there is no alert {alert_id}")
    _check_role(who, alert.category)
    if alert.status == "pending_approval":  # alerting.approval: withdraw or reject it
        raise AlertRefused(
            409,
            "alert is waiting for approval",
            "its author withdraws it, or a coordinator rejects it",
        )
    if not alert_may_become(alert.status, "cancelled"):
        raise AlertRefused(422, f"alert is {alert.status}", "there is nothing left to cancel")
    now = utcnow()
    alert.status, alert.cancelled_at = "cancelled", now
    cancelled = cancel_pending(session, alert.id)
    record(session, who, "alert.cancel", f"alert:{alert.id}", cancelled_messages=cancelled)
    parent = session.get(Alert, alert.parent_id) if alert.parent_id else None
    if withdraw(parent, alert):
        record(session, who, "alert.supersession_withdrawn", f"alert:{parent.id}", by=alert.id)
    session.commit()
    _hang_up(session, alert.id)
    return alert


def _hang_up(session: Session, alert_id: int) -> None:
    """Calls of the cancelled alert that ring or are being listened to are ended (a worker's
    job), so nobody hears the rest of a warning that was withdrawn."""
    from alerting.sending.voice import calls_in_progress, hang_up

    if session.execute(calls_in_progress(alert_id).limit(1)).first() is None:
        return
    try:
        hang_up(alert_id)
    except redis.RedisError:  # the calls end by themselves within their time limit
        log.warning("could not enqueue the hang-up of alert %s's calls", alert_id)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def alert_summary(session: Session, alert_id: int) -> dict:
    """Status, a count per message status (every state, zeros included) and why messages
    failed (a count per provider code)."""
    alert = session.get(Alert, alert_id, populate_existing=True)
    if alert is None:
        raise AlertRefused(404, "not found", f"there is no alert {alert_id}")
    counts = dict.fromkeys(MESSAGE_STATES, 0) | message_counts(session, alert_id)
    return {
        "id": alert.id,
        "status": alert.status,
        "exercise": alert.exercise,
        "category": alert.category,
        "severity": alert.severity,
        "title": alert.title,
        "texts": alert.texts,
        "area_name": alert.area_name,
        "area_id": alert.area_id,
        "parent_id": alert.parent_id,
        "sender": alert.sender,
        "created_by": alert.created_by,
        "recipients": alert.recipients,
        "skipped": alert.skipped,
        "counts": counts,
        # the same per channel: SMS to mobiles, calls to landlines (and undelivered mobiles)
        "channels": {
            channel: dict.fromkeys(MESSAGE_STATES, 0) | message_counts(session, alert_id, channel)
            for channel in ("sms", "voice")
        },
        "acknowledged": session.scalar(
            select(func.count()).where(
                Message.alert_id == alert_id, Message.acknowledged_at.is_not(None)
            )
        ),
        "spoken_texts": alert.spoken_texts,
        "call_undelivered_after": alert.call_undelivered_after,
        "failures": failures(session, alert_id),
        "created_at": _iso(alert.created_at),
        "send_at": _iso(alert.send_at),
        "started_at": _iso(alert.started_at),
        "completed_at": _iso(alert.completed_at),
        "cancelled_at": _iso(alert.cancelled_at),
        "reviewed_by": alert.reviewed_by,
        "reviewed_at": _iso(alert.reviewed_at),
        "review_comment": alert.review_comment,
        "onset": _iso(alert.onset),
        "expires": _iso(alert.expires),
        "response_type": alert.response_type,
        "superseded_by": alert.superseded_by,
        # what /public says about it; None while it is not on /public (exercise, not sent yet)
        "public_status": public_status(alert, utcnow()) if is_published(alert) else None,
    }
