"""Apply a CAP message from another system (`alerting.cap.ingest.read`) to our alerts: an Alert
becomes a draft, an Update revises the alert it references, a Cancel cancels it. Each message
is kept (cap_messages), so a message received twice changes nothing and later Updates and
Cancels find their alert."""

from __future__ import annotations

import json
import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerting import current
from alerting.alerts import AlertRefused, cancel_alert, create_alert
from alerting.areas import AreaError, parse_area
from alerting.audit import record
from alerting.auth import Principal
from alerting.cap.export import sender as our_sender
from alerting.cap.ingest import CapRefused, Incoming
from alerting.models import Alert, CapMessage

SENT_STATES = ("sending", "sent", "completed")


def _referenced(session: Session, incoming: Incoming) -> Alert:
    """The alert the (last) reference names: one of ours by its identifier, or one we received."""
    ref_sender, ref_id, _sent = incoming.references[-1]
    alert_id = None
    ours = re.fullmatch(rf"{re.escape(our_sender(current.settings()))}\.alert\.(\d+)", ref_id)
    if ref_sender == our_sender(current.settings()) and ours:
        alert_id = int(ours.group(1))
    else:
        alert_id = session.scalar(
            select(CapMessage.alert_id).where(
                CapMessage.sender == ref_sender, CapMessage.identifier == ref_id
            )
        )
    alert = session.get(Alert, alert_id) if alert_id is not None else None
    if alert is None:
        raise CapRefused(
            "unknown reference",
            f"{ref_sender},{ref_id} names no alert here; send the original Alert first",
        )
    return alert


def _same_area(alert: Alert, area: dict) -> bool:
    settings = current.settings()
    old = parse_area(alert.area_geojson, None, settings.max_area_vertices)
    new = parse_area(area, None, settings.max_area_vertices)
    return old.symmetric_difference(new).area <= 1e-9 * max(old.area, 1e-12)


def _revise(session: Session, alert: Alert, incoming: Incoming) -> None:
    if alert.status not in ("draft", *SENT_STATES):
        raise CapRefused(f"alert {alert.id} is {alert.status}", "there is nothing to update")
    if incoming.area is not None and not _same_area(alert, incoming.area):
        if alert.status != "draft":
            raise CapRefused(
                f"alert {alert.id} has been sent",
                "the area of a sent alert cannot change (its SMS have gone out); "
                "send a new Alert for the new area",
            )
        settings = current.settings()
        try:
            geometry = parse_area(incoming.area, settings.max_area_km2, settings.max_area_vertices)
        except AreaError as exc:
            raise CapRefused(exc.error, exc.detail) from None
        counts = current.register().target(geometry).counts
        alert.area_geojson = json.dumps(incoming.area)
        alert.recipients = counts["phones"] - counts["opted_out"]
        alert.skipped = counts["opted_out"]
    alert.title, alert.texts = incoming.title or alert.title, incoming.texts
    alert.onset = incoming.onset or alert.onset
    alert.expires = incoming.expires or alert.expires
    alert.response_type = incoming.response_type or alert.response_type


def apply(session: Session, who: Principal, incoming: Incoming) -> tuple[Alert, str]:
    """Carry out the message; (the alert, what was done). CapRefused when it cannot be."""
    seen = session.scalar(
        select(CapMessage).where(
            CapMessage.sender == incoming.sender, CapMessage.identifier == incoming.identifier
        )
    )
    if seen is not None:
        raise CapRefused(
            "already received",
            f"{incoming.sender},{incoming.identifier} was received before (alert {seen.alert_id})",
            status=409,
        )
    try:
        if incoming.msg_type == "Alert":
            alert = create_alert(
                session,
                who,
                area=incoming.area,
                category=incoming.category,
                severity=incoming.severity,
                title=incoming.title,
                texts=incoming.texts,
                area_name=incoming.area_name,
                onset=incoming.onset,
                expires=incoming.expires,
                response_type=incoming.response_type,
                exercise=incoming.exercise,
                draft=True,
            )
            done = "created a draft"
        elif incoming.msg_type == "Update":
            alert = _referenced(session, incoming)
            _revise(session, alert, incoming)
            done = "revised"
        else:
            alert = _referenced(session, incoming)
            if alert.status != "cancelled":
                cancel_alert(session, who, alert.id)
            done = "cancelled"
    except AlertRefused as exc:
        raise CapRefused(exc.error, exc.detail, 403 if exc.status == 403 else 422) from None
    except AreaError as exc:
        raise CapRefused(exc.error, exc.detail) from None
    session.add(
        CapMessage(
            alert_id=alert.id,
            sender=incoming.sender[:254],
            identifier=incoming.identifier[:254],
            sent=incoming.sent[:40],
            msg_type=incoming.msg_type,
        )
    )
    record(
        session,
        who,
        "alert.cap_import",
        f"alert:{alert.id}",
        msg_type=incoming.msg_type,
        cap_sender=incoming.sender,
        cap_identifier=incoming.identifier,
        done=done,
    )
    try:
        session.commit()
    except IntegrityError:  # the same message, received twice at once: the other one won
        session.rollback()
        raise CapRefused(
            "already received", f"{incoming.sender},{incoming.identifier}", status=409
        ) from None
    return alert, done
