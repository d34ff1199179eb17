"""Alerts over HTTP: create (201), show with counts per message status, cancel, follow up."""

from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import select

from alerting import approval
from alerting.alerts import (
    AlertRefused,
    alert_summary,
    cancel_alert,
    check_area_id,
    check_area_name,
    check_exercise,
    create_alert,
    follow_up,
    parse_only_statuses,
    parse_time,
    send_draft,
)
from alerting.api import bp
from alerting.auth import principal, require_role
from alerting.bounded_json import request_object
from alerting.db import db
from alerting.models import Alert


@bp.errorhandler(AlertRefused)
def _refused(exc: AlertRefused):
    return jsonify(exc.as_dict()), exc.status


def _validity_fields(body: dict) -> dict:
    """onset, expires (ISO 8601; without an offset: UTC) and the CAP response_type."""
    return {
        "onset": parse_time(body.get("onset"), "onset"),
        "expires": parse_time(body.get("expires"), "expires"),
        "response_type": body.get("response_type"),
    }


@bp.post("/alerts")
@require_role("operator", api=True)
def create():
    body = request_object()
    alert = create_alert(
        db(),
        principal(),
        area=body.get("area"),
        area_id=check_area_id(body.get("area_id")),
        category=str(body.get("category", "")),
        severity=str(body.get("severity", "")),
        title=body.get("title", ""),
        texts=body.get("message", body.get("texts")),
        send_at=parse_time(body.get("send_at"), "send_at"),
        area_name=check_area_name(body.get("area_name", "")),
        exercise=check_exercise(body.get("exercise", False)),
        **_validity_fields(body),
    )
    return jsonify(id=alert.id, status=alert.status, recipients=alert.recipients), 201


@bp.get("/alerts")
@require_role("viewer", api=True)
def list_alerts():
    """The latest 50; `?exercise=true` only exercises, `?exercise=false` only real alerts."""
    query = select(Alert.id).order_by(Alert.id.desc()).limit(50)
    kind = request.args.get("exercise", "")
    if kind in ("true", "false"):
        query = query.where(Alert.exercise == (kind == "true"))
    ids = db().scalars(query).all()
    return jsonify(alerts=[alert_summary(db(), i) for i in ids])


@bp.get("/alerts/<int:alert_id>")
@require_role("viewer", api=True)
def show(alert_id: int):
    return jsonify(alert_summary(db(), alert_id))


@bp.post("/alerts/<int:alert_id>/cancel")
@require_role("operator", api=True)
def cancel(alert_id: int):
    cancel_alert(db(), principal(), alert_id)
    return jsonify(alert_summary(db(), alert_id))


@bp.post("/alerts/<int:alert_id>/send")
@require_role("operator", api=True)
def send(alert_id: int):
    """Send a draft (an imported CAP alert) once staff have reviewed it."""
    send_draft(db(), principal(), alert_id)
    return jsonify(alert_summary(db(), alert_id))


@bp.post("/alerts/<int:alert_id>/approve")
@require_role("coordinator", api=True)
def approve(alert_id: int):
    approval.approve(db(), principal(), alert_id)
    return jsonify(alert_summary(db(), alert_id))


@bp.post("/alerts/<int:alert_id>/reject")
@require_role("coordinator", api=True)
def reject(alert_id: int):
    approval.reject(db(), principal(), alert_id, request_object().get("comment", ""))
    return jsonify(alert_summary(db(), alert_id))


@bp.post("/alerts/<int:alert_id>/withdraw")
@require_role("operator", api=True)
def withdraw(alert_id: int):
    approval.withdraw(db(), principal(), alert_id)
    return jsonify(alert_summary(db(), alert_id))


@bp.post("/alerts/<int:alert_id>/follow-up")
@require_role("operator", api=True)
def follow(alert_id: int):
    body = request_object()
    alert = follow_up(
        db(),
        principal(),
        alert_id,
        title=body.get("title", ""),
        texts=body.get("message", body.get("texts")),
        category=body.get("category"),
        severity=body.get("severity"),
        only_statuses=parse_only_statuses(body.get("only_statuses")),
        **_validity_fields(body),
    )
    return jsonify(id=alert.id, status=alert.status, recipients=alert.recipients), 201
