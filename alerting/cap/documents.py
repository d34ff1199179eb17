"""CAP documents of stored alerts, for the routes: which alerts the public may see, and the
document of one alert with its parent."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from alerting.cap.export import cap_document
from alerting.config import Settings
from alerting.models import Alert

# an alert the public may read as CAP: it has gone out (or was cancelled after it started)
PUBLISHED_STATES = ("sending", "sent", "completed", "cancelled")


def is_published(alert: Alert) -> bool:
    """Exercises, drafts, alerts waiting for approval or rejected never reach the public."""
    return not alert.exercise and alert.status in PUBLISHED_STATES and alert.started_at is not None


def document_of(session: Session, settings: Settings, alert: Alert) -> bytes:
    parent = session.get(Alert, alert.parent_id) if alert.parent_id else None
    return cap_document(alert, settings, json.loads(alert.area_geojson), parent)
