"""Alerts over HTTP: create (201), show with counts per message status, cancel, follow up."""

from __future__ import annotations

from datetime import datetime

from flask import jsonify, request
from sqlalchemy import select

from alerting.alerts import (
    AlertRefused,
    alert_summary,
    cancel_alert,
    create_alert,
    follow_up,
)
from alerting.api import bp
from alerting.auth import principal, require_role
from alerting.db import db
from alerting.models import Alert


@bp.errorhandler(AlertRefused)
def _refused(exc: AlertRefused):
    return jsonify(exc.as_dict()), exc.status


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise AlertRefused(422, "invalid JSON", "send a JSON object")
    return body


def _send_at(value) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise AlertRefused(
            422, "invalid send_at", "use ISO 8601, e.g. 2026-12-01T10:00:00Z"
        ) from None


@bp.post("/alerts")
@require_role("operator", api=True)
def create():
    body = _body()
    area_id = body.get("area_id")
    if area_id is not None and not isinstance(area_id, int):
        raise AlertRefused(422, "invalid area_id", "area_id is the number of a saved area")
    alert = create_alert(
        db(),
        principal(),
        area=body.get("area"),
        area_id=area_id,
        category=str(body.get("category", "")),
        severity=str(body.get("severity", "")),
        title=body.get("title", ""),
        texts=body.get("message", body.get("texts")),
        send_at=_send_at(body.get("send_at")),
        area_name=str(body.get("area_name", "")),
    )
    return jsonify(id=alert.id, status=alert.status, recipients=alert.recipients), 201


@bp.get("/alerts")
@require_role("viewer", api=True)
def list_alerts():
    ids = db().scalars(select(Alert.id).order_by(Alert.id.desc()).limit(50)).all()
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


@bp.post("/alerts/<int:alert_id>/follow-up")
@require_role("operator", api=True)
def follow(alert_id: int):
    body = _body()
    only = body.get("only_statuses")
    alert = follow_up(
        db(),
        principal(),
        alert_id,
        title=body.get("title", ""),
        texts=body.get("message", body.get("texts")),
        category=body.get("category"),
        severity=body.get("severity"),
        only_statuses=tuple(only) if isinstance(only, list) else None,
    )
    return jsonify(id=alert.id, status=alert.status, recipients=alert.recipients), 201
