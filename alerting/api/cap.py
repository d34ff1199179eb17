"""CAP 1.2 with other systems: GET /api/v1/alerts/{id}/cap, POST /api/v1/cap."""

from __future__ import annotations

from flask import Response, jsonify, request

from alerting import current
from alerting.api import bp
from alerting.auth import principal, require_role
from alerting.cap.documents import document_of
from alerting.cap.export import MIME
from alerting.cap.ingest import CapRefused, read
from alerting.cap.receive import apply
from alerting.db import db
from alerting.models import Alert


@bp.get("/alerts/<int:alert_id>/cap")
@require_role("viewer", api=True)
def alert_cap(alert_id: int):
    alert = db().get(Alert, alert_id)
    if alert is None:
        return jsonify(error="not found", detail=f"there is no alert {alert_id}"), 404
    return Response(document_of(db(), current.settings(), alert), mimetype=MIME)


@bp.post("/cap")
@require_role("operator", api=True)
def receive_cap():
    """A CAP 1.2 document from another system: an Alert becomes a draft, an Update revises,
    a Cancel cancels (alerting.cap.receive)."""
    settings = current.settings()
    try:
        incoming = read(request.get_data(cache=False), settings.default_language)
        alert, done = apply(db(), principal(), incoming)
    except CapRefused as exc:
        return jsonify(exc.as_dict()), exc.status
    status = 201 if incoming.msg_type == "Alert" else 200
    return jsonify(id=alert.id, status=alert.status, done=done), status
