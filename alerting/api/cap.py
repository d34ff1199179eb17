"""CAP 1.2 documents of alerts for staff and other systems: GET /api/v1/alerts/{id}/cap."""

from __future__ import annotations

from flask import Response, jsonify

from alerting import current
from alerting.api import bp
from alerting.auth import require_role
from alerting.cap.documents import document_of
from alerting.cap.export import MIME
from alerting.db import db
from alerting.models import Alert


@bp.get("/alerts/<int:alert_id>/cap")
@require_role("viewer", api=True)
def alert_cap(alert_id: int):
    alert = db().get(Alert, alert_id)
    if alert is None:
        return jsonify(error="not found", detail=f"there is no alert {alert_id}"), 404
    return Response(document_of(db(), current.settings(), alert), mimetype=MIME)
