"""An alert as a CAP 1.2 document.

One `<info>` per language of the alert (the default text under DEFAULT_LANGUAGE unless that
language has a text of its own), the area as CAP wants it: `<polygon>` rings as **lat,lon**
pairs (GeoJSON is lon,lat), each ring closed, and our circles as `<circle>` "lat,lon km". CAP has
no holes: a hole is left out of the polygon and `<areaDesc>` says so, because the CAP area then
covers more than the residents we sent to. A follow-up is an `Update` whose `<references>` name
the parent's message; a cancelled alert is a `Cancel` of its own message; an exercise has
status `Exercise`, a test alert `Test`. Times are in TIMEZONE with their offset and no
fractions (CAP's pattern forbids `Z`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from lxml import etree

from alerting.cap.mapping import CATEGORIES, RESPONSE_TYPES, SEVERITIES
from alerting.cap.schema import NS
from alerting.config import Settings
from alerting.models import LIFE_SAFETY, Alert

MIME = "application/cap+xml"


def sender(settings: Settings) -> str:
    """Our CAP sender: the host of PUBLIC_URL (the municipality's own domain in production)."""
    return urlsplit(settings.public_url).hostname or "alerting"


def identifier(settings: Settings, alert_id: int) -> str:
    return f"{sender(settings)}.alert.{alert_id}"


def cap_time(value: datetime, settings: Settings) -> str:
    """Naive UTC as CAP wants it: 2026-12-03T08:00:00+01:00."""
    local = value.replace(tzinfo=UTC).astimezone(ZoneInfo(settings.timezone))
    return local.replace(microsecond=0).isoformat()


def _sent(alert: Alert) -> datetime:
    return alert.started_at or alert.created_at


def reference(settings: Settings, alert: Alert) -> str:
    """`sender,identifier,sent` of the alert's own (first) message."""
    return ",".join(
        (sender(settings), identifier(settings, alert.id), cap_time(_sent(alert), settings))
    )


def _shapes(obj: Any) -> Iterator[tuple[str, Any]]:
    """("polygon", rings) and ("circle", (lon, lat, radius_m)) of a validated area's GeoJSON."""
    kind = obj.get("type")
    if kind == "FeatureCollection":
        for feature in obj["features"]:
            yield from _shapes(feature)
    elif kind == "Feature":
        geometry, properties = obj["geometry"], obj.get("properties") or {}
        if geometry["type"] == "Point" and "radius_m" in properties:
            lon, lat = geometry["coordinates"][:2]
            yield "circle", (lon, lat, properties["radius_m"])
        else:
            yield from _shapes(geometry)
    elif kind == "GeometryCollection":
        for geometry in obj["geometries"]:
            yield from _shapes(geometry)
    elif kind == "Polygon":
        yield "polygon", obj["coordinates"]
    elif kind == "MultiPolygon":
        for rings in obj["coordinates"]:
            yield "polygon", rings


def _pairs(ring: list) -> str:
    points = [(float(p[1]), float(p[0])) for p in ring]
    if points[0] != points[-1]:
        points.append(points[0])
    return " ".join(f"{lat:.6f},{lon:.6f}" for lat, lon in points)


def _add(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _area(info: etree._Element, alert: Alert, area: dict) -> None:
    element = _add(info, "area")
    description = alert.area_name or alert.title
    shapes = list(_shapes(area))
    holes = sum(len(rings) - 1 for kind, rings in shapes if kind == "polygon")
    if holes:
        description += f" (CAP has no holes: {holes} left out of the polygons)"
    _add(element, "areaDesc", description)
    for kind, shape in shapes:
        if kind == "polygon":
            _add(element, "polygon", _pairs(shape[0]))
    for kind, shape in shapes:
        if kind == "circle":
            lon, lat, radius_m = shape
            _add(element, "circle", f"{lat:.6f},{lon:.6f} {radius_m / 1000:.3f}")


def _texts(alert: Alert, settings: Settings) -> list[tuple[str, str]]:
    """(language, text) per `<info>`: the explicit languages, then the default text under
    DEFAULT_LANGUAGE if that language has none of its own."""
    texts = dict(alert.texts or {})
    default = texts.pop("default", "")
    pairs = sorted(texts.items())
    if default and settings.default_language not in texts:
        pairs.insert(0, (settings.default_language, default))
    return pairs


def _status(alert: Alert) -> str:
    if alert.exercise:
        return "Exercise"
    return "Test" if alert.category == "test" else "Actual"


def _urgency(alert: Alert) -> str:
    if alert.category in LIFE_SAFETY:
        return "Immediate"
    onset = alert.onset or _sent(alert)
    return "Future" if (onset - _sent(alert)).total_seconds() > 3600 else "Expected"


def cap_document(alert: Alert, settings: Settings, area: dict, parent: Alert | None) -> bytes:
    """The CAP 1.2 document of `alert` (`area`: its GeoJSON, decoded; `parent`: the alert a
    follow-up updates)."""
    root = etree.Element(f"{{{NS}}}alert", nsmap={None: NS})
    cancelled = alert.status == "cancelled" and alert.cancelled_at is not None
    own_id = identifier(settings, alert.id)
    _add(root, "identifier", own_id + ("-cancel" if cancelled else ""))
    _add(root, "sender", sender(settings))
    _add(root, "sent", cap_time(alert.cancelled_at if cancelled else _sent(alert), settings))
    _add(root, "status", _status(alert))
    references = []
    if cancelled:
        _add(root, "msgType", "Cancel")
        references.append(reference(settings, alert))
    elif parent is not None:
        _add(root, "msgType", "Update")
        references.append(reference(settings, parent))
    else:
        _add(root, "msgType", "Alert")
    _add(root, "scope", "Public")
    if references:
        _add(root, "references", " ".join(references))
    response = alert.response_type or RESPONSE_TYPES[alert.category]
    for language, text in _texts(alert, settings):
        info = _add(root, "info")
        _add(info, "language", language)
        for category in CATEGORIES[alert.category]:
            _add(info, "category", category)
        _add(info, "event", alert.title)
        _add(info, "responseType", response)
        _add(info, "urgency", _urgency(alert))
        _add(info, "severity", SEVERITIES[alert.severity])
        _add(info, "certainty", "Observed" if alert.category in LIFE_SAFETY else "Likely")
        _add(info, "onset", cap_time(alert.onset or _sent(alert), settings))
        if alert.expires is not None:
            _add(info, "expires", cap_time(alert.expires, settings))
        _add(info, "headline", alert.title)
        _add(info, "description", text)
        _add(info, "web", f"{settings.public_url}/public/alerts/{alert.id}")
        _area(info, alert, area)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
