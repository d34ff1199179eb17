"""Reading a CAP 1.2 document from another system: checked against the XSD, then against what
the schema cannot say (rings closed, at least 4 pairs, lat/lon in range, no self-intersection,
references we can resolve), and turned into what an alert needs.

An `Alert` becomes a draft alert for staff to review (area: every polygon and circle of every
`<area>`, texts: one per `<info>` language, validity and category mapped back); an `Update`
revises the alert it references (a draft entirely; a sent alert only its texts, title and
validity: the people it reached cannot change); a `Cancel` cancels it, so what was not handed to
the provider is not sent. Each refusal names what is wrong and where.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree
from shapely.geometry import Polygon
from shapely.validation import explain_validity

from alerting.cap.schema import NS, schema_errors

Q = {"c": NS}
# CAP categories back to ours (the first that matches; an Evacuate response wins over all)
CATEGORY_OF = (
    ("Fire", "fire"),
    ("Met", "flood"),
    ("Geo", "flood"),
    ("Infra", "water"),
)
SEVERITY_OF = {"Extreme": "extreme", "Severe": "severe", "Moderate": "moderate", "Minor": "minor"}
LANGUAGE_OF = {"no": "nb"}  # MetAlerts says "no" for Norwegian bokmål
MAX_ERRORS = 5


class CapRefused(Exception):
    """A CAP document we cannot take: 422 with `error` and `detail` (409 for a duplicate)."""

    def __init__(self, error: str, detail: str = "", status: int = 422) -> None:
        super().__init__(f"{error}: {detail}" if detail else error)
        self.error, self.detail, self.status = error, detail, status

    def as_dict(self) -> dict[str, str]:
        return {"error": self.error, "detail": self.detail}


@dataclass
class Incoming:
    """What a CAP message says, in our terms."""

    sender: str
    identifier: str
    sent: str
    msg_type: str  # Alert | Update | Cancel
    exercise: bool
    references: list[tuple[str, str, str]]
    title: str = ""
    texts: dict[str, str] = field(default_factory=dict)
    category: str = "info"
    severity: str = "moderate"
    response_type: str | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    area: dict | None = None  # GeoJSON FeatureCollection, or None: the document has none
    area_name: str = ""


def _parse(data: bytes) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise CapRefused("not XML", f"line {exc.lineno}: {exc.msg}") from None
    if root.getroottree().docinfo.doctype:
        raise CapRefused("DOCTYPE not accepted", "a CAP document needs no DTD; remove it")
    if root.tag != f"{{{NS}}}alert":
        namespace = etree.QName(root).namespace or "no namespace"
        raise CapRefused(
            "not a CAP 1.2 document",
            f"the root element is <{etree.QName(root).localname}> in {namespace}; "
            f"expected <alert> in {NS}",
        )
    errors = schema_errors(root)
    if errors:
        raise CapRefused("invalid CAP 1.2", "; ".join(errors[:MAX_ERRORS]))
    return root


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)


def _pairs(text: str, where: str) -> list[tuple[float, float]]:
    """`lat,lon lat,lon ...` as (lon, lat) positions, checked."""
    points = []
    for token in text.split():
        try:
            lat, lon = (float(v) for v in token.split(","))
        except ValueError:
            raise CapRefused(
                "invalid polygon", f"{where}: {token[:40]!r} is not a lat,lon pair"
            ) from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise CapRefused(
                "invalid polygon",
                f"{where}: {token[:40]!r} is outside latitude ±90, longitude ±180",
            )
        points.append((lon, lat))
    if len(points) < 4:
        raise CapRefused(
            "invalid polygon", f"{where} has {len(points)} pairs; CAP needs at least 4"
        )
    if points[0] != points[-1]:
        raise CapRefused(
            "invalid polygon", f"{where} is not closed: the last pair must repeat the first"
        )
    ring = Polygon(points)
    if not ring.is_valid:
        raise CapRefused("invalid polygon", f"{where}: {explain_validity(ring)}")
    return points


def _circle(text: str, where: str) -> tuple[float, float, float]:
    try:
        centre, radius = text.split()
        lat, lon = (float(v) for v in centre.split(","))
        radius_km = float(radius)
    except ValueError:
        raise CapRefused(
            "invalid circle", f"{where}: give 'lat,lon radius_km', e.g. '60.39,5.32 2'"
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or not radius_km > 0:
        raise CapRefused("invalid circle", f"{where}: centre out of range or radius not above 0")
    return lon, lat, radius_km * 1000


def _areas(infos: list[etree._Element]) -> tuple[dict | None, str]:
    """Every polygon and circle of every <area> (each shape once), and the area names."""
    features: list[dict] = []
    seen: set[str] = set()
    names: list[str] = []
    for i, info in enumerate(infos, 1):
        for j, area in enumerate(info.findall("c:area", Q), 1):
            desc = area.findtext("c:areaDesc", namespaces=Q) or ""
            if desc and desc not in names:
                names.append(desc)
            for k, polygon in enumerate(area.findall("c:polygon", Q), 1):
                where = f"info {i}, area {j}, polygon {k}"
                geometry = {"type": "Polygon", "coordinates": [_pairs(polygon.text or "", where)]}
                _add_feature(features, seen, geometry, {})
            for k, circle in enumerate(area.findall("c:circle", Q), 1):
                lon, lat, radius_m = _circle(circle.text or "", f"info {i}, area {j}, circle {k}")
                point = {"type": "Point", "coordinates": [lon, lat]}
                _add_feature(features, seen, point, {"radius_m": radius_m})
    area = {"type": "FeatureCollection", "features": features} if features else None
    return area, "; ".join(names)[:200]


def _add_feature(features: list[dict], seen: set[str], geometry: dict, properties: dict) -> None:
    key = json.dumps([geometry, properties])
    if key not in seen:  # each <info> usually repeats the same area
        seen.add(key)
        features.append({"type": "Feature", "properties": properties, "geometry": geometry})


def _references(text: str | None) -> list[tuple[str, str, str]]:
    found = []
    for entry in (text or "").split():
        parts = entry.split(",")
        if len(parts) != 3:
            raise CapRefused("invalid references", f"{entry[:80]!r} is not sender,identifier,sent")
        found.append((parts[0], parts[1], parts[2]))
    return found


def _category(categories: list[str], response: str | None) -> str:
    if response == "Evacuate":
        return "evacuation"
    for cap, ours in CATEGORY_OF:
        if cap in categories:
            return ours
    return "info"


def _language(code: str) -> str:
    base = code.replace("_", "-").split("-")[0].lower()
    return LANGUAGE_OF.get(base, base)


def read(data: bytes, default_language: str) -> Incoming:
    """A CAP 1.2 document as an Incoming; CapRefused with the reason when it is not one we take."""
    root = _parse(data)

    def text(element, path: str) -> str:
        return (element.findtext(path, namespaces=Q) or "").strip()

    status = text(root, "c:status")
    if status not in ("Actual", "Exercise", "Test"):
        raise CapRefused(
            f"status {status} not taken", "only Actual, Exercise and Test messages carry an alert"
        )
    msg_type = text(root, "c:msgType")
    if msg_type not in ("Alert", "Update", "Cancel"):
        raise CapRefused(f"msgType {msg_type} not taken", "send an Alert, an Update or a Cancel")
    incoming = Incoming(
        sender=text(root, "c:sender"),
        identifier=text(root, "c:identifier"),
        sent=text(root, "c:sent"),
        msg_type=msg_type,
        exercise=status == "Exercise",
        references=_references(root.findtext("c:references", namespaces=Q)),
    )
    if msg_type != "Alert" and not incoming.references:
        raise CapRefused("missing references", f"an {msg_type} must name the message it changes")
    infos = root.findall("c:info", Q)
    if msg_type == "Cancel":
        return incoming
    if not infos:
        raise CapRefused("no info", f"an {msg_type} needs an <info> with the text to send")
    for info in infos:
        language = _language(text(info, "c:language") or "en-US")
        incoming.texts.setdefault(
            language,
            text(info, "c:description") or text(info, "c:headline") or text(info, "c:event"),
        )
    first = next(
        (i for i in infos if _language(text(i, "c:language")) == default_language), infos[0]
    )
    incoming.texts["default"] = incoming.texts[_language(text(first, "c:language") or "en-US")]
    incoming.title = (text(first, "c:headline") or text(first, "c:event"))[:200]
    incoming.response_type = text(first, "c:responseType") or None
    incoming.category = _category(
        [c.text for c in first.findall("c:category", Q)], incoming.response_type
    )
    incoming.severity = SEVERITY_OF.get(text(first, "c:severity"), "moderate")
    incoming.onset = _time(text(first, "c:onset") or None)
    incoming.expires = _time(text(first, "c:expires") or None)
    incoming.area, incoming.area_name = _areas(infos)
    if msg_type == "Alert" and incoming.area is None:
        raise CapRefused(
            "no area to target",
            "the alert has no <polygon> or <circle>; areas given only by <geocode> cannot be "
            "targeted here",
        )
    return incoming
