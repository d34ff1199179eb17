"""The CAP document of a stored alert, with its parent (which alerts the public may see is
alerting.validity.is_published)."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from alerting.cap.export import cap_document
from alerting.config import Settings
from alerting.models import Alert


def document_of(session: Session, settings: Settings, alert: Alert) -> bytes:
    parent = session.get(Alert, alert.parent_id) if alert.parent_id else None
    return cap_document(alert, settings, json.loads(alert.area_geojson), parent)
