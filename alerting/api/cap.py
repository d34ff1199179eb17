"""CAP 1.2 with other systems: GET /api/v1/alerts/{id}/cap, POST /api/v1/cap, and
POST /api/v1/cap/parse (what the compose page fills in from an uploaded CAP file)."""

from __future__ import annotations

from flask import Response, jsonify, request

from alerting import current
from alerting.api import bp
from alerting.api.alerts import WRITE
from alerting.api.answer_models import CapDone, CapParsed
from alerting.api.contract import RawBody, operation
from alerting.api.request_models import CapText
from alerting.auth import principal, require_role
from alerting.cap.documents import document_of
from alerting.cap.export import MIME
from alerting.cap.ingest import CapRefused, read
from alerting.cap.receive import apply
from alerting.db import db
from alerting.models import Alert


@bp.get("/alerts/<int:alert_id>/cap")
@require_role("viewer", api=True)
@operation(
    "The alert as a CAP 1.2 document", ok={200: (RawBody(MIME), "CAP 1.2")}, errors=(401, 404)
)
def alert_cap(alert_id: int):
    alert = db().get(Alert, alert_id)
    if alert is None:
        return jsonify(error="not found", detail=f"there is no alert {alert_id}"), 404
    return Response(document_of(db(), current.settings(), alert), mimetype=MIME)


@bp.post("/cap")
@require_role("operator", api=True)
@operation(
    "Receive a CAP 1.2 message",
    description="An Alert becomes a draft (sent by POST /alerts/{id}/send), an Update revises "
    "the alert its references name, a Cancel cancels it.",
    body=RawBody("application/xml"),
    ok={
        201: (CapDone, "an Alert, stored as a draft"),
        200: (CapDone, "an Update or Cancel, applied"),
    },
    errors=(*WRITE, 409),
)
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


@bp.post("/cap/parse")
@require_role("operator", api=True)
@operation(
    "What the compose page fills in from a CAP Alert (nothing is stored)",
    body=CapText,
    ok={200: (CapParsed, "done")},
    errors=WRITE,
)
def parse_cap(body: CapText):
    """`{"cap": "<alert ...>"}` → what the compose page fills in from a CAP Alert (nothing is
    stored): area, title, texts, category, severity, validity."""
    try:
        incoming = read(body.cap.encode(), current.settings().default_language)
    except CapRefused as exc:
        return jsonify(exc.as_dict()), exc.status
    if incoming.msg_type != "Alert":
        return jsonify(
            error=f"a CAP {incoming.msg_type}",
            detail="an Update or a Cancel changes an alert: send it to POST /api/v1/cap",
        ), 422
    return jsonify(
        area=incoming.area,
        area_name=incoming.area_name,
        title=incoming.title,
        texts=incoming.texts,
        category=incoming.category,
        severity=incoming.severity,
        onset=incoming.onset.isoformat() + "Z" if incoming.onset else None,
        expires=incoming.expires.isoformat() + "Z" if incoming.expires else None,
    )
