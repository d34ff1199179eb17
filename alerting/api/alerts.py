"""Alerts over HTTP: create (201), show with counts per message status, cancel, follow up."""

from __future__ import annotations

from flask import jsonify
from sqlalchemy import select

from alerting import approval
from alerting.alerts import (
    AlertRefused,
    alert_summary,
    cancel_alert,
    create_alert,
    follow_up,
    send_draft,
)
from alerting.api import bp
from alerting.api.answer_models import Alert as AlertAnswer
from alerting.api.answer_models import AlertList, Created
from alerting.api.contract import operation
from alerting.api.request_models import AlertQuery, FollowUp, NewAlert, Rejection
from alerting.auth import principal, require_role
from alerting.db import db
from alerting.models import Alert

WRITE = (400, 401, 403, 413, 422)  # every call that reads a body: bad JSON, too large, refused
SENDERS = "operator (water, info, test); coordinator (all categories)"
SUMMARY = {200: (AlertAnswer, "the alert as it is now")}


def _action(summary: str, *errors: int, **spec):
    """POST /alerts/{id}/<action> → the alert's summary."""
    return operation(summary, ok=SUMMARY, errors=(*WRITE, 404, *errors), tag="alerts", **spec)


@bp.errorhandler(AlertRefused)
def _refused(exc: AlertRefused):
    return jsonify(exc.as_dict()), exc.status


@bp.post("/alerts")
@require_role("operator", api=True)
@operation(
    "Send an alert (or schedule it, or hold it for approval)",
    role=SENDERS,
    body=NewAlert,
    ok={201: (Created, "stored; `status` pending_approval needs a second person")},
    errors=WRITE,
)
def create(body: NewAlert):
    alert = create_alert(db(), principal(), **body.alert_fields())
    return jsonify(id=alert.id, status=alert.status, recipients=alert.recipients), 201


@bp.get("/alerts")
@require_role("viewer", api=True)
@operation(
    "The latest 50 alerts", query=AlertQuery, ok={200: (AlertList, "done")}, errors=(401, 422)
)
def list_alerts(query: AlertQuery):
    """The latest 50; `?exercise=true` only exercises, `?exercise=false` only real alerts."""
    rows = select(Alert.id).order_by(Alert.id.desc()).limit(50)
    if query.exercise is not None:
        rows = rows.where(Alert.exercise == (query.exercise == "true"))
    ids = db().scalars(rows).all()
    return jsonify(alerts=[alert_summary(db(), i) for i in ids])


@bp.get("/alerts/<int:alert_id>")
@require_role("viewer", api=True)
@operation(
    "An alert: status, validity and a count per message status",
    ok={200: (AlertAnswer, "done")},
    errors=(401, 404),
)
def show(alert_id: int):
    return jsonify(alert_summary(db(), alert_id))


@bp.post("/alerts/<int:alert_id>/cancel")
@require_role("operator", api=True)
@_action("Stop what has not been handed to the provider", 409)
def cancel(alert_id: int):
    cancel_alert(db(), principal(), alert_id)
    return jsonify(alert_summary(db(), alert_id))


@bp.post("/alerts/<int:alert_id>/send")
@require_role("operator", api=True)
@_action("Send a draft (an imported CAP alert)")
def send(alert_id: int):
    """Send a draft (an imported CAP alert) once staff have reviewed it."""
    send_draft(db(), principal(), alert_id)
    return jsonify(alert_summary(db(), alert_id))


@bp.post("/alerts/<int:alert_id>/approve")
@require_role("coordinator", api=True)
@_action("Approve an alert waiting for approval", 409)
def approve(alert_id: int):
    approval.approve(db(), principal(), alert_id)
    return jsonify(alert_summary(db(), alert_id))


@bp.post("/alerts/<int:alert_id>/reject")
@require_role("coordinator", api=True)
@_action("Reject an alert waiting for approval", 409, body=Rejection)
def reject(alert_id: int, body: Rejection):
    approval.reject(db(), principal(), alert_id, body.comment)
    return jsonify(alert_summary(db(), alert_id))


@bp.post("/alerts/<int:alert_id>/withdraw")
@require_role("operator", api=True)
@_action("Withdraw one's own alert from approval", 409, role="operator (the author)")
def withdraw(alert_id: int):
    approval.withdraw(db(), principal(), alert_id)
    return jsonify(alert_summary(db(), alert_id))


@bp.post("/alerts/<int:alert_id>/follow-up")
@require_role("operator", api=True)
@operation(
    "A follow-up to the alert's recipients (or those whose message is in only_statuses)",
    role=SENDERS,
    body=FollowUp,
    ok={201: (Created, "done")},
    errors=(*WRITE, 404),
    tag="alerts",
)
def follow(alert_id: int, body: FollowUp):
    alert = follow_up(
        db(),
        principal(),
        alert_id,
        title=body.title,
        texts=body.message,
        category=body.category,
        severity=body.severity,
        only_statuses=tuple(body.only_statuses) if body.only_statuses else None,
        onset=body.onset,
        expires=body.expires,
        response_type=body.response_type,
    )
    return jsonify(id=alert.id, status=alert.status, recipients=alert.recipients), 201
